//! The data plane's side of the metrics (`server::metrics`): what each request's log record
//! adds, with its labels bounded, counted in the log writer's task after the record is priced;
//! and the gauges read from the live state when `/metrics` is scraped. The request path itself
//! does no metrics work.
use std::collections::HashSet;
use std::sync::Arc;

use axum::http::Method;
use parking_lot::RwLock;
use serde::Deserialize;

use super::data_plane::DataPlane;
use super::endpoints;
use super::routing_table::Snapshot;
use crate::model::prices::PriceTable;
use crate::server::db::request_logs::LogRecord;
use crate::server::metrics::{Live, LiveSource, Metrics, RequestSample, UpstreamLive};

/// The metrics and the model names they may carry as labels.
pub(crate) struct RequestMetrics {
    pub(crate) metrics: Arc<Metrics>,
    /// Exact model names configured (allow-lists, redirects) or discovered on the upstreams;
    /// priced names come from the price table. Anything else is counted as `other`.
    models: RwLock<Arc<HashSet<String>>>,
}

/// Reasons of `autorouter_failover_attempts_total`: the failover history's `error_type`s.
const ATTEMPT_REASONS: [&str; 6] = [
    "timeout",
    "connect",
    "http_5xx",
    "http_429",
    "breaker_open",
    "at_limit",
];

#[derive(Deserialize)]
struct HistoryEntry {
    upstream_id: String,
    error_type: String,
}

impl RequestMetrics {
    pub(crate) fn new(metrics: Arc<Metrics>) -> Arc<Self> {
        Arc::new(Self {
            metrics,
            models: RwLock::default(),
        })
    }

    /// The routing snapshot changed: its model names are the ones labels may carry now.
    pub(crate) fn set_models(&self, snapshot: &Snapshot) {
        let mut names = HashSet::new();
        let exact = |m: &String| !m.contains('*');
        for u in snapshot.upstreams.values() {
            names.extend(u.allowed_models.iter().filter(|m| exact(m)).cloned());
            for (from, to) in &u.model_redirects {
                names.extend([from, to].into_iter().filter(|m| exact(m)).cloned());
            }
            names.extend(u.discovered.iter().cloned());
        }
        *self.models.write() = Arc::new(names);
    }

    /// Counts a batch of records, priced at `prices`.
    pub(crate) fn count(&self, batch: &[LogRecord], prices: &PriceTable) {
        let models = self.models.read().clone();
        let mut counter = self.metrics.batch();
        let mut failed = Vec::new();
        // A batch's records mostly share their endpoint: its format is read from the path once
        // per run of equal paths.
        // (The format of a path outside the table depends on whether an upstream answered.)
        let mut last_format: Option<(&str, &str, bool, &'static str)> = None;
        // And their model (as sent) mostly too: its label is read once per run.
        let mut last_model: Option<(Option<&str>, &str)> = None;
        for r in batch {
            let answered = r.upstream_id.is_some();
            let format = match last_format {
                Some((method, path, a, format))
                    if method == r.method && path == r.path && a == answered =>
                {
                    format
                }
                _ => {
                    let format = format_of(r);
                    last_format = Some((&r.method, &r.path, answered, format));
                    format
                }
            };
            let sent = r.priced_model();
            let model = match last_model {
                Some((model, label)) if model == sent => label,
                _ => {
                    let label = model_label(r, &models, prices);
                    last_model = Some((sent, label));
                    label
                }
            };
            failed.clear();
            if let Some(history) = r.failover_history.as_deref() {
                let entries: Vec<HistoryEntry> = serde_json::from_str(history).unwrap_or_default();
                failed.extend(entries.into_iter().map(|e| {
                    let reason = ATTEMPT_REASONS
                        .into_iter()
                        .find(|&known| known == e.error_type)
                        .unwrap_or("other");
                    (e.upstream_id, reason)
                }));
            }
            counter.observe(&RequestSample {
                key: r.api_key_id.as_deref().unwrap_or("none"),
                upstream: r.upstream_id.as_deref().unwrap_or("none"),
                model,
                format,
                status: r.status_code,
                usage: &r.usage,
                cost_nanos: r.cost_nanos,
                duration_ms: r.duration_ms,
                ttfb_ms: r.ttfb_ms,
                ttft_ms: r.ttft_ms,
                failed_attempts: &failed,
                refused_by: r.refused_by.as_deref(),
                sticky: r.sticky,
            });
        }
    }
}

/// The model a record is counted under: the one sent upstream (else the one asked for), when
/// an upstream names it exactly or the price table prices it by its exact name; else `other`.
fn model_label<'a>(
    r: &'a LogRecord,
    known: &'a HashSet<String>,
    prices: &'a PriceTable,
) -> &'a str {
    let Some(model) = r.priced_model() else {
        return "none";
    };
    if known.contains(model) {
        return model;
    }
    match prices.find(model) {
        // The table's own spelling (lower case, without a `provider/` prefix), so the label's
        // values stay within the table however a client spells the name.
        Some((pattern, _)) if !pattern.contains('*') => pattern,
        _ => "other",
    }
}

