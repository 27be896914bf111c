//! Gives every request an id, a tracing span carrying it, and an `x-request-id` response header.
//! The router's middleware and the proxy's direct path (`front`) share these steps.
use std::time::Instant;

use axum::extract::Request;
use axum::http::{HeaderValue, Method};
use axum::middleware::Next;
use axum::response::Response;
use tracing::{Instrument, Span};

pub(crate) const REQUEST_ID_HEADER: &str = "x-request-id";

#[derive(Debug, Clone)]
pub(crate) struct RequestId(pub String);

/// Time-ordered (UUIDv7): the log table's indexes grow at their end instead of splitting pages
/// all over, which keeps batched log inserts several times faster.
pub(crate) fn new_request_id() -> String {
    uuid::Uuid::now_v7().simple().to_string()
}

/// The span a request's work runs in.
pub(crate) fn request_span(id: &str, method: &Method, path: &str) -> Span {
    tracing::info_span!("request", request_id = %id, method = %method, path = %path)
}

/// Logs the outcome in the request's span and stamps the id on the response.
pub(crate) fn finish(span: &Span, started: Instant, id: &str, response: &mut Response) {
    span.in_scope(|| {
        tracing::debug!(
            status = response.status().as_u16(),
            elapsed_ms = started.elapsed().as_millis() as u64,
            "response"
        );
    });
    if let Ok(v) = HeaderValue::from_str(id) {
        response.headers_mut().insert(REQUEST_ID_HEADER, v);
    }
}

pub(crate) async fn assign_request_id(mut request: Request, next: Next) -> Response {
    let id = new_request_id();
    request.extensions_mut().insert(RequestId(id.clone()));
    let span = request_span(&id, request.method(), request.uri().path());
    let started = Instant::now();
    let mut response = next.run(request).instrument(span.clone()).await;
    finish(&span, started, &id, &mut response);
    response
}
