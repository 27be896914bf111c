//! What every server function needs on the server: the app state, and for an admin call the
//! proof that the caller is the admin. Service errors become the page's `UiError` through
//! `From<ApiError>` (the same type and message the REST API gives).
use leptos::prelude::*;

use crate::model::errors::UiError;
use crate::server::error::ApiError;
use crate::server::state::AppState;

/// The app state for an admin's call, after checking that the request carries an admin session
/// or the admin Bearer token. Every admin function starts here, so the check holds however the
/// function is reached: from the browser, by a page rendering on the server (where the call is a
/// plain function call and no HTTP guard sees it), or by a path the guards spell differently.
pub async fn admin_state() -> Result<AppState, UiError> {
    let state = use_context::<AppState>()
        .ok_or_else(|| UiError::new("internal_error", "server state missing"))?;
    let parts = use_context::<axum::http::request::Parts>().ok_or(ApiError::Unauthorized)?;
    let ip = crate::server::auth::middleware::peer_ip_of(&parts.extensions);
    state
        .auth
        .authorize(ip, &parts.headers)
        .await
        .map_err(ApiError::from)?;
    Ok(state)
}

/// The app state, for the sign-in functions (their failures are not service errors).
pub fn app_state() -> Result<AppState, ServerFnError> {
    use_context::<AppState>().ok_or_else(|| ServerFnError::new("server state missing"))
}
