//! `/api/proxy/v1/*` and `/v1/*`: authenticate the client key, route by model, forward, meter, log.
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, Method, Uri};
use axum::response::{IntoResponse, Response};
use axum::Extension;
use bytes::Bytes;
use serde_json::Value;

use super::balancer::{best_tier, weighted_pick};
use super::errors::{ErrorFormat, ProxyError};
use super::headers::{client_response_headers, is_event_stream, upstream_request_headers};
use super::key_auth::{presented_key, KeyRejection};
use super::metered_body::{without_url, Meter, MeteredBody, PendingLog};
use super::provider_auth::apply_upstream_auth;
use super::routing_table::{KeyEntry, Snapshot, UpstreamEntry};
use super::ssrf::{validate_url, SsrfPolicy};
use super::usage::{ensure_stream_usage, ApiFormat};
use crate::server::db::request_logs::LogRecord;
use crate::server::http::request_id::RequestId;
use crate::server::state::AppState;

/// Everything known about the request so far, for its log row.
struct Ctx {
    record: LogRecord,
    started: Instant,
    format: ErrorFormat,
}

impl Ctx {
    /// Answers with an error and logs the request, including refusals.
    fn fail(self, state: &AppState, error: ProxyError) -> Response {
        let detail = error.to_string();
        self.fail_with_detail(state, error, detail)
    }

    /// Like `fail`, but the log keeps a detail the client must not see (internal addresses).
    fn fail_with_detail(mut self, state: &AppState, error: ProxyError, detail: String) -> Response {
        self.record.status_code = Some(error.status().as_u16() as i64);
        self.record.error_message = Some(detail);
        self.record.duration_ms = Some(self.started.elapsed().as_millis() as i64);
        state.logs.submit(self.record);
        error.into_response_for(self.format)
    }
}

pub async fn proxy(
    State(state): State<AppState>,
    Extension(RequestId(request_id)): Extension<RequestId>,
    Path(path): Path<String>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let ctx = Ctx {
        record: LogRecord {
            request_id,
            method: method.to_string(),
            path: format!("/v1/{path}"),
            created_at: state.clock.now_ms(),
            ..LogRecord::default()
        },
        started: Instant::now(),
        format: ErrorFormat::for_path(&path),
    };
    handle(state, ctx, path, method, uri, headers, body).await
}

async fn authenticate(
    state: &AppState,
    snapshot: &Snapshot,
    headers: &HeaderMap,
) -> Result<KeyEntry, ProxyError> {
    let presented = presented_key(headers).ok_or(ProxyError::Auth(KeyRejection::Missing))?;
    state
        .keys
        .verify(snapshot, presented, state.clock.now_ms())
        .await
        .map_err(ProxyError::Auth)
}

fn models_list(snapshot: &Snapshot, key: &KeyEntry) -> Response {
    let data: Vec<Value> = snapshot
        .listable_models(key)
        .into_iter()
        .map(|(id, owner)| serde_json::json!({"id": id, "object": "model", "created": 0, "owned_by": owner}))
        .collect();
    axum::Json(serde_json::json!({"object": "list", "data": data})).into_response()
}

#[allow(clippy::too_many_arguments)]
async fn handle(
    state: AppState,
    mut ctx: Ctx,
    path: String,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let snapshot = state.routing.snapshot();
    let key = match authenticate(&state, &snapshot, &headers).await {
        Ok(k) => k,
        Err(e) => return ctx.fail(&state, e),
    };
    ctx.record.api_key_id = Some(key.id.clone());

    if method == Method::GET && path.trim_end_matches('/') == "models" {
        ctx.record.status_code = Some(200);
        ctx.record.duration_ms = Some(ctx.started.elapsed().as_millis() as i64);
        state.logs.submit(ctx.record);
        return models_list(&snapshot, &key);
    }

    let limit = state.config.max_body_bytes;
    let declared = headers
        .get(axum::http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|n| n > limit) {
        return ctx.fail(&state, ProxyError::TooLarge(limit));
    }
    let body = match axum::body::to_bytes(body, limit).await {
        Ok(b) => b,
        Err(e) => {
            // Bodies without a Content-Length are only found too large while reading.
            let too_large = e.to_string().contains("length limit");
            let error = if too_large {
                ProxyError::TooLarge(limit)
            } else {
                ProxyError::BadRequest("could not read the request body".into())
            };
            return ctx.fail(&state, error);
        }
    };
    let mut json: Value = match serde_json::from_slice(&body) {
        Ok(v @ Value::Object(_)) => v,
        Ok(_) => {
            return ctx.fail(
                &state,
                ProxyError::BadRequest("the request body must be a JSON object".into()),
            )
        }
        Err(_) if body.is_empty() => {
            return ctx.fail(
                &state,
                ProxyError::BadRequest(
                    "this gateway routes by the `model` field of a JSON request body".into(),
                ),
            );
        }
        Err(e) => {
            return ctx.fail(
                &state,
                ProxyError::BadRequest(format!("malformed JSON body: {e}")),
            )
        }
    };
    let model = match json.get("model").and_then(Value::as_str).map(str::trim) {
        Some(m) if !m.is_empty() => m.to_string(),
        _ => {
            return ctx.fail(
                &state,
                ProxyError::BadRequest("missing required parameter: `model`".into()),
            )
        }
    };
    ctx.record.model_requested = Some(model.clone());

    let candidates = snapshot.candidates(&key, &model);
    let tier = best_tier(&candidates);
    let Some(upstream) = weighted_pick(tier, &mut rand::rng()).cloned() else {
        return ctx.fail(&state, ProxyError::ModelNotFound(model));
    };
    ctx.record.upstream_id = Some(upstream.id.clone());
    ctx.record.lb_strategy = Some("weighted".into());

    let sent_model = upstream.sent_model(&model);
    let mut rewritten = false;
    if sent_model != model {
        json["model"] = Value::String(sent_model.clone());
        rewritten = true;
    }
    ctx.record.model_sent = Some(sent_model);
    let format = ApiFormat::from_path(&path);
    let wants_stream = json.get("stream").and_then(Value::as_bool).unwrap_or(false);
    let strip_usage_chunk = format == ApiFormat::OpenAiChat && ensure_stream_usage(&mut json);
    let body = if rewritten || strip_usage_chunk {
        match serde_json::to_vec(&json) {
            Ok(v) => Bytes::from(v),
            Err(e) => {
                return ctx.fail(
                    &state,
                    ProxyError::BadRequest(format!("cannot encode body: {e}")),
                )
            }
        }
    } else {
        body
    };
    forward(
        state,
        ctx,
        &upstream,
        &path,
        uri.query(),
        method,
        &headers,
        body,
        format,
        wants_stream,
        strip_usage_chunk,
    )
    .await
}

