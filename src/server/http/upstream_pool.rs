//! The proxy's upstream connections: HTTP/1.1 connections kept per serving thread and origin.
//!
//! Each serving thread owns one [`UpstreamPool`] (see `upstream_client`), so a connection is
//! driven by a task on the thread that uses it and is never shared: no request wakes another
//! thread. A connection is lent for one request and comes back when the answer's body has been
//! read to its end ([`PooledBody`]); one whose body is dropped early is closed, as HTTP/1.1
//! requires. The most recently returned connection is lent first, and connections idle longer
//! than the idle timeout are closed.
//!
//! This replaces hyper's general-purpose pooled client on the hot path: that one locks a shared
//! map keyed by scheme and authority, hashing the authority byte by byte, and formats and parses
//! the URI again for every request (what that cost is in docs/performance.md).
use parking_lot::Mutex;
use std::collections::VecDeque;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{ready, Context, Poll};
use std::time::{Duration, Instant};

use axum::http::header::HOST;
use axum::http::{HeaderValue, Request, Response, Uri};
use bytes::Bytes;
use http_body_util::Full;
use hyper::body::{Body, Frame, Incoming, SizeHint};
use hyper::client::conn::http1::{self, SendRequest};
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::connect::HttpConnector;
use tower::Service;

use crate::server::fast_map::FastMap;
use crate::server::http::ssrf::GuardedResolver;

/// TCP, then TLS for `https`; names resolved through the SSRF guard.
pub(crate) type Connector = HttpsConnector<HttpConnector<GuardedResolver>>;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Idle connections kept per origin and thread; one returned beyond this is closed.
const MAX_IDLE_PER_ORIGIN: usize = 1024;

/// Where connections go: one upstream origin, parsed once per routing load.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    /// `scheme://host[:port]`, the pool's key.
    key: Arc<str>,
    /// The same as a URI, for the connector.
    uri: Uri,
    /// `host[:port]`, the `Host` header every request to it carries.
    host: HeaderValue,
}

impl Origin {
    /// `scheme` is `http` or `https`; `authority` is `host[:port]`, the port only when it is not
    /// the scheme's default.
    pub(crate) fn new(scheme: &str, authority: &str) -> Result<Origin, axum::http::Error> {
        let key: Arc<str> = format!("{scheme}://{authority}").into();
        Ok(Origin {
            uri: Uri::try_from(&*key)?,
            host: HeaderValue::try_from(authority)?,
            key,
        })
    }

