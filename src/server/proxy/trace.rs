//! A proxied request's OpenTelemetry spans, when traces are on (`OTEL_EXPORTER_OTLP_ENDPOINT`):
//! one SERVER span for the request, continuing the caller's W3C `traceparent`, with the
//! OpenTelemetry GenAI attributes, and one CLIENT span per upstream attempt, whose context is
//! the `traceparent` the upstream receives. With traces off the handler holds `None` and none
//! of this runs: no span, no header parsed.
//!
//! Spans are made through this gateway's own tracer (`DataPlane::traces`), not the process's
//! `tracing` subscriber: several gateways share a test process, each with its own exporter.
//! What is recorded: methods, routes, model names, token counts, upstream ids and names,
//! statuses and failure kinds. Never a header, a key, a query string or a body.
use axum::http::{HeaderMap, Method};
use opentelemetry::propagation::TextMapPropagator;
use opentelemetry::trace::{SpanKind, Status, TraceContextExt, Tracer};
use opentelemetry::{Context, KeyValue};
use opentelemetry_http::{HeaderExtractor, HeaderInjector};
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::SdkTracer;

use super::endpoints::Endpoint;
use super::failover::FailureKind;
use super::routing_table::UpstreamEntry;
use crate::model::upstreams::Provider;
use crate::server::db::request_logs::LogRecord;
use crate::server::telemetry::otlp::Traces;

/// The request's SERVER span, from the request's arrival until its answer's body has ended.
pub(crate) struct RequestTrace {
    tracer: SdkTracer,
    /// Holds the server span: the attempts' parent.
    cx: Context,
    method: Method,
    operation: Option<&'static str>,
    /// The provider of the upstream tried last (the one that answered, at the end).
    system: Option<Provider>,
    /// The attempt whose answer is being streamed back: it ends with the body.
    answering: Option<AttemptTrace>,
}

/// One upstream attempt's CLIENT span.
pub(crate) struct AttemptTrace {
    cx: Context,
}

impl RequestTrace {
    /// Starts the request's span, as a child of the caller's `traceparent` when it is valid.
    pub(crate) fn start(
        traces: &Traces,
        headers: &HeaderMap,
        method: &Method,
        path: &str,
        request_id: &str,
    ) -> Box<Self> {
        let parent = TraceContextPropagator::new().extract(&HeaderExtractor(headers));
        let tracer = traces.tracer().clone();
        let span = tracer
            .span_builder(format!("{method} /v1"))
            .with_kind(SpanKind::Server)
            .with_attributes([
                KeyValue::new("http.request.method", method.to_string()),
                KeyValue::new("url.path", path.to_string()),
                KeyValue::new("autorouter.request_id", request_id.to_string()),
            ])
            .start_with_context(&tracer, &parent);
        Box::new(RequestTrace {
            cx: parent.with_span(span),
            tracer,
            method: method.clone(),
            operation: None,
            system: None,
            answering: None,
        })
    }

    /// The endpoint is known: the span is named by its route (`POST /v1/chat/completions`;
    /// ids as `{id}`), and by the GenAI operation and model once the model is known.
    pub(crate) fn route(&mut self, endpoint: Endpoint, extra_path: Option<&str>) {
        let path = match (endpoint, extra_path) {
            (_, Some(path)) => path.to_string(),
            (Endpoint::StoredResponse(op), None) => op.path("{id}"),
            (Endpoint::GetModel, None) => "models/{model}".into(),
            (endpoint, None) => endpoint.path().to_string(),
        };
        let span = self.cx.span();
        let route = format!("/v1/{path}");
        span.update_name(format!("{} {route}", self.method));
        span.set_attribute(KeyValue::new("http.route", route));
        self.operation = operation(endpoint);
        if let Some(op) = self.operation {
            span.set_attribute(KeyValue::new("gen_ai.operation.name", op));
        }
    }

