//! A fast mock upstream for the benchmark: OpenAI chat completions and Anthropic messages, as
//! JSON (fixed ~1 KB bodies) or as paced SSE streams whose events carry the time they left, so
//! a client can tell how long each event spent in between.
//!
//! `autorouter-mock [ADDR]` (default 127.0.0.1:9100). A stream request may set
//! `x-bench-events` (default 50) and `x-bench-interval-ms` (default 20), in the query (which
//! passes through the gateway as sent) or, when called directly, as headers.
use std::convert::Infallible;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::body::{Body, Bytes};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use futures_util::stream::{self, StreamExt};

const DEFAULT_EVENTS: usize = 50;
const DEFAULT_INTERVAL_MS: u64 = 20;

fn now_ns() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0)
}

/// Pads `text` so the whole JSON body is about 1 KB, like a short real answer.
fn padded(prefix: &str, suffix: &str) -> Bytes {
    let base = prefix.len() + suffix.len();
    let filler = "lorem ipsum ".repeat((1024usize.saturating_sub(base)) / 12 + 1);
    let filler = &filler[..1024usize.saturating_sub(base).max(1)];
    Bytes::from(format!("{prefix}{filler}{suffix}"))
}

fn openai_json() -> Bytes {
    padded(
        r#"{"id":"chatcmpl-bench","object":"chat.completion","created":1700000000,"model":"bench-model","choices":[{"index":0,"message":{"role":"assistant","content":""#,
        r#""},"finish_reason":"stop"}],"usage":{"prompt_tokens":12,"completion_tokens":200,"total_tokens":212}}"#,
    )
}

fn anthropic_json() -> Bytes {
    padded(
        r#"{"id":"msg_bench","type":"message","role":"assistant","model":"bench-model","content":[{"type":"text","text":""#,
        r#""}],"stop_reason":"end_turn","stop_sequence":null,"usage":{"input_tokens":12,"output_tokens":200}}"#,
    )
}

fn knob(uri: &Uri, headers: &HeaderMap, name: &str, default: u64) -> u64 {
    let from_query = uri.query().and_then(|q| {
        q.split('&').find_map(|pair| {
            let (k, v) = pair.split_once('=')?;
            (k == name).then_some(v)
        })
    });
    from_query
        .or_else(|| headers.get(name).and_then(|v| v.to_str().ok()))
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn wants_stream(body: &[u8]) -> bool {
    // Cheaper than parsing: the benchmark's clients write compact JSON.
    body.windows(13).any(|w| w == b"\"stream\":true")
}

fn json_response(body: Bytes) -> Response {
    let mut r = Response::new(Body::from(body));
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    r
}

/// `events` paced events, each stamped with the nanosecond it was written, then the closing ones.
fn sse_response(
    uri: &Uri,
    headers: &HeaderMap,
    event: fn(usize, u128) -> String,
    closing: &'static str,
) -> Response {
    let events = knob(uri, headers, "x-bench-events", DEFAULT_EVENTS as u64) as usize;
    let interval = Duration::from_millis(knob(
        uri,
        headers,
        "x-bench-interval-ms",
        DEFAULT_INTERVAL_MS,
    ));
    let body = stream::unfold(0usize, move |i| async move {
        if i > events {
            return None;
        }
        if i == events {
            return Some((
                Ok::<_, Infallible>(Bytes::from_static(closing.as_bytes())),
                i + 1,
            ));
        }
        if i > 0 {
            tokio::time::sleep(interval).await;
        }
        Some((Ok(Bytes::from(event(i, now_ns()))), i + 1))
    });
    let mut r = Response::new(Body::from_stream(body.boxed()));
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/event-stream"),
    );
    r.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    r
}

fn openai_event(_i: usize, ns: u128) -> String {
    format!(
        "data: {{\"id\":\"chatcmpl-bench\",\"object\":\"chat.completion.chunk\",\"created\":1700000000,\"model\":\"bench-model\",\"choices\":[{{\"index\":0,\"delta\":{{\"content\":\"t={ns};\"}},\"finish_reason\":null}}]}}\n\n"
    )
}

const OPENAI_CLOSING: &str = "data: {\"id\":\"chatcmpl-bench\",\"object\":\"chat.completion.chunk\",\"created\":1700000000,\"model\":\"bench-model\",\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}],\"usage\":{\"prompt_tokens\":12,\"completion_tokens\":50,\"total_tokens\":62}}\n\ndata: [DONE]\n\n";

fn anthropic_event(i: usize, ns: u128) -> String {
    let start = if i == 0 {
        "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"msg_bench\",\"type\":\"message\",\"role\":\"assistant\",\"model\":\"bench-model\",\"content\":[],\"stop_reason\":null,\"usage\":{\"input_tokens\":12,\"output_tokens\":1}}}\n\nevent: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"text\",\"text\":\"\"}}\n\n"
    } else {
        ""
    };
    format!(
        "{start}event: content_block_delta\ndata: {{\"type\":\"content_block_delta\",\"index\":0,\"delta\":{{\"type\":\"text_delta\",\"text\":\"t={ns};\"}}}}\n\n"
    )
}

const ANTHROPIC_CLOSING: &str = "event: content_block_stop\ndata: {\"type\":\"content_block_stop\",\"index\":0}\n\nevent: message_delta\ndata: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"end_turn\",\"stop_sequence\":null},\"usage\":{\"output_tokens\":50}}\n\nevent: message_stop\ndata: {\"type\":\"message_stop\"}\n\n";

async fn chat(uri: Uri, headers: HeaderMap, body: Bytes) -> Response {
    if wants_stream(&body) {
        sse_response(&uri, &headers, openai_event, OPENAI_CLOSING)
    } else {
        json_response(openai_json())
    }
}

async fn messages(uri: Uri, headers: HeaderMap, body: Bytes) -> Response {
    if wants_stream(&body) {
        sse_response(&uri, &headers, anthropic_event, ANTHROPIC_CLOSING)
    } else {
        json_response(anthropic_json())
    }
}

async fn models() -> Response {
    json_response(Bytes::from_static(
        br#"{"object":"list","data":[{"id":"bench-model","object":"model","created":0,"owned_by":"bench"}]}"#,
    ))
}

async fn not_found() -> impl IntoResponse {
    (StatusCode::NOT_FOUND, "not found")
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:9100".into());
    let app = Router::new()
        .route("/v1/chat/completions", post(chat))
        .route("/v1/messages", post(messages))
        .route("/v1/models", get(models))
        .fallback(not_found);
    let listener = tokio::net::TcpListener::bind(&addr).await?;
    eprintln!("autorouter-mock listening on {}", listener.local_addr()?);
    use axum::serve::ListenerExt;
    let listener = listener.tap_io(|tcp| {
        let _ = tcp.set_nodelay(true);
    });
    axum::serve(listener, app).await
}
