//! Sticky sessions: the upstream that served an agent's session last, so its next turn goes
//! where its prompt cache lives. Remembered in process (bounded; an idle session is forgotten)
//! and, when the gateway has Redis, shared between instances through the limiter's connection.
use std::sync::Arc;

use axum::http::HeaderMap;
use parking_lot::Mutex;

use crate::server::crypto::sha256;
use crate::server::fast_map::FastMap;
use crate::server::limits::Limiter;

/// A shared entry read or written this recently is trusted without asking Redis again.
const TRUST_MS: i64 = 5_000;

/// A session, by the digest of its key and name (the name itself is never kept).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct Session([u8; 16]);

impl Session {
    /// The short form a log row keeps (16 hex characters).
    pub(crate) fn short(&self) -> String {
        hex(&self.0[..8])
    }

    fn shared_key(&self) -> String {
        format!("s:{}", hex(&self.0))
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|v| !v.is_empty() && v.len() <= 256)
}

/// The session a request belongs to, in this order: an explicit `x-session-id`; Claude Code's
/// `x-claude-code-session-id` or the session in `metadata.user_id`; Codex's `session-id` (or
/// `session_id`) header or `prompt_cache_key`. Scoped to the key, so two keys never share one.
pub(crate) fn session_of(
    key_id: &str,
    headers: &HeaderMap,
    body_session: Option<&str>,
) -> Option<Session> {
    let name = header(headers, "x-session-id")
        .or_else(|| header(headers, "x-claude-code-session-id"))
        .or_else(|| header(headers, "session-id"))
        .or_else(|| header(headers, "session_id"))
        .or(body_session)?;
    let digest = sha256(format!("{key_id}\0{name}").as_bytes());
    let mut short = [0u8; 16];
    short.copy_from_slice(&digest[..16]);
    Some(Session(short))
}

/// How long the gateway remembers which upstream made a response: as long as OpenAI keeps a
/// stored response (30 days; in Redis when it is configured, else until the instance's book
/// is full or it restarts).
pub(crate) const RESPONSE_ROUTE_MS: i64 = 30 * 24 * 3_600 * 1_000;

/// The response a Responses request continues (`previous_response_id`) or asks about
/// (`/v1/responses/{id}`), as a session of its own: it names the upstream that made it, and only
/// for the key that made it.
pub(crate) fn response_of(key_id: &str, response_id: &str) -> Session {
    let digest = sha256(format!("{key_id}\0response\0{response_id}").as_bytes());
    let mut short = [0u8; 16];
    short.copy_from_slice(&digest[..16]);
    Session(short)
}

#[derive(Debug)]
struct Entry {
    upstream: Arc<str>,
    last_ms: i64,
    /// When the shared store last confirmed or took this entry.
    shared_ms: i64,
}

/// The sessions this instance remembers.
pub(crate) struct SessionBook {
    entries: Mutex<FastMap<Session, Entry>>,
    idle_ms: i64,
    capacity: usize,
}

impl SessionBook {
    pub(crate) fn new(idle_ms: i64, capacity: usize) -> Self {
        Self {
            entries: Mutex::new(FastMap::default()),
            idle_ms,
            capacity: capacity.max(1),
        }
    }

    /// How many sessions this instance remembers (idle ones included until they are dropped).
    pub(crate) fn len(&self) -> usize {
        self.entries.lock().len()
    }

    /// The upstream that served `session` last, if it was seen within the idle time: from this
    /// instance's memory while it is recent enough, else from the shared store.
    pub(crate) async fn upstream_of(
        &self,
        session: Session,
        limiter: &Limiter,
        now_ms: i64,
    ) -> Option<Arc<str>> {
        let local = {
            let entries = self.entries.lock();
            entries
                .get(&session)
                .filter(|e| now_ms - e.last_ms < self.idle_ms)
                .map(|e| (e.upstream.clone(), now_ms - e.shared_ms < TRUST_MS))
        };
        if let Some((upstream, true)) = &local {
            return Some(upstream.clone());
        }
        match limiter.shared_get(&session.shared_key()).await {
            // Redis answers: it has the last word (another instance may have moved it).
            Some(Some(id)) => {
                let upstream: Arc<str> = id.into();
                self.remember(session, upstream.clone(), now_ms, now_ms);
                Some(upstream)
            }
            Some(None) => None,
            None => local.map(|(upstream, _)| upstream),
        }
    }

