//! The admin/API error type and its one mapping to status + `{"error": {"message", "type"}}`.
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;

use super::auth::AuthError;
use crate::model::errors::{FieldProblem, UiError};

#[derive(Debug, thiserror::Error)]
pub(crate) enum ApiError {
    #[error("authentication required: send a valid admin session or `Authorization: Bearer <ADMIN_TOKEN>`")]
    Unauthorized,
    #[error("too many failed attempts; retry in {0} seconds")]
    Throttled(u64),
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Invalid(String),
    #[error("{0}")]
    Conflict(String),
    /// A field's value is wrong (400), or taken by another record (409, reason `taken`).
    #[error("{}: {detail}", .problem.field)]
    Field {
        problem: FieldProblem,
        detail: String,
    },
    #[error("internal error")]
    Internal(#[source] Box<dyn std::error::Error + Send + Sync>),
    #[error("method not allowed on this path")]
    MethodNotAllowed,
}

impl ApiError {
    pub(crate) fn internal(e: impl std::error::Error + Send + Sync + 'static) -> Self {
        Self::Internal(Box::new(e))
    }

    fn status_and_type(&self) -> (StatusCode, &'static str) {
        match self {
            ApiError::Unauthorized => (StatusCode::UNAUTHORIZED, "unauthorized"),
            ApiError::Throttled(_) => (StatusCode::TOO_MANY_REQUESTS, "rate_limited"),
            ApiError::Forbidden(_) => (StatusCode::FORBIDDEN, "forbidden"),
            ApiError::NotFound(_) => (StatusCode::NOT_FOUND, "not_found"),
            ApiError::Invalid(_) => (StatusCode::BAD_REQUEST, "invalid_request"),
            ApiError::Conflict(_) => (StatusCode::CONFLICT, "conflict"),
            ApiError::Field { problem, .. } if problem.reason == "taken" => {
                (StatusCode::CONFLICT, "conflict")
            }
            ApiError::Field { .. } => (StatusCode::BAD_REQUEST, "invalid_request"),
            ApiError::Internal(_) => (StatusCode::INTERNAL_SERVER_ERROR, "internal_error"),
            ApiError::MethodNotAllowed => (StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed"),
        }
    }
}

/// The same error for a server function: the REST type and message, and the field problem.
/// Called by the browser, the function answers with the REST API's status too (a refused input
/// is a 400, not a server error); called while a page renders, it leaves the page's status alone.
impl From<ApiError> for UiError {
    fn from(e: ApiError) -> Self {
        let (status, kind) = e.status_and_type();
        set_server_fn_status(status);
        if let ApiError::Internal(source) = &e {
            tracing::error!(error = %source, "internal error");
        }
        let field = match &e {
            ApiError::Field { problem, .. } => Some(problem.clone()),
            _ => None,
        };
        UiError {
            kind: kind.into(),
            message: e.to_string(),
            field,
        }
    }
}

fn set_server_fn_status(status: StatusCode) {
    use leptos::prelude::use_context;
    let called_by_browser = use_context::<axum::http::request::Parts>()
        .is_some_and(|parts| parts.uri.path().starts_with(crate::api::UI_PREFIX));
    if called_by_browser {
        if let Some(response) = use_context::<leptos_axum::ResponseOptions>() {
            response.set_status(status);
        }
    }
}

impl From<AuthError> for ApiError {
    fn from(e: AuthError) -> Self {
        match e {
            AuthError::Unauthorized => ApiError::Unauthorized,
            AuthError::Throttled { retry_after_secs } => ApiError::Throttled(retry_after_secs),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, kind) = self.status_and_type();
        if let ApiError::Internal(source) = &self {
            // The source may name internals; it goes to the log, never to the client.
            tracing::error!(error = %source, "internal error");
        }
        let mut body = json!({ "message": self.to_string(), "type": kind });
        if let ApiError::Field { problem, .. } = &self {
            // As OpenAI's errors name them: the offending parameter and a stable code.
            body["param"] = json!(problem.field);
            body["code"] = json!(problem.reason);
        }
        let mut response = (status, Json(json!({ "error": body }))).into_response();
        if let ApiError::Throttled(secs) = self {
            if let Ok(v) = HeaderValue::from_str(&secs.to_string()) {
                response.headers_mut().insert(header::RETRY_AFTER, v);
            }
        }
        if status == StatusCode::UNAUTHORIZED {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        response
    }
}
