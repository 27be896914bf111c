//! OpenTelemetry traces: with `OTEL_EXPORTER_OTLP_ENDPOINT` set, a proxied request reaches an
//! in-test OTLP/HTTP receiver (which decodes the protobuf it is sent) as a SERVER span that
//! continues the caller's `traceparent`, carries the GenAI attributes with the answer's exact
//! token counts, and has one CLIENT span per upstream attempt, whose context is the
//! `traceparent` that upstream received. Without the variable nothing is exported and the
//! caller's `traceparent` stays behind, as every header outside the allowlist does.
use crate::common;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use axum::Router;
use common::mock_upstream::{Knobs, MockUpstream};
use common::{Backend, TestApp};
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::any_value::Value as AnyValue;
use opentelemetry_proto::tonic::trace::v1::span::SpanKind;
use opentelemetry_proto::tonic::trace::v1::status::StatusCode as SpanStatus;
use opentelemetry_proto::tonic::trace::v1::Span;
use prost::Message;
use serde_json::json;

const UPSTREAM_KEY: &str = "sk-upstream-real-secret-0123456789";
const TRACE_ID: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const CALLER_SPAN: &str = "00f067aa0ba902b7";
const COLLECTOR_TOKEN: &str = "collector-token-5f1e";

/// What the receiver was sent: every span, with its resource's `service.name`.
#[derive(Default)]
struct Received {
    spans: Vec<(String, Span)>,
    /// Each export's `content-type` and `authorization` headers.
    exports: Vec<(String, String)>,
}

/// An OTLP/HTTP receiver on `127.0.0.1:0`: `POST /v1/traces`, protobuf.
struct Receiver {
    addr: SocketAddr,
    got: Arc<Mutex<Received>>,
}

