//! `/api/proxy/v1/*` and `/v1/*` (and Google's `/v1beta/*`): authenticate the client key, route
//! by model, forward, meter, log.
use std::borrow::Cow;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::extract::{Path, Request, State};
use axum::http::{HeaderMap, Method, Uri};
use axum::response::{IntoResponse, Response};
use axum::Extension;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Body as _;
use serde_json::Value;

use super::body_edit::{self, Edit};
use super::breaker::{Admission, State as BreakerState};
use super::data_plane::DataPlane;
use super::endpoints::{self, Endpoint};
use super::errors::{ErrorFormat, ProxyError};
use super::failover::{Attempt, FailureKind, History};
use super::gemini::{self, PathRefusal};
use super::headers::{client_response_headers, is_event_stream, upstream_request_headers};
use super::key_auth::{presented_google_key, presented_key, KeyRejection};
use super::metered_body::{Meter, MeteredBody, OnResponseId, PendingLog};
use super::request_body::{read_facts, RequestFacts};
use super::routing_table::{KeyEntry, Snapshot, UpstreamEntry};
use super::sessions::{self, Session};
use super::spend::{self, Bill, Ticket};
use super::strategy::{Candidate, InFlight};
use super::trace::{AttemptTrace, RequestTrace};
use super::usage::ApiFormat;
use crate::model::upstreams::Format;
use crate::server::db::request_logs::LogRecord;
use crate::server::http::request_id::RequestId;
use crate::server::http::upstream_pool::{PooledBody, SendError};
use crate::server::text::{causes, error_chain};
use crate::server::timefmt::to_rfc3339;

/// What a log row keeps of a client's path and of an error's detail, at most (bytes).
const MAX_LOGGED_PATH: usize = 512;
const MAX_LOGGED_ERROR: usize = 2048;

/// Everything known about the request so far, for its log row.
struct Ctx {
    /// Boxed: the context moves through every stage of the request (and into the response body),
    /// and a pointer moves for less than the record's 368 bytes; the log writer takes the box.
    record: Box<LogRecord>,
    started: Instant,
    format: ErrorFormat,
    /// The connection's peer: who the client is, asked for only when a key needs bcrypt.
    peer: std::net::IpAddr,
    /// A limited key's admission (its concurrency slot and what to charge) and the rate-limit
    /// headers every answer to it carries.
    key_ticket: Option<Ticket>,
    limit_headers: Option<Box<HeaderMap>>,
    /// The request's span, when traces are on (`proxy/trace.rs`); boxed, so that with traces
    /// off the context grows by a pointer only.
    trace: Option<Box<RequestTrace>>,
}

impl Ctx {
    /// Adds a limited key's rate-limit headers to an answer.
    fn with_limit_headers(&mut self, mut response: Response) -> Response {
        if let Some(headers) = self.limit_headers.take() {
            response.headers_mut().extend(*headers);
        }
        response
    }
}

impl Ctx {
    /// Answers with an error and logs the request, including refusals.
    fn fail(self, state: &DataPlane, error: ProxyError) -> Response {
        let detail = error.to_string();
        self.fail_with_detail(state, error, detail)
    }

    /// Like `fail`, but the log keeps a detail the client must not see (internal addresses).
    fn fail_with_detail(
        mut self,
        state: &DataPlane,
        error: ProxyError,
        detail: String,
    ) -> Response {
        if let ProxyError::Auth(reason) = &error {
            // Anyone can send these, as fast as they like: counted, not stored row by row.
            state.keys.count_refusal(*reason);
            if let Some(trace) = self.trace.take() {
                trace.refused(error.status().as_u16());
            }
            return error.into_response_for(self.format);
        }
        self.record.status_code = Some(error.status_for(self.format).as_u16() as i64);
        self.record.error_message = Some(crate::server::text::cut_owned(&detail, MAX_LOGGED_ERROR));
        self.record.duration_ms = Some(self.started.elapsed().as_millis() as i64);
        if let Some(trace) = self.trace.take() {
            trace.finish(&self.record);
        }
        let format = self.format;
        let response = error.into_response_for(format);
        let response = self.with_limit_headers(response);
        state.logs.submit(self.record);
        response
    }
}

/// The router's entry (used when a layer such as CORS must see proxied requests too).
pub(crate) async fn proxy(
    State(state): State<Arc<DataPlane>>,
    Extension(RequestId(request_id)): Extension<RequestId>,
    Path(path): Path<String>,
    request: Request,
) -> Response {
    proxy_request(state, request_id, path, request).await
}