    /// `upstream` served `session`: remembered here and, when it changed or the shared entry is
    /// due a refresh, in the shared store.
    pub(crate) fn served(&self, session: Session, upstream: &str, limiter: &Limiter, now_ms: i64) {
        let share = {
            let entries = self.entries.lock();
            entries.get(&session).is_none_or(|e| {
                &*e.upstream != upstream || now_ms - e.shared_ms >= self.idle_ms / 4
            })
        };
        let shared_ms = if share {
            limiter.shared_set(&session.shared_key(), upstream, self.idle_ms);
            now_ms
        } else {
            self.entries
                .lock()
                .get(&session)
                .map_or(now_ms, |e| e.shared_ms)
        };
        self.remember(session, upstream.into(), now_ms, shared_ms);
    }

    fn remember(&self, session: Session, upstream: Arc<str>, now_ms: i64, shared_ms: i64) {
        let mut entries = self.entries.lock();
        if entries.len() >= self.capacity && !entries.contains_key(&session) {
            let idle = self.idle_ms;
            entries.retain(|_, e| now_ms - e.last_ms < idle);
            if entries.len() >= self.capacity {
                // Still full of live sessions: the least recently used tenth goes.
                let mut ages: Vec<i64> = entries.values().map(|e| e.last_ms).collect();
                ages.sort_unstable();
                let cut = ages[ages.len() / 10];
                entries.retain(|_, e| e.last_ms > cut);
            }
        }
        entries.insert(
            session,
            Entry {
                upstream,
                last_ms: now_ms,
                shared_ms,
            },
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::server::clock::SystemClock;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, v.parse().unwrap());
        }
        h
    }

    #[test]
    fn sessions_come_from_headers_first_then_the_body_and_are_per_key() {
        let explicit = session_of("k", &headers(&[("x-session-id", "a")]), Some("b"));
        assert_eq!(explicit, session_of("k", &HeaderMap::new(), Some("a")));
        let claude = session_of("k", &headers(&[("x-claude-code-session-id", "c")]), None);
        assert_eq!(
            claude,
            session_of("k", &headers(&[("session-id", "c")]), None)
        );
        assert_ne!(
            session_of("k1", &HeaderMap::new(), Some("a")),
            session_of("k2", &HeaderMap::new(), Some("a"))
        );
        assert_eq!(session_of("k", &HeaderMap::new(), None), None);
        assert_ne!(response_of("k1", "resp_1"), response_of("k2", "resp_1"));
        assert_ne!(
            Some(response_of("k", "a")),
            session_of("k", &HeaderMap::new(), Some("a")),
            "a response is not the session of the same name"
        );
        assert_eq!(explicit.unwrap().short().len(), 16);
    }

    #[tokio::test]
    async fn a_session_sticks_until_it_idles_out_and_memory_stays_bounded() {
        let limiter = Limiter::local(Arc::new(SystemClock));
        let book = SessionBook::new(60_000, 100);
        let s = session_of("k", &HeaderMap::new(), Some("s")).unwrap();
        assert_eq!(book.upstream_of(s, &limiter, 0).await, None);
        book.served(s, "u1", &limiter, 0);
        assert_eq!(
            book.upstream_of(s, &limiter, 59_000).await.as_deref(),
            Some("u1")
        );
        book.served(s, "u2", &limiter, 59_000);
        assert_eq!(
            book.upstream_of(s, &limiter, 60_000).await.as_deref(),
            Some("u2")
        );
        assert_eq!(
            book.upstream_of(s, &limiter, 120_000).await,
            None,
            "idle an hour"
        );
        for i in 0..1_000 {
            let s = session_of("k", &HeaderMap::new(), Some(&i.to_string())).unwrap();
            book.served(s, "u", &limiter, 200_000 + i);
        }
        assert!(book.len() <= 100, "{}", book.len());
    }
}
