//! Serving on one single-threaded runtime per core.
//!
//! A connection lives its whole life on one thread: its requests, the upstream connections they
//! use (each thread has its own client pool, see `upstream_client`) and every wake-up between
//! them stay on that core. A work-stealing runtime instead hands a proxied request between
//! threads several times (client socket, upstream connection task, response), each hand-off a
//! futex wake and a cache miss. One acceptor deals the connections out in turn.
use std::net::SocketAddr;
use std::time::Duration;

use axum::serve::{Listener, ListenerExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, oneshot, watch};

use super::front::Front;

type Dealt = (std::net::TcpStream, SocketAddr);

/// Worker threads are named this plus their index (Linux keeps 15 bytes of a thread's name).
pub const WORKER_NAME: &str = "ar-http-";

/// A worker's side of the acceptor: the connections dealt to it.
struct DealtConnections {
    incoming: mpsc::UnboundedReceiver<Dealt>,
    local: SocketAddr,
}

impl Listener for DealtConnections {
    type Io = TcpStream;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (TcpStream, SocketAddr) {
        loop {
            match self.incoming.recv().await {
                Some((stream, peer)) => match TcpStream::from_std(stream) {
                    Ok(io) => return (io, peer),
                    Err(e) => tracing::warn!(error = %e, "cannot adopt an accepted connection"),
                },
                // The acceptor stopped (shutdown): the graceful shutdown ends the serve loop.
                None => std::future::pending::<()>().await,
            }
        }
    }

    fn local_addr(&self) -> std::io::Result<SocketAddr> {
        Ok(self.local)
    }
}

/// The worker threads: stop with `shutdown`, then wait with `finished`.
pub struct Workers {
    stop: watch::Sender<bool>,
    done: Vec<oneshot::Receiver<()>>,
}

impl Workers {
    /// Starts `threads` workers serving `front` and the acceptor (on the calling runtime) that
    /// feeds them from `listener`.
    pub fn start(listener: TcpListener, front: Front, threads: usize) -> std::io::Result<Self> {
        let local = listener.local_addr()?;
        let (stop, stopped) = watch::channel(false);
        let mut queues = Vec::with_capacity(threads);
        let mut done = Vec::with_capacity(threads);
        for index in 0..threads.max(1) {
            let (tx, incoming) = mpsc::unbounded_channel();
            let (finished, wait) = oneshot::channel();
            let listener = DealtConnections { incoming, local };
            let front = front.clone();
            let stopped = stopped.clone();
            std::thread::Builder::new()
                .name(format!("{WORKER_NAME}{index}"))
                .spawn(move || {
                    run_worker(listener, front, stopped);
                    let _ = finished.send(());
                })?;
            queues.push(tx);
            done.push(wait);
        }
        tokio::spawn(accept_loop(listener, queues, stopped));
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

fn run_worker(listener: DealtConnections, front: Front, mut stopped: watch::Receiver<bool>) {
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
        // Without TCP_NODELAY a small SSE event can wait for the previous one's ACK (Nagle).
        let listener = listener.tap_io(|tcp| {
            if let Err(e) = tcp.set_nodelay(true) {
                tracing::debug!(error = %e, "cannot set TCP_NODELAY");
            }
        });
        let shutdown = async move {
            let _ = stopped.wait_for(|stop| *stop).await;
        };
        let served = axum::serve(listener, front)
            .with_graceful_shutdown(shutdown)
            .await;
        if let Err(e) = served {
            tracing::error!(error = %e, "worker stopped serving");
        }
    });
}

/// Deals each accepted connection to the next worker in turn.
async fn accept_loop(
    listener: TcpListener,
    queues: Vec<mpsc::UnboundedSender<Dealt>>,
    mut stopped: watch::Receiver<bool>,
) {
    let mut next = 0usize;
    loop {
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
                let mut dealt = Some((stream, peer));
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