/// One proxied request, from the router (`proxy`) or straight from `front`: `path` is the part
/// below `/v1/`, decoded by the router's `Path` or checked by `front` to need no decoding.
pub(crate) async fn proxy_request(
    state: Arc<DataPlane>,
    request_id: String,
    path: String,
    request: Request,
) -> Response {
    let (parts, body) = request.into_parts();
    let (method, uri, headers) = (parts.method, parts.uri, parts.headers);
    let google = gemini::surface(uri.path(), &method, &headers, uri.query());
    // Never the query: Google's clients may carry the key in it.
    let prefix = google.map_or("v1", gemini::Version::as_str);
    let trace = state
        .traces
        .as_ref()
        .map(|t| RequestTrace::start(t, &headers, &method, &path, &request_id));
    let ctx = Ctx {
        record: Box::new(LogRecord {
            request_id,
            method: method.to_string(),
            path: format!(
                "/{prefix}/{}",
                crate::server::text::cut_owned(&path, MAX_LOGGED_PATH)
            ),
            created_at: state.clock.now_ms(),
            ..LogRecord::default()
        }),
        started: Instant::now(),
        format: match google {
            Some(_) => ErrorFormat::Google,
            None => ErrorFormat::for_path(&path),
        },
        peer: crate::server::http::client_ip::peer_of(&parts.extensions),
        key_ticket: None,
        limit_headers: None,
        trace,
    };
    match google {
        Some(version) => handle_gemini(state, ctx, version, method, uri, headers, body).await,
        None => handle(state, ctx, path, method, uri, headers, body).await,
    }
}

async fn authenticate(
    state: &DataPlane,
    snapshot: &Snapshot,
    presented: Option<&str>,
    headers: &HeaderMap,
    peer: std::net::IpAddr,
) -> Result<Arc<KeyEntry>, ProxyError> {
    let presented = presented.ok_or(ProxyError::Auth(KeyRejection::Missing))?;
    let source =
        || crate::server::http::client_ip::client_ip(peer, headers, &state.limits.trusted_proxies);
    let key = state
        .keys
        .verify(snapshot, presented, state.clock.now_ms(), source)
        .await
        .map_err(ProxyError::Auth)?;
    if state.keys.needs_digest(&key) {
        // A key made before digests were kept: store its digest, so that from the next routing
        // load on it is found without bcrypt.
        let digest =
            crate::server::crypto::digest_hex(&crate::server::crypto::sha256(presented.as_bytes()));
        let (pool, id) = (state.db.pool.clone(), key.id.clone());
        tokio::spawn(async move {
            if let Err(e) = crate::server::db::keys::set_digest(&pool, &id, &digest).await {
                tracing::warn!(key_id = %id, error = %e, "cannot store the key's digest");
            }
        });
    }
    Ok(key)
}

fn model_object(id: &str, owner: &str) -> Value {
    serde_json::json!({"id": id, "object": "model", "created": 0, "owned_by": owner})
}

fn models_list(snapshot: &Snapshot, key: &KeyEntry) -> Response {
    let data: Vec<Value> = snapshot
        .listable_models(key)
        .into_iter()
        .map(|(id, owner)| model_object(&id, &owner))
        .collect();
    axum::Json(serde_json::json!({"object": "list", "data": data})).into_response()
}

fn model_entry(snapshot: &Snapshot, key: &KeyEntry, model: &str) -> Option<Response> {
    let (id, owner) = snapshot
        .listable_models(key)
        .into_iter()
        .find(|(id, _)| id == model)?;
    Some(axum::Json(model_object(&id, &owner)).into_response())
}

/// Logs a request the gateway answered itself, with that answer.
fn answer_locally(state: &DataPlane, ctx: Ctx, response: Response) -> Response {
    let mut record = ctx.record;
    record.status_code = Some(response.status().as_u16() as i64);
    record.duration_ms = Some(ctx.started.elapsed().as_millis() as i64);
    if let Some(trace) = ctx.trace {
        trace.finish(&record);
    }
    state.logs.submit(record);
    response
}

