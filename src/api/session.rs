//! Admin sign-in and sign-out for the browser.
use leptos::prelude::*;

use crate::model::session::LoginOutcome;

#[server(prefix = "/api/ui", endpoint = "login")]
pub async fn login(token: String) -> Result<LoginOutcome, ServerFnError> {
    use crate::server::auth::{session, AuthError};
    use axum::http::{header, HeaderValue};

    let state = super::context::app_state()?;
    let parts: axum::http::request::Parts =
        use_context().ok_or_else(|| ServerFnError::new("request missing"))?;
    let ip = super::context::caller_ip(&state, &parts);
    match state.auth.login(ip, token.trim()).await {
        Ok(value) => {
            let secure = super::context::caller_https(&state, &parts);
            let cookie = session::session_cookie(&value, secure);
            let response = expect_context::<leptos_axum::ResponseOptions>();
            response.insert_header(
                header::SET_COOKIE,
                HeaderValue::from_str(&cookie).map_err(|_| ServerFnError::new("cookie"))?,
            );
            Ok(LoginOutcome::SignedIn)
        }
        Err(AuthError::Unauthorized) => Ok(LoginOutcome::InvalidToken),
        Err(AuthError::Throttled { retry_after_secs }) => {
            Ok(LoginOutcome::Throttled { retry_after_secs })
        }
    }
}

/// Signs this browser out: its session is revoked on the server (a copied cookie stops working
/// too) and the cookie is cleared.
#[server(prefix = "/api/ui", endpoint = "logout")]
pub async fn logout() -> Result<(), ServerFnError> {
    use crate::server::auth::session;
    use axum::http::{header, HeaderValue};

    let state = super::context::app_state()?;
    let parts: axum::http::request::Parts =
        use_context().ok_or_else(|| ServerFnError::new("request missing"))?;
    let headers = &parts.headers;
    state.auth.logout(headers).await.map_err(|e| {
        tracing::error!(error = %e, "cannot revoke the admin session");
        ServerFnError::new("cannot sign out; try again")
    })?;
    let response = expect_context::<leptos_axum::ResponseOptions>();
    response.insert_header(
        header::SET_COOKIE,
        HeaderValue::from_str(&session::clear_session_cookie(
            super::context::caller_https(&state, &parts),
        ))
        .map_err(|_| ServerFnError::new("cookie"))?,
    );
    Ok(())
}

/// Signs out every browser, this one included (after a lost laptop, say).
#[server(prefix = "/api/ui", endpoint = "logout-everywhere")]
pub async fn logout_everywhere() -> Result<(), crate::model::errors::UiError> {
    let state = super::context::admin_state().await?;
    state
        .auth
        .logout_everywhere()
        .await
        .map_err(crate::server::error::ApiError::internal)?;
    Ok(())
}
