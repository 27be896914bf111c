//! The service every connection is served by. A proxied request (`/v1/*`, `/api/proxy/v1/*`)
//! goes straight to the proxy handler, with its id and span; everything else goes through the
//! axum router (pages, admin API, server functions, health).
//!
//! The router's middleware and route matching did nothing for a proxied request (the browser
//! guard lets these paths through) yet cost it about 7% of the gateway's CPU under load. When
//! a router-wide layer must see proxied requests too (CORS), every request takes the router.
use std::convert::Infallible;
use std::net::SocketAddr;
use std::task::{Context, Poll};
use std::time::Instant;

use axum::extract::{ConnectInfo, Request};
use axum::response::Response;
use axum::Router;
use futures_util::future::BoxFuture;
use tower::Service;
use tracing::Instrument;

use super::request_id::{finish, new_request_id, request_span};
use crate::server::proxy::handler::proxy_request;
use crate::server::state::AppState;

#[derive(Clone)]
pub struct Front {
    router: Router,
    /// `None` when every request must take the router.
    direct: Option<AppState>,
}

impl Front {
    pub fn new(router: Router, state: &AppState) -> Self {
        let direct = state.config.cors_origins.is_empty().then(|| state.clone());
        Self { router, direct }
    }
}

impl Front {
    /// The service for one accepted connection, knowing its peer (for `ConnectInfo`).
    pub fn connection(&self, peer: SocketAddr) -> Connection {
        Connection {
            front: self.clone(),
            peer,
        }
    }
}

#[derive(Clone)]
pub struct Connection {
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
        if let Some(state) = &self.front.direct {
            if let Some(path) = direct_path(request.uri().path()) {
                let path = path.to_string();
                return Box::pin(serve_direct(state.clone(), path, request));
            }
        }
        request.extensions_mut().insert(ConnectInfo(self.peer));
        Box::pin(self.front.router.call(request))
    }
}

async fn serve_direct(
    state: AppState,
    path: String,
    request: Request,
) -> Result<Response, Infallible> {
    let id = new_request_id();
    let span = request_span(&id, request.method(), request.uri().path());
    let started = Instant::now();
    // Boxed where it is made: the handler's future is kilobytes, and unboxed it would be copied
    // into the span's wrapper, into this future and into the connection's box in turn.
    let mut response = Box::pin(proxy_request(state, id.clone(), path, request))
        .instrument(span.clone())
        .await;
    finish(&span, started, &id, &mut response);
    Ok(response)
}

/// The part of a proxied path below `/v1/`, when the direct path can take it: not empty (the
/// router answers that) and without percent-escapes (the router decodes those, as before).
fn direct_path(path: &str) -> Option<&str> {
    let rest = path
        .strip_prefix("/v1/")
        .or_else(|| path.strip_prefix("/api/proxy/v1/"))?;
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
        assert_eq!(direct_path("/v1/"), None);
        assert_eq!(direct_path("/v1"), None);
        assert_eq!(direct_path("/v1/models/a%2Fb"), None);
        assert_eq!(direct_path("/api/admin/keys"), None);
        assert_eq!(direct_path("/en/v1/x"), None);
    }
}