#[allow(clippy::too_many_arguments)]
async fn handle(
    state: Arc<DataPlane>,
    mut ctx: Ctx,
    path: String,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let snapshot = state.routing.snapshot();
    let key = match authenticate(
        &state,
        &snapshot,
        presented_key(&headers),
        &headers,
        ctx.peer,
    )
    .await
    {
        Ok(k) => k,
        Err(e) => return ctx.fail(&state, e),
    };
    ctx.record.api_key_id = Some(key.id.clone());

    let raw_path = forwarded_path(&uri, &path);
    let (endpoint, extra_path) = match endpoints::find(&method, raw_path) {
        Ok(e) => (e, None),
        Err(refusal) => {
            match endpoints::extra_path(&method, raw_path).filter(|p| snapshot.opted_in(&key, p)) {
                Some(path) => (Endpoint::Extra, Some(path)),
                None => {
                    tracing::info!(?refusal, %method, "path outside the endpoint table");
                    return ctx.fail(&state, ProxyError::unknown_endpoint(&method, raw_path));
                }
            }
        }
    };
    if let Some(trace) = ctx.trace.as_mut() {
        trace.route(endpoint, extra_path.as_deref());
    }
    match endpoint {
        Endpoint::ListModels => return answer_locally(&state, ctx, models_list(&snapshot, &key)),
        Endpoint::GetModel => {
            let model = endpoints::model_in_path(raw_path);
            return match model_entry(&snapshot, &key, &model) {
                Some(found) => answer_locally(&state, ctx, found),
                None => ctx.fail(&state, ProxyError::ModelNotFound(model)),
            };
        }
        Endpoint::StoredResponse(op) => {
            let Some(id) = endpoints::response_id_in_path(raw_path) else {
                return ctx.fail(&state, ProxyError::unknown_endpoint(&method, raw_path));
            };
            let target = StoredTarget { op, id };
            return stored_response(
                state, ctx, key, snapshot, target, method, uri, headers, body,
            )
            .await;
        }
        _ => {}
    }

    let body = match read_limited_body(&state, &headers, body).await {
        Ok(b) => b,
        Err(e) => return ctx.fail(&state, e),
    };
    let RequestFacts {
        model,
        stream: wants_stream,
        session: body_session,
        previous_response,
    } = match read_facts(&body) {
        Ok(facts) => facts,
        Err(e) => return ctx.fail(&state, ProxyError::BadRequest(e.to_string())),
    };
    ctx.record.model_requested = Some(model.clone());
    if !key.may_use(&model) {
        // Refused as the provider refuses a model the caller may not use: as not found.
        ctx.record.refused_by = Some("model_not_allowed".into());
        return ctx.fail(&state, ProxyError::ModelNotFound(model));
    }
    if let Err(error) = admit_key(&state, &mut ctx, &key, &snapshot).await {
        return ctx.fail(&state, error);
    }

    let format = endpoint.format();
    let candidates = match &extra_path {
        None => snapshot.candidates(&key, &model, format),
        Some(path) => snapshot.extra_path_candidates(&key, &model, path),
    };
    if candidates.is_empty() {
        return ctx.fail(&state, no_candidate(&snapshot, &key, model, format));
    }
    let format = endpoint.api_format();
    // Only an OpenAI chat stream is rewritten: asked for its usage. (A body whose members the
    // splice cannot find is sent as it is, and its usage goes uncounted.)
    let (body, strip_usage_chunk) = if format == ApiFormat::OpenAiChat && wants_stream {
        match body_edit::with_stream_usage(&body) {
            Edit::Changed(edited) => (Bytes::from(edited), true),
            Edit::Unchanged | Edit::NotFound => (body, false),
        }
    } else {
        (body, false)
    };
    let session = sessions::session_of(&key.id, &headers, body_session.as_deref());
    // Without a session of its own, a request that continues a response goes where that
    // response was made.
    let follows = match (session, previous_response) {
        (None, Some(id)) if format == ApiFormat::OpenAiResponses => {
            Some(sessions::response_of(&key.id, &id))
        }
        _ => None,
    };
    ctx.record.session_id = session.or(follows).map(|s| s.short());
    let creates_response = endpoint == Endpoint::Responses;
    let request = Outgoing {
        session,
        follows,
        creates_response,
        key: key.clone(),
        body,
        model,
        path: extra_path.map_or(Cow::Borrowed(endpoint.path()), Cow::Owned),
        query: uri.query().map(str::to_string),
        method,
        headers,
        format,
        wants_stream,
        strip_usage_chunk,
        gemini: None,
    };
    attempt_in_order(state, ctx, &candidates, &snapshot, request).await
}

/// Admits a limited key (its rate, tokens, concurrency and budgets), keeping its ticket and
/// rate-limit headers in `ctx`; an unlimited key costs nothing here.
async fn admit_key(
    state: &DataPlane,
    ctx: &mut Ctx,
    key: &KeyEntry,
    snapshot: &Snapshot,
) -> Result<(), ProxyError> {
    let Some(limits) = &key.counters else {
        return Ok(());
    };
    let now = state.clock.now_ms();
    let periods = state.periods.at(now);
    let checks = spend::key_checks(key, limits, &periods, &snapshot.spend);
    match spend::admit_key(&state.limiter, checks, ctx.format, now).await {
        Ok((ticket, headers)) => {
            ctx.limit_headers = Some(Box::new(headers));
            ctx.key_ticket = Some(ticket);
            Ok(())
        }
        Err((error, reason, headers)) => {
            ctx.limit_headers = Some(Box::new(headers));
            ctx.record.refused_by = Some(reason.into());
            Err(error)
        }
    }
}

/// Why no upstream takes the request: none serves the model, or none serves it in this format.
fn no_candidate(
    snapshot: &Snapshot,
    key: &KeyEntry,
    model: String,
    format: Option<Format>,
) -> ProxyError {
    match format {
        Some(f) if !snapshot.candidates(key, &model, None).is_empty() => {
            ProxyError::FormatNotServed {
                format: f.as_str(),
                model,
            }
        }
        _ => ProxyError::ModelNotFound(model),
    }
}