impl Receiver {
    async fn start() -> Receiver {
        let got = Arc::new(Mutex::new(Received::default()));
        let app = Router::new()
            .route("/v1/traces", post(receive))
            .with_state(got.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Receiver { addr, got }
    }

    fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    fn spans(&self) -> Vec<Span> {
        let got = self.got.lock().unwrap();
        got.spans.iter().map(|(_, s)| s.clone()).collect()
    }

    /// The spans of one trace, once `n` of them have arrived (the batch is sent every 100 ms).
    async fn trace(&self, trace_id: &str, n: usize) -> Vec<Span> {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let spans: Vec<Span> = self
                .spans()
                .into_iter()
                .filter(|s| hex(&s.trace_id) == trace_id)
                .collect();
            if spans.len() >= n {
                return spans;
            }
            assert!(
                Instant::now() < deadline,
                "expected {n} spans of trace {trace_id}, the receiver has {} of it and {} in all",
                spans.len(),
                self.spans().len()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

async fn receive(
    State(got): State<Arc<Mutex<Received>>>,
    headers: HeaderMap,
    body: Bytes,
) -> (StatusCode, [(&'static str, &'static str); 1], Vec<u8>) {
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string()
    };
    let request = ExportTraceServiceRequest::decode(body).expect("an OTLP protobuf export");
    let mut got = got.lock().unwrap();
    got.exports
        .push((header("content-type"), header("authorization")));
    for resource in request.resource_spans {
        let service = resource
            .resource
            .iter()
            .flat_map(|r| &r.attributes)
            .find(|kv| kv.key == "service.name")
            .and_then(|kv| string_of(kv.value.as_ref()?.value.as_ref()?))
            .unwrap_or_default();
        for scope in resource.scope_spans {
            for span in scope.spans {
                got.spans.push((service.clone(), span));
            }
        }
    }
    // An empty ExportTraceServiceResponse: everything accepted.
    (
        StatusCode::OK,
        [("content-type", "application/x-protobuf")],
        Vec::new(),
    )
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn string_of(value: &AnyValue) -> Option<String> {
    match value {
        AnyValue::StringValue(s) => Some(s.clone()),
        _ => None,
    }
}

fn attr<'a>(span: &'a Span, key: &str) -> Option<&'a AnyValue> {
    span.attributes
        .iter()
        .find(|kv| kv.key == key)
        .and_then(|kv| kv.value.as_ref()?.value.as_ref())
}

fn str_attr(span: &Span, key: &str) -> String {
    match attr(span, key) {
        Some(AnyValue::StringValue(s)) => s.clone(),
        other => panic!("span {:?}: {key} is {other:?}, not a string", span.name),
    }
}

fn int_attr(span: &Span, key: &str) -> i64 {
    match attr(span, key) {
        Some(AnyValue::IntValue(n)) => *n,
        other => panic!("span {:?}: {key} is {other:?}, not an integer", span.name),
    }
}

fn is_error(span: &Span) -> bool {
    span.status.as_ref().map(|s| s.code) == Some(SpanStatus::Error as i32)
}

async fn upstream(app: &TestApp, name: &str, mock: &MockUpstream, priority: i64) -> String {
    app.upstream(
        json!({"name": name, "provider": "openai", "base_url": mock.base_url,
                        "api_key": UPSTREAM_KEY, "timeout_ms": 5000, "priority": priority}),
    )
    .await
}

/// A streamed chat request (its usage asked for by the gateway), read to its end.
async fn streamed_chat(app: &TestApp, key: &str, traceparent: Option<&str>) -> (u16, String) {
    let mut request = app
        .client
        .post(app.url("/v1/chat/completions"))
        .bearer_auth(key)
        .json(&json!({"model": "gpt-4o-mini", "stream": true,
                      "messages": [{"role": "user", "content": "a prompt that stays private"}]}));
    if let Some(tp) = traceparent {
        request = request
            .header("traceparent", tp)
            .header("tracestate", "caller=1");
    }
    let res = request.send().await.unwrap();
    let status = res.status().as_u16();
    let request_id = res.headers()["x-request-id"].to_str().unwrap().to_string();
    let body = res.text().await.unwrap();
    assert!(body.contains("[DONE]"), "{body}");
    (status, request_id)
}

/// The `traceparent` an upstream received with its last request: (trace id, span id, flags).
fn traceparent_of(mock: &MockUpstream) -> (String, String, String) {
    let last = mock.last().expect("the upstream was asked");
    let tp = last
        .header("traceparent")
        .expect("the upstream received a traceparent")
        .to_string();
    let parts: Vec<&str> = tp.split('-').collect();
    assert_eq!(parts.len(), 4, "{tp}");
    assert_eq!(parts[0], "00", "{tp}");
    (
        parts[1].to_string(),
        parts[2].to_string(),
        parts[3].to_string(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failover_request_reaches_the_collector_as_one_trace_continuing_the_callers() {
    let receiver = Receiver::start().await;
    let endpoint = receiver.endpoint();
    let app = TestApp::spawn_with(
        Backend::Sqlite,
        &[
            ("ALLOW_PRIVATE_UPSTREAMS", "true"),
            ("OTEL_EXPORTER_OTLP_ENDPOINT", &endpoint),
            ("OTEL_SERVICE_NAME", "autorouter-test"),
            (
                "OTEL_EXPORTER_OTLP_HEADERS",
                &format!("authorization=Bearer%20{COLLECTOR_TOKEN}"),
            ),
            ("OTEL_BSP_SCHEDULE_DELAY", "100"),
        ],
    )
    .await;
    let failing = MockUpstream::start_with(Knobs {
        status: Some(500),
        ..Knobs::default()
    })
    .await;
    let healthy = MockUpstream::start().await;
    let failing_id = upstream(&app, "first", &failing, 0).await;
    let healthy_id = upstream(&app, "second", &healthy, 1).await;
    let (key_id, key) = app.key(&[&failing_id, &healthy_id]).await;

    let caller = format!("00-{TRACE_ID}-{CALLER_SPAN}-01");
    let (status, request_id) = streamed_chat(&app, &key, Some(&caller)).await;
    assert_eq!(status, 200);

    // The server span and two attempt spans, all in the caller's trace.
    let spans = receiver.trace(TRACE_ID, 3).await;
    assert_eq!(spans.len(), 3, "{spans:#?}");
    let server: Vec<&Span> = spans
        .iter()
        .filter(|s| s.kind == SpanKind::Server as i32)
        .collect();
    assert_eq!(server.len(), 1, "{spans:#?}");
    let server = server[0];
    assert_eq!(hex(&server.parent_span_id), CALLER_SPAN);
    assert_eq!(server.name, "chat gpt-4o-mini");
    assert!(!is_error(server), "{server:#?}");
    assert_eq!(str_attr(server, "gen_ai.system"), "openai");
    assert_eq!(str_attr(server, "gen_ai.operation.name"), "chat");
    assert_eq!(str_attr(server, "gen_ai.request.model"), "gpt-4o-mini");
    assert_eq!(str_attr(server, "gen_ai.response.model"), "gpt-4o-mini");
    // The mock's streamed usage chunk (`CHAT_USAGE_JSON`): 11 prompt, 7 completion tokens.
    assert_eq!(int_attr(server, "gen_ai.usage.input_tokens"), 11);
    assert_eq!(int_attr(server, "gen_ai.usage.output_tokens"), 7);
    assert_eq!(str_attr(server, "http.request.method"), "POST");
    assert_eq!(str_attr(server, "http.route"), "/v1/chat/completions");
    assert_eq!(int_attr(server, "http.response.status_code"), 200);
    assert_eq!(str_attr(server, "autorouter.request_id"), request_id);
    assert_eq!(str_attr(server, "autorouter.key_id"), key_id);
    assert_eq!(str_attr(server, "autorouter.upstream"), healthy_id);
    assert_eq!(int_attr(server, "autorouter.attempts"), 2);

    let attempts: Vec<&Span> = spans
        .iter()
        .filter(|s| s.kind == SpanKind::Client as i32)
        .collect();
    assert_eq!(attempts.len(), 2, "{spans:#?}");
    for a in &attempts {
        assert_eq!(a.parent_span_id, server.span_id, "{a:#?}");
        assert_eq!(str_attr(a, "gen_ai.system"), "openai");
        assert_eq!(str_attr(a, "gen_ai.request.model"), "gpt-4o-mini");
        assert_eq!(str_attr(a, "server.address"), "127.0.0.1");
        assert_eq!(a.name, "chat gpt-4o-mini");
    }
    let failed = attempts
        .iter()
        .find(|a| str_attr(a, "autorouter.upstream.id") == failing_id)
        .expect("the failing upstream's attempt");
    assert!(is_error(failed), "{failed:#?}");
    assert_eq!(int_attr(failed, "http.response.status_code"), 500);
    assert_eq!(str_attr(failed, "error.type"), "http_5xx");
    assert_eq!(str_attr(failed, "autorouter.upstream.name"), "first");
    assert_eq!(
        int_attr(failed, "server.port"),
        i64::from(failing.addr.port())
    );
    let answered = attempts
        .iter()
        .find(|a| str_attr(a, "autorouter.upstream.id") == healthy_id)
        .expect("the healthy upstream's attempt");
    assert!(!is_error(answered), "{answered:#?}");
    assert_eq!(int_attr(answered, "http.response.status_code"), 200);
    // The answering attempt lasts until its streamed body has ended, inside the server span.
    assert!(answered.end_time_unix_nano <= server.end_time_unix_nano);
    assert!(failed.end_time_unix_nano <= answered.start_time_unix_nano);

    // Each upstream received its own attempt's context, in the caller's trace, the caller's
    // tracestate with it.
    assert_eq!(
        traceparent_of(&failing),
        (TRACE_ID.to_string(), hex(&failed.span_id), "01".to_string())
    );
    assert_eq!(
        traceparent_of(&healthy),
        (
            TRACE_ID.to_string(),
            hex(&answered.span_id),
            "01".to_string()
        )
    );
    assert_eq!(
        healthy.last().unwrap().header("tracestate"),
        Some("caller=1")
    );

    // Exported as OTLP/HTTP protobuf, with the collector's header and the service's name.
    {
        let got = receiver.got.lock().unwrap();
        assert!(!got.exports.is_empty());
        for (content_type, authorization) in &got.exports {
            assert_eq!(content_type, "application/x-protobuf");
            assert_eq!(authorization, &format!("Bearer {COLLECTOR_TOKEN}"));
        }
        assert!(got
            .spans
            .iter()
            .all(|(service, _)| service == "autorouter-test"));
    }
    // No key, prompt or upstream credential in any attribute.
    for span in receiver.spans() {
        for kv in &span.attributes {
            let value = format!("{:?}", kv.value);
            for secret in [key.as_str(), UPSTREAM_KEY, "a prompt that stays private"] {
                assert!(!value.contains(secret), "{}: {value}", kv.key);
            }
        }
    }

    // A caller that did not sample its trace: the upstream still receives the trace id, not
    // sampled, and nothing of that trace is exported.
    let unsampled_trace = "0af7651916cd43dd8448eb211c80319c";
    let (status, _) = streamed_chat(
        &app,
        &key,
        Some(&format!("00-{unsampled_trace}-b7ad6b7169203331-00")),
    )
    .await;
    assert_eq!(status, 200);
    let (trace, _, flags) = traceparent_of(&healthy);
    assert_eq!((trace.as_str(), flags.as_str()), (unsampled_trace, "00"));

    // A caller without a traceparent starts a new trace, which the upstream continues.
    let (status, _) = streamed_chat(&app, &key, None).await;
    assert_eq!(status, 200);
    let (new_trace, new_span, flags) = traceparent_of(&healthy);
    assert_ne!(new_trace, TRACE_ID);
    assert_eq!(flags, "01");
    let spans = receiver.trace(&new_trace, 3).await;
    let root = spans
        .iter()
        .find(|s| s.kind == SpanKind::Server as i32)
        .unwrap();
    assert!(root.parent_span_id.is_empty(), "{root:#?}");
    assert!(spans.iter().any(|s| hex(&s.span_id) == new_span));
    // Spans are exported in the order they ended, and the unsampled request ended first.
    assert!(
        receiver
            .spans()
            .iter()
            .all(|s| hex(&s.trace_id) != unsampled_trace),
        "an unsampled trace was exported"
    );
    app.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_an_endpoint_nothing_is_exported_and_the_callers_traceparent_stays_behind() {
    let receiver = Receiver::start().await;
    let endpoint = receiver.endpoint();
    let mock = MockUpstream::start().await;
    // No endpoint at all; and an endpoint with the SDK disabled, which must not export either.
    for extra in [
        vec![("OTEL_SERVICE_NAME", "autorouter-test")],
        vec![
            ("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint.as_str()),
            ("OTEL_SDK_DISABLED", "true"),
            ("OTEL_BSP_SCHEDULE_DELAY", "50"),
        ],
    ] {
        let mut vars = vec![("ALLOW_PRIVATE_UPSTREAMS", "true")];
        vars.extend(extra);
        let app = TestApp::spawn_with(Backend::Sqlite, &vars).await;
        assert!(app.state.plane.traces.is_none(), "{vars:?}");
        let upstream_id = upstream(&app, "only", &mock, 0).await;
        let (_, key) = app.key(&[&upstream_id]).await;
        let caller = format!("00-{TRACE_ID}-{CALLER_SPAN}-01");
        let (status, _) = streamed_chat(&app, &key, Some(&caller)).await;
        assert_eq!(status, 200);
        let last = mock.last().unwrap();
        assert_eq!(last.header("traceparent"), None, "{vars:?}");
        assert_eq!(last.header("tracestate"), None, "{vars:?}");
        app.cleanup().await;
    }
    // Ten times the batch delay: a span recorded would have been sent by now.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(receiver.spans().is_empty());
    assert!(receiver.got.lock().unwrap().exports.is_empty());
}
