//! Proxy errors, answered in the calling provider's own format so SDKs raise the right exception.
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::key_auth::KeyRejection;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ErrorFormat {
    OpenAi,
    Anthropic,
    /// Google's `{"error":{"code","message","status"}}` (the Gemini API's paths).
    Google,
}

impl ErrorFormat {
    /// Anthropic SDKs call `/v1/messages…`; everything else speaks OpenAI's dialect.
    pub(crate) fn for_path(path: &str) -> Self {
        if path.trim_start_matches('/').starts_with("messages") {
            ErrorFormat::Anthropic
        } else {
            ErrorFormat::OpenAi
        }
    }
}

#[derive(Debug, Clone, thiserror::Error)]
pub(crate) enum ProxyError {
    /// One answer for every key that does not pass, so that no caller learns whether a key it
    /// does not hold exists, is disabled or has expired (the reason goes to the debug log).
    #[error("{}", public_rejection(*.0))]
    Auth(KeyRejection),
    #[error("{0}")]
    BadRequest(String),
    #[error("request body is larger than the {0}-byte limit")]
    TooLarge(usize),
    #[error("The model `{0}` does not exist or you do not have access to it.")]
    ModelNotFound(String),
    /// Some upstream serves the model, but none the key may use speaks the path's API format.
    #[error("No upstream serves the model `{model}` over the {format} API.")]
    FormatNotServed { format: &'static str, model: String },
    /// A stored response this key did not create through the gateway (or one it forgot).
    #[error("No response with id '{0}' was found.")]
    ResponseNotFound(String),
    /// A path the gateway does not forward (see `endpoints`); the path is cut short.
    #[error("Invalid URL ({0})")]
    UnknownEndpoint(String),
    #[error("upstream did not answer in time")]
    UpstreamTimeout,
    /// Every attempt failed. What failed (addresses, DNS, TLS, the gateway's policy) goes to the
    /// request's log row, never to the client.
    #[error("upstream unavailable")]
    UpstreamUnavailable,
    #[error("no upstream is available for this request")]
    NoUpstream,
    /// A key's rate, token or concurrency limit (`what` names it, with its value).
    #[error("Rate limit reached for this API key: {what}. Retry after {} s.", secs(*.retry_after_ms))]
    RateLimited {
        what: String,
        tokens: bool,
        retry_after_ms: u64,
    },
    /// A key's daily or monthly budget is spent.
    #[error("This API key has spent its {period} budget; it resets in {} s.", secs(*.retry_after_ms))]
    BudgetSpent {
        period: &'static str,
        retry_after_ms: u64,
    },
    /// Every upstream that serves the model is at its own cap (concurrency, rate or quota).
    #[error("every upstream for this model is at its limit; retry after {} s", secs(*.retry_after_ms))]
    UpstreamsAtLimit { retry_after_ms: u64 },
}

/// Whole seconds, rounded up, at least 1 (what `Retry-After` carries).
pub(crate) fn secs(ms: u64) -> u64 {
    ms.div_ceil(1000).max(1)
}

fn public_rejection(reason: KeyRejection) -> KeyRejection {
    match reason {
        KeyRejection::Missing => KeyRejection::Missing,
        _ => KeyRejection::Invalid,
    }
}

impl ProxyError {
    /// The refusal of a path outside the endpoint table, naming at most 200 bytes of it.
    pub(crate) fn unknown_endpoint(method: &axum::http::Method, raw_path: &str) -> Self {
        let path = crate::server::text::cut_owned(raw_path, 200);
        Self::UnknownEndpoint(format!("{method} /v1/{path}"))
    }

    pub(crate) fn status(&self) -> StatusCode {
        match self {
            ProxyError::Auth(_) => StatusCode::UNAUTHORIZED,
            ProxyError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ProxyError::TooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            ProxyError::ModelNotFound(_)
            | ProxyError::FormatNotServed { .. }
            | ProxyError::ResponseNotFound(_)
            | ProxyError::UnknownEndpoint(_) => StatusCode::NOT_FOUND,
            ProxyError::UpstreamTimeout => StatusCode::GATEWAY_TIMEOUT,
            ProxyError::UpstreamUnavailable => StatusCode::BAD_GATEWAY,
            ProxyError::NoUpstream => StatusCode::SERVICE_UNAVAILABLE,
            ProxyError::RateLimited { .. }
            | ProxyError::BudgetSpent { .. }
            | ProxyError::UpstreamsAtLimit { .. } => StatusCode::TOO_MANY_REQUESTS,
        }
    }