/// A call to Google's own API: the key from `x-goog-api-key` or `key=`, the model from the
/// path, the answer metered from `usageMetadata`; only upstreams that speak `gemini` take it.
#[allow(clippy::too_many_arguments)]
async fn handle_gemini(
    state: Arc<DataPlane>,
    mut ctx: Ctx,
    version: gemini::Version,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let snapshot = state.routing.snapshot();
    let presented = presented_google_key(&headers, uri.query());
    let key = match authenticate(&state, &snapshot, presented.as_deref(), &headers, ctx.peer).await
    {
        Ok(k) => k,
        Err(e) => return ctx.fail(&state, e),
    };
    drop(presented);
    ctx.record.api_key_id = Some(key.id.clone());

    let raw_path = gemini::below_version(uri.path());
    let call = match gemini::find(&method, raw_path) {
        Ok(call) => call,
        Err(PathRefusal::BadModel) => {
            let error = ProxyError::BadRequest("the path does not name a valid model".into());
            return ctx.fail(&state, error);
        }
        Err(PathRefusal::Path(refusal)) => {
            tracing::info!(?refusal, %method, "path outside Google's endpoints");
            let path = crate::server::text::cut_owned(raw_path, 200);
            let error =
                ProxyError::UnknownEndpoint(format!("{method} /{}/{path}", version.as_str()));
            return ctx.fail(&state, error);
        }
    };
    let reachable = || {
        snapshot
            .listable_models_speaking(&key, Some(Format::Gemini))
            .into_iter()
            .map(|(id, _)| id)
    };
    let (endpoint, model) = match (call.endpoint, call.model) {
        (Endpoint::GeminiListModels, _) => {
            let list = axum::Json(gemini::models_list(reachable())).into_response();
            return answer_locally(&state, ctx, list);
        }
        (Endpoint::GeminiGetModel, Some(model)) => {
            return match reachable().find(|id| *id == model) {
                Some(id) => answer_locally(
                    &state,
                    ctx,
                    axum::Json(gemini::model_object(&id)).into_response(),
                ),
                None => ctx.fail(&state, ProxyError::ModelNotFound(model)),
            };
        }
        (endpoint, Some(model)) => (endpoint, model),
        (_, None) => return ctx.fail(&state, ProxyError::UnknownEndpoint(format!("{method}"))),
    };
    let Some(action) = endpoint.gemini_action() else {
        return ctx.fail(&state, ProxyError::UnknownEndpoint(format!("{method}")));
    };
    if let Some(trace) = ctx.trace.as_mut() {
        trace.route_gemini(version.as_str(), endpoint);
    }
    ctx.record.model_requested = Some(model.clone());
    if !key.may_use(&model) {
        ctx.record.refused_by = Some("model_not_allowed".into());
        return ctx.fail(&state, ProxyError::ModelNotFound(model));
    }

    let limit = state.limits.max_body_bytes;
    let declared = headers
        .get(axum::http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|n| n > limit) {
        return ctx.fail(&state, ProxyError::TooLarge(limit));
    }
    let body = match read_body(body, limit, declared).await {
        Ok(b) => b,
        Err(e) => return ctx.fail(&state, e),
    };
    if let Err(error) = admit_key(&state, &mut ctx, &key, &snapshot).await {
        return ctx.fail(&state, error);
    }
    let candidates = snapshot.candidates(&key, &model, Some(Format::Gemini));
    if candidates.is_empty() {
        return ctx.fail(
            &state,
            no_candidate(&snapshot, &key, model, Some(Format::Gemini)),
        );
    }
    let session = sessions::session_of(&key.id, &headers, None);
    ctx.record.session_id = session.map(|s| s.short());
    let request = Outgoing {
        session,
        follows: None,
        creates_response: false,
        key: key.clone(),
        body,
        model,
        path: Cow::Borrowed(action),
        query: gemini::forwarded_query(endpoint, uri.query()),
        method,
        headers,
        format: endpoint.api_format(),
        wants_stream: endpoint == Endpoint::StreamGenerateContent,
        strip_usage_chunk: false,
        gemini: Some(version),
    };
    attempt_in_order(state, ctx, &candidates, &snapshot, request).await
}

/// The request body, refused early when its declared length is over the limit.
async fn read_limited_body(
    state: &DataPlane,
    headers: &HeaderMap,
    body: Body,
) -> Result<Bytes, ProxyError> {
    let limit = state.limits.max_body_bytes;
    let declared = headers
        .get(axum::http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|n| n > limit) {
        return Err(ProxyError::TooLarge(limit));
    }
    read_body(body, limit, declared).await
}

/// A stored Responses object and what is done with it.
struct StoredTarget {
    op: endpoints::ResponseOp,
    id: String,
}

