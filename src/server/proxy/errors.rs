//! Proxy errors, answered in the calling provider's own format so SDKs raise the right exception.
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::key_auth::KeyRejection;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorFormat {
    OpenAi,
    Anthropic,
}

impl ErrorFormat {
    /// Anthropic SDKs call `/v1/messages…`; everything else speaks OpenAI's dialect.
    pub fn for_path(path: &str) -> Self {
        if path.trim_start_matches('/').starts_with("messages") {
            ErrorFormat::Anthropic
        } else {
            ErrorFormat::OpenAi
        }
    }
}

#[derive(Debug, Clone, thiserror::Error)]
pub enum ProxyError {
    #[error("{0}")]
    Auth(KeyRejection),
    #[error("{0}")]
    BadRequest(String),
    #[error("request body is larger than the {0}-byte limit")]
    TooLarge(usize),
    #[error("The model `{0}` does not exist or you do not have access to it.")]
    ModelNotFound(String),
    #[error("upstream did not answer in time")]
    UpstreamTimeout,
    #[error("upstream request failed: {0}")]
    UpstreamFailed(String),
    #[error("no upstream is available for this request")]
    NoUpstream,
}

impl ProxyError {
    pub fn status(&self) -> StatusCode {
        match self {
            ProxyError::Auth(_) => StatusCode::UNAUTHORIZED,
            ProxyError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ProxyError::TooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            ProxyError::ModelNotFound(_) => StatusCode::NOT_FOUND,
            ProxyError::UpstreamTimeout => StatusCode::GATEWAY_TIMEOUT,
            ProxyError::UpstreamFailed(_) => StatusCode::BAD_GATEWAY,
            ProxyError::NoUpstream => StatusCode::SERVICE_UNAVAILABLE,
        }
    }

    fn openai_kind(&self) -> (&'static str, Option<&'static str>) {
        match self {
            ProxyError::Auth(_) => ("invalid_request_error", Some("invalid_api_key")),
            ProxyError::BadRequest(_) => ("invalid_request_error", None),
            ProxyError::TooLarge(_) => ("invalid_request_error", Some("request_too_large")),
            ProxyError::ModelNotFound(_) => ("invalid_request_error", Some("model_not_found")),
            ProxyError::UpstreamTimeout => ("server_error", Some("upstream_timeout")),
            ProxyError::UpstreamFailed(_) => ("server_error", Some("upstream_error")),
            ProxyError::NoUpstream => ("server_error", Some("no_available_upstream")),
        }
    }

    fn anthropic_kind(&self) -> &'static str {
        match self {
            ProxyError::Auth(_) => "authentication_error",
            ProxyError::BadRequest(_) => "invalid_request_error",
            ProxyError::TooLarge(_) => "request_too_large",
            ProxyError::ModelNotFound(_) => "not_found_error",
            ProxyError::UpstreamTimeout | ProxyError::UpstreamFailed(_) => "api_error",
            ProxyError::NoUpstream => "overloaded_error",
        }
    }

    pub fn into_response_for(self, format: ErrorFormat) -> Response {
        let status = self.status();
        let message = self.to_string();
        let body = match format {
            ErrorFormat::OpenAi => {
                let (kind, code) = self.openai_kind();
                json!({ "error": { "message": message, "type": kind, "param": null, "code": code } })
            }
            ErrorFormat::Anthropic => {
                json!({ "type": "error", "error": { "type": self.anthropic_kind(), "message": message } })
            }
        };
        let mut response = (status, axum::Json(body)).into_response();
        if status == StatusCode::SERVICE_UNAVAILABLE {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("5"));
        }
        response
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
}