    /// How long a refused caller should wait, for `Retry-After`.
    pub(crate) fn retry_after_ms(&self) -> Option<u64> {
        match self {
            ProxyError::RateLimited { retry_after_ms, .. }
            | ProxyError::BudgetSpent { retry_after_ms, .. }
            | ProxyError::UpstreamsAtLimit { retry_after_ms } => Some(*retry_after_ms),
            ProxyError::NoUpstream => Some(5_000),
            _ => None,
        }
    }

    fn openai_kind(&self) -> (&'static str, Option<&'static str>) {
        match self {
            ProxyError::Auth(_) => ("invalid_request_error", Some("invalid_api_key")),
            ProxyError::BadRequest(_) => ("invalid_request_error", None),
            ProxyError::TooLarge(_) => ("invalid_request_error", Some("request_too_large")),
            ProxyError::ModelNotFound(_) | ProxyError::FormatNotServed { .. } => {
                ("invalid_request_error", Some("model_not_found"))
            }
            ProxyError::ResponseNotFound(_) => ("invalid_request_error", None),
            ProxyError::UnknownEndpoint(_) => ("invalid_request_error", Some("unknown_url")),
            ProxyError::UpstreamTimeout => ("server_error", Some("upstream_timeout")),
            ProxyError::UpstreamUnavailable => ("server_error", Some("upstream_error")),
            ProxyError::NoUpstream => ("server_error", Some("no_available_upstream")),
            ProxyError::RateLimited { tokens: false, .. } => {
                ("requests", Some("rate_limit_exceeded"))
            }
            ProxyError::RateLimited { tokens: true, .. } => ("tokens", Some("rate_limit_exceeded")),
            ProxyError::BudgetSpent { .. } => ("insufficient_quota", Some("insufficient_quota")),
            ProxyError::UpstreamsAtLimit { .. } => ("requests", Some("rate_limit_exceeded")),
        }
    }

    fn anthropic_kind(&self) -> &'static str {
        match self {
            ProxyError::Auth(_) => "authentication_error",
            ProxyError::BadRequest(_) => "invalid_request_error",
            ProxyError::TooLarge(_) => "request_too_large",
            ProxyError::ModelNotFound(_)
            | ProxyError::FormatNotServed { .. }
            | ProxyError::ResponseNotFound(_)
            | ProxyError::UnknownEndpoint(_) => "not_found_error",
            ProxyError::UpstreamTimeout | ProxyError::UpstreamUnavailable => "api_error",
            ProxyError::NoUpstream => "overloaded_error",
            ProxyError::RateLimited { .. }
            | ProxyError::BudgetSpent { .. }
            | ProxyError::UpstreamsAtLimit { .. } => "rate_limit_error",
        }
    }

    /// The status in the caller's format: Google answers a missing key 403 PERMISSION_DENIED
    /// (and a wrong one 401 UNAUTHENTICATED); the others 401 for both.
    pub(crate) fn status_for(&self, format: ErrorFormat) -> StatusCode {
        match (format, self) {
            (ErrorFormat::Google, ProxyError::Auth(KeyRejection::Missing)) => StatusCode::FORBIDDEN,
            _ => self.status(),
        }
    }

    pub(crate) fn into_response_for(self, format: ErrorFormat) -> Response {
        let status = self.status_for(format);
        let message = match (format, &self) {
            (ErrorFormat::Google, ProxyError::Auth(KeyRejection::Missing)) => {
                "missing API key: send it as `x-goog-api-key: <key>`".to_string()
            }
            _ => self.to_string(),
        };
        let body = match format {
            ErrorFormat::OpenAi => {
                let (kind, code) = self.openai_kind();
                json!({ "error": { "message": message, "type": kind, "param": null, "code": code } })
            }
            ErrorFormat::Anthropic => {
                json!({ "type": "error", "error": { "type": self.anthropic_kind(), "message": message } })
            }
            ErrorFormat::Google => {
                json!({ "error": { "code": status.as_u16(), "message": message, "status": google_status(status) } })
            }
        };
        let retry_after = self.retry_after_ms();
        let mut response = (status, axum::Json(body)).into_response();
        if let Some(ms) = retry_after {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs(ms)));
        }
        response
    }
}

