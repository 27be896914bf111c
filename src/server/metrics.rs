//! Prometheus metrics (`GET /metrics`): the counters and histograms the log writer fills from
//! each request's record, off the request path, and the gauges read from the running gateway
//! when scraped. Every metric, its labels and their bounds are listed in `docs/metrics.md`.
//!
//! Nothing here knows the proxy: the log writer hands over a `RequestSample` whose labels it
//! has already bounded, and the proxy's `DataPlane` answers `LiveSource` at scrape time.
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock, Weak};

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{
    DescriptorEncoder, EncodeLabelSet, EncodeMetric, MetricEncoder, NoLabelSet,
};
use prometheus_client::metrics::counter::{ConstCounter, Counter};
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::metrics::{MetricType, TypedMetric};
use prometheus_client::registry::Registry;

use crate::model::usage::Usage;
use crate::server::fast_map::FastMap;

/// The scrape's `Content-Type` when the scraper accepts OpenMetrics (Prometheus asks for it).
pub(crate) const OPENMETRICS: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";
/// The scrape's `Content-Type` otherwise: Prometheus' classic text format (curl, older scrapers).
pub(crate) const PROMETHEUS_TEXT: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Request duration, time to first byte and time to first token, in seconds: an LLM gateway
/// answers a cached embedding in milliseconds and a long reasoning stream in minutes.
pub(crate) const LATENCY_BUCKETS: [f64; 17] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 20.0, 30.0, 60.0, 120.0, 300.0,
    600.0,
];