    /// A call of Google's own API: named by its route (`POST /v1beta/models/{model}:generateContent`)
    /// and operation, like `route`.
    pub(crate) fn route_gemini(&mut self, version: &str, endpoint: Endpoint) {
        let action = endpoint.gemini_action().unwrap_or("");
        let span = self.cx.span();
        let route = format!("/{version}/models/{{model}}:{action}");
        span.update_name(format!("{} {route}", self.method));
        span.set_attribute(KeyValue::new("http.route", route));
        self.operation = operation(endpoint);
        if let Some(op) = self.operation {
            span.set_attribute(KeyValue::new("gen_ai.operation.name", op));
        }
    }

    /// Starts the span of an attempt on `upstream`, sending it `sent_model`.
    pub(crate) fn attempt(&mut self, upstream: &UpstreamEntry, sent_model: &str) -> AttemptTrace {
        self.system = Some(upstream.provider);
        let name = match (self.operation, sent_model.is_empty()) {
            (Some(op), false) => format!("{op} {sent_model}"),
            _ => format!("{} {}", self.method, upstream.name),
        };
        let mut attributes = Vec::with_capacity(9);
        attributes.extend([
            KeyValue::new("gen_ai.system", system(upstream.provider)),
            KeyValue::new("gen_ai.provider.name", system(upstream.provider)),
            KeyValue::new("autorouter.upstream.id", upstream.id.clone()),
            KeyValue::new("autorouter.upstream.name", upstream.name.clone()),
            KeyValue::new("autorouter.provider", upstream.provider.as_str()),
        ]);
        if let Some(op) = self.operation {
            attributes.push(KeyValue::new("gen_ai.operation.name", op));
        }
        if !sent_model.is_empty() {
            attributes.push(KeyValue::new(
                "gen_ai.request.model",
                sent_model.to_string(),
            ));
        }
        if let Ok(url) = url::Url::parse(&upstream.base_url) {
            if let Some(host) = url.host_str() {
                attributes.push(KeyValue::new(
                    "server.address",
                    host.trim_start_matches('[')
                        .trim_end_matches(']')
                        .to_string(),
                ));
            }
            if let Some(port) = url.port_or_known_default() {
                attributes.push(KeyValue::new("server.port", i64::from(port)));
            }
        }
        let span = self
            .tracer
            .span_builder(name)
            .with_kind(SpanKind::Client)
            .with_attributes(attributes)
            .start_with_context(&self.tracer, &self.cx);
        AttemptTrace {
            cx: self.cx.with_span(span),
        }
    }

    /// The attempt answered (any status below 500 but 429): its span stays open while the
    /// answer streams back, and ends with the request's.
    pub(crate) fn answered(&mut self, attempt: AttemptTrace, status: u16) {
        attempt.cx.span().set_attribute(KeyValue::new(
            "http.response.status_code",
            i64::from(status),
        ));
        self.answering = Some(attempt);
    }

    /// A request refused before it has a log record (a key that does not pass).
    pub(crate) fn refused(self, status: u16) {
        let span = self.cx.span();
        span.set_attribute(KeyValue::new(
            "http.response.status_code",
            i64::from(status),
        ));
        span.end();
    }

