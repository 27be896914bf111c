//! `GET /metrics`: the Prometheus scrape (`docs/metrics.md`), in the OpenMetrics text format
//! when the scraper accepts it, else the classic one. Open unless `METRICS_TOKEN` is set, then
//! it needs `Authorization: Bearer <token>`; 404 with `METRICS=off`.
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use subtle::ConstantTimeEq;

use crate::server::crypto::sha256;
use crate::server::http::bearer::bearer_token;
use crate::server::metrics::{OPENMETRICS, PROMETHEUS_TEXT};
use crate::server::state::AppState;

fn plain(status: StatusCode, message: &'static str) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        message,
    )
        .into_response()
}

/// Whether the request carries the metrics token. Compared as digests, in constant time, so
/// neither the token's bytes nor its length show in the timing.
fn authorized(expected: &str, headers: &HeaderMap) -> bool {
    bearer_token(headers).is_some_and(|presented| {
        sha256(presented.as_bytes())
            .ct_eq(&sha256(expected.as_bytes()))
            .into()
    })
}

pub(crate) async fn metrics(State(state): State<AppState>, headers: HeaderMap) -> Response {
    if !state.config.metrics {
        return plain(StatusCode::NOT_FOUND, "metrics are off (METRICS=off)\n");
    }
    if let Some(token) = &state.config.metrics_token {
        if !authorized(token.expose(), &headers) {
            let mut denied = plain(
                StatusCode::UNAUTHORIZED,
                "send the metrics token as `Authorization: Bearer <METRICS_TOKEN>`\n",
            );
            denied.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static(r#"Bearer realm="metrics""#),
            );
            return denied;
        }
    }
    // Prometheus asks for OpenMetrics first; anything that does not gets the classic format.
    let openmetrics = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|accept| accept.contains("application/openmetrics-text"));
    let Some(text) = state.plane.render_metrics(openmetrics) else {
        return plain(StatusCode::NOT_FOUND, "metrics are off (METRICS=off)\n");
    };
    let content_type = if openmetrics {
        OPENMETRICS
    } else {
        PROMETHEUS_TEXT
    };
    (
        [
            (header::CONTENT_TYPE, content_type),
            (header::CACHE_CONTROL, "no-store"),
        ],
        text,
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_exact_token_passes() {
        let with = |value: &str| {
            let mut h = HeaderMap::new();
            h.insert(header::AUTHORIZATION, HeaderValue::from_str(value).unwrap());
            h
        };
        let token = "metrics-token-0123456789";
        assert!(authorized(token, &with("Bearer metrics-token-0123456789")));
        assert!(!authorized(token, &with("Bearer metrics-token-012345678")));
        assert!(!authorized(token, &with("Basic metrics-token-0123456789")));
        assert!(!authorized(token, &HeaderMap::new()));
    }
}
