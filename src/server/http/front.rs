//! The service every connection is served by. A proxied request (`/v1/*`, `/api/proxy/v1/*`,
//! Google's `/v1beta/*`) goes straight to the proxy (the `Direct` handler start-up gives it),
//! with its id and span;
//! everything else goes through the axum router (pages, admin API, server functions, health).
//! The router's middleware and route matching do nothing for a proxied request (the browser
//! guard lets these paths through); when a router-wide layer must see proxied requests too
//! (CORS), start-up gives no `Direct` and every request takes the router.
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Instant;

use axum::extract::{ConnectInfo, Request};
use axum::response::Response;
use axum::Router;
use futures_util::future::BoxFuture;
use tower::Service;
use tracing::Instrument;

use super::request_id::{finish, new_request_id, request_span};

/// Serves a proxied request that skips the router: the request id, the path below `/v1/`,
/// and the request.
pub(crate) type Direct =
    Arc<dyn Fn(String, String, Request) -> BoxFuture<'static, Response> + Send + Sync>;

#[derive(Clone)]
pub(crate) struct Front {
    router: Router,
    /// `None` when every request must take the router.
    direct: Option<Direct>,
}

impl Front {
    pub(crate) fn new(router: Router, direct: Option<Direct>) -> Self {
        Self { router, direct }
    }
}

impl Front {
    /// The service for one accepted connection, knowing its peer (for `ConnectInfo`).
    pub(crate) fn connection(&self, peer: SocketAddr) -> Connection {
        Connection {
            front: self.clone(),
            peer,
        }
    }
}

#[derive(Clone)]
pub(crate) struct Connection {
    front: Front,
    peer: SocketAddr,
}

impl Service<Request> for Connection {
    type Response = Response;
    type Error = Infallible;
    type Future = BoxFuture<'static, Result<Response, Infallible>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, mut request: Request) -> Self::Future {
        if let Some(direct) = &self.front.direct {
            if let Some(path) = direct_path(request.uri().path()) {
                let path = path.to_string();
                return Box::pin(serve_direct(Arc::clone(direct), path, request));
            }
        }
        request.extensions_mut().insert(ConnectInfo(self.peer));
        Box::pin(self.front.router.call(request))
    }
}

async fn serve_direct(
    direct: Direct,
    path: String,
    request: Request,
) -> Result<Response, Infallible> {
    let id = new_request_id();
    let span = request_span(&id, request.method(), request.uri().path());
    let started = Instant::now();
    let mut response = direct(id.clone(), path, request)
        .instrument(span.clone())
        .await;
    finish(&span, started, &id, &mut response);
    Ok(response)
}

/// The part of a proxied path below `/v1/`, when the direct path can take it: not empty (the
/// router answers that) and without percent-escapes (the router decodes those, as before).
fn direct_path(path: &str) -> Option<&str> {
    let rest = ["/v1/", "/api/proxy/v1/", "/v1beta/", "/api/proxy/v1beta/"]
        .iter()
        .find_map(|prefix| path.strip_prefix(prefix))?;
    (!rest.is_empty() && !rest.contains('%')).then_some(rest)
}

#[cfg(test)]
mod tests {
    use super::direct_path;

    #[test]
    fn takes_plain_proxied_paths_only() {
        assert_eq!(
            direct_path("/v1/chat/completions"),
            Some("chat/completions")
        );
        assert_eq!(direct_path("/api/proxy/v1/messages"), Some("messages"));
        assert_eq!(
            direct_path("/v1beta/models/gemini-2.5-flash:generateContent"),
            Some("models/gemini-2.5-flash:generateContent")
        );
        assert_eq!(direct_path("/api/proxy/v1beta/models"), Some("models"));
        assert_eq!(direct_path("/v1beta/"), None);
        assert_eq!(direct_path("/v1/"), None);
        assert_eq!(direct_path("/v1"), None);
        assert_eq!(direct_path("/v1/models/a%2Fb"), None);
        assert_eq!(direct_path("/api/admin/keys"), None);
        assert_eq!(direct_path("/en/v1/x"), None);
    }
}