    /// The request is over (answered, refused or failed; its body ended, broke or was left by
    /// the client): its outcome and usage go on the span, which ends with its answering attempt.
    pub(crate) fn finish(self, record: &LogRecord) {
        let span = self.cx.span();
        let status = record.status_code.unwrap_or(0);
        span.set_attribute(KeyValue::new("http.response.status_code", status));
        if let Some(id) = &record.api_key_id {
            span.set_attribute(KeyValue::new("autorouter.key_id", id.clone()));
        }
        if let Some(id) = &record.upstream_id {
            span.set_attribute(KeyValue::new("autorouter.upstream", id.clone()));
        }
        if let Some(provider) = self.system {
            span.set_attribute(KeyValue::new("gen_ai.system", system(provider)));
            span.set_attribute(KeyValue::new("gen_ai.provider.name", system(provider)));
        }
        if let Some(model) = &record.model_requested {
            span.set_attribute(KeyValue::new("gen_ai.request.model", model.clone()));
            if let Some(op) = self.operation {
                span.update_name(format!("{op} {model}"));
            }
        }
        if let Some(model) = &record.model_sent {
            span.set_attribute(KeyValue::new("gen_ai.response.model", model.clone()));
        }
        if record.failover_attempts > 0 {
            span.set_attribute(KeyValue::new(
                "autorouter.attempts",
                record.failover_attempts,
            ));
        }
        let usage = &record.usage;
        if usage.prompt_tokens > 0 || usage.completion_tokens > 0 {
            span.set_attribute(KeyValue::new(
                "gen_ai.usage.input_tokens",
                usage.prompt_tokens,
            ));
            span.set_attribute(KeyValue::new(
                "gen_ai.usage.output_tokens",
                usage.completion_tokens,
            ));
        }
        // A server span is in error for its own failures (5xx, or an answer cut short), not
        // for a client's mistakes (4xx), as the HTTP conventions have it.
        let error = record
            .error_message
            .as_deref()
            .filter(|_| !(400..500).contains(&status));
        if status >= 500 || error.is_some() {
            span.set_attribute(KeyValue::new("error.type", error_type(status)));
            span.set_status(Status::error(
                error
                    .map(str::to_string)
                    .unwrap_or_else(|| format!("HTTP {status}")),
            ));
        }
        if let Some(attempt) = self.answering {
            let attempt_span = attempt.cx.span();
            if status >= 400 || error.is_some() {
                attempt_span.set_attribute(KeyValue::new("error.type", error_type(status)));
                attempt_span.set_status(Status::error(
                    error
                        .map(str::to_string)
                        .unwrap_or_else(|| format!("HTTP {status}")),
                ));
            }
            attempt_span.end();
        }
        span.end();
    }
}

impl AttemptTrace {
    /// Sets `traceparent` (and the caller's `tracestate`) to this attempt's context.
    pub(crate) fn inject(&self, headers: &mut HeaderMap) {
        TraceContextPropagator::new().inject_context(&self.cx, &mut HeaderInjector(headers));
    }

    /// The attempt failed (connect error, timeout, 5xx, 429): failover goes on without it.
    pub(crate) fn failed(self, kind: FailureKind, status: Option<u16>, message: &str) {
        let span = self.cx.span();
        if let Some(status) = status {
            span.set_attribute(KeyValue::new(
                "http.response.status_code",
                i64::from(status),
            ));
        }
        span.set_attribute(KeyValue::new("error.type", failure_kind(kind)));
        span.set_status(Status::error(message.to_string()));
        span.end();
    }
}

/// `error.type`: the status code as a string, as the HTTP conventions have it; `_OTHER` for an
/// answer that broke after a success status.
fn error_type(status: i64) -> String {
    if status >= 400 {
        status.to_string()
    } else {
        "_OTHER".into()
    }
}

fn failure_kind(kind: FailureKind) -> &'static str {
    match kind {
        FailureKind::Timeout => "timeout",
        FailureKind::Connect => "connect",
        FailureKind::Http5xx => "http_5xx",
        FailureKind::Http429 => "http_429",
        FailureKind::BreakerOpen => "breaker_open",
        FailureKind::AtLimit => "at_limit",
    }
}

/// `gen_ai.system` (and `gen_ai.provider.name`): an OpenAI-compatible upstream speaks OpenAI's API.
fn system(provider: Provider) -> &'static str {
    match provider {
        Provider::Openai | Provider::OpenaiCompatible => "openai",
        Provider::Anthropic => "anthropic",
        Provider::Google => "gcp.gemini",
    }
}

/// `gen_ai.operation.name` for the endpoints that are GenAI operations.
fn operation(endpoint: Endpoint) -> Option<&'static str> {
    match endpoint {
        Endpoint::ChatCompletions | Endpoint::Messages | Endpoint::Responses => Some("chat"),
        Endpoint::Completions => Some("text_completion"),
        Endpoint::Embeddings | Endpoint::EmbedContent | Endpoint::BatchEmbedContents => {
            Some("embeddings")
        }
        Endpoint::GenerateContent | Endpoint::StreamGenerateContent => Some("generate_content"),
        _ => None,
    }
}