/// `/v1/responses/{id}...`: sent to the upstream that made the response, for the key that made
/// it; any other key, or a response the gateway does not know, gets 404. No failover: no other
/// upstream has the object.
#[allow(clippy::too_many_arguments)]
async fn stored_response(
    state: Arc<DataPlane>,
    mut ctx: Ctx,
    key: Arc<KeyEntry>,
    snapshot: Arc<Snapshot>,
    target: StoredTarget,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let body = match read_limited_body(&state, &headers, body).await {
        Ok(b) => b,
        Err(e) => return ctx.fail(&state, e),
    };
    if let Err(error) = admit_key(&state, &mut ctx, &key, &snapshot).await {
        return ctx.fail(&state, error);
    }
    let now = state.clock.now_ms();
    let made_by = state
        .responses
        .upstream_of(
            sessions::response_of(&key.id, &target.id),
            &state.limiter,
            now,
        )
        .await;
    let upstream = made_by.and_then(|id| snapshot.key_upstream(&key, &id));
    let Some(upstream) = upstream else {
        return ctx.fail(&state, ProxyError::ResponseNotFound(target.id));
    };
    let request = Outgoing {
        session: None,
        follows: None,
        creates_response: false,
        key: key.clone(),
        body,
        model: String::new(),
        path: Cow::Owned(target.op.path(&target.id)),
        query: uri.query().map(str::to_string),
        method,
        headers,
        // The object's usage was counted when it was made.
        format: ApiFormat::Other,
        wants_stream: false,
        strip_usage_chunk: false,
        gemini: None,
    };
    attempt_in_order(state, ctx, &[upstream], &snapshot, request).await
}

/// The request body, at most `limit` bytes. A body in one frame (the usual small request) is
/// kept as it arrived, uncopied; a body in several is gathered into one buffer sized from its
/// `Content-Length`, so a large body is held once rather than as frames plus their copy.
async fn read_body(body: Body, limit: usize, declared: Option<usize>) -> Result<Bytes, ProxyError> {
    use futures_util::StreamExt;
    let unreadable = |_| ProxyError::BadRequest("could not read the request body".into());
    let mut frames = body.into_data_stream();
    let Some(first) = frames.next().await.transpose().map_err(unreadable)? else {
        return Ok(Bytes::new());
    };
    if first.len() > limit {
        return Err(ProxyError::TooLarge(limit));
    }
    let Some(second) = frames.next().await.transpose().map_err(unreadable)? else {
        return Ok(first);
    };
    let expected = declared.unwrap_or(first.len() + second.len()).min(limit);
    let mut gathered = bytes::BytesMut::with_capacity(expected);
    gathered.extend_from_slice(&first);
    let mut frame = second;
    loop {
        // Bodies without a Content-Length are only found too large while reading.
        if gathered.len() + frame.len() > limit {
            return Err(ProxyError::TooLarge(limit));
        }
        gathered.extend_from_slice(&frame);
        match frames.next().await.transpose().map_err(unreadable)? {
            Some(next) => frame = next,
            None => return Ok(gathered.freeze()),
        }
    }
}

/// The part of the client's path below `/v1/`, as it arrived (percent-encoded), for the endpoint
/// table to judge; the decoded route parameter only when the prefix is unexpected.
fn forwarded_path<'a>(uri: &'a Uri, decoded: &'a str) -> &'a str {
    let raw = uri.path();
    raw.strip_prefix("/api/proxy/v1/")
        .or_else(|| raw.strip_prefix("/v1/"))
        .unwrap_or(decoded)
}

/// What is sent upstream, prepared once and specialised per attempt (model redirects differ).
struct Outgoing {
    /// The agent session it belongs to, if any: it goes where the session went last.
    session: Option<Session>,
    /// Without a session, the response it continues (`previous_response_id`): it goes to the
    /// upstream that made that one.
    follows: Option<Session>,
    /// A Responses request: the id of the response it creates is remembered with its upstream.
    creates_response: bool,
    /// The key it is sent for (shared, not copied: only a Responses request reads its id).
    key: Arc<KeyEntry>,
    /// The client's body, with the stream's usage asked for when that was added.
    body: Bytes,
    model: String,
    /// The endpoint's path below `/v1/`, from the table or an upstream's opt-in (never as the
    /// client spelled it).
    path: Cow<'static, str>,
    query: Option<String>,
    method: Method,
    headers: HeaderMap,
    format: ApiFormat,
    wants_stream: bool,
    strip_usage_chunk: bool,
    /// A call to Google's own API, in this version: `path` is its action, the model goes in the
    /// upstream's path (never in the body), the upstream's key in `x-goog-api-key`.
    gemini: Option<gemini::Version>,
}

/// Past this size a body whose `model` the splice cannot find is not parsed into a tree to
/// rename it (a tree takes many times the body's size).
const MAX_TREE_BYTES: usize = 4 << 20;

