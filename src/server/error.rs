//! The admin/API error type and its one mapping to status + `{"error": {"message", "type"}}`.
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Serialize;

use super::auth::AuthError;
use crate::model::errors::{ErrorType, FieldProblem, UiError};

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

/// Every admin error. `message` starts with the offending field's name for validation errors
/// (e.g. `weight: must be between 1 and 100`); such errors also name the field in `param` and the
/// reason in `code`.
#[derive(Serialize, utoipa::ToSchema)]
#[schema(as = Error)]
pub(crate) struct ErrorBody {
    #[schema(inline)]
    error: ErrorDetail,
}

// Fields in the order the body always had them (alphabetical).
#[derive(Serialize, utoipa::ToSchema)]
struct ErrorDetail {
    /// Why the field was refused: `required`, `too_long`, `out_of_range`, `taken`, `invalid`,
    /// `past`, `url_invalid`, `url_scheme`, `url_credentials`, `url_resolve`, `ssrf_blocked`,
    /// `redirect_cycle`, `redirect_self` or `too_precise` (a price with over 6 decimals).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    code: Option<String>,
    message: String,
    /// The field at fault, for validation and name conflicts (e.g. `base_url`).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    param: Option<String>,
    #[serde(rename = "type")]
    kind: ErrorType,
}

impl ApiError {
    pub(crate) fn internal(e: impl std::error::Error + Send + Sync + 'static) -> Self {
        Self::Internal(Box::new(e))
    }

    fn status_and_type(&self) -> (StatusCode, ErrorType) {
        match self {
            ApiError::Unauthorized => (StatusCode::UNAUTHORIZED, ErrorType::Unauthorized),
            ApiError::Throttled(_) => (StatusCode::TOO_MANY_REQUESTS, ErrorType::RateLimited),
            ApiError::Forbidden(_) => (StatusCode::FORBIDDEN, ErrorType::Forbidden),
            ApiError::NotFound(_) => (StatusCode::NOT_FOUND, ErrorType::NotFound),
            ApiError::Invalid(_) => (StatusCode::BAD_REQUEST, ErrorType::InvalidRequest),
            ApiError::Conflict(_) => (StatusCode::CONFLICT, ErrorType::Conflict),
            ApiError::Field { problem, .. } if problem.reason == "taken" => {
                (StatusCode::CONFLICT, ErrorType::Conflict)
            }
            ApiError::Field { .. } => (StatusCode::BAD_REQUEST, ErrorType::InvalidRequest),
            ApiError::Internal(_) => (StatusCode::INTERNAL_SERVER_ERROR, ErrorType::InternalError),
            ApiError::MethodNotAllowed => {
                (StatusCode::METHOD_NOT_ALLOWED, ErrorType::MethodNotAllowed)
            }
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
            kind: kind.as_str().into(),
            message: e.to_string(),
            field,
        }
    }
}

fn set_server_fn_status(status: StatusCode) {
    use leptos::prelude::use_context;
    let called_by_browser = use_context::<axum::http::request::Parts>().is_some_and(|parts| {
        parts
            .uri
            .path()
            .starts_with(crate::model::session::UI_PREFIX)
    });
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
        let (param, code) = match &self {
            ApiError::Field { problem, .. } => {
                (Some(problem.field.clone()), Some(problem.reason.clone()))
            }
            _ => (None, None),
        };
        let body = ErrorBody {
            error: ErrorDetail {
                code,
                message: self.to_string(),
                param,
                kind,
            },
        };
        let mut response = (status, Json(body)).into_response();
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