/// One insert of the log writer (a batch of up to 1,000 rows, retries included), in seconds.
pub(crate) const BATCH_BUCKETS: [f64; 13] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// The kinds of `autorouter_tokens_total`.
const TOKEN_KINDS: [&str; 5] = ["input", "output", "cached", "reasoning", "cache_write"];

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    key: String,
    upstream: String,
    model: String,
    format: &'static str,
    status_class: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct TokenLabels {
    key: String,
    upstream: String,
    model: String,
    kind: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CostLabels {
    key: String,
    upstream: String,
    model: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct LatencyLabels {
    upstream: String,
    format: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct AttemptLabels {
    upstream: String,
    reason: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ReasonLabels {
    reason: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StickyLabels {
    sticky: &'static str,
}

/// One finished request, as its log record tells it, with every label already bounded (see
/// `docs/metrics.md`): the log writer builds it after the record is priced.
#[derive(Debug)]
pub(crate) struct RequestSample<'a, 'f> {
    /// The key's id.
    pub key: &'a str,
    /// The id of the upstream that answered (or was tried last); `none` if none was.
    pub upstream: &'a str,
    /// A configured, discovered or priced model name, else `other` (`none`: no model read).
    pub model: &'a str,
    /// The endpoint's API format.
    pub format: &'static str,
    pub status: Option<i64>,
    pub usage: &'a Usage,
    pub cost_nanos: Option<i64>,
    pub duration_ms: Option<i64>,
    pub ttfb_ms: Option<i64>,
    pub ttft_ms: Option<i64>,
    /// Every upstream attempt that failed or was skipped, as (upstream id, reason).
    pub failed_attempts: &'f [(String, &'static str)],
    /// The limit that refused the request, if one did (a name from a fixed set).
    pub refused_by: Option<&'a str>,
    /// For a request of an agent session that was answered: whether it stuck.
    pub sticky: Option<bool>,
}

/// `2xx`, `4xx`, `5xx`… from a status code.
fn status_class(status: Option<i64>) -> &'static str {
    match status {
        Some(100..=199) => "1xx",
        Some(200..=299) => "2xx",
        Some(300..=399) => "3xx",
        Some(400..=499) => "4xx",
        Some(500..=599) => "5xx",
        _ => "none",
    }
}

/// The gateway's metrics: one per process, created at start-up unless `METRICS=off`.
pub(crate) struct Metrics {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    tokens: Family<TokenLabels, Counter>,
    cost: Family<CostLabels, Counter<f64, AtomicU64>>,
    duration: Family<LatencyLabels, LatencyHistogram>,
    ttfb: Family<LatencyLabels, LatencyHistogram>,
    ttft: Family<LatencyLabels, LatencyHistogram>,
    failed_attempts: Family<AttemptLabels, Counter>,
    refusals: Family<ReasonLabels, Counter>,
    sessions: Family<StickyLabels, Counter>,
    log_batch: Histogram,
    live: Arc<LiveGauges>,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

impl Metrics {
    pub(crate) fn new() -> Arc<Self> {
        let mut registry = Registry::default();
        let requests = Family::<RequestLabels, Counter>::default();
        registry.register(
            "autorouter_requests",
            "Proxied requests that reached a valid key, by key id, upstream id, model, API format and status class",
            requests.clone(),
        );
        let tokens = Family::<TokenLabels, Counter>::default();
        registry.register(
            "autorouter_tokens",
            "Tokens the upstreams reported, by key id, upstream id, model and kind (input, output, cached, reasoning, cache_write)",
            tokens.clone(),
        );
        let cost = Family::<CostLabels, Counter<f64, AtomicU64>>::default();
        registry.register(
            "autorouter_cost_usd",
            "What the answers cost in USD at the configured prices and multipliers, by key id, upstream id and model",
            cost.clone(),
        );
        let histograms = |registry: &mut Registry, name: &str, help: &str| {
            let family = Family::<LatencyLabels, LatencyHistogram>::default();
            registry.register(name, help, family.clone());
            family
        };
        let duration = histograms(
            &mut registry,
            "autorouter_request_duration_seconds",
            "Time from the request's arrival to the answer's last byte, by upstream id and API format",
        );
        let ttfb = histograms(
            &mut registry,
            "autorouter_time_to_first_byte_seconds",
            "Time from the request's arrival to the first byte forwarded to the client, by upstream id and API format",
        );
        let ttft = histograms(
            &mut registry,
            "autorouter_time_to_first_token_seconds",
            "Time from the request's arrival to a stream's first content token, by upstream id and API format",
        );
        let failed_attempts = Family::<AttemptLabels, Counter>::default();
        registry.register(
            "autorouter_failover_attempts",
            "Upstream attempts that failed or were skipped, so the request moved on (or ended), by upstream id and reason",
            failed_attempts.clone(),
        );
        let refusals = Family::<ReasonLabels, Counter>::default();
        registry.register(
            "autorouter_limit_refusals",
            "Requests a limit refused, by the limit (key_rpm, key_tpm, key_concurrency, key_daily_budget, key_monthly_budget, model_not_allowed, upstream_limits)",
            refusals.clone(),
        );
        let sessions = Family::<StickyLabels, Counter>::default();
        registry.register(
            "autorouter_session_requests",
            "Answered requests of agent sessions, by whether they went to the session's last upstream (sticky=\"true\")",
            sessions.clone(),
        );
        let log_batch = Histogram::new(BATCH_BUCKETS.iter().copied());
        registry.register(
            "autorouter_log_batch_seconds",
            "How long the log writer took to store one batch of request logs, retries included",
            log_batch.clone(),
        );
        let live = Arc::new(LiveGauges::default());
        registry.register_collector(Box::new(Arc::clone(&live)));
        Arc::new(Self {
            registry,
            requests,
            tokens,
            cost,
            duration,
            ttfb,
            ttft,
            failed_attempts,
            refusals,
            sessions,
            log_batch,
            live,
        })
    }

    /// Where the gauges are read from at scrape time (the data plane, once it exists).
    pub(crate) fn attach(&self, source: Weak<dyn LiveSource>) {
        let _ = self.live.source.set(source);
    }

    /// A counter for one batch of the log writer's records. Called by the log writer's task,
    /// never on the request path.
    pub(crate) fn batch<'a>(&self) -> BatchCounter<'_, 'a> {
        BatchCounter {
            metrics: self,
            index: FastMap::default(),
            sums: Vec::new(),
            last: 0,
            sessions: [0; 2],
        }
    }

    /// One batch of the log writer stored (or given up on) after this long.
    pub(crate) fn observe_log_batch(&self, elapsed: std::time::Duration) {
        self.log_batch.observe(elapsed.as_secs_f64());
    }

    /// The scrape: everything counted so far and the gauges as they are now, in the
    /// OpenMetrics text format or Prometheus' classic one.
    pub(crate) fn render(&self, openmetrics: bool) -> String {
        use prometheus_client::encoding::{prometheus_text, text};
        let mut out = String::with_capacity(16 * 1024);
        // Writing to a String cannot fail; a label value cannot make the encoder fail either.
        let _ = if openmetrics {
            text::encode(&mut out, &self.registry)
        } else {
            prometheus_text::encode(&mut out, &self.registry)
        };
        out
    }
}

/// A request's labels, borrowed from the batch's records.
#[derive(Clone, Copy, Hash, PartialEq, Eq)]
struct SeriesKey<'a> {
    key: &'a str,
    upstream: &'a str,
    model: &'a str,
    format: &'static str,
    status_class: &'static str,
}

/// What one label set's requests of a batch add up to.
#[derive(Default)]
struct Sums {
    requests: u64,
    /// By `TOKEN_KINDS`.
    tokens: [u64; 5],
    cost_nanos: u128,
    /// Duration, time to first byte, time to first token.
    latency: [LatencyCounts; 3],
}

/// Counts one batch of the log writer's records: each request adds to its label set's sums
/// with plain arithmetic, and the sums reach the registry's series when the batch is dropped,
/// each series found (a lock, a hash, the labels' strings copied) and added to once per batch.
pub(crate) struct BatchCounter<'m, 'a> {
    metrics: &'m Metrics,
    /// Where each label set's sums are in `sums`. Keyed by ids the gateway made and bounded
    /// model names, so the fast hasher is safe.
    index: FastMap<SeriesKey<'a>, usize>,
    sums: Vec<(SeriesKey<'a>, Sums)>,
    /// The last request's label set: a batch's requests mostly share theirs.
    last: usize,
    /// Agent-session requests answered by the session's upstream, and by another.
    sessions: [u64; 2],
}

impl<'a> BatchCounter<'_, 'a> {
    /// Counts one finished request.
    pub(crate) fn observe(&mut self, s: &RequestSample<'a, '_>) {
        let labels = SeriesKey {
            key: s.key,
            upstream: s.upstream,
            model: s.model,
            format: s.format,
            status_class: status_class(s.status),
        };
        let at = match self.sums.get(self.last) {
            Some((last, _)) if *last == labels => self.last,
            _ => {
                let next = self.sums.len();
                let at = *self.index.entry(labels).or_insert(next);
                if at == next {
                    self.sums.push((labels, Sums::default()));
                }
                self.last = at;
                at
            }
        };
        let sums = &mut self.sums[at].1;
        sums.requests += 1;
        let u = s.usage;
        let counts = [
            u.prompt_tokens,
            u.completion_tokens,
            u.cached_tokens,
            u.reasoning_tokens,
            u.cache_creation_tokens,
        ];
        for (sum, n) in sums.tokens.iter_mut().zip(counts) {
            *sum += n.max(0) as u64;
        }
        sums.cost_nanos += s.cost_nanos.unwrap_or(0).max(0) as u128;
        for (counts, ms) in sums
            .latency
            .iter_mut()
            .zip([s.duration_ms, s.ttfb_ms, s.ttft_ms])
        {
            if let Some(ms) = ms {
                counts.observe(ms);
            }
        }
        if let Some(sticky) = s.sticky {
            self.sessions[usize::from(!sticky)] += 1;
        }
        // Rare (a failover, a refusal): added as they come.
        let m = self.metrics;
        for (upstream, reason) in s.failed_attempts {
            m.failed_attempts
                .get_or_create(&AttemptLabels {
                    upstream: upstream.clone(),
                    reason,
                })
                .inc();
        }
        if let Some(reason) = s.refused_by {
            m.refusals
                .get_or_create(&ReasonLabels {
                    reason: reason.to_owned(),
                })
                .inc();
        }
    }
}

impl Drop for BatchCounter<'_, '_> {
    /// The batch is counted: its sums go to the registry's series.
    fn drop(&mut self) {
        let m = self.metrics;
        for (labels, sums) in &self.sums {
            m.requests
                .get_or_create_owned(&RequestLabels {
                    key: labels.key.to_owned(),
                    upstream: labels.upstream.to_owned(),
                    model: labels.model.to_owned(),
                    format: labels.format,
                    status_class: labels.status_class,
                })
                .inc_by(sums.requests);
            // A zero count adds no series.
            for (kind, n) in TOKEN_KINDS.into_iter().zip(sums.tokens) {
                if n > 0 {
                    m.tokens
                        .get_or_create_owned(&TokenLabels {
                            key: labels.key.to_owned(),
                            upstream: labels.upstream.to_owned(),
                            model: labels.model.to_owned(),
                            kind,
                        })
                        .inc_by(n);
                }
            }
            if sums.cost_nanos > 0 {
                m.cost
                    .get_or_create_owned(&CostLabels {
                        key: labels.key.to_owned(),
                        upstream: labels.upstream.to_owned(),
                        model: labels.model.to_owned(),
                    })
                    .inc_by(sums.cost_nanos as f64 / 1e9);
            }
            for (family, counts) in [&m.duration, &m.ttfb, &m.ttft]
                .into_iter()
                .zip(&sums.latency)
            {
                if counts.count() > 0 {
                    family
                        .get_or_create_owned(&LatencyLabels {
                            upstream: labels.upstream.to_owned(),
                            format: labels.format,
                        })
                        .add(counts);
                }
            }
        }
        for (sticky, n) in ["true", "false"].into_iter().zip(self.sessions) {
            if n > 0 {
                m.sessions.get_or_create(&StickyLabels { sticky }).inc_by(n);
            }
        }
    }
}

/// `LATENCY_BUCKETS` in milliseconds, the unit of a log record's timings.
const LATENCY_BUCKETS_MS: [u64; LATENCY_BUCKETS.len()] = [
    5, 10, 25, 50, 100, 250, 500, 1_000, 2_500, 5_000, 10_000, 20_000, 30_000, 60_000, 120_000,
    300_000, 600_000,
];

/// Latency observations in whole milliseconds: a bucket count each (the last is `+Inf`) and
/// their sum, exact.
#[derive(Clone, Copy, Default, Debug)]
struct LatencyCounts {
    buckets: [u64; LATENCY_BUCKETS.len() + 1],
    sum_ms: u64,
}

impl LatencyCounts {
    fn observe(&mut self, ms: i64) {
        let ms = ms.max(0) as u64;
        // The first bucket whose bound is at least `ms` (a bound is inclusive: `le`).
        self.buckets[LATENCY_BUCKETS_MS.partition_point(|&bound| bound < ms)] += 1;
        self.sum_ms += ms;
    }

    fn count(&self) -> u64 {
        self.buckets.iter().sum()
    }
}

/// A latency histogram (duration, time to first byte, time to first token): kept in
/// milliseconds as the records give them, so a batch's counts are added at once with atomic
/// additions; exposed in seconds at `LATENCY_BUCKETS`.
#[derive(Clone, Default, Debug)]
struct LatencyHistogram(Arc<LatencyCells>);

#[derive(Default, Debug)]
struct LatencyCells {
    buckets: [AtomicU64; LATENCY_BUCKETS.len() + 1],
    sum_ms: AtomicU64,
}

impl LatencyHistogram {
    fn add(&self, counts: &LatencyCounts) {
        for (cell, n) in self.0.buckets.iter().zip(counts.buckets) {
            if n > 0 {
                cell.fetch_add(n, Ordering::Relaxed);
            }
        }
        self.0.sum_ms.fetch_add(counts.sum_ms, Ordering::Relaxed);
    }
}

impl TypedMetric for LatencyHistogram {
    const TYPE: MetricType = MetricType::Histogram;
}

impl EncodeMetric for LatencyHistogram {
    fn encode(&self, mut encoder: MetricEncoder<'_>) -> Result<(), std::fmt::Error> {
        let buckets: Vec<(f64, u64)> = LATENCY_BUCKETS
            .into_iter()
            .chain([f64::INFINITY])
            .zip(self.0.buckets.iter().map(|n| n.load(Ordering::Relaxed)))
            .collect();
        let count = buckets.iter().map(|&(_, n)| n).sum();
        let sum = self.0.sum_ms.load(Ordering::Relaxed) as f64 / 1_000.0;
        encoder.encode_histogram::<NoLabelSet>(sum, count, &buckets, None)
    }

    fn metric_type(&self) -> MetricType {
        Self::TYPE
    }
}

/// What the gauges read from the running gateway at scrape time.
pub(crate) trait LiveSource: Send + Sync {
    fn live(&self) -> Live;
}

/// One upstream as the gauges show it.
#[derive(Debug, Clone)]
pub(crate) struct UpstreamLive {
    pub id: String,
    pub name: String,
    pub provider: &'static str,
    /// `closed`, `open` or `half_open`: what the next request would see.
    pub breaker: &'static str,
    pub healthy: bool,
    /// Requests being answered by it right now (headers sent, body still streaming included).
    pub in_flight: u64,
}

/// The running gateway's state, read when scraped.
#[derive(Debug, Clone, Default)]
pub(crate) struct Live {
    pub upstreams: Vec<UpstreamLive>,
    /// Requests refused for want of a valid key, by reason, since start (these are not logged
    /// row by row, so they never reach the log writer).
    pub auth_refusals: Vec<(&'static str, u64)>,
    pub log_queue_depth: u64,
    pub log_queue_capacity: u64,
    pub log_dropped: u64,
    pub log_written: u64,
    /// With `REDIS_URL`: whether the limits are counted in Redis right now (false: fallen
    /// back to local counters). `None` without `REDIS_URL`.
    pub limits_shared: Option<bool>,
    /// Agent sessions this instance remembers.
    pub sticky_sessions: u64,
}

const BREAKER_STATES: [&str; 3] = ["closed", "open", "half_open"];

#[derive(Default)]
struct LiveGauges {
    source: OnceLock<Weak<dyn LiveSource>>,
}

impl std::fmt::Debug for LiveGauges {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LiveGauges").finish_non_exhaustive()
    }
}

fn gauge(
    encoder: &mut DescriptorEncoder<'_>,
    name: &str,
    help: &str,
    value: u64,
) -> Result<(), std::fmt::Error> {
    let g = ConstGauge::new(value as i64);
    g.encode(encoder.encode_descriptor(name, help, None, g.metric_type())?)
}

fn counter(
    encoder: &mut DescriptorEncoder<'_>,
    name: &str,
    help: &str,
    value: u64,
) -> Result<(), std::fmt::Error> {
    let c = ConstCounter::new(value);
    c.encode(encoder.encode_descriptor(name, help, None, c.metric_type())?)
}

impl LiveGauges {
    /// The per-upstream gauges; none at all while there is no upstream (a family without
    /// samples is legal OpenMetrics, but not every parser takes it).
    fn upstreams(
        encoder: &mut DescriptorEncoder<'_>,
        upstreams: &[UpstreamLive],
    ) -> Result<(), std::fmt::Error> {
        if upstreams.is_empty() {
            return Ok(());
        }
        let g = ConstGauge::new(1i64);
        let mut m = encoder.encode_descriptor(
            "autorouter_upstream_info",
            "Each upstream's name and provider, by id (join on the upstream label).",
            None,
            g.metric_type(),
        )?;
        for u in upstreams {
            let labels = [
                ("upstream", u.id.as_str()),
                ("name", u.name.as_str()),
                ("provider", u.provider),
            ];
            g.encode(m.encode_family(&labels)?)?;
        }
        let mut m = encoder.encode_descriptor(
            "autorouter_in_flight_requests",
            "Requests an upstream is answering right now, streams included.",
            None,
            g.metric_type(),
        )?;
        for u in upstreams {
            ConstGauge::new(u.in_flight as i64)
                .encode(m.encode_family(&[("upstream", u.id.as_str())])?)?;
        }
        let mut m = encoder.encode_descriptor(
            "autorouter_breaker_state",
            "Each upstream's circuit breaker: 1 for its current state (closed, open, half_open), 0 for the others.",
            None,
            g.metric_type(),
        )?;
        for u in upstreams {
            for state in BREAKER_STATES {
                ConstGauge::new(i64::from(u.breaker == state))
                    .encode(m.encode_family(&[("upstream", u.id.as_str()), ("state", state)])?)?;
            }
        }
        let mut m = encoder.encode_descriptor(
            "autorouter_upstream_healthy",
            "1 while an upstream counts as healthy (health checks and recent traffic), else 0.",
            None,
            g.metric_type(),
        )?;
        for u in upstreams {
            ConstGauge::new(i64::from(u.healthy))
                .encode(m.encode_family(&[("upstream", u.id.as_str())])?)?;
        }
        Ok(())
    }
}

impl Collector for LiveGauges {
    fn encode(&self, mut encoder: DescriptorEncoder<'_>) -> Result<(), std::fmt::Error> {
        let g = ConstGauge::new(1i64);
        let mut info = encoder.encode_descriptor(
            "autorouter_build_info",
            "The running gateway's version.",
            None,
            g.metric_type(),
        )?;
        g.encode(info.encode_family(&[("version", env!("CARGO_PKG_VERSION"))])?)?;

        let Some(source) = self.source.get().and_then(Weak::upgrade) else {
            return Ok(());
        };
        let live = source.live();

        Self::upstreams(&mut encoder, &live.upstreams)?;

        let c = ConstCounter::new(0u64);
        let mut m = encoder.encode_descriptor(
            "autorouter_auth_refusals",
            "Requests refused for want of a valid key (missing, invalid, disabled, expired).",
            None,
            c.metric_type(),
        )?;
        for (reason, n) in &live.auth_refusals {
            ConstCounter::new(*n).encode(m.encode_family(&[("reason", *reason)])?)?;
        }

        gauge(
            &mut encoder,
            "autorouter_log_queue_depth",
            "Request log records waiting for the log writer.",
            live.log_queue_depth,
        )?;
        gauge(
            &mut encoder,
            "autorouter_log_queue_capacity",
            "How many records the log queue holds before new ones are dropped.",
            live.log_queue_capacity,
        )?;
        counter(
            &mut encoder,
            "autorouter_log_dropped_rows",
            "Request log records dropped because the queue was full.",
            live.log_dropped,
        )?;
        counter(
            &mut encoder,
            "autorouter_log_written_rows",
            "Request log rows stored.",
            live.log_written,
        )?;
        gauge(
            &mut encoder,
            "autorouter_sticky_sessions",
            "Agent sessions this instance remembers the upstream of.",
            live.sticky_sessions,
        )?;
        if let Some(shared) = live.limits_shared {
            gauge(
                &mut encoder,
                "autorouter_limits_shared",
                "With REDIS_URL: 1 while limits are counted in Redis, 0 while this instance has fallen back to local counters.",
                u64::from(shared),
            )?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_classes() {
        assert_eq!(status_class(Some(200)), "2xx");
        assert_eq!(status_class(Some(429)), "4xx");
        assert_eq!(status_class(Some(502)), "5xx");
        assert_eq!(status_class(None), "none");
    }

    #[test]
    fn buckets_rise() {
        assert!(LATENCY_BUCKETS.windows(2).all(|w| w[0] < w[1]));
        assert!(BATCH_BUCKETS.windows(2).all(|w| w[0] < w[1]));
        for (seconds, ms) in LATENCY_BUCKETS.into_iter().zip(LATENCY_BUCKETS_MS) {
            assert_eq!(seconds, ms as f64 / 1_000.0);
        }
    }

    #[test]
    fn a_bound_is_inclusive() {
        let mut counts = LatencyCounts::default();
        for ms in [-3, 0, 5, 6, 600_000, 600_001] {
            counts.observe(ms);
        }
        let n = LATENCY_BUCKETS.len();
        assert_eq!(counts.buckets[0], 3, "-3, 0 and 5 ms are within le=0.005");
        assert_eq!(counts.buckets[1], 1);
        assert_eq!(counts.buckets[n - 1], 1, "600,000 ms is within le=600");
        assert_eq!(counts.buckets[n], 1, "above the last bound: +Inf");
        assert_eq!(counts.count(), 6);
        assert_eq!(counts.sum_ms, 5 + 6 + 600_000 + 600_001);
    }

    #[test]
    fn a_sample_is_counted_under_its_labels() {
        let metrics = Metrics::new();
        let usage = Usage {
            prompt_tokens: 11,
            completion_tokens: 7,
            cached_tokens: 2,
            ..Usage::default()
        };
        let failed = [("u1".to_string(), "http_5xx")];
        let sample = RequestSample {
            key: "k1",
            upstream: "u2",
            model: "gpt-4o-mini",
            format: "chat_completions",
            status: Some(200),
            usage: &usage,
            cost_nanos: Some(5_700),
            duration_ms: Some(1_500),
            ttfb_ms: Some(20),
            ttft_ms: None,
            failed_attempts: &failed,
            refused_by: None,
            sticky: Some(true),
        };
        let mut batch = metrics.batch();
        batch.observe(&sample);
        batch.observe(&sample);
        drop(batch);
        // Another batch finds the same series.
        let other = RequestSample {
            status: Some(502),
            ..sample
        };
        let mut batch = metrics.batch();
        batch.observe(&sample);
        batch.observe(&other);
        drop(batch);
        let text = metrics.render(true);
        for line in [
            r#"autorouter_requests_total{key="k1",upstream="u2",model="gpt-4o-mini",format="chat_completions",status_class="2xx"} 3"#,
            r#"autorouter_requests_total{key="k1",upstream="u2",model="gpt-4o-mini",format="chat_completions",status_class="5xx"} 1"#,
            r#"autorouter_tokens_total{key="k1",upstream="u2",model="gpt-4o-mini",kind="input"} 44"#,
            r#"autorouter_tokens_total{key="k1",upstream="u2",model="gpt-4o-mini",kind="cached"} 8"#,
            r#"autorouter_request_duration_seconds_count{upstream="u2",format="chat_completions"} 4"#,
            r#"autorouter_request_duration_seconds_bucket{le="2.5",upstream="u2",format="chat_completions"} 4"#,
            r#"autorouter_request_duration_seconds_bucket{le="1.0",upstream="u2",format="chat_completions"} 0"#,
            r#"autorouter_request_duration_seconds_sum{upstream="u2",format="chat_completions"} 6.0"#,
            r#"autorouter_time_to_first_byte_seconds_bucket{le="0.025",upstream="u2",format="chat_completions"} 4"#,
            r#"autorouter_time_to_first_byte_seconds_bucket{le="0.01",upstream="u2",format="chat_completions"} 0"#,
            r#"autorouter_failover_attempts_total{upstream="u1",reason="http_5xx"} 4"#,
            r#"autorouter_session_requests_total{sticky="true"} 4"#,
            r#"autorouter_build_info{version=""#,
        ] {
            assert!(text.contains(line), "{line} missing from\n{text}");
        }
        let cost: f64 = text
            .lines()
            .find_map(|l| {
                l.strip_prefix(
                    r#"autorouter_cost_usd_total{key="k1",upstream="u2",model="gpt-4o-mini"} "#,
                )
            })
            .and_then(|v| v.parse().ok())
            .expect("the cost series");
        assert!((cost - 4.0 * 5_700e-9).abs() < 1e-12, "{cost}");
        assert!(
            !text.contains("kind=\"reasoning\""),
            "zero counts add no series"
        );
        assert!(!text.contains("time_to_first_token_seconds_count"));
        assert!(text.ends_with("# EOF\n"));
    }
}
