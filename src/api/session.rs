//! Admin sign-in and sign-out for the browser.
use leptos::prelude::*;

use crate::model::session::LoginOutcome;

#[server(prefix = "/api/ui", endpoint = "login")]
pub async fn login(token: String) -> Result<LoginOutcome, ServerFnError> {
    use crate::server::auth::{session, AuthError};
    use axum::extract::ConnectInfo;
    use axum::http::{header, HeaderMap, HeaderValue};
    use std::net::SocketAddr;

    let state = super::context::app_state()?;
    let headers: HeaderMap = leptos_axum::extract().await?;
    let ip = leptos_axum::extract::<ConnectInfo<SocketAddr>>()
        .await
        .map(|ConnectInfo(a)| a.ip())
        .unwrap_or(std::net::IpAddr::from([127, 0, 0, 1]));
    match state.auth.login(ip, token.trim()) {
        Ok(value) => {
            let cookie = session::session_cookie(&value, session::request_is_https(&headers));
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

#[server(prefix = "/api/ui", endpoint = "logout")]
pub async fn logout() -> Result<(), ServerFnError> {
    use crate::server::auth::session;
    use axum::http::{header, HeaderMap, HeaderValue};

    let headers: HeaderMap = leptos_axum::extract().await?;
    let response = expect_context::<leptos_axum::ResponseOptions>();
    response.insert_header(
        header::SET_COOKIE,
        HeaderValue::from_str(&session::clear_session_cookie(session::request_is_https(
            &headers,
        )))
        .map_err(|_| ServerFnError::new("cookie"))?,
    );
    Ok(())
}
