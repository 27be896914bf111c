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
    let ip = caller_ip(&state, &parts);
    state
        .auth
        .authorize(ip, &parts.headers)
        .await
        .map_err(ApiError::from)?;
    Ok(state)
}

/// The caller's address, as the admin throttle judges it (see `http::client_ip`).
pub fn caller_ip(state: &AppState, parts: &axum::http::request::Parts) -> std::net::IpAddr {
    use crate::server::http::client_ip;
    client_ip::client_ip(
        client_ip::peer_of(&parts.extensions),
        &parts.headers,
        &state.config.trusted_proxies,
    )
}

/// Whether the caller came over HTTPS through a trusted proxy (the session cookie is `Secure`).
pub fn caller_https(state: &AppState, parts: &axum::http::request::Parts) -> bool {
    use crate::server::http::client_ip;
    client_ip::forwarded_https(
        client_ip::peer_of(&parts.extensions),
        &parts.headers,
        &state.config.trusted_proxies,
    )
}

/// The app state, for the sign-in functions (their failures are not service errors).
pub fn app_state() -> Result<AppState, ServerFnError> {
    use_context::<AppState>().ok_or_else(|| ServerFnError::new("server state missing"))
}
