//! Mock AI-provider upstream for integration tests.
//!
//! A real HTTP server on `127.0.0.1:0` that speaks the OpenAI (`/v1/models`,
//! `/v1/chat/completions`, `/v1/responses`, `/v1/embeddings`), Anthropic (`/v1/messages`) and
//! Gemini (`/v1beta/models/{model}:generateContent`, `:streamGenerateContent` as SSE with
//! `alt=sse` and as a JSON array without, `:countTokens`, `:embedContent`,
//! `:batchEmbedContents`, `GET /v1beta/models`; also below `/v1/`) wire formats, records every request it receives, and can be steered through [`Knobs`] or
//! per-request `x-mock-*` headers (status, latency, chunk delay, event count, abrupt drop).
//!
//! Every body the mock sends is produced by the public `*_json` / `*_events` functions below, so
//! a test can build the exact bytes it expects the client to receive.
//!
//! Streams are written one SSE event per body chunk; with `chunk_delay_ms > 0` each event is
//! flushed on its own, so a client sees them arrive spread over time.
#![allow(dead_code)]

use std::collections::HashMap;
use std::io;
use std::net::{Shutdown, SocketAddr};
use std::os::fd::AsFd;
use std::pin::Pin;
use std::str::FromStr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::Response;
use axum::Router;
use serde_json::Value;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

/// Number of content delta events in a stream when neither a knob nor a header says otherwise.
pub const DEFAULT_EVENTS: usize = 5;
/// `created` / `created_at` timestamp in every object the mock returns.
pub const CREATED: u64 = 1_700_000_000;
/// Text of every non-stream answer.
pub const MOCK_TEXT: &str = "Hello from mock";
/// Models listed by `GET /v1/models` when `Knobs::models` is empty.
pub const DEFAULT_MODELS: [&str; 2] = ["gpt-4o-mini", "claude-3-5-sonnet-20241022"];

/// Usage object of `/v1/chat/completions` (non-stream and the stream's usage-only chunk).
pub const CHAT_USAGE_JSON: &str = r#"{"prompt_tokens":11,"completion_tokens":7,"total_tokens":18,"prompt_tokens_details":{"cached_tokens":2},"completion_tokens_details":{"reasoning_tokens":3}}"#;
/// Usage object of `/v1/responses` (non-stream and `response.completed`).
pub const RESPONSES_USAGE_JSON: &str = r#"{"input_tokens":13,"output_tokens":5,"total_tokens":18,"input_tokens_details":{"cached_tokens":4},"output_tokens_details":{"reasoning_tokens":1}}"#;
/// Usage object of `/v1/embeddings`.
pub const EMBEDDINGS_USAGE_JSON: &str = r#"{"prompt_tokens":8,"total_tokens":8}"#;
/// Usage object of a non-stream `/v1/messages` answer.
pub const MESSAGES_USAGE_JSON: &str = r#"{"input_tokens":25,"cache_creation_input_tokens":3,"cache_read_input_tokens":7,"output_tokens":15}"#;
/// `usageMetadata` of a Gemini answer and of a stream's last chunk.
pub const GEMINI_USAGE_JSON: &str = r#"{"promptTokenCount":21,"candidatesTokenCount":9,"totalTokenCount":36,"cachedContentTokenCount":4,"thoughtsTokenCount":6,"promptTokensDetails":[{"modality":"TEXT","tokenCount":21}]}"#;
/// `totalTokens` of a Gemini `countTokens` answer.
pub const GEMINI_COUNT_TOKENS: u64 = 21;
/// Models listed by `GET /v1beta/models` when `Knobs::models` is empty.
pub const DEFAULT_GEMINI_MODELS: [&str; 2] = ["gemini-2.5-flash", "text-embedding-004"];
/// Usage object inside the stream's `message_start` event.
pub const MESSAGES_START_USAGE_JSON: &str = r#"{"input_tokens":25,"cache_creation_input_tokens":3,"cache_read_input_tokens":7,"output_tokens":1}"#;

/// Behaviour of the mock. Per-request headers override these: `x-mock-status`,
/// `x-mock-latency-ms`, `x-mock-chunk-delay-ms`, `x-mock-events`, `x-mock-drop-after`.
#[derive(Clone, Debug, Default)]
pub struct Knobs {
    /// Answer this status with the provider's error JSON (a 2xx value means "answer normally").
    pub status: Option<u16>,
    /// Sleep this long before sending response headers (applies to every answer).
    pub latency_ms: u64,
    /// Sleep this long between two SSE events.
    pub chunk_delay_ms: u64,
    /// Number of content delta events in a stream (default [`DEFAULT_EVENTS`]).
    pub events: Option<usize>,
    /// Write exactly this many SSE events (of any kind), then end the body with an error so the
    /// connection is cut mid-stream. On a non-stream answer: send the first half of the JSON,
    /// then cut. On a stream of E events: N < E cuts after N events, N == E sends every event and
    /// then cuts instead of ending the body cleanly, N > E has no effect.
    pub drop_after_events: Option<usize>,
    /// Expected upstream key: OpenAI paths want `authorization: Bearer <key>`, `/v1/messages`
    /// wants `x-api-key: <key>`, Gemini paths `x-goog-api-key: <key>`; missing or wrong -> 401
    /// in the provider's format. (Gemini paths always refuse a `key` query parameter and an
    /// `authorization` header, as Google refuses an API key there.)
    pub require_auth: Option<String>,
    /// Ids listed by `GET /v1/models`; empty means [`DEFAULT_MODELS`].
    pub models: Vec<String>,
    /// Give each `/v1/responses` answer its own id (`resp_<port>_<n>`) instead of `resp_mock`,
    /// so a test can tell which upstream made a response.
    pub unique_response_ids: bool,
    /// Answer streamed `/v1/messages` and `/v1/responses` turns as a coding agent expects
    /// (full event sequences, a scripted tool call): see "Coding agents" below.
    pub agent: Option<AgentScript>,
}

/// One request as the mock received it.
#[derive(Clone, Debug)]
pub struct Received {
    pub method: String,
    /// Path with query string, e.g. `/v1/chat/completions?x=1`.
    pub path: String,
    /// Header names in lower case, in arrival order (repeated headers appear repeatedly).
    pub headers: Vec<(String, String)>,
    pub body: Bytes,
    /// When the request reached the handler.
    pub at: Instant,
}

