//! The router's guards: admin APIs answer 401 JSON, dashboard pages redirect to the login page.
use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::model::locale::{locale_from_segment, DEFAULT_LOCALE};
use crate::server::error::ApiError;
use crate::server::state::AppState;

/// Server functions callable without a session (the login screen needs them).
const PUBLIC_UI_FUNCTIONS: &[&str] = &["/api/ui/login", "/api/ui/logout"];

/// The client's address as the admin throttle judges it (see `http::client_ip`).
pub(crate) fn client_ip(state: &AppState, request: &Request) -> std::net::IpAddr {
    use crate::server::http::client_ip;
    client_ip::client_ip(
        client_ip::peer_of(request.extensions()),
        request.headers(),
        &state.config.trusted_proxies,
    )
}

/// For `/api/admin/*` and the UI's server functions: an admin session or the admin token. No
/// path is exempt here: under `/api/admin` this layer sees the path with that prefix stripped,
/// so an exemption by path would also open `/api/admin/api/ui/login`.
pub(crate) async fn require_admin(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Response {
    match state
        .auth
        .authorize(client_ip(&state, &request), request.headers())
        .await
    {
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
/// - every server function under `/api/ui/` needs an admin session or token, except the exact
///   paths of sign-in and sign-out. This cannot be a layer on a nested router: leptos_axum
///   registers each function's own route, which such a layer would never see. (Each admin
///   function checks the caller again itself: see `api::context::admin_state`.)
/// - pages are judged on the decoded path, as the router decodes the locale parameter: any page
///   under a locale needs a session except its login page, which sends a signed-in admin on to
///   the dashboard.
pub(crate) async fn guard_browser(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Response {
    let path = request.uri().path();
    if path.starts_with(crate::model::session::UI_PREFIX) {
        if !same_origin_or_safe(&request) {
            return ApiError::Forbidden(
                "cross-site request refused: the dashboard's calls must come from its own pages"
                    .into(),
            )
            .into_response();
        }
        if PUBLIC_UI_FUNCTIONS.contains(&path) {
            return next.run(request).await;
        }
        return require_admin(State(state), request, next).await;
    }
    let Some(page) = LocalePage::of(path) else {
        return next.run(request).await;
    };
    let signed_in = state.auth.session_valid(request.headers()).await;
    match (page.is_login, signed_in) {
        (true, true) => redirect(&format!("/{}", page.locale)),
        (false, false) => redirect(&format!("/{}/login", page.locale)),
        _ => next.run(request).await,
    }
}

/// CSRF: a browser attaches the session cookie to a request another site's page makes, so a
/// state-changing call must show it comes from our own pages: `Sec-Fetch-Site: same-origin`, or
/// an `Origin` naming this host. A call with the admin token in `Authorization` is no browser's
/// doing (a browser never adds that header by itself) and needs neither.
fn same_origin_or_safe(request: &Request) -> bool {
    use axum::http::Method;
    if matches!(
        *request.method(),
        Method::GET | Method::HEAD | Method::OPTIONS
    ) {
        return true;
    }
    let headers = request.headers();
    if headers.contains_key(header::AUTHORIZATION) {
        return true;
    }
    let text = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    if let Some(site) = text("sec-fetch-site") {
        return site == "same-origin";
    }
    let (Some(origin), Some(host)) = (text("origin"), text("host")) else {
        return false;
    };
    origin.split_once("://").is_some_and(|(scheme, authority)| {
        matches!(scheme, "http" | "https") && authority.eq_ignore_ascii_case(host)
    })
}

/// A path under a locale, read as the router reads it: percent-decoded, and with empty segments
/// (doubled or trailing slashes) and letter case not changing which locale it is under.
#[derive(Debug, PartialEq, Eq)]
struct LocalePage {
    locale: &'static str,
    is_login: bool,
}

impl LocalePage {
    fn of(raw_path: &str) -> Option<Self> {
        let decoded = percent_encoding::percent_decode_str(raw_path).decode_utf8_lossy();
        let mut segments = decoded.split('/').filter(|s| !s.is_empty());
        let first = segments.next()?.to_ascii_lowercase();
        let locale = locale_from_segment(&first)?;
        let rest: Vec<&str> = segments.collect();
        Some(Self {
            locale,
            is_login: rest == ["login"],
        })
    }
}

/// `/` goes to the locale from the cookie, else from Accept-Language, else English.
pub(crate) async fn root_redirect(request: Request) -> Response {
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

#[cfg(test)]
mod tests {
    use super::LocalePage;

    fn page(locale: &'static str, is_login: bool) -> Option<LocalePage> {
        Some(LocalePage { locale, is_login })
    }

    #[test]
    fn a_locale_is_found_however_the_path_spells_it() {
        for path in [
            "/en/keys",
            "/%65n/keys",
            "/%65%6E/keys",
            "/EN/keys",
            "//en//keys",
            "/en/keys/",
            "/en/../en/keys",
            "/en/%2e%2e/en/keys",
            "/en",
            "/en/",
            "/%65n",
        ] {
            assert_eq!(LocalePage::of(path), page("en", false), "{path}");
        }
        assert_eq!(
            LocalePage::of("/%7a%68/circuit-breakers"),
            page("zh", false)
        );
    }

    #[test]
    fn only_the_login_page_itself_is_login() {
        for path in ["/en/login", "/en/login/", "//en//login", "/%65n/%6cogin"] {
            assert_eq!(LocalePage::of(path), page("en", true), "{path}");
        }
        for path in ["/en/login/../keys", "/en/keys/login", "/en/x/login"] {
            assert_eq!(LocalePage::of(path), page("en", false), "{path}");
        }
    }

    #[test]
    fn other_paths_are_not_pages_under_a_locale() {
        for path in [
            "/",
            "/pkg/autorouter.js",
            "/favicon.ico",
            "/english",
            "/api/health",
        ] {
            assert_eq!(LocalePage::of(path), None, "{path}");
        }
    }
}