    /// `scheme://host[:port]`.
    pub(crate) fn as_str(&self) -> &str {
        &self.key
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SendError {
    #[error("could not connect to the upstream")]
    Connect(#[source] BoxError),
    #[error("the upstream connection failed")]
    Http(#[source] hyper::Error),
}

/// One serving thread's connections. Its idle list sits behind a mutex only so that a request's
/// future, which holds `&UpstreamPool` across awaits, stays `Send`; the pool is used from its own
/// thread, so the lock is never contended.
pub struct UpstreamPool {
    connector: Connector,
    idle: Arc<Mutex<IdleConnections>>,
}

struct IdleConnections {
    by_origin: FastMap<Arc<str>, VecDeque<Idle>>,
    idle_timeout: Duration,
}

struct Idle {
    sender: SendRequest<Full<Bytes>>,
    since: Instant,
}

impl UpstreamPool {
    pub(crate) fn new(connector: Connector, idle_timeout: Duration) -> Self {
        UpstreamPool {
            connector,
            idle: Arc::new(Mutex::new(IdleConnections {
                by_origin: FastMap::default(),
                idle_timeout,
            })),
        }
    }

    /// Sends `request` (its URI in origin form, `/path?query`) to `origin` on an idle connection,
    /// or a new one. A request that an idle connection could not even start to send (it closed
    /// meanwhile) is sent again on the next, as hyper's own pool does; one that a new connection
    /// could not send is an error.
    pub async fn send(
        &self,
        origin: &Origin,
        mut request: Request<Full<Bytes>>,
    ) -> Result<Response<PooledBody>, SendError> {
        request
            .headers_mut()
            .entry(HOST)
            .or_insert_with(|| origin.host.clone());
        loop {
            let (mut sender, reused) = match self.checkout(origin).await {
                Some(sender) => (sender, true),
                None => (self.connect(origin).await?, false),
            };
            match sender.try_send_request(request).await {
                Ok(response) => {
                    let home = Home {
                        idle: Arc::clone(&self.idle),
                        origin: Arc::clone(&origin.key),
                        sender,
                    };
                    return Ok(response.map(|body| PooledBody::new(body, home)));
                }
                Err(mut e) => match e.take_message() {
                    Some(unsent) if reused => request = unsent,
                    _ => return Err(SendError::Http(e.into_error())),
                },
            }
        }
    }

    /// The most recently returned open connection to `origin`, once it is ready for a request.
    async fn checkout(&self, origin: &Origin) -> Option<SendRequest<Full<Bytes>>> {
        loop {
            let mut sender = self.idle.lock().take(&origin.key)?;
            // Returned after its answer's last byte, the connection is ready or about to be:
            // its task has only to go back to reading.
            if sender.is_ready() || sender.ready().await.is_ok() {
                return Some(sender);
            }
        }
    }

    async fn connect(&self, origin: &Origin) -> Result<SendRequest<Full<Bytes>>, SendError> {
        let mut connector = self.connector.clone();
        std::future::poll_fn(|cx| connector.poll_ready(cx))
            .await
            .map_err(SendError::Connect)?;
        let io = connector
            .call(origin.uri.clone())
            .await
            .map_err(SendError::Connect)?;
        let (sender, connection) = http1::Builder::new()
            .handshake(io)
            .await
            .map_err(SendError::Http)?;
        // Spawned on this thread's runtime, which drives the connection from now on. It ends
        // when the upstream closes it or when its last sender is dropped.
        tokio::spawn(async move {
            if let Err(e) = connection.await {
                tracing::debug!(error = %e, "upstream connection closed");
            }
        });
        Ok(sender)
    }

    /// Idle connections kept to `origin` on this thread.
    #[cfg(test)]
    pub(crate) fn idle_count(&self, origin: &Origin) -> usize {
        self.idle
            .lock()
            .by_origin
            .get(&origin.key)
            .map_or(0, VecDeque::len)
    }
}

impl IdleConnections {
    fn take(&mut self, origin: &str) -> Option<SendRequest<Full<Bytes>>> {
        let now = Instant::now();
        let timeout = self.idle_timeout;
        let queue = self.by_origin.get_mut(origin)?;
        while let Some(idle) = queue.pop_back() {
            if !idle.sender.is_closed() && now.duration_since(idle.since) < timeout {
                return Some(idle.sender);
            }
            // Everything older is older still: close the lot.
            if !idle.sender.is_closed() {
                queue.clear();
            }
        }
        None
    }

    fn put(&mut self, origin: &Arc<str>, sender: SendRequest<Full<Bytes>>) {
        let now = Instant::now();
        let timeout = self.idle_timeout;
        let queue = match self.by_origin.get_mut(&**origin) {
            Some(queue) => queue,
            None => self.by_origin.entry(Arc::clone(origin)).or_default(),
        };
        while queue
            .front()
            .is_some_and(|oldest| now.duration_since(oldest.since) >= timeout)
        {
            queue.pop_front();
        }
        if queue.len() < MAX_IDLE_PER_ORIGIN && !sender.is_closed() {
            queue.push_back(Idle { sender, since: now });
        }
    }
}

/// Where a lent connection goes back to.
struct Home {
    idle: Arc<Mutex<IdleConnections>>,
    origin: Arc<str>,
    sender: SendRequest<Full<Bytes>>,
}

/// An upstream answer's body. Read to its end, it returns its connection to the pool; dropped
/// before, it takes the connection with it.
pub struct PooledBody {
    body: Incoming,
    home: Option<Home>,
}

impl PooledBody {
    fn new(body: Incoming, home: Home) -> Self {
        let mut pooled = PooledBody {
            body,
            home: Some(home),
        };
        // An answer without a body (204, 304, HEAD) is over already.
        if pooled.body.is_end_stream() {
            pooled.go_home();
        }
        pooled
    }

    fn go_home(&mut self) {
        if let Some(home) = self.home.take() {
            home.idle.lock().put(&home.origin, home.sender);
        }
    }
}

impl Body for PooledBody {
    type Data = Bytes;
    type Error = hyper::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, hyper::Error>>> {
        let frame = ready!(Pin::new(&mut self.body).poll_frame(cx));
        match &frame {
            Some(Ok(_)) if !self.body.is_end_stream() => {}
            Some(Ok(_)) | None => self.go_home(),
            // The connection is broken; it closes with its sender.
            Some(Err(_)) => self.home = None,
        }
        Poll::Ready(frame)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::server::http::ssrf::SsrfPolicy;
    use crate::server::http::upstream_client::build_proxy;
    use http_body_util::BodyExt;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
    use tokio::net::TcpListener;

    /// A keep-alive HTTP/1.1 server that answers every request with `body`, counting the
    /// connections it accepts and recording each request's head.
    struct Server {
        port: u16,
        connections: Arc<AtomicUsize>,
        heads: Arc<Mutex<Vec<String>>>,
    }

    async fn server(body: &'static str, close_after_each: bool) -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let connections = Arc::new(AtomicUsize::new(0));
        let heads = Arc::new(Mutex::new(Vec::new()));
        let (count, seen) = (connections.clone(), heads.clone());
        tokio::spawn(async move {
            loop {
                let (stream, _) = listener.accept().await.unwrap();
                count.fetch_add(1, Ordering::SeqCst);
                let seen = seen.clone();
                tokio::spawn(async move {
                    let (read, mut write) = stream.into_split();
                    let mut read = BufReader::new(read);
                    loop {
                        let mut head = String::new();
                        loop {
                            let mut line = String::new();
                            if read.read_line(&mut line).await.unwrap_or(0) == 0 {
                                return;
                            }
                            if line == "\r\n" {
                                break;
                            }
                            head.push_str(&line);
                        }
                        let length = head
                            .lines()
                            .find_map(|l| l.strip_prefix("content-length: "))
                            .map_or(0, |n| n.trim().parse().unwrap());
                        let mut request_body = vec![0; length];
                        read.read_exact(&mut request_body).await.unwrap();
                        seen.lock().push(head);
                        let answer = format!(
                            "HTTP/1.1 200 OK\r\ncontent-length: {}\r\n\r\n{body}",
                            body.len()
                        );
                        if write.write_all(answer.as_bytes()).await.is_err() {
                            return;
                        }
                        if close_after_each {
                            // Closed without saying so: the client learns it from the socket.
                            return;
                        }
                    }
                });
            }
        });
        Server {
            port,
            connections,
            heads,
        }
    }

    const LOCAL: SsrfPolicy = SsrfPolicy {
        allow_private: true,
    };

    fn origin(port: u16) -> Origin {
        Origin::new("http", &format!("127.0.0.1:{port}")).unwrap()
    }

    fn post(path: &str) -> Request<Full<Bytes>> {
        Request::post(path)
            .body(Full::new(Bytes::from_static(b"{\"a\":1}")))
            .unwrap()
    }

    async fn text(pool: &UpstreamPool, origin: &Origin, path: &str) -> String {
        let response = pool.send(origin, post(path)).await.unwrap();
        let body = response.into_body().collect().await.unwrap().to_bytes();
        String::from_utf8(body.to_vec()).unwrap()
    }

    #[tokio::test]
    async fn sends_origin_form_with_host_and_reuses_one_connection() {
        let s = server("hello", false).await;
        let pool = build_proxy(LOCAL);
        let to = origin(s.port);
        for _ in 0..5 {
            assert_eq!(text(&pool, &to, "/v1/chat?x=1").await, "hello");
        }
        assert_eq!(s.connections.load(Ordering::SeqCst), 1);
        assert_eq!(pool.idle_count(&to), 1);
        let heads = s.heads.lock();
        assert_eq!(heads.len(), 5);
        assert!(
            heads[0].starts_with("POST /v1/chat?x=1 HTTP/1.1\r\n"),
            "{}",
            heads[0]
        );
        assert!(
            heads[0].contains(&format!("host: 127.0.0.1:{}\r\n", s.port)),
            "{}",
            heads[0]
        );
    }

    #[tokio::test]
    async fn a_connection_returns_only_after_its_body_is_read() {
        let s = server("hello", false).await;
        let pool = build_proxy(LOCAL);
        let to = origin(s.port);
        let unread = pool.send(&to, post("/a")).await.unwrap();
        assert_eq!(pool.idle_count(&to), 0);
        // While the first answer is unread, a second request needs a second connection.
        assert_eq!(text(&pool, &to, "/b").await, "hello");
        assert_eq!(s.connections.load(Ordering::SeqCst), 2);
        let body = unread.into_body().collect().await.unwrap().to_bytes();
        assert_eq!(&body[..], b"hello");
        assert_eq!(pool.idle_count(&to), 2);
    }

    #[tokio::test]
    async fn a_body_dropped_unread_closes_its_connection() {
        let s = server("hello", false).await;
        let pool = build_proxy(LOCAL);
        let to = origin(s.port);
        drop(pool.send(&to, post("/a")).await.unwrap());
        assert_eq!(pool.idle_count(&to), 0);
        assert_eq!(text(&pool, &to, "/b").await, "hello");
        assert_eq!(s.connections.load(Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn a_connection_the_upstream_closed_is_replaced_without_an_error() {
        let s = server("hello", true).await;
        let pool = build_proxy(LOCAL);
        let to = origin(s.port);
        for _ in 0..3 {
            assert_eq!(text(&pool, &to, "/a").await, "hello");
            // Let the connection's task see the close.
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert_eq!(s.connections.load(Ordering::SeqCst), 3);
        assert_eq!(s.heads.lock().len(), 3);
    }

    #[tokio::test]
    async fn connections_idle_past_the_timeout_are_closed() {
        let s = server("hello", false).await;
        let pool = UpstreamPool::new(
            crate::server::http::upstream_client::connector(LOCAL),
            Duration::from_millis(100),
        );
        let to = origin(s.port);
        assert_eq!(text(&pool, &to, "/a").await, "hello");
        assert_eq!(text(&pool, &to, "/a").await, "hello");
        assert_eq!(s.connections.load(Ordering::SeqCst), 1);
        tokio::time::sleep(Duration::from_millis(150)).await;
        assert_eq!(text(&pool, &to, "/a").await, "hello");
        assert_eq!(s.connections.load(Ordering::SeqCst), 2);
        assert_eq!(pool.idle_count(&to), 1);
    }

    #[tokio::test]
    async fn a_refused_connection_is_a_connect_error() {
        let port = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap().port()
        };
        let pool = build_proxy(LOCAL);
        let result = pool.send(&origin(port), post("/a")).await;
        assert!(matches!(result, Err(SendError::Connect(_))));
    }
}
