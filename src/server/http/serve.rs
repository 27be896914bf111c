//! Serving accepted connections: HTTP/1.1 under a deadline for each request's headers (which is
//! also how long a kept-alive connection may sit idle), a cap on open connections, and a
//! graceful shutdown that lets open requests finish.
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tower::Service;

use super::front::Front;
use crate::server::config::Config;

/// What bounds one client's hold on the server.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Limits {
    /// A request's headers must arrive within this long from when the connection starts
    /// waiting for them; a client trickling them in, or idling between requests, is cut off.
    pub header_read_timeout: Duration,
    /// Open connections at most; further ones wait in the kernel's listen queue.
    pub max_connections: usize,
}

impl Limits {
    pub(crate) fn from_config(config: &Config) -> Self {
        Self {
            header_read_timeout: Duration::from_secs(config.header_read_timeout_secs),
            max_connections: config.max_connections,
        }
    }
}

/// Open-connection slots: the acceptor takes one before it accepts, the connection gives it
/// back when it closes.
#[derive(Clone)]
pub(crate) struct Slots(Arc<Semaphore>);

impl Slots {
    pub(crate) fn new(limits: &Limits) -> Self {
        Self(Arc::new(Semaphore::new(limits.max_connections.max(1))))
    }

    pub(crate) async fn take(&self) -> OwnedSemaphorePermit {
        Arc::clone(&self.0)
            .acquire_owned()
            .await
            .expect("the connection slots are never closed")
    }
}

/// Serves one connection until it closes or `graceful` shuts it down.
pub(crate) fn spawn_connection(
    io: TcpStream,
    peer: SocketAddr,
    slot: OwnedSemaphorePermit,
    front: &Front,
    limits: &Limits,
    graceful: &GracefulShutdown,
) {
    // Without TCP_NODELAY a small SSE event can wait for the previous one's ACK (Nagle).
    if let Err(e) = io.set_nodelay(true) {
        tracing::debug!(error = %e, "cannot set TCP_NODELAY");
    }
    let connection = front.connection(peer);
    let service =
        hyper::service::service_fn(move |request: hyper::Request<hyper::body::Incoming>| {
            let mut connection = connection.clone();
            connection.call(request.map(Body::new))
        });
    let served = http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout)
        .serve_connection(TokioIo::new(io), service);
    let served = graceful.watch(served);
    tokio::spawn(async move {
        if let Err(e) = served.await {
            tracing::trace!(error = %e, "connection ended with an error");
        }
        drop(slot);
    });
}

/// Accepts and serves on the calling runtime until `shutdown`, then waits for open requests.
pub(crate) async fn serve(
    listener: TcpListener,
    front: Front,
    limits: Limits,
    shutdown: impl Future<Output = ()>,
) {
    let slots = Slots::new(&limits);
    let graceful = GracefulShutdown::new();
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let slot = tokio::select! {
            () = &mut shutdown => break,
            slot = slots.take() => slot,
        };
        let accepted = tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => accepted,
        };
        match accepted {
            Ok((io, peer)) => spawn_connection(io, peer, slot, &front, &limits, &graceful),
            Err(e) => {
                tracing::debug!(error = %e, "accept failed");
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
    }
    graceful.shutdown().await;
}
