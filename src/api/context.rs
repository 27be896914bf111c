//! What every server function needs on the server: the app state, and service errors turned
//! into the server-function error the page shows (the same message the REST API gives).
use leptos::prelude::*;

use crate::model::errors::UiError;
use crate::server::error::ApiError;
use crate::server::state::AppState;

pub fn app_state() -> Result<AppState, ServerFnError> {
    use_context::<AppState>().ok_or_else(|| ServerFnError::new("server state missing"))
}

pub fn failed(e: ApiError) -> ServerFnError {
    ServerFnError::new(e.to_string())
}

/// The app state, for server functions that answer with a `UiError`.
pub fn state() -> Result<AppState, UiError> {
    use_context::<AppState>().ok_or_else(|| UiError::new("internal_error", "server state missing"))
}