/// The API format of the record's endpoint, from the endpoint table.
fn format_of(r: &LogRecord) -> &'static str {
    let Ok(method) = Method::from_bytes(r.method.as_bytes()) else {
        return "other";
    };
    // Google's own API, below `/v1beta/` or (as the google-genai SDK calls it) `/v1/`.
    let gemini = |below: &str| super::gemini::find(&method, below).ok();
    if let Some(call) = r.path.strip_prefix("/v1beta/").and_then(gemini) {
        return call.endpoint.format().map_or("models", |f| f.as_str());
    }
    let Some(below) = r.path.strip_prefix("/v1/") else {
        return "other";
    };
    if below.contains(':') {
        if let Some(call) = gemini(below) {
            return call.endpoint.format().map_or("models", |f| f.as_str());
        }
    }
    match endpoints::find(&method, below) {
        Ok(endpoint) => match endpoint.format() {
            Some(format) => format.as_str(),
            None => "models",
        },
        // A path outside the table reached an upstream only through its opt-in.
        Err(_) if r.upstream_id.is_some() => "extra",
        Err(_) => "other",
    }
}

impl LiveSource for DataPlane {
    fn live(&self) -> Live {
        let snapshot = self.routing.snapshot();
        let now = self.clock.now_ms();
        let mut upstreams: Vec<UpstreamLive> = snapshot
            .upstreams
            .values()
            .map(|u| UpstreamLive {
                id: u.id.clone(),
                name: u.name.clone(),
                provider: u.provider.as_str(),
                breaker: self.breakers.peek(&u.id, &u.breaker, now).as_str(),
                healthy: self.health.is_healthy(&u.id),
                in_flight: self.balancer.in_flight(&u.id),
            })
            .collect();
        upstreams.sort_by(|a, b| a.id.cmp(&b.id));
        Live {
            upstreams,
            auth_refusals: self.keys.refusals_by_reason(),
            log_queue_depth: self.logs.queue_depth(),
            log_queue_capacity: self.logs.queue_capacity(),
            log_dropped: self.logs.dropped(),
            log_written: self.logs.written(),
            limits_shared: self
                .limiter
                .is_shared()
                .then(|| self.limiter.mode() == crate::server::limits::Mode::Shared),
            sticky_sessions: self.sessions.len() as u64,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(method: &str, path: &str, upstream: Option<&str>) -> LogRecord {
        LogRecord {
            method: method.into(),
            path: path.into(),
            upstream_id: upstream.map(str::to_string),
            ..LogRecord::default()
        }
    }

    #[test]
    fn formats_come_from_the_endpoint_table() {
        assert_eq!(
            format_of(&record("POST", "/v1/chat/completions", Some("u"))),
            "chat_completions"
        );
        assert_eq!(format_of(&record("POST", "/v1/messages", None)), "messages");
        assert_eq!(format_of(&record("GET", "/v1/models", None)), "models");
        assert_eq!(format_of(&record("POST", "/v1/files", None)), "other");
        assert_eq!(format_of(&record("POST", "/v1/rerank", Some("u"))), "extra");
        for path in [
            "/v1beta/models/gemini-2.5-flash:generateContent",
            "/v1/models/gemini-2.5-flash:streamGenerateContent",
        ] {
            assert_eq!(
                format_of(&record("POST", path, Some("u"))),
                "gemini",
                "{path}"
            );
        }
        assert_eq!(format_of(&record("GET", "/v1beta/models", None)), "models");
        assert_eq!(
            format_of(&record("GET", "/v1/responses/resp_1", Some("u"))),
            "responses"
        );
    }

    #[test]
    fn models_outside_the_configuration_and_prices_are_other() {
        let prices = PriceTable::new([
            ("gpt-4o-mini".to_string(), Default::default()),
            ("claude-*".to_string(), Default::default()),
        ]);
        let known: HashSet<String> = ["my-local-model".to_string()].into();
        let label = |model: &str| {
            let r = LogRecord {
                model_requested: Some(model.into()),
                ..LogRecord::default()
            };
            model_label(&r, &known, &prices).to_string()
        };
        assert_eq!(label("my-local-model"), "my-local-model");
        assert_eq!(label("gpt-4o-mini"), "gpt-4o-mini");
        assert_eq!(label("GPT-4o-Mini"), "gpt-4o-mini");
        assert_eq!(label("openai/gpt-4o-mini"), "gpt-4o-mini");
        assert_eq!(label("claude-anything-a-client-invents"), "other");
        assert_eq!(label("no-such-model"), "other");
        let none = LogRecord::default();
        assert_eq!(model_label(&none, &known, &prices), "none");
    }
}
