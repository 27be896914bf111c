//! Errors as the UI receives them from server functions: the REST API's `type` and English
//! message, plus the field and a stable reason code the page turns into a localized message.
use leptos::server_fn::codec::JsonEncoding;
use leptos::server_fn::error::{FromServerFnError, ServerFnErrorErr};
use serde::{Deserialize, Serialize};

crate::wire_enum! {
    /// The REST API's error `type`.
    pub enum ErrorType {
        InvalidRequest = "invalid_request",
        Unauthorized = "unauthorized",
        Forbidden = "forbidden",
        NotFound = "not_found",
        Conflict = "conflict",
        MethodNotAllowed = "method_not_allowed",
        RateLimited = "rate_limited",
        InternalError = "internal_error",
    }
}

/// What was wrong with one input field. `reason` is a stable code (`required`, `too_long`,
/// `out_of_range`, `taken`, `url_invalid`, `ssrf_blocked`, `redirect_cycle`, ...); `arg` is the
/// one value a message about it needs (a limit, an address, a cycle).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldProblem {
    pub field: String,
    pub reason: String,
    pub arg: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, thiserror::Error)]
#[error("{message}")]
pub struct UiError {
    /// The REST API's error `type` (`invalid_request`, `not_found`, `forbidden`, ...), or
    /// `network` when the server could not be reached.
    pub kind: String,
    /// The server's English message; the page shows it only when it has no translation.
    pub message: String,
    pub field: Option<FieldProblem>,
}

impl UiError {
    pub fn new(kind: &str, message: impl Into<String>) -> Self {
        Self {
            kind: kind.into(),
            message: message.into(),
            field: None,
        }
    }

    /// The problem with `field`, if this error is about it.
    pub fn about(&self, field: &str) -> Option<&FieldProblem> {
        self.field.as_ref().filter(|p| p.field == field)
    }
}

impl FromServerFnError for UiError {
    type Encoder = JsonEncoding;

    fn from_server_fn_error(value: ServerFnErrorErr) -> Self {
        let kind = match value {
            ServerFnErrorErr::Request(_) => "network",
            _ => "internal_error",
        };
        Self::new(kind, value.to_string())
    }
}
