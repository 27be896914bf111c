//! Guards: admin APIs answer 401 JSON, dashboard pages redirect to the login page.
use std::net::SocketAddr;

use axum::extract::{ConnectInfo, Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::model::locale::{locale_from_segment, DEFAULT_LOCALE};
use crate::server::error::ApiError;
use crate::server::state::AppState;

/// Server functions callable without a session (the login screen needs them).
const PUBLIC_UI_FUNCTIONS: &[&str] = &["/api/ui/login", "/api/ui/logout"];

pub fn peer_ip(request: &Request) -> std::net::IpAddr {
    request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(addr)| addr.ip())
        .unwrap_or(std::net::IpAddr::from([127, 0, 0, 1]))
}

/// For `/api/admin/*` and the UI's server functions.
pub async fn require_admin(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Response {
    let path = request.uri().path();
    if PUBLIC_UI_FUNCTIONS.contains(&path) {
        return next.run(request).await;
    }
    match state.auth.authorize(peer_ip(&request), request.headers()) {
        Ok(()) => next.run(request).await,
        Err(e) => ApiError::from(e).into_response(),
    }
}

fn redirect(to: &str) -> Response {
    let mut r = StatusCode::FOUND.into_response();
    if let Ok(v) = HeaderValue::from_str(to) {
        r.headers_mut().insert(header::LOCATION, v);
    }
    r.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}

/// What the browser reaches, guarded in one layer on the whole router:
/// - every server function under `/api/ui/` needs an admin session or token. This cannot be a
///   layer on a nested router: leptos_axum registers each function's own route, which such a
///   layer would never see;
/// - dashboard pages need a session, and the login page sends a signed-in admin to the dashboard.
pub async fn guard_browser(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Response {
    if request.uri().path().starts_with("/api/ui/") {
        return require_admin(State(state), request, next).await;
    }
    let mut segments = request.uri().path().trim_start_matches('/').splitn(2, '/');
    let first = segments.next().unwrap_or("");
    let on_login = segments.next().unwrap_or("").trim_end_matches('/') == "login";
    let Some(locale) = locale_from_segment(first) else {
        return next.run(request).await;
    };
    let signed_in = state.auth.session_valid(request.headers());
    match (on_login, signed_in) {
        (true, true) => redirect(&format!("/{locale}")),
        (false, false) => redirect(&format!("/{locale}/login")),
        _ => next.run(request).await,
    }
}

/// `/` goes to the locale from the cookie, else from Accept-Language, else English.
pub async fn root_redirect(request: Request) -> Response {
    let headers = request.headers();
    let from_cookie = headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|h| {
            crate::server::auth::session::cookie_value(h, crate::model::locale::LOCALE_COOKIE)
        })
        .and_then(locale_from_segment);
    let from_header = || {
        headers
            .get(header::ACCEPT_LANGUAGE)
            .and_then(|v| v.to_str().ok())
            .and_then(crate::model::locale::locale_from_accept_language)
    };
    let locale = from_cookie.or_else(from_header).unwrap_or(DEFAULT_LOCALE);
    redirect(&format!("/{locale}"))
}
