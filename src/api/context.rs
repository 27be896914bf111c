//! What every server function needs on the server: the app state. Service errors become the
//! page's `UiError` through `From<ApiError>` (the same type and message the REST API gives).
use leptos::prelude::*;

use crate::model::errors::UiError;
use crate::server::state::AppState;

/// The app state, for functions that answer with a `UiError`.
pub fn state() -> Result<AppState, UiError> {
    use_context::<AppState>().ok_or_else(|| UiError::new("internal_error", "server state missing"))
}

/// The app state, for the sign-in functions (their failures are not service errors).
pub fn app_state() -> Result<AppState, ServerFnError> {
    use_context::<AppState>().ok_or_else(|| ServerFnError::new("server state missing"))
}