impl Outgoing {
    /// The body for one upstream: unchanged unless the model is redirected.
    fn body_for(&self, sent_model: &str) -> Result<Bytes, String> {
        if sent_model == self.model || self.gemini.is_some() {
            return Ok(self.body.clone());
        }
        match body_edit::with_model(&self.body, sent_model) {
            Edit::Changed(renamed) => Ok(Bytes::from(renamed)),
            Edit::Unchanged => Ok(self.body.clone()),
            Edit::NotFound if self.body.len() <= MAX_TREE_BYTES => {
                let mut json: Value =
                    serde_json::from_slice(&self.body).map_err(|e| e.to_string())?;
                json["model"] = Value::String(sent_model.to_string());
                serde_json::to_vec(&json)
                    .map(Bytes::from)
                    .map_err(|e| e.to_string())
            }
            Edit::NotFound => Err("write the body's `model` member without escapes".into()),
        }
    }
}

enum Outcome {
    Answered(hyper::Response<PooledBody>),
    Failed(FailureKind, Option<u16>, String),
}

/// Tries the candidates in the balancer's order, failing over on connect errors, timeouts,
/// 5xx and 429 (never to the same upstream twice, never after a byte reached the client).
async fn attempt_in_order(
    state: Arc<DataPlane>,
    mut ctx: Ctx,
    candidates: &[Arc<UpstreamEntry>],
    snapshot: &Snapshot,
    out: Outgoing,
) -> Response {
    let settings = snapshot.settings;
    let now = state.clock.now_ms();
    let views: Vec<Candidate> = candidates
        .iter()
        .map(|u| Candidate {
            id: u.id.clone(),
            priority: u.priority,
            weight: u.weight,
            healthy: state.health.is_healthy(&u.id),
            available: state.breakers.peek(&u.id, &u.breaker, now) != BreakerState::Open,
        })
        .collect();
    let strategy = settings.strategy;
    ctx.record.lb_strategy = Some(strategy.as_str().to_string());
    let mut order = state.balancer.order(strategy, &views);
    // A session goes first to the upstream that served it last, while that one is healthy and
    // its breaker lets it in; if it cannot take the request, failover picks another as always.
    let sticky = match (out.session, out.follows) {
        (Some(session), _) => {
            state
                .sessions
                .upstream_of(session, &state.limiter, now)
                .await
        }
        (None, Some(response)) => {
            state
                .responses
                .upstream_of(response, &state.limiter, now)
                .await
        }
        (None, None) => None,
    };
    if let Some(last) = &sticky {
        if let Some(pos) = order
            .iter()
            .position(|&i| *candidates[i].id == **last && views[i].healthy)
        {
            let first = order.remove(pos);
            order.insert(0, first);
        }
    }
    let mut history = History::default();
    for u in candidates
        .iter()
        .filter(|u| !order.iter().any(|&i| candidates[i].id == u.id))
    {
        history.push(attempt(
            u,
            FailureKind::BreakerOpen,
            None,
            "circuit breaker is open".into(),
            now,
        ));
    }
    let mut tried = 0;
    for &index in &order {
        if tried == settings.max_attempts {
            break;
        }
        let upstream = &candidates[index];
        let now = state.clock.now_ms();
        let admission = state.breakers.admit(&upstream.id, &upstream.breaker, now);
        if admission == Admission::Rejected {
            history.push(attempt(
                upstream,
                FailureKind::BreakerOpen,
                None,
                "circuit breaker is open".into(),
                now,
            ));
            continue;
        }
        let upstream_ticket = match &upstream.caps {
            None => None,
            Some(caps) => {
                let periods = state.periods.at(now);
                let checks = spend::upstream_checks(upstream, caps, &periods, &snapshot.spend);
                match spend::admit_upstream(&state.limiter, checks).await {
                    Ok(ticket) => Some(ticket),
                    Err((why, retry_after_ms)) => {
                        state.breakers.release(&upstream.id, admission);
                        history.push_at_limit(
                            attempt(upstream, FailureKind::AtLimit, None, why, now),
                            retry_after_ms,
                        );
                        continue;
                    }
                }
            }
        };
        tried += 1;
        let sent_model = upstream.sent_model(&out.model);
        ctx.record.upstream_id = Some(upstream.id.clone());
        ctx.record.model_sent = (!sent_model.is_empty()).then(|| sent_model.clone());
        ctx.record.price_multiplier_ppm = Some(upstream.price_multiplier_ppm);
        // Literal-IP base URLs never reach the guarded resolver; the routing table checked
        // them against the policy when it loaded the upstream.
        if let Some(refusal) = &upstream.address_refusal {
            state.breakers.release(&upstream.id, admission);
            return finish_failed(
                &state,
                ctx,
                history,
                ProxyError::UpstreamUnavailable,
                refusal.clone(),
            );
        }
        let body = match out.body_for(&sent_model) {
            Ok(b) => b,
            Err(e) => {
                state.breakers.release(&upstream.id, admission);
                return ctx.fail(
                    &state,
                    ProxyError::BadRequest(format!("cannot redirect the model: {e}")),
                );
            }
        };
        let in_flight = state
            .balancer
            .start(&upstream.id)
            .listed(enter_live_view(&state, &ctx, upstream, &out, now));
        let attempt_trace = ctx.trace.as_mut().map(|t| t.attempt(upstream, &sent_model));
        match send_once(
            &state,
            upstream,
            &out,
            &sent_model,
            body,
            attempt_trace.as_ref(),
        )
        .await
        {
            Outcome::Answered(response) => {
                if let (Some(trace), Some(a)) = (ctx.trace.as_mut(), attempt_trace) {
                    trace.answered(a, response.status().as_u16());
                }
                let now = state.clock.now_ms();
                state
                    .breakers
                    .record(&upstream.id, &upstream.breaker, now, admission, true);
                state.health.record_traffic(&upstream.id, now, None);
                ctx.record.failover_attempts = tried as i64;
                ctx.record.failover_history = history.json();
                if out.session.is_some() || out.follows.is_some() {
                    ctx.record.sticky = Some(sticky.as_deref() == Some(upstream.id.as_str()));
                }
                if let Some(session) = out.session {
                    state
                        .sessions
                        .served(session, &upstream.id, &state.limiter, now);
                }
                let bill = bill_for(
                    &state,
                    &mut ctx,
                    upstream_ticket,
                    snapshot,
                    &sent_model,
                    upstream,
                );
                let remember = (out.creates_response && response.status().is_success())
                    .then(|| remember_response(&state, &out.key.id, &upstream.id));
                return stream_back(
                    &state, ctx, upstream, &out, response, in_flight, bill, remember,
                );
            }
            Outcome::Failed(kind, status, message) => {
                let now = state.clock.now_ms();
                if let Some(t) =
                    state
                        .breakers
                        .record(&upstream.id, &upstream.breaker, now, admission, false)
                {
                    tracing::warn!(upstream = %upstream.name, from = t.from.as_str(), to = t.to.as_str(), "circuit breaker changed state");
                }
                // A 429 says the upstream is alive, only busy: it counts for the breaker, not health.
                if kind != FailureKind::Http429 {
                    state
                        .health
                        .record_traffic(&upstream.id, now, Some(&message));
                }
                tracing::info!(upstream = %upstream.name, error = %message, "upstream attempt failed");
                if let Some(a) = attempt_trace {
                    a.failed(kind, status, &message);
                }
                history.push(attempt(upstream, kind, status, message, now));
            }
        }
    }
    ctx.record.failover_attempts = tried as i64;
    let (error, detail) = history.final_error();
    if matches!(error, ProxyError::UpstreamsAtLimit { .. }) {
        ctx.record.refused_by = Some("upstream_limits".into());
    }
    finish_failed(&state, ctx, history, error, detail)
}