#[allow(clippy::too_many_arguments)]
async fn forward(
    state: AppState,
    mut ctx: Ctx,
    upstream: &Arc<UpstreamEntry>,
    path: &str,
    query: Option<&str>,
    method: Method,
    client_headers: &HeaderMap,
    body: Bytes,
    format: ApiFormat,
    wants_stream: bool,
    strip_usage_chunk: bool,
) -> Response {
    // Literal-IP base URLs never reach the guarded resolver, so check the URL on every request.
    let policy = SsrfPolicy {
        allow_private: state.config.allow_private_upstreams,
    };
    if let Err(e) = validate_url(&upstream.base_url, policy) {
        let public = ProxyError::UpstreamFailed(
            "the upstream's address is not allowed by the gateway's policy".into(),
        );
        return ctx.fail_with_detail(&state, public, e.to_string());
    }
    let mut url = format!("{}/{}", upstream.base_url, path.trim_start_matches('/'));
    if let Some(q) = query {
        url.push('?');
        url.push_str(q);
    }
    let mut headers = upstream_request_headers(client_headers);
    apply_upstream_auth(
        upstream.provider,
        upstream.api_key.expose(),
        &mut headers,
        true,
    );
    let timeout = Duration::from_millis(upstream.timeout_ms);
    let request = state
        .http
        .request(method, url)
        .headers(headers)
        .body(body)
        .send();
    let response = match tokio::time::timeout(timeout, request).await {
        Err(_) => return ctx.fail(&state, ProxyError::UpstreamTimeout),
        Ok(Err(e)) if e.is_timeout() => return ctx.fail(&state, ProxyError::UpstreamTimeout),
        Ok(Err(e)) => {
            let detail = error_chain(&e);
            return ctx.fail_with_detail(
                &state,
                ProxyError::UpstreamFailed("could not reach the upstream".into()),
                detail,
            );
        }
        Ok(Ok(r)) => r,
    };
    let status = response.status();
    ctx.record.status_code = Some(status.as_u16() as i64);
    if !status.is_success() {
        ctx.record.error_message = Some(format!("upstream answered HTTP {}", status.as_u16()));
    }
    let sse = is_event_stream(response.headers());
    ctx.record.is_stream = sse || wants_stream;
    let meter = if sse {
        Meter::sse(format, strip_usage_chunk)
    } else {
        Meter::json(format)
    };
    let headers = client_response_headers(response.headers(), !(sse && strip_usage_chunk));
    let body = MeteredBody::new(
        Box::pin(response.bytes_stream()),
        timeout,
        meter,
        PendingLog {
            record: ctx.record,
            started: ctx.started,
            writer: state.logs.clone(),
        },
    );
    let mut out = Response::new(Body::from_stream(body));
    *out.status_mut() = status;
    *out.headers_mut() = headers;
    out
}

/// The whole cause chain, for the log (resolver refusals sit several sources deep).
fn error_chain(e: &reqwest::Error) -> String {
    let mut out = without_url(e);
    let mut cur = std::error::Error::source(e);
    while let Some(inner) = cur {
        out.push_str(": ");
        out.push_str(&inner.to_string());
        cur = inner.source();
    }
    out
}