/// Google's canonical status name for an HTTP status, as its APIs pair them.
pub(crate) fn google_status(status: StatusCode) -> &'static str {
    match status.as_u16() {
        400 | 413 => "INVALID_ARGUMENT",
        401 => "UNAUTHENTICATED",
        403 => "PERMISSION_DENIED",
        404 => "NOT_FOUND",
        409 => "ABORTED",
        429 => "RESOURCE_EXHAUSTED",
        499 => "CANCELLED",
        501 => "UNIMPLEMENTED",
        502 | 503 => "UNAVAILABLE",
        504 => "DEADLINE_EXCEEDED",
        s if s >= 500 => "INTERNAL",
        _ => "FAILED_PRECONDITION",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn errors_speak_the_callers_dialect() {
        let r = ProxyError::ModelNotFound("gpt-9".into()).into_response_for(ErrorFormat::OpenAi);
        assert_eq!(r.status(), 404);
        let body: serde_json::Value =
            serde_json::from_slice(&axum::body::to_bytes(r.into_body(), 10_000).await.unwrap())
                .unwrap();
        assert_eq!(body["error"]["code"], "model_not_found");
        assert!(body["error"]["message"].as_str().unwrap().contains("gpt-9"));

        let r = ProxyError::Auth(KeyRejection::Invalid).into_response_for(ErrorFormat::Anthropic);
        assert_eq!(r.status(), 401);
        let body: serde_json::Value =
            serde_json::from_slice(&axum::body::to_bytes(r.into_body(), 10_000).await.unwrap())
                .unwrap();
        assert_eq!(body["type"], "error");
        assert_eq!(body["error"]["type"], "authentication_error");
        assert_eq!(ErrorFormat::for_path("messages"), ErrorFormat::Anthropic);
        assert_eq!(
            ErrorFormat::for_path("chat/completions"),
            ErrorFormat::OpenAi
        );
    }

    async fn body_of(r: Response) -> serde_json::Value {
        serde_json::from_slice(&axum::body::to_bytes(r.into_body(), 10_000).await.unwrap()).unwrap()
    }

    #[tokio::test]
    async fn google_errors_carry_code_message_and_status() {
        for (error, code, status) in [
            (
                ProxyError::ModelNotFound("gemini-9".into()),
                404,
                "NOT_FOUND",
            ),
            (ProxyError::BadRequest("no".into()), 400, "INVALID_ARGUMENT"),
            (
                ProxyError::Auth(KeyRejection::Missing),
                403,
                "PERMISSION_DENIED",
            ),
            (
                ProxyError::Auth(KeyRejection::Expired),
                401,
                "UNAUTHENTICATED",
            ),
            (
                ProxyError::UpstreamsAtLimit { retry_after_ms: 10 },
                429,
                "RESOURCE_EXHAUSTED",
            ),
            (ProxyError::UpstreamUnavailable, 502, "UNAVAILABLE"),
            (ProxyError::NoUpstream, 503, "UNAVAILABLE"),
            (ProxyError::UpstreamTimeout, 504, "DEADLINE_EXCEEDED"),
        ] {
            let r = error.into_response_for(ErrorFormat::Google);
            assert_eq!(r.status(), code);
            let body = body_of(r).await;
            assert_eq!(body["error"]["code"], code, "{body}");
            assert_eq!(body["error"]["status"], status, "{body}");
            assert!(body["error"]["message"]
                .as_str()
                .is_some_and(|m| !m.is_empty()));
            assert_eq!(body.as_object().unwrap().len(), 1);
        }
    }

    #[tokio::test]
    async fn limits_refuse_with_429_the_sdks_know_and_a_retry_after() {
        let limited = ProxyError::RateLimited {
            what: "10 requests per minute".into(),
            tokens: false,
            retry_after_ms: 1_200,
        };
        let r = limited.clone().into_response_for(ErrorFormat::OpenAi);
        assert_eq!(r.status(), 429);
        assert_eq!(r.headers()["retry-after"], "2");
        let body = body_of(r).await;
        assert_eq!(body["error"]["code"], "rate_limit_exceeded");
        assert_eq!(body["error"]["type"], "requests");
        let body = body_of(limited.into_response_for(ErrorFormat::Anthropic)).await;
        assert_eq!(body["error"]["type"], "rate_limit_error");

        let spent = ProxyError::BudgetSpent {
            period: "daily",
            retry_after_ms: 3_600_000,
        };
        let r = spent.into_response_for(ErrorFormat::OpenAi);
        assert_eq!(r.status(), 429);
        assert_eq!(r.headers()["retry-after"], "3600");
        let body = body_of(r).await;
        assert_eq!(body["error"]["code"], "insufficient_quota");
        assert_eq!(body["error"]["type"], "insufficient_quota");
    }
}