/// Lists the attempt in the live view (`in_flight.rs`) until its answer ends.
fn enter_live_view(
    state: &DataPlane,
    ctx: &Ctx,
    upstream: &UpstreamEntry,
    out: &Outgoing,
    now: i64,
) -> Option<super::in_flight::Flight> {
    use super::in_flight::{Entry, InlineStr};
    state.in_flight.enter(Entry {
        request_id: InlineStr::new(&ctx.record.request_id),
        key_id: InlineStr::new(&out.key.id),
        upstream_id: InlineStr::new(&upstream.id),
        upstream_name: InlineStr::new(&upstream.name),
        model: InlineStr::new(&out.model),
        is_stream: out.wants_stream,
        started_ms: now,
        bytes_out: 0,
    })
}

/// What the answer settles when it ends, if anything counts its tokens or spend: the key's
/// and the upstream's tickets, and the price its cost is charged at.
fn bill_for(
    state: &DataPlane,
    ctx: &mut Ctx,
    upstream_ticket: Option<Ticket>,
    snapshot: &Snapshot,
    sent_model: &str,
    upstream: &UpstreamEntry,
) -> Option<Box<Bill>> {
    let key = ctx.key_ticket.take();
    if key.is_none() && upstream_ticket.is_none() {
        return None;
    }
    Some(Box::new(Bill {
        limiter: state.limiter.clone(),
        key,
        upstream: upstream_ticket,
        price: spend::price_for(snapshot, sent_model),
        multiplier_ppm: upstream.price_multiplier_ppm,
    }))
}

fn finish_failed(
    state: &DataPlane,
    mut ctx: Ctx,
    history: History,
    error: ProxyError,
    detail: String,
) -> Response {
    ctx.record.failover_history = history.json();
    ctx.fail_with_detail(state, error, detail)
}

fn attempt(
    u: &UpstreamEntry,
    kind: FailureKind,
    status: Option<u16>,
    message: String,
    now: i64,
) -> Attempt {
    Attempt {
        upstream_id: u.id.clone(),
        upstream_name: u.name.clone(),
        attempted_at: to_rfc3339(now),
        error_type: kind,
        status_code: status,
        message,
    }
}