impl Received {
    /// First value of a header (name matched case-insensitively).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// Every value of a header (name matched case-insensitively).
    pub fn header_all(&self, name: &str) -> Vec<&str> {
        self.headers
            .iter()
            .filter(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
            .collect()
    }

    /// The path without its query string.
    pub fn path_only(&self) -> &str {
        self.path.split('?').next().unwrap_or("")
    }

    /// The body parsed as JSON, if it is JSON.
    pub fn json(&self) -> Option<Value> {
        serde_json::from_slice(&self.body).ok()
    }

    /// The body as (lossy) UTF-8 text.
    pub fn body_text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// A running mock upstream. Dropping it shuts it down like [`MockUpstream::stop`] (without
/// waiting).
pub struct MockUpstream {
    pub addr: SocketAddr,
    /// `http://127.0.0.1:PORT/v1`
    pub base_url: String,
    state: Arc<Shared>,
    task: Option<JoinHandle<()>>,
}

impl MockUpstream {
    /// Bind `127.0.0.1:0` and serve with default knobs.
    pub async fn start() -> MockUpstream {
        Self::start_with(Knobs::default()).await
    }

    /// Bind `127.0.0.1:0` and serve with the given knobs.
    pub async fn start_with(knobs: Knobs) -> MockUpstream {
        Self::start_at("127.0.0.1:0".parse().unwrap(), knobs).await
    }

    /// Serve on a given address, e.g. the one of a mock that was stopped (a restarted upstream).
    pub async fn start_at(addr: SocketAddr, knobs: Knobs) -> MockUpstream {
        let listener = TcpListener::bind(addr)
            .await
            .unwrap_or_else(|e| panic!("mock upstream: bind {addr}: {e}"));
        let addr = listener.local_addr().expect("mock upstream: local_addr");
        let state = Arc::new(Shared {
            port: addr.port(),
            data: Mutex::new(Data {
                received: Vec::new(),
                health_checks: 0,
                model_fetches: 0,
                knobs,
                responses_made: Vec::new(),
            }),
            conns: Mutex::new(Conns::default()),
            stopped: AtomicBool::new(false),
        });
        let app = Router::new().fallback(handle).with_state(state.clone());
        let listener = TrackedListener {
            inner: listener,
            shared: state.clone(),
        };
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        MockUpstream {
            addr,
            base_url: format!("http://{addr}/v1"),
            state,
            task: Some(task),
        }
    }

    /// `http://127.0.0.1:PORT` (no `/v1`).
    pub fn root_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// `http://127.0.0.1:PORT` + `path` (give the full path, e.g. `/v1/models`).
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    /// The ids of the responses this mock made, oldest first.
    pub fn responses_made(&self) -> Vec<String> {
        self.state.data().responses_made.clone()
    }

    /// Every request received so far, oldest first.
    pub fn received(&self) -> Vec<Received> {
        self.state.data().received.clone()
    }

    /// The most recent request, if any.
    pub fn last(&self) -> Option<Received> {
        self.state.data().received.last().cloned()
    }

    /// Active health checks received so far (not counted in `hits`).
    pub fn health_checks(&self) -> usize {
        self.state.data().health_checks
    }

    /// Model-list fetches of the gateway's discovery received so far (not counted in `hits`).
    pub fn model_fetches(&self) -> usize {
        self.state.data().model_fetches
    }

    /// Number of requests received so far.
    pub fn hits(&self) -> usize {
        self.state.data().received.len()
    }

    /// Replace the knobs.
    pub fn set(&self, knobs: Knobs) {
        self.state.data().knobs = knobs;
    }

    /// Change some knobs in place: `mock.update(|k| k.status = Some(500))`.
    pub fn update(&self, f: impl FnOnce(&mut Knobs)) {
        f(&mut self.state.data().knobs);
    }

    /// The current knobs.
    pub fn knobs(&self) -> Knobs {
        self.state.data().knobs.clone()
    }

    /// Forget received requests and restore default knobs.
    pub fn reset(&self) {
        let mut d = self.state.data();
        d.received.clear();
        d.knobs = Knobs::default();
    }

    /// Forget received requests, keep the knobs.
    pub fn clear_received(&self) {
        self.state.data().received.clear();
    }

    /// Wait until at least `n` requests were received; false on timeout.
    pub async fn wait_for_hits(&self, n: usize, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        loop {
            if self.hits() >= n {
                return true;
            }
            if Instant::now() >= deadline {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    /// How many connections are open right now (an upstream sees a cancelled request as a closed one).
    pub fn open_connections(&self) -> usize {
        lock(&self.state.conns).open.len()
    }

    /// Cut every open connection (both directions, like a network failure) but keep listening.
    /// Returns how many connections were cut.
    pub fn drop_connections(&self) -> usize {
        self.state.cut_all()
    }

    /// Shut the server down: stop listening (new connections are refused once this returns)
    /// and cut every open connection, idle keep-alive ones and in-flight streams alike.
    pub async fn stop(mut self) {
        if let Some(task) = self.shutdown() {
            let _ = task.await;
        }
    }

    fn shutdown(&mut self) -> Option<JoinHandle<()>> {
        self.state.stopped.store(true, Ordering::SeqCst);
        let task = self.task.take()?;
        // Aborting the accept loop drops the listener; cutting the sockets ends the connections.
        task.abort();
        self.state.cut_all();
        Some(task)
    }
}

impl Drop for MockUpstream {
    fn drop(&mut self) {
        let _ = self.shutdown();
    }
}

// ---------------------------------------------------------------------------------------------
// Shared state, connection tracking
// ---------------------------------------------------------------------------------------------

struct Shared {
    port: u16,
    data: Mutex<Data>,
    conns: Mutex<Conns>,
    stopped: AtomicBool,
}

struct Data {
    received: Vec<Received>,
    /// The gateway's active health checks, kept apart so `hits()` counts client traffic only.
    health_checks: usize,
    model_fetches: usize,
    knobs: Knobs,
    /// The ids of the responses this mock made, which `/v1/responses/{id}` knows.
    responses_made: Vec<String>,
}

/// Open connections, each as a duplicate of its socket's descriptor. The duplicate is dropped
/// together with the connection (see `TrackedIo::drop`), so it never keeps a socket open.
#[derive(Default)]
struct Conns {
    next_id: u64,
    open: HashMap<u64, std::net::TcpStream>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Shared {
    fn data(&self) -> MutexGuard<'_, Data> {
        lock(&self.data)
    }

    fn cut_all(&self) -> usize {
        let conns = lock(&self.conns);
        for s in conns.open.values() {
            let _ = s.shutdown(Shutdown::Both);
        }
        conns.open.len()
    }

    fn track(self: &Arc<Self>, stream: TcpStream) -> TrackedIo {
        let _ = stream.set_nodelay(true);
        let dup = stream
            .as_fd()
            .try_clone_to_owned()
            .ok()
            .map(std::net::TcpStream::from);
        let mut conns = lock(&self.conns);
        let id = conns.next_id;
        conns.next_id += 1;
        if let Some(dup) = dup {
            if self.stopped.load(Ordering::SeqCst) {
                let _ = dup.shutdown(Shutdown::Both);
            } else {
                conns.open.insert(id, dup);
            }
        }
        TrackedIo {
            inner: stream,
            id,
            shared: self.clone(),
        }
    }
}

struct TrackedListener {
    inner: TcpListener,
    shared: Arc<Shared>,
}

impl axum::serve::Listener for TrackedListener {
    type Io = TrackedIo;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (TrackedIo, SocketAddr) {
        loop {
            match self.inner.accept().await {
                Ok((stream, peer)) => return (self.shared.track(stream), peer),
                Err(_) => tokio::time::sleep(Duration::from_millis(5)).await,
            }
        }
    }

    fn local_addr(&self) -> io::Result<SocketAddr> {
        self.inner.local_addr()
    }
}

struct TrackedIo {
    inner: TcpStream,
    id: u64,
    shared: Arc<Shared>,
}

impl Drop for TrackedIo {
    fn drop(&mut self) {
        lock(&self.shared.conns).open.remove(&self.id);
    }
}

impl AsyncRead for TrackedIo {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_read(cx, buf)
    }
}

impl AsyncWrite for TrackedIo {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}

// ---------------------------------------------------------------------------------------------
// Request handling
// ---------------------------------------------------------------------------------------------

/// Error/auth format of a route.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Flavor {
    OpenAi,
    Anthropic,
    Google,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Route {
    ListModels,
    GetModel,
    Chat,
    Responses,
    Embeddings,
    Messages,
    /// `POST /v1/rerank`: a path outside the gateway's table, reached only by an opt-in.
    Rerank,
    /// `POST /v1/messages/count_tokens` (Claude Code counts before it compacts).
    CountTokens,
    /// Gemini's `models/{model}:{action}` (below `/v1beta/` or `/v1/`), and its model list.
    Gemini(GeminiAction),
    GeminiModels,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum GeminiAction {
    Generate,
    Stream,
    CountTokens,
    Embed,
    BatchEmbed,
}

/// The model and action of a Gemini path, `/{version}/models/{model}:{action}`.
fn gemini_call(path: &str) -> Option<(String, Option<GeminiAction>)> {
    let rest = path
        .strip_prefix("/v1beta/models/")
        .or_else(|| path.strip_prefix("/v1/models/"))?;
    let (model, action) = rest.rsplit_once(':')?;
    let action = match action {
        "generateContent" => Some(GeminiAction::Generate),
        "streamGenerateContent" => Some(GeminiAction::Stream),
        "countTokens" => Some(GeminiAction::CountTokens),
        "embedContent" => Some(GeminiAction::Embed),
        "batchEmbedContents" => Some(GeminiAction::BatchEmbed),
        _ => None,
    };
    Some((model.to_string(), action))
}

impl Route {
    fn of(path: &str) -> Option<(Route, Method)> {
        if let Some((_, action)) = gemini_call(path) {
            return action.map(|a| (Route::Gemini(a), Method::POST));
        }
        Some(match path {
            "/v1beta/models" => (Route::GeminiModels, Method::GET),
            "/v1/models" => (Route::ListModels, Method::GET),
            "/v1/chat/completions" => (Route::Chat, Method::POST),
            "/v1/responses" => (Route::Responses, Method::POST),
            "/v1/embeddings" => (Route::Embeddings, Method::POST),
            "/v1/messages" => (Route::Messages, Method::POST),
            "/v1/rerank" => (Route::Rerank, Method::POST),
            "/v1/messages/count_tokens" => (Route::CountTokens, Method::POST),
            p if p.len() > "/v1/models/".len() && p.starts_with("/v1/models/") => {
                (Route::GetModel, Method::GET)
            }
            _ => return None,
        })
    }

    fn flavor(self) -> Flavor {
        match self {
            Route::Messages | Route::CountTokens => Flavor::Anthropic,
            Route::Gemini(_) | Route::GeminiModels => Flavor::Google,
            _ => Flavor::OpenAi,
        }
    }
}

/// Knobs after per-request overrides, from the query (the gateway forwards only the headers
/// providers define) or from `x-mock-*` headers when the mock is called directly.
struct Plan {
    status: Option<u16>,
    latency_ms: u64,
    chunk_delay_ms: u64,
    events: usize,
    drop_after: Option<usize>,
}

struct Overrides<'a> {
    headers: &'a HeaderMap,
    query: &'a str,
}

impl Overrides<'_> {
    fn num<T: FromStr>(&self, name: &str) -> Option<T> {
        let from_query = self.query.split('&').find_map(|pair| {
            let (k, v) = pair.split_once('=')?;
            (k == name).then_some(v)
        });
        let from_header = || self.headers.get(name)?.to_str().ok();
        from_query.or_else(from_header)?.trim().parse().ok()
    }
}

impl Plan {
    fn new(k: &Knobs, h: &Overrides<'_>) -> Plan {
        Plan {
            status: h.num("x-mock-status").or(k.status),
            latency_ms: h.num("x-mock-latency-ms").unwrap_or(k.latency_ms),
            chunk_delay_ms: h.num("x-mock-chunk-delay-ms").unwrap_or(k.chunk_delay_ms),
            events: h
                .num("x-mock-events")
                .or(k.events)
                .unwrap_or(DEFAULT_EVENTS),
            drop_after: h.num("x-mock-drop-after").or(k.drop_after_events),
        }
    }
}

async fn handle(State(shared): State<Arc<Shared>>, req: Request) -> Response {
    let at = Instant::now();
    let (parts, body) = req.into_parts();
    let body = axum::body::to_bytes(body, usize::MAX)
        .await
        .unwrap_or_default();
    let agent = parts
        .headers
        .get("user-agent")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let is_health_check = agent.starts_with("AutoRouter-HealthCheck/");
    let is_discovery = agent.starts_with("AutoRouter-ModelDiscovery/");
    let knobs = {
        let mut d = shared.data();
        if is_health_check {
            d.health_checks += 1;
        } else if is_discovery {
            d.model_fetches += 1;
        } else {
            d.received.push(Received {
                method: parts.method.to_string(),
                path: parts
                    .uri
                    .path_and_query()
                    .map(|p| p.as_str().to_string())
                    .unwrap_or_else(|| parts.uri.path().to_string()),
                headers: parts
                    .headers
                    .iter()
                    .map(|(k, v)| {
                        (
                            k.as_str().to_ascii_lowercase(),
                            String::from_utf8_lossy(v.as_bytes()).into_owned(),
                        )
                    })
                    .collect(),
                body: body.clone(),
                at,
            });
        }
        d.knobs.clone()
    };
    let plan = Plan::new(
        &knobs,
        &Overrides {
            headers: &parts.headers,
            query: parts.uri.query().unwrap_or(""),
        },
    );
    if plan.latency_ms > 0 {
        tokio::time::sleep(Duration::from_millis(plan.latency_ms)).await;
    }

    let path = parts.uri.path();
    if let Some(rest) = path.strip_prefix("/v1/responses/") {
        if rest != "input_tokens" {
            return stored_response(&shared, &parts.method, rest, &plan);
        }
    }
    let Some((route, method)) = Route::of(path) else {
        let msg = format!("Invalid URL ({} {})", parts.method, path);
        return error_response(Flavor::OpenAi, 404, &msg);
    };
    let flavor = route.flavor();
    if parts.method != method {
        let msg = format!("Method {} not allowed for {path}", parts.method);
        return error_response(flavor, 405, &msg);
    }
    if flavor == Flavor::Google {
        // What Google refuses, and what the gateway must never send: its own key in the query,
        // or the upstream's API key as a bearer token.
        let query = parts.uri.query().unwrap_or("");
        if query
            .split('&')
            .any(|p| p == "key" || p.starts_with("key="))
        {
            return error_response(
                flavor,
                400,
                "mock upstream: an API key arrived in the query",
            );
        }
        if parts.headers.contains_key("authorization") {
            return error_response(
                flavor,
                401,
                "Request had invalid authentication credentials. Expected OAuth 2 access token.",
            );
        }
    }
    if let Some(key) = &knobs.require_auth {
        if let Err(msg) = check_auth(flavor, &parts.headers, key) {
            return error_response(flavor, 401, msg);
        }
    }
    if let Some(status) = plan.status {
        if !(200..300).contains(&status) {
            let msg = format!("mock upstream error (status {status})");
            return error_response(flavor, status, &msg);
        }
    }

    let models: Vec<String> = if knobs.models.is_empty() {
        DEFAULT_MODELS.iter().map(|m| m.to_string()).collect()
    } else {
        knobs.models.clone()
    };
    let gemini_models: Vec<String> = if knobs.models.is_empty() {
        DEFAULT_GEMINI_MODELS
            .iter()
            .map(|m| m.to_string())
            .collect()
    } else {
        knobs.models.clone()
    };
    match route {
        Route::GeminiModels => return json_response(gemini_models_json(&gemini_models), &plan),
        Route::Gemini(action) => {
            let (model, _) = gemini_call(path).unwrap_or_default();
            if !gemini_models.contains(&model) {
                let msg = format!("models/{model} is not found for API version v1beta");
                return error_response(flavor, 404, &msg);
            }
            let Ok(req) = serde_json::from_slice::<Value>(&body) else {
                return error_response(flavor, 400, "Invalid JSON payload received.");
            };
            let sse = parts
                .uri
                .query()
                .unwrap_or("")
                .split('&')
                .any(|p| p == "alt=sse");
            return match action {
                GeminiAction::Generate => json_response(gemini_answer_json(&model), &plan),
                GeminiAction::Stream if sse => {
                    sse_response(gemini_sse_events(&model, plan.events), &plan)
                }
                GeminiAction::Stream => {
                    gemini_array_response(gemini_array_chunks(&model, plan.events), &plan)
                }
                GeminiAction::CountTokens => {
                    json_response(format!(r#"{{"totalTokens":{GEMINI_COUNT_TOKENS}}}"#), &plan)
                }
                GeminiAction::Embed => json_response(
                    r#"{"embedding":{"values":[0.1,0.2,0.3]}}"#.to_string(),
                    &plan,
                ),
                GeminiAction::BatchEmbed => {
                    let n = req["requests"].as_array().map_or(1, Vec::len);
                    let one = r#"{"values":[0.1,0.2,0.3]}"#;
                    let all = vec![one; n].join(",");
                    json_response(format!(r#"{{"embeddings":[{all}]}}"#), &plan)
                }
            };
        }
        Route::ListModels => return json_response(models_json(&models), &plan),
        Route::Rerank => {
            return json_response(r#"{"object":"rerank","results":[]}"#.to_string(), &plan)
        }
        Route::GetModel => {
            let id = &path["/v1/models/".len()..];
            return match models.iter().find(|m| m.as_str() == id) {
                Some(m) => json_response(model_json(m), &plan),
                None => {
                    let msg = format!("The model '{id}' does not exist");
                    error_response(flavor, 404, &msg)
                }
            };
        }
        _ => {}
    }

    let req: Value = match serde_json::from_slice::<Value>(&body) {
        Ok(v) if v.is_object() => v,
        _ => {
            let msg = match flavor {
                Flavor::OpenAi => "We could not parse the JSON body of your request.",
                Flavor::Anthropic => "There was an error parsing the body of your request",
                Flavor::Google => "Invalid JSON payload received.",
            };
            return error_response(flavor, 400, msg);
        }
    };
    let Some(model) = req.get("model").and_then(Value::as_str) else {
        let msg = match flavor {
            Flavor::OpenAi => "you must provide a model parameter",
            Flavor::Anthropic => "model: Field required",
            Flavor::Google => "model: required",
        };
        return error_response(flavor, 400, msg);
    };
    let stream = req.get("stream").and_then(Value::as_bool) == Some(true);
    let include_usage = req
        .pointer("/stream_options/include_usage")
        .and_then(Value::as_bool)
        == Some(true);
    let n = plan.events;
    if let Some(script) = knobs.agent.as_ref().filter(|_| stream) {
        match route {
            Route::Messages => return sse_response(agent_messages_events(&req, script), &plan),
            Route::Responses => return sse_response(agent_responses_events(&req, script), &plan),
            _ => {}
        }
    }
    match (route, stream) {
        (Route::CountTokens, _) => json_response(COUNT_TOKENS_JSON.to_string(), &plan),
        (Route::Chat, false) => json_response(chat_completion_json(model), &plan),
        (Route::Chat, true) => sse_response(chat_stream_events(model, n, include_usage), &plan),
        (Route::Responses, false) => {
            let id = shared.new_response_id();
            json_response(responses_json(model).replace("resp_mock", &id), &plan)
        }
        (Route::Responses, true) => {
            let id = shared.new_response_id();
            let events = responses_stream_events(model, n)
                .into_iter()
                .map(|e| e.replace("resp_mock", &id))
                .collect();
            sse_response(events, &plan)
        }
        (Route::Messages, false) => json_response(messages_json(model), &plan),
        (Route::Messages, true) => sse_response(messages_stream_events(model, n), &plan),
        _ => json_response(embeddings_json(model), &plan),
    }
}

impl Shared {
    /// The id of a response being made: `resp_mock`, or its own with `unique_response_ids`.
    fn new_response_id(&self) -> String {
        let mut d = self.data();
        let id = if d.knobs.unique_response_ids {
            format!("resp_{}_{}", self.port, d.responses_made.len() + 1)
        } else {
            "resp_mock".to_string()
        };
        d.responses_made.push(id.clone());
        id
    }
}

/// `/v1/responses/{id}` (GET, DELETE), `/input_items` (GET) and `/cancel` (POST): answered
/// for a response this mock made, 404 as OpenAI answers otherwise.
fn stored_response(shared: &Shared, method: &Method, rest: &str, plan: &Plan) -> Response {
    let (id, tail) = match rest.split_once('/') {
        Some((id, tail)) => (id, Some(tail)),
        None => (rest, None),
    };
    if !shared.data().responses_made.iter().any(|m| m == id) {
        let msg = format!("Response with id '{id}' not found.");
        return error_response(Flavor::OpenAi, 404, &msg);
    }
    let body = match (method, tail) {
        (&Method::GET, None) => responses_json("gpt-4o-mini").replace("resp_mock", id),
        (&Method::DELETE, None) => {
            format!(r#"{{"id":{},"object":"response","deleted":true}}"#, q(id))
        }
        (&Method::GET, Some("input_items")) => {
            r#"{"object":"list","data":[],"first_id":null,"last_id":null,"has_more":false}"#
                .to_string()
        }
        (&Method::POST, Some("cancel")) => {
            response_object("gpt-4o-mini", "cancelled", None).replace("resp_mock", id)
        }
        _ => {
            let msg = format!("Invalid URL ({method} /v1/responses/{rest})");
            return error_response(Flavor::OpenAi, 404, &msg);
        }
    };
    json_response(body, plan)
}

fn check_auth(flavor: Flavor, h: &HeaderMap, key: &str) -> Result<(), &'static str> {
    let got = |name: &str| h.get(name).and_then(|v| v.to_str().ok());
    match flavor {
        Flavor::OpenAi => match got("authorization") {
            None => Err("You didn't provide an API key. You need to provide your API key in an Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY)."),
            Some(v) if v.strip_prefix("Bearer ") == Some(key) => Ok(()),
            Some(_) => Err("Incorrect API key provided."),
        },
        Flavor::Anthropic => match got("x-api-key") {
            None => Err("x-api-key header is required"),
            Some(v) if v == key => Ok(()),
            Some(_) => Err("invalid x-api-key"),
        },
        Flavor::Google => match got("x-goog-api-key") {
            None => Err("Method doesn't allow unregistered callers (callers without established identity). Please use API Key or other form of API consumer identity to call this API."),
            Some(v) if v == key => Ok(()),
            Some(_) => Err("API key not valid. Please pass a valid API key."),
        },
    }
}

fn status_code(status: u16) -> StatusCode {
    StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
}

/// An error answer in the provider's format; 429 carries `retry-after: 1`.
fn error_response(flavor: Flavor, status: u16, message: &str) -> Response {
    let body = match flavor {
        Flavor::OpenAi => openai_error_json(status, message),
        Flavor::Anthropic => anthropic_error_json(status, message),
        Flavor::Google => google_error_json(status, message),
    };
    let mut resp = Response::new(Body::from(body));
    *resp.status_mut() = status_code(status);
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    if status == 429 {
        h.insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
    }
    resp
}

fn json_response(body: String, plan: &Plan) -> Response {
    let body = match plan.drop_after {
        None => Body::from(body),
        Some(_) => {
            // Send the first half, then fail the body: the client sees a truncated answer.
            let half = body.len() / 2;
            let first = Bytes::from(body).slice(..half);
            chunked_body(vec![first], Duration::ZERO, Some(1))
        }
    };
    let mut resp = Response::new(body);
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    // What a real provider's edge adds, which the gateway must not pass on (and its rate-limit
    // report, which it must).
    for (name, value) in [
        ("set-cookie", "__cf_bm=provider-cookie; path=/; HttpOnly"),
        ("alt-svc", "h3=\":443\"; ma=86400"),
        ("strict-transport-security", "max-age=31536000"),
        ("openai-organization", "org-of-the-gateway-owner"),
        ("openai-project", "proj-of-the-gateway-owner"),
        ("x-ratelimit-remaining-requests", "9999"),
    ] {
        h.insert(name, HeaderValue::from_static(value));
    }
    resp
}

/// Streams Gemini's JSON array (`chunks` as [`gemini_array_chunks`] cut it), one body chunk each.
fn gemini_array_response(chunks: Vec<String>, plan: &Plan) -> Response {
    let chunks = chunks.into_iter().map(Bytes::from).collect();
    let delay = Duration::from_millis(plan.chunk_delay_ms);
    let mut resp = Response::new(chunked_body(chunks, delay, plan.drop_after));
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json; charset=UTF-8"),
    );
    resp
}

/// Streams `events` (each one complete SSE event), one body chunk per event.
fn sse_response(events: Vec<String>, plan: &Plan) -> Response {
    let chunks = events.into_iter().map(Bytes::from).collect();
    let delay = Duration::from_millis(plan.chunk_delay_ms);
    let mut resp = Response::new(chunked_body(chunks, delay, plan.drop_after));
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/event-stream"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    resp
}

/// A body that yields `chunks` one frame each, sleeping `delay` between two chunks. With
/// `drop_after = Some(n)` it yields the first `n` chunks, waits (at least a few ms, so that what
/// was sent, headers included, reaches the client) and then fails, which makes the server cut
/// the connection without ending the body properly.
fn chunked_body(chunks: Vec<Bytes>, delay: Duration, drop_after: Option<usize>) -> Body {
    struct St {
        chunks: std::vec::IntoIter<Bytes>,
        sent: usize,
        done: bool,
    }
    let start = St {
        chunks: chunks.into_iter(),
        sent: 0,
        done: false,
    };
    let stream = futures_util::stream::unfold(start, move |mut st| async move {
        if st.done {
            return None;
        }
        if drop_after == Some(st.sent) {
            tokio::time::sleep(delay.max(Duration::from_millis(5))).await;
            st.done = true;
            let err = io::Error::other("mock upstream: connection dropped");
            return Some((Err(err), st));
        }
        let chunk = st.chunks.next()?;
        if st.sent > 0 && !delay.is_zero() {
            tokio::time::sleep(delay).await;
        }
        st.sent += 1;
        Some((Ok(chunk), st))
    });
    Body::from_stream(stream)
}

// ---------------------------------------------------------------------------------------------
// Wire formats (public so tests can build the exact expected bytes)
// ---------------------------------------------------------------------------------------------

/// A JSON string literal (quoted and escaped).
fn q(s: &str) -> String {
    Value::from(s).to_string()
}

/// Text of the `i`-th (0-based) content delta of a stream: `"tok{i} "`.
pub fn delta_text(i: usize) -> String {
    format!("tok{i} ")
}

/// Concatenation of the first `n` content deltas: `"tok0 tok1 ... "`.
pub fn stream_text(n: usize) -> String {
    (0..n).map(delta_text).collect()
}

/// OpenAI error `type` for a status.
pub fn openai_error_type(status: u16) -> &'static str {
    match status {
        401 => "authentication_error",
        429 => "rate_limit_error",
        s if s >= 500 => "server_error",
        _ => "invalid_request_error",
    }
}

/// Anthropic error `type` for a status.
pub fn anthropic_error_type(status: u16) -> &'static str {
    match status {
        401 => "authentication_error",
        403 => "permission_error",
        404 => "not_found_error",
        413 => "request_too_large",
        429 => "rate_limit_error",
        529 => "overloaded_error",
        s if s >= 500 => "api_error",
        _ => "invalid_request_error",
    }
}

/// `{"error":{"message":..,"type":..,"param":null,"code":null}}`
pub fn openai_error_json(status: u16, message: &str) -> String {
    format!(
        r#"{{"error":{{"message":{},"type":{},"param":null,"code":null}}}}"#,
        q(message),
        q(openai_error_type(status))
    )
}

/// `{"type":"error","error":{"type":..,"message":..}}`
pub fn anthropic_error_json(status: u16, message: &str) -> String {
    format!(
        r#"{{"type":"error","error":{{"type":{},"message":{}}}}}"#,
        q(anthropic_error_type(status)),
        q(message)
    )
}

/// One entry of the model list.
pub fn model_json(id: &str) -> String {
    format!(
        r#"{{"id":{},"object":"model","created":{CREATED},"owned_by":"mock"}}"#,
        q(id)
    )
}

/// `GET /v1/models` body.
pub fn models_json(ids: &[String]) -> String {
    let data: Vec<String> = ids.iter().map(|m| model_json(m)).collect();
    format!(r#"{{"object":"list","data":[{}]}}"#, data.join(","))
}

/// Non-stream `/v1/chat/completions` body.
pub fn chat_completion_json(model: &str) -> String {
    format!(
        r#"{{"id":"chatcmpl-mock","object":"chat.completion","created":{CREATED},"model":{},"choices":[{{"index":0,"message":{{"role":"assistant","content":{}}},"logprobs":null,"finish_reason":"stop"}}],"usage":{CHAT_USAGE_JSON}}}"#,
        q(model),
        q(MOCK_TEXT)
    )
}

fn chat_chunk(model: &str, choices: &str, usage: Option<&str>) -> String {
    let usage = match usage {
        Some(u) => format!(r#","usage":{u}"#),
        None => String::new(),
    };
    format!(
        "data: {{\"id\":\"chatcmpl-mock\",\"object\":\"chat.completion.chunk\",\"created\":{CREATED},\"model\":{},\"choices\":{choices}{usage}}}\n\n",
        q(model)
    )
}

/// SSE events of a streamed `/v1/chat/completions`: role chunk, `n` content chunks, finish
/// chunk, (usage-only chunk if `include_usage`), `data: [DONE]`. With `include_usage` every chunk
/// before the usage-only one carries `"usage":null`, as OpenAI sends it.
pub fn chat_stream_events(model: &str, n: usize, include_usage: bool) -> Vec<String> {
    let null_usage = include_usage.then_some("null");
    let choice = |delta: &str, finish: &str| {
        format!(r#"[{{"index":0,"delta":{delta},"logprobs":null,"finish_reason":{finish}}}]"#)
    };
    let mut out = Vec::with_capacity(n + 4);
    out.push(chat_chunk(
        model,
        &choice(r#"{"role":"assistant","content":""}"#, "null"),
        null_usage,
    ));
    for i in 0..n {
        let delta = format!(r#"{{"content":{}}}"#, q(&delta_text(i)));
        out.push(chat_chunk(model, &choice(&delta, "null"), null_usage));
    }
    out.push(chat_chunk(model, &choice("{}", r#""stop""#), null_usage));
    if include_usage {
        out.push(chat_chunk(model, "[]", Some(CHAT_USAGE_JSON)));
    }
    out.push("data: [DONE]\n\n".to_string());
    out
}

fn response_object(model: &str, status: &str, text: Option<&str>) -> String {
    let (output, usage) = match text {
        Some(t) => (
            format!(
                r#"[{{"type":"message","id":"msg_mock","status":"completed","role":"assistant","content":[{{"type":"output_text","text":{},"annotations":[]}}]}}]"#,
                q(t)
            ),
            RESPONSES_USAGE_JSON,
        ),
        None => ("[]".to_string(), "null"),
    };
    format!(
        r#"{{"id":"resp_mock","object":"response","created_at":{CREATED},"status":{},"model":{},"output":{output},"usage":{usage}}}"#,
        q(status),
        q(model)
    )
}

/// Non-stream `/v1/responses` body.
pub fn responses_json(model: &str) -> String {
    response_object(model, "completed", Some(MOCK_TEXT))
}

fn named_event(name: &str, data: &str) -> String {
    format!("event: {name}\ndata: {data}\n\n")
}

/// SSE events of a streamed `/v1/responses`: `response.created`, `n`
/// `response.output_text.delta`, `response.completed` (whose response has the usage and the
/// concatenated text [`stream_text`]).
pub fn responses_stream_events(model: &str, n: usize) -> Vec<String> {
    let mut out = Vec::with_capacity(n + 2);
    out.push(named_event(
        "response.created",
        &format!(
            r#"{{"type":"response.created","sequence_number":0,"response":{}}}"#,
            response_object(model, "in_progress", None)
        ),
    ));
    for i in 0..n {
        out.push(named_event(
            "response.output_text.delta",
            &format!(
                r#"{{"type":"response.output_text.delta","sequence_number":{},"item_id":"msg_mock","output_index":0,"content_index":0,"delta":{}}}"#,
                i + 1,
                q(&delta_text(i))
            ),
        ));
    }
    out.push(named_event(
        "response.completed",
        &format!(
            r#"{{"type":"response.completed","sequence_number":{},"response":{}}}"#,
            n + 1,
            response_object(model, "completed", Some(&stream_text(n)))
        ),
    ));
    out
}

/// `/v1/embeddings` body.
pub fn embeddings_json(model: &str) -> String {
    format!(
        r#"{{"object":"list","data":[{{"object":"embedding","index":0,"embedding":[0.1,0.2,0.3]}}],"model":{},"usage":{EMBEDDINGS_USAGE_JSON}}}"#,
        q(model)
    )
}

/// Non-stream `/v1/messages` body.
pub fn messages_json(model: &str) -> String {
    format!(
        r#"{{"id":"msg_mock","type":"message","role":"assistant","model":{},"content":[{{"type":"text","text":{}}}],"stop_reason":"end_turn","stop_sequence":null,"usage":{MESSAGES_USAGE_JSON}}}"#,
        q(model),
        q(MOCK_TEXT)
    )
}

/// SSE events of a streamed `/v1/messages`: message_start, content_block_start, ping, `n`
/// content_block_delta (text_delta), content_block_stop, message_delta, message_stop.
pub fn messages_stream_events(model: &str, n: usize) -> Vec<String> {
    let mut out = Vec::with_capacity(n + 6);
    out.push(named_event(
        "message_start",
        &format!(
            r#"{{"type":"message_start","message":{{"id":"msg_mock","type":"message","role":"assistant","model":{},"content":[],"stop_reason":null,"stop_sequence":null,"usage":{MESSAGES_START_USAGE_JSON}}}}}"#,
            q(model)
        ),
    ));
    out.push(named_event(
        "content_block_start",
        r#"{"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}"#,
    ));
    out.push(named_event("ping", r#"{"type":"ping"}"#));
    for i in 0..n {
        out.push(named_event(
            "content_block_delta",
            &format!(
                r#"{{"type":"content_block_delta","index":0,"delta":{{"type":"text_delta","text":{}}}}}"#,
                q(&delta_text(i))
            ),
        ));
    }
    out.push(named_event(
        "content_block_stop",
        r#"{"type":"content_block_stop","index":0}"#,
    ));
    out.push(named_event(
        "message_delta",
        r#"{"type":"message_delta","delta":{"stop_reason":"end_turn","stop_sequence":null},"usage":{"output_tokens":15}}"#,
    ));
    out.push(named_event("message_stop", r#"{"type":"message_stop"}"#));
    out
}

/// Google's status name for an HTTP status.
pub fn google_status(status: u16) -> &'static str {
    match status {
        400 => "INVALID_ARGUMENT",
        401 => "UNAUTHENTICATED",
        403 => "PERMISSION_DENIED",
        404 => "NOT_FOUND",
        429 => "RESOURCE_EXHAUSTED",
        503 => "UNAVAILABLE",
        504 => "DEADLINE_EXCEEDED",
        _ => "INTERNAL",
    }
}

/// `{"error":{"code":..,"message":..,"status":..}}`
pub fn google_error_json(status: u16, message: &str) -> String {
    format!(
        r#"{{"error":{{"code":{status},"message":{},"status":{}}}}}"#,
        q(message),
        q(google_status(status))
    )
}

/// `GET /v1beta/models` body.
pub fn gemini_models_json(ids: &[String]) -> String {
    let models: Vec<String> = ids
        .iter()
        .map(|id| {
            format!(
                r#"{{"name":{},"version":"001","displayName":{},"supportedGenerationMethods":["generateContent","countTokens"]}}"#,
                q(&format!("models/{id}")),
                q(id)
            )
        })
        .collect();
    format!(r#"{{"models":[{}]}}"#, models.join(","))
}

fn gemini_response(model: &str, text: &str, finish: bool, usage: &str) -> String {
    let finish = if finish {
        r#","finishReason":"STOP""#
    } else {
        ""
    };
    format!(
        r#"{{"candidates":[{{"content":{{"parts":[{{"text":{}}}],"role":"model"}}{finish},"index":0}}],"usageMetadata":{usage},"modelVersion":{},"responseId":"mock-response"}}"#,
        q(text),
        q(model)
    )
}

/// Non-stream `:generateContent` body.
pub fn gemini_answer_json(model: &str) -> String {
    gemini_response(model, MOCK_TEXT, true, GEMINI_USAGE_JSON)
}

/// The chunks of a streamed answer: `n` texts [`delta_text`], each with the counts so far; the
/// last with `finishReason` and [`GEMINI_USAGE_JSON`].
pub fn gemini_stream_chunks(model: &str, n: usize) -> Vec<String> {
    (0..n)
        .map(|i| {
            if i + 1 == n {
                gemini_response(model, &delta_text(i), true, GEMINI_USAGE_JSON)
            } else {
                let partial = r#"{"promptTokenCount":21,"totalTokenCount":21}"#;
                gemini_response(model, &delta_text(i), false, partial)
            }
        })
        .collect()
}

/// `:streamGenerateContent?alt=sse`: each chunk a `data:` event, as Google ends them (CRLF).
pub fn gemini_sse_events(model: &str, n: usize) -> Vec<String> {
    gemini_stream_chunks(model, n)
        .into_iter()
        .map(|c| format!("data: {c}\r\n\r\n"))
        .collect()
}

/// `:streamGenerateContent` without `alt=sse`: one JSON array, cut where Google's arrive
/// (`[{…}`, `\n,\r\n{…}`, …, `\n]`). Concatenated, it is the array.
pub fn gemini_array_chunks(model: &str, n: usize) -> Vec<String> {
    let mut out: Vec<String> = gemini_stream_chunks(model, n)
        .into_iter()
        .enumerate()
        .map(|(i, c)| {
            if i == 0 {
                format!("[{c}")
            } else {
                format!("\n,\r\n{c}")
            }
        })
        .collect();
    if out.is_empty() {
        out.push("[".into());
    }
    out.push("\n]".into());
    out
}

// ---------------------------------------------------------------------------------------------
// Coding agents (Claude Code, Codex CLI): streamed turns as the real APIs send them, with a tool
// call scripted by the request's content, so the answer does not depend on which mock (or how
// many earlier requests) a turn reaches.
// ---------------------------------------------------------------------------------------------

/// `POST /v1/messages/count_tokens` body.
pub const COUNT_TOKENS_JSON: &str = r#"{"input_tokens":42}"#;
/// Usage of every agent turn on `/v1/messages`, in `message_start` and again (cumulative, as
/// the API sends it now) in `message_delta`: 120 uncached input, 40 written to the cache, 800
/// read from it, 30 output.
pub const AGENT_MESSAGES_USAGE_JSON: &str = r#"{"input_tokens":120,"cache_creation_input_tokens":40,"cache_read_input_tokens":800,"output_tokens":30}"#;
/// Usage of every agent turn on `/v1/responses` (`response.completed`).
pub const AGENT_RESPONSES_USAGE_JSON: &str = r#"{"input_tokens":2000,"input_tokens_details":{"cached_tokens":1500},"output_tokens":50,"output_tokens_details":{"reasoning_tokens":20},"total_tokens":2050}"#;

/// How the mock answers an agent's streamed turns.
#[derive(Clone, Debug)]
pub struct AgentScript {
    /// The text of every answer that is not a tool call.
    pub text: String,
    /// A turn whose latest user message contains this is answered with a call of `tool_name`;
    /// the request that brings the tool's result back gets `text`.
    pub tool_marker: String,
    /// The tool the agent is asked to run: a Claude Code tool (`Read`) on `/v1/messages`, a
    /// Codex function (`exec_command`) on `/v1/responses`.
    pub tool_name: String,
    /// Its input (Anthropic) or arguments (OpenAI), as a JSON object.
    pub tool_input: Value,
}

/// What the latest user turn of an agent's request asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AgentAnswer {
    Text,
    ToolCall,
}

fn has_text(v: &Value, marker: &str) -> bool {
    match v {
        Value::String(s) => s.contains(marker),
        Value::Array(items) => items.iter().any(|i| has_text(i, marker)),
        Value::Object(o) => o.values().any(|i| has_text(i, marker)),
        _ => false,
    }
}

/// Messages API: the last message is the user's; a `tool_result` in it means the tool ran, so
/// the turn ends with text; the marker in it asks for the tool.
pub fn agent_messages_answer(req: &Value, script: &AgentScript) -> AgentAnswer {
    let Some(last) = req["messages"].as_array().and_then(|m| m.last()) else {
        return AgentAnswer::Text;
    };
    let content = &last["content"];
    let returned = content
        .as_array()
        .is_some_and(|c| c.iter().any(|b| b["type"] == "tool_result"));
    if !returned && last["role"] == "user" && has_text(content, &script.tool_marker) {
        AgentAnswer::ToolCall
    } else {
        AgentAnswer::Text
    }
}

/// Responses API: the items after the latest user message; a `function_call_output` among them
/// means the tool ran; the marker in that message asks for the tool.
pub fn agent_responses_answer(req: &Value, script: &AgentScript) -> AgentAnswer {
    let input = match &req["input"] {
        Value::String(s) if s.contains(&script.tool_marker) => return AgentAnswer::ToolCall,
        Value::Array(items) => items.as_slice(),
        _ => return AgentAnswer::Text,
    };
    let Some(user) = input.iter().rposition(|i| i["role"] == "user") else {
        return AgentAnswer::Text;
    };
    let returned = input[user..]
        .iter()
        .any(|i| i["type"] == "function_call_output");
    if !returned && has_text(&input[user]["content"], &script.tool_marker) {
        AgentAnswer::ToolCall
    } else {
        AgentAnswer::Text
    }
}

/// `s` cut in two at a character boundary near its middle (an answer arrives in two deltas).
fn halves(s: &str) -> [&str; 2] {
    let mut at = s.len() / 2;
    while !s.is_char_boundary(at) {
        at += 1;
    }
    let (a, b) = s.split_at(at);
    [a, b]
}

fn anthropic_event(data: Value) -> String {
    named_event(data["type"].as_str().unwrap_or("error"), &data.to_string())
}

/// SSE events of an agent's streamed `/v1/messages` turn: message_start, ping, a text block
/// (text_delta), then for a tool call a `tool_use` block whose input arrives as two
/// `input_json_delta`s, message_delta (stop reason `tool_use` or `end_turn`, the usage),
/// message_stop.
pub fn agent_messages_events(req: &Value, script: &AgentScript) -> Vec<String> {
    let model = req["model"].as_str().unwrap_or_default();
    let usage: Value = serde_json::from_str(AGENT_MESSAGES_USAGE_JSON).unwrap();
    let mut start_usage = usage.clone();
    start_usage["output_tokens"] = 1.into();
    let answer = agent_messages_answer(req, script);
    let text = match answer {
        AgentAnswer::ToolCall => "Let me look.",
        AgentAnswer::Text => script.text.as_str(),
    };
    let mut out = vec![
        anthropic_event(serde_json::json!({"type": "message_start", "message": {
            "id": "msg_agent", "type": "message", "role": "assistant", "model": model,
            "content": [], "stop_reason": null, "stop_sequence": null, "usage": start_usage}})),
        anthropic_event(serde_json::json!({"type": "ping"})),
        anthropic_event(
            serde_json::json!({"type": "content_block_start", "index": 0,
            "content_block": {"type": "text", "text": ""}}),
        ),
    ];
    for part in halves(text) {
        out.push(anthropic_event(
            serde_json::json!({"type": "content_block_delta",
            "index": 0, "delta": {"type": "text_delta", "text": part}}),
        ));
    }
    out.push(anthropic_event(
        serde_json::json!({"type": "content_block_stop", "index": 0}),
    ));
    let stop_reason = match answer {
        AgentAnswer::ToolCall => {
            out.push(anthropic_event(
                serde_json::json!({"type": "content_block_start",
                "index": 1, "content_block": {"type": "tool_use", "id": "toolu_agent_1",
                "name": script.tool_name, "input": {}}}),
            ));
            let input = script.tool_input.to_string();
            for part in halves(&input) {
                out.push(anthropic_event(
                    serde_json::json!({"type": "content_block_delta",
                    "index": 1, "delta": {"type": "input_json_delta", "partial_json": part}}),
                ));
            }
            out.push(anthropic_event(
                serde_json::json!({"type": "content_block_stop", "index": 1}),
            ));
            "tool_use"
        }
        AgentAnswer::Text => "end_turn",
    };
    out.push(anthropic_event(serde_json::json!({"type": "message_delta",
        "delta": {"stop_reason": stop_reason, "stop_sequence": null}, "usage": usage})));
    out.push(anthropic_event(serde_json::json!({"type": "message_stop"})));
    out
}

/// SSE events of an agent's streamed `/v1/responses` turn, each with its `sequence_number`:
/// response.created, response.in_progress, then one output item: a message
/// (output_item.added, content_part.added, two output_text.delta, output_text.done,
/// content_part.done, output_item.done) or a `function_call` (output_item.added, two
/// function_call_arguments.delta, function_call_arguments.done, output_item.done), and
/// response.completed with the usage.
pub fn agent_responses_events(req: &Value, script: &AgentScript) -> Vec<String> {
    use serde_json::json;
    let model = req["model"].as_str().unwrap_or_default();
    let usage: Value = serde_json::from_str(AGENT_RESPONSES_USAGE_JSON).unwrap();
    let response = |status: &str, output: Value, usage: Value| {
        json!({"id": "resp_agent", "object": "response", "created_at": CREATED,
               "status": status, "model": model, "output": output, "usage": usage})
    };
    let mut events = vec![
        json!({"type": "response.created", "response": response("in_progress", json!([]), Value::Null)}),
        json!({"type": "response.in_progress", "response": response("in_progress", json!([]), Value::Null)}),
    ];
    let item = match agent_responses_answer(req, script) {
        AgentAnswer::ToolCall => {
            let args = script.tool_input.to_string();
            let item = json!({"type": "function_call", "id": "fc_agent", "call_id": "call_agent_1",
                              "name": script.tool_name, "arguments": args, "status": "completed"});
            let mut added = item.clone();
            added["arguments"] = "".into();
            added["status"] = "in_progress".into();
            events.push(
                json!({"type": "response.output_item.added", "output_index": 0, "item": added}),
            );
            for part in halves(&args) {
                events.push(json!({"type": "response.function_call_arguments.delta",
                    "item_id": "fc_agent", "output_index": 0, "delta": part}));
            }
            events.push(json!({"type": "response.function_call_arguments.done",
                "item_id": "fc_agent", "output_index": 0, "arguments": args}));
            item
        }
        AgentAnswer::Text => {
            let text = script.text.as_str();
            let part = |t: &str| json!({"type": "output_text", "text": t, "annotations": []});
            let at = json!({"item_id": "msg_agent", "output_index": 0, "content_index": 0});
            let with = |mut v: Value| {
                for (k, x) in at.as_object().unwrap() {
                    v[k] = x.clone();
                }
                v
            };
            events.push(
                json!({"type": "response.output_item.added", "output_index": 0,
                "item": {"type": "message", "id": "msg_agent", "status": "in_progress",
                         "role": "assistant", "content": []}}),
            );
            events.push(with(
                json!({"type": "response.content_part.added", "part": part("")}),
            ));
            for d in halves(text) {
                events.push(with(
                    json!({"type": "response.output_text.delta", "delta": d}),
                ));
            }
            events.push(with(
                json!({"type": "response.output_text.done", "text": text}),
            ));
            events.push(with(
                json!({"type": "response.content_part.done", "part": part(text)}),
            ));
            json!({"type": "message", "id": "msg_agent", "status": "completed",
                   "role": "assistant", "content": [part(text)]})
        }
    };
    events.push(json!({"type": "response.output_item.done", "output_index": 0, "item": item}));
    events.push(json!({"type": "response.completed",
        "response": response("completed", json!([item]), usage)}));
    events
        .into_iter()
        .enumerate()
        .map(|(i, mut e)| {
            e["sequence_number"] = i.into();
            named_event(e["type"].as_str().unwrap_or_default(), &e.to_string())
        })
        .collect()
}
