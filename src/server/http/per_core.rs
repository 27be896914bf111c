//! Serving on one single-threaded runtime per core.
//!
//! A connection lives its whole life on one thread: its requests, the upstream connections they
//! use (each thread has its own client pool, see `upstream_client`) and every wake-up between
//! them stay on that core. A work-stealing runtime instead hands a proxied request between
//! threads several times (client socket, upstream connection task, response), each hand-off a
//! futex wake and a cache miss. One acceptor deals the connections out in turn.
use std::net::SocketAddr;
use std::time::Duration;

use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, oneshot, watch, OwnedSemaphorePermit};

use super::front::Front;
use super::serve::{spawn_connection, Limits, Slots};

/// An accepted connection on its way to a worker, with its open-connection slot.
type Dealt = (std::net::TcpStream, SocketAddr, OwnedSemaphorePermit);

/// Worker threads are named this plus their index (Linux keeps 15 bytes of a thread's name).
pub(crate) const WORKER_NAME: &str = "ar-http-";

/// The worker threads: stop with `shutdown`, then wait with `finished`.
pub struct Workers {
    stop: watch::Sender<bool>,
    done: Vec<oneshot::Receiver<()>>,
}

impl Workers {
    /// Starts `threads` workers serving `front` and the acceptor (on the calling runtime) that
    /// feeds them from `listener`.
    pub(crate) fn start(
        listener: TcpListener,
        front: Front,
        limits: Limits,
        threads: usize,
    ) -> std::io::Result<Self> {
        let (stop, stopped) = watch::channel(false);
        let mut queues = Vec::with_capacity(threads);
        let mut done = Vec::with_capacity(threads);
        for index in 0..threads.max(1) {
            let (tx, incoming) = mpsc::unbounded_channel();
            let (finished, wait) = oneshot::channel();
            let front = front.clone();
            let stopped = stopped.clone();
            std::thread::Builder::new()
                .name(format!("{WORKER_NAME}{index}"))
                .spawn(move || {
                    run_worker(incoming, front, limits, stopped);
                    let _ = finished.send(());
                })?;
            queues.push(tx);
            done.push(wait);
        }
        tokio::spawn(accept_loop(listener, queues, Slots::new(&limits), stopped));
        Ok(Self { stop, done })
    }

    /// Stops accepting; open connections finish their requests.
    pub fn shutdown(&self) {
        let _ = self.stop.send(true);
    }

    /// Resolves when every worker has closed its last connection.
    pub async fn finished(self) {
        for wait in self.done {
            let _ = wait.await;
        }
    }
}

fn run_worker(
    mut incoming: mpsc::UnboundedReceiver<Dealt>,
    front: Front,
    limits: Limits,
    mut stopped: watch::Receiver<bool>,
) {
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            tracing::error!(error = %e, "cannot start a worker runtime");
            return;
        }
    };
    runtime.block_on(async move {
        let graceful = GracefulShutdown::new();
        loop {
            let dealt = tokio::select! {
                _ = stopped.wait_for(|stop| *stop) => break,
                dealt = incoming.recv() => dealt,
            };
            // `None`: the acceptor stopped (shutdown).
            let Some((stream, peer, slot)) = dealt else {
                break;
            };
            match TcpStream::from_std(stream) {
                Ok(io) => spawn_connection(io, peer, slot, &front, &limits, &graceful),
                Err(e) => tracing::warn!(error = %e, "cannot adopt an accepted connection"),
            }
        }
        graceful.shutdown().await;
    });
}

/// Deals each accepted connection to the next worker in turn.
async fn accept_loop(
    listener: TcpListener,
    queues: Vec<mpsc::UnboundedSender<Dealt>>,
    slots: Slots,
    mut stopped: watch::Receiver<bool>,
) {
    let mut next = 0usize;
    loop {
        // At the connection cap, wait for one to close before accepting another.
        let slot = tokio::select! {
            _ = stopped.wait_for(|stop| *stop) => return,
            slot = slots.take() => slot,
        };
        let accepted = tokio::select! {
            _ = stopped.wait_for(|stop| *stop) => return,
            accepted = listener.accept() => accepted,
        };
        match accepted {
            Ok((stream, peer)) => {
                let stream = match stream.into_std() {
                    Ok(s) => s,
                    Err(e) => {
                        tracing::warn!(error = %e, "cannot hand over an accepted connection");
                        continue;
                    }
                };
                // A worker that could not start is skipped: its turn goes to the next one.
                let mut dealt = Some((stream, peer, slot));
                for _ in 0..queues.len() {
                    let worker = next;
                    next = (next + 1) % queues.len();
                    match queues[worker].send(dealt.take().expect("connection not yet dealt")) {
                        Ok(()) => break,
                        Err(mpsc::error::SendError(back)) => dealt = Some(back),
                    }
                }
                if dealt.is_some() {
                    tracing::error!("no worker thread is serving; connection dropped");
                }
            }
            Err(e) if is_connection_error(&e) => {}
            Err(e) => {
                // Out of descriptors and the like: wait instead of spinning on the error.
                tracing::warn!(error = %e, "accept failed");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
}

/// Errors about one connection (the peer gave up before we accepted it), not the listener.
fn is_connection_error(e: &std::io::Error) -> bool {
    use std::io::ErrorKind::*;
    matches!(
        e.kind(),
        ConnectionRefused | ConnectionAborted | ConnectionReset
    )
}