/// One upstream request, up to its response headers (the timeout covers time to first byte).
async fn send_once(
    state: &DataPlane,
    upstream: &UpstreamEntry,
    out: &Outgoing,
    sent_model: &str,
    body: Bytes,
    trace: Option<&AttemptTrace>,
) -> Outcome {
    let target = match &upstream.target {
        Ok(target) => target,
        Err(e) => return Outcome::Failed(FailureKind::Connect, None, e.to_string()),
    };
    let uri = match out.gemini {
        Some(version) => target.gemini_uri(
            &gemini::upstream_path(version, sent_model, &out.path),
            out.query.as_deref(),
        ),
        None => target.uri(&out.path, out.query.as_deref()),
    };
    let uri = match uri {
        Ok(uri) => uri,
        Err(e) => return Outcome::Failed(FailureKind::Connect, None, e.to_string()),
    };
    let mut headers = upstream_request_headers(&out.headers);
    if let Some(trace) = trace {
        trace.inject(&mut headers);
    }
    match (&upstream.credential, out.gemini) {
        (Some(credential), Some(_)) => credential.apply_gemini(&mut headers),
        (Some(credential), None) => credential.apply(&mut headers, true),
        (None, _) => {}
    }
    let timeout = Duration::from_millis(upstream.timeout_ms);
    let mut request = hyper::Request::new(Full::new(body));
    *request.method_mut() = out.method.clone();
    *request.uri_mut() = uri;
    *request.headers_mut() = headers;
    let request = state.http.proxy().send(target.origin(), request);
    match tokio::time::timeout(timeout, request).await {
        Err(_) => Outcome::Failed(
            FailureKind::Timeout,
            None,
            format!("no response within {} ms", upstream.timeout_ms),
        ),
        Ok(Err(e)) if timed_out(&e) => Outcome::Failed(FailureKind::Timeout, None, error_chain(&e)),
        Ok(Err(e)) => Outcome::Failed(FailureKind::Connect, None, error_chain(&e)),
        Ok(Ok(r)) if r.status().is_server_error() => {
            let s = r.status().as_u16();
            Outcome::Failed(
                FailureKind::Http5xx,
                Some(s),
                format!("upstream answered HTTP {s}"),
            )
        }
        Ok(Ok(r)) if r.status().as_u16() == 429 => Outcome::Failed(
            FailureKind::Http429,
            Some(429),
            "upstream answered HTTP 429".into(),
        ),
        Ok(Ok(r)) => Outcome::Answered(r),
    }
}

/// Remembers that the response an answer creates was made by `upstream` for `key_id`.
fn remember_response(state: &Arc<DataPlane>, key_id: &str, upstream: &str) -> OnResponseId {
    let (state, key_id, upstream) = (state.clone(), key_id.to_string(), upstream.to_string());
    Box::new(move |response_id: &str| {
        let response = sessions::response_of(&key_id, response_id);
        let now = state.clock.now_ms();
        state
            .responses
            .served(response, &upstream, &state.limiter, now);
    })
}

/// Forwards the chosen upstream's answer chunk by chunk, metering usage on the way.
#[allow(clippy::too_many_arguments)]
fn stream_back(
    state: &DataPlane,
    mut ctx: Ctx,
    upstream: &UpstreamEntry,
    out: &Outgoing,
    response: hyper::Response<PooledBody>,
    in_flight: InFlight,
    bill: Option<Box<Bill>>,
    remember: Option<OnResponseId>,
) -> Response {
    let status = response.status();
    ctx.record.status_code = Some(status.as_u16() as i64);
    if !status.is_success() {
        ctx.record.error_message = Some(format!("upstream answered HTTP {}", status.as_u16()));
    }
    let sse = is_event_stream(response.headers());
    ctx.record.is_stream = sse || out.wants_stream;
    let meter = if sse {
        Meter::sse(out.format, out.strip_usage_chunk)
    } else if out.gemini.is_some() && out.wants_stream {
        Meter::json_array()
    } else {
        Meter::json(out.format)
    };
    let unchanged = !(sse && out.strip_usage_chunk);
    let length = if unchanged {
        response.body().size_hint().exact()
    } else {
        None
    };
    let mut headers = client_response_headers(response.headers(), unchanged);
    if let Some(limits) = ctx.limit_headers.take() {
        headers.extend(*limits);
    }
    let body = MeteredBody::new(
        Box::pin(response.into_body().into_data_stream()),
        Duration::from_millis(upstream.timeout_ms),
        meter,
        PendingLog {
            record: ctx.record,
            started: ctx.started,
            writer: state.logs.clone(),
            bill,
            trace: ctx.trace,
        },
        in_flight,
    )
    .with_length(length);
    let body = match remember {
        Some(hook) => body.on_response_id(hook),
        None => body,
    };
    let mut reply = Response::new(Body::from_stream(body));
    *reply.status_mut() = status;
    *reply.headers_mut() = headers;
    reply
}

/// A connect that ran out of time (the connector's own limit) is a timeout, not a refusal.
fn timed_out(e: &SendError) -> bool {
    causes(e).any(|cause| {
        cause
            .downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::TimedOut)
    })
}
