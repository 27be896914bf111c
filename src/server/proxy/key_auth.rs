//! Client key verification. A key is found by its SHA-256 in the routing snapshot: every key
//! made since migration 0005 has its digest stored, so it is never bcrypt-checked, and an unknown
//! key costs the same map lookup as a known one (no prefix or timing tells them apart). A key
//! made before has only its bcrypt hash: a SHA-256-keyed cache sits in front of bcrypt, which
//! runs only on a cold miss, off the async workers, a few at a time, and once for a key however
//! many requests bring it at the same moment. Every answer is checked against the snapshot, so
//! a disabled, edited, deleted or expired key is refused on the very next request.
use parking_lot::{Mutex, RwLock};
use std::collections::{HashMap, HashSet};
use std::net::IpAddr;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::Arc;

use axum::http::HeaderMap;
use tokio::sync::Semaphore;

use super::routing_table::{KeyEntry, Snapshot};
use crate::model::keys::{stored_prefix, KEY_PREFIX};
use crate::server::crypto::sha256;
use crate::server::fast_map::FastMap;

const MAX_CACHED: usize = 100_000;

/// Wrong keys one source (an IPv4 address or an IPv6 /64) may have bcrypt-checked in a burst,
/// and how often it earns one more try. A source's checks also run one at a time, so a flood
/// from one source holds at most one of the bcrypt slots that real keys' first uses need.
pub const SOURCE_BURST: u32 = 5;
pub(crate) const SOURCE_REFILL_MS: i64 = 10_000;
const MAX_SOURCES: usize = 10_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub(crate) enum KeyRejection {
    #[error("missing API key: send it as `Authorization: Bearer <key>` or `x-api-key: <key>`")]
    Missing,
    #[error("invalid API key")]
    Invalid,
    #[error("this API key is disabled")]
    Disabled,
    #[error("this API key has expired")]
    Expired,
}

impl KeyRejection {
    pub(crate) const ALL: [KeyRejection; 4] = [
        KeyRejection::Missing,
        KeyRejection::Invalid,
        KeyRejection::Disabled,
        KeyRejection::Expired,
    ];

    /// The metrics' name for the reason.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            KeyRejection::Missing => "missing",
            KeyRejection::Invalid => "invalid",
            KeyRejection::Disabled => "disabled",
            KeyRejection::Expired => "expired",
        }
    }
}

/// The presented key: `Authorization: Bearer` (OpenAI SDKs) or `x-api-key` (Anthropic SDKs).
pub(crate) fn presented_key(headers: &HeaderMap) -> Option<&str> {
    crate::server::http::bearer::bearer_token(headers).or_else(|| {
        headers
            .get("x-api-key")
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
            .filter(|v| !v.is_empty())
    })
}

/// The key a caller of Google's API presents: `x-goog-api-key` (the google-genai SDKs), the
/// `key` query parameter (curl examples, REST clients), or the other formats' headers.
pub(crate) fn presented_google_key<'a>(
    headers: &'a HeaderMap,
    query: Option<&str>,
) -> Option<std::borrow::Cow<'a, str>> {
    let header = headers
        .get("x-goog-api-key")
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|v| !v.is_empty());
    header
        .map(std::borrow::Cow::Borrowed)
        .or_else(|| super::gemini::key_in_query(query).map(std::borrow::Cow::Owned))
        .or_else(|| presented_key(headers).map(std::borrow::Cow::Borrowed))
}

pub struct KeyVerifier {
    cache: RwLock<FastMap<[u8; 32], String>>,
    /// Keys that failed bcrypt: a client retrying the same wrong key costs no second bcrypt.
    /// A wrong 256-bit key never becomes right, so entries need no invalidation.
    rejected: RwLock<HashSet<[u8; 32]>>,
    bcrypt_slots: Semaphore,
    bcrypt_runs: AtomicU64,
    over_budget: AtomicU64,
    /// Each source's bcrypt allowance (see `SOURCE_BURST`).
    sources: Mutex<HashMap<IpAddr, Arc<tokio::sync::Mutex<Allowance>>>>,
    /// One gate per key being checked: later arrivals wait for the first one's answer.
    checking: Gates,
    /// Older keys (no stored digest) whose digest is being stored, so it is stored once.
    upgrading: Mutex<HashSet<String>>,
    /// Requests refused for want of a valid key, and the last time a summary was logged.
    refusals: AtomicU64,
    refusals_logged: AtomicU64,
    last_summary_ms: AtomicI64,
    /// The same refusals by reason (`KeyRejection::ALL`'s order), for the metrics.
    refusals_by_reason: [AtomicU64; 4],
}

impl Default for KeyVerifier {
    fn default() -> Self {
        Self {
            cache: RwLock::new(FastMap::default()),
            rejected: RwLock::new(HashSet::new()),
            bcrypt_slots: Semaphore::new(4),
            bcrypt_runs: AtomicU64::new(0),
            over_budget: AtomicU64::new(0),
            sources: Mutex::new(HashMap::new()),
            checking: Mutex::new(HashMap::new()),
            upgrading: Mutex::new(HashSet::new()),
            refusals: AtomicU64::new(0),
            refusals_logged: AtomicU64::new(0),
            last_summary_ms: AtomicI64::new(0),
            refusals_by_reason: Default::default(),
        }
    }
}

/// A source's allowance of failed bcrypt checks: a token bucket, charged only by failures.
#[derive(Debug)]
struct Allowance {
    tokens: u32,
    at_ms: i64,
}

impl Allowance {
    fn full(now_ms: i64) -> Self {
        Self {
            tokens: SOURCE_BURST,
            at_ms: now_ms,
        }
    }

    fn refill(&mut self, now_ms: i64) {
        let earned = (now_ms - self.at_ms).max(0) / SOURCE_REFILL_MS;
        if earned > 0 {
            self.tokens = (self.tokens + earned.min(SOURCE_BURST as i64) as u32).min(SOURCE_BURST);
            self.at_ms += earned * SOURCE_REFILL_MS;
        }
        if self.tokens == SOURCE_BURST {
            self.at_ms = now_ms;
        }
    }
}

fn state_of(key: &KeyEntry, now_ms: i64) -> Result<(), KeyRejection> {
    if !key.is_active {
        Err(KeyRejection::Disabled)
    } else if key.expires_at.is_some_and(|e| e <= now_ms) {
        Err(KeyRejection::Expired)
    } else {
        Ok(())
    }
}

/// The usable keys stored under the presented key's prefix; a prefix with none of them is
/// refused at once, without a bcrypt.
fn candidates<'s>(
    snapshot: &'s Snapshot,
    presented: &str,
    now_ms: i64,
) -> Result<Vec<&'s Arc<KeyEntry>>, KeyRejection> {
    if !presented.starts_with(KEY_PREFIX) {
        return Err(KeyRejection::Invalid);
    }
    let ids = snapshot
        .keys_by_prefix
        .get(stored_prefix(presented))
        .ok_or(KeyRejection::Invalid)?;
    // A key with a stored digest was already looked up by it: only older keys need bcrypt.
    let matching: Vec<&Arc<KeyEntry>> = ids
        .iter()
        .filter_map(|id| snapshot.keys.get(id))
        .filter(|k| k.digest.is_none())
        .collect();
    let usable: Vec<&Arc<KeyEntry>> = matching
        .iter()
        .copied()
        .filter(|k| k.usable_at(now_ms))
        .collect();
    if usable.is_empty() {
        return Err(match matching.first() {
            Some(k) if !k.is_active => KeyRejection::Disabled,
            Some(_) => KeyRejection::Expired,
            None => KeyRejection::Invalid,
        });
    }
    Ok(usable)
}

type Gates = Mutex<HashMap<[u8; 32], Arc<tokio::sync::Mutex<()>>>>;

/// A key's gate, taken out of the map again when its holder is done or gives up (a request
/// cancelled mid-check leaves nothing behind).
struct Gate<'g> {
    gates: &'g Gates,
    digest: [u8; 32],
    lock: Arc<tokio::sync::Mutex<()>>,
}

impl<'g> Gate<'g> {
    fn enter(gates: &'g Gates, digest: [u8; 32]) -> Self {
        let lock = Arc::clone(gates.lock().entry(digest).or_default());
        Self {
            gates,
            digest,
            lock,
        }
    }
}

impl Drop for Gate<'_> {
    fn drop(&mut self) {
        let mut gates = self.gates.lock();
        if gates
            .get(&self.digest)
            .is_some_and(|g| Arc::ptr_eq(g, &self.lock))
        {
            gates.remove(&self.digest);
        }
    }
}

impl KeyVerifier {
    /// Verifies `presented`. `source` (the client's address) is asked for only on the cold
    /// path, where a key without a stored digest needs bcrypt.
    pub(crate) async fn verify(
        &self,
        snapshot: &Snapshot,
        presented: &str,
        now_ms: i64,
        source: impl FnOnce() -> IpAddr,
    ) -> Result<Arc<KeyEntry>, KeyRejection> {
        let digest = sha256(presented.as_bytes());
        if let Some(key) = snapshot
            .keys_by_digest
            .get(&digest)
            .and_then(|id| snapshot.keys.get(id))
        {
            return state_of(key, now_ms).map(|()| Arc::clone(key));
        }
        if let Some(answer) = self.known(snapshot, &digest, now_ms) {
            return answer;
        }
        let usable = candidates(snapshot, presented, now_ms)?;
        let gate = Gate::enter(&self.checking, digest);
        let _turn = gate.lock.lock().await;
        // Whoever held the gate before may have just answered for this key.
        if let Some(answer) = self.known(snapshot, &digest, now_ms) {
            return answer;
        }
        let allowance =
            self.allowance_of(crate::server::http::client_ip::source_of(source()), now_ms);
        let mut allowance = allowance.lock().await;
        allowance.refill(now_ms);
        if allowance.tokens == 0 {
            self.over_budget.fetch_add(1, Ordering::Relaxed);
            tracing::debug!("key check refused: the source's bcrypt allowance is spent");
            return Err(KeyRejection::Invalid);
        }
        let answer = self.bcrypt_check(presented, digest, usable).await;
        if answer.is_err() {
            allowance.tokens -= 1;
        }
        answer
    }

    /// The source's allowance. The map is capped: when full, sources with a full allowance go
    /// first, then (a flood from more sources than the cap) every source not being checked.
    fn allowance_of(&self, source: IpAddr, now_ms: i64) -> Arc<tokio::sync::Mutex<Allowance>> {
        let mut sources = self.sources.lock();
        if sources.len() >= MAX_SOURCES && !sources.contains_key(&source) {
            sources.retain(|_, a| {
                a.try_lock().map_or(true, |mut a| {
                    a.refill(now_ms);
                    a.tokens < SOURCE_BURST
                })
            });
            if sources.len() >= MAX_SOURCES {
                sources.retain(|_, a| a.try_lock().is_err());
            }
        }
        Arc::clone(
            sources
                .entry(source)
                .or_insert_with(|| Arc::new(tokio::sync::Mutex::new(Allowance::full(now_ms)))),
        )
    }

    /// The answer the caches already hold: a cached key (re-checked against the snapshot) or a
    /// key bcrypt refused before.
    fn known(
        &self,
        snapshot: &Snapshot,
        digest: &[u8; 32],
        now_ms: i64,
    ) -> Option<Result<Arc<KeyEntry>, KeyRejection>> {
        let cached = self.cache.read().get(digest).cloned();
        if let Some(id) = cached {
            return Some(match snapshot.keys.get(&id) {
                Some(key) => state_of(key, now_ms).map(|()| Arc::clone(key)),
                None => {
                    self.cache.write().remove(digest);
                    Err(KeyRejection::Invalid)
                }
            });
        }
        self.rejected
            .read()
            .contains(digest)
            .then_some(Err(KeyRejection::Invalid))
    }

    /// The cold path: bcrypt against each usable key stored under the presented key's prefix.
    async fn bcrypt_check(
        &self,
        presented: &str,
        digest: [u8; 32],
        usable: Vec<&Arc<KeyEntry>>,
    ) -> Result<Arc<KeyEntry>, KeyRejection> {
        for key in usable {
            let _slot = self
                .bcrypt_slots
                .acquire()
                .await
                .map_err(|_| KeyRejection::Invalid)?;
            self.bcrypt_runs.fetch_add(1, Ordering::Relaxed);
            let hash = key.hash.clone();
            let candidate = presented.to_string();
            let ok = tokio::task::spawn_blocking(move || {
                bcrypt::verify(candidate, &hash).unwrap_or(false)
            })
            .await
            .unwrap_or(false);
            if ok {
                let mut cache = self.cache.write();
                if cache.len() >= MAX_CACHED {
                    cache.clear();
                }
                cache.insert(digest, key.id.clone());
                return Ok(Arc::clone(key));
            }
        }
        let mut rejected = self.rejected.write();
        if rejected.len() >= MAX_CACHED {
            rejected.clear();
        }
        rejected.insert(digest);
        Err(KeyRejection::Invalid)
    }

    /// Whether `key`, just verified by bcrypt, still needs its digest stored: true once per key.
    pub(crate) fn needs_digest(&self, key: &KeyEntry) -> bool {
        key.digest.is_none() && self.upgrading.lock().insert(key.id.clone())
    }

    /// Counts a request refused for want of a valid key. Such requests are not logged row by
    /// row (anyone can send them); at most once a minute a line sums them up.
    pub(crate) fn count_refusal(&self, reason: KeyRejection) {
        let total = self.refusals.fetch_add(1, Ordering::Relaxed) + 1;
        self.refusals_by_reason[reason as usize].fetch_add(1, Ordering::Relaxed);
        tracing::debug!(%reason, "request refused: no valid API key");
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as i64);
        let last = self.last_summary_ms.load(Ordering::Relaxed);
        if now - last >= 60_000
            && self
                .last_summary_ms
                .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
        {
            let before = self.refusals_logged.swap(total, Ordering::Relaxed);
            tracing::warn!(
                refused = total - before,
                total,
                "requests without a valid API key were refused since the last summary"
            );
        }
    }

    /// Requests refused for want of a valid key since start.
    pub fn refusals(&self) -> u64 {
        self.refusals.load(Ordering::Relaxed)
    }

    /// Requests refused for want of a valid key since start, by reason.
    pub(crate) fn refusals_by_reason(&self) -> Vec<(&'static str, u64)> {
        KeyRejection::ALL
            .iter()
            .map(|&r| {
                let n = self.refusals_by_reason[r as usize].load(Ordering::Relaxed);
                (r.as_str(), n)
            })
            .collect()
    }

    /// Key checks refused because their source had spent its bcrypt allowance.
    pub fn over_budget(&self) -> u64 {
        self.over_budget.load(Ordering::Relaxed)
    }

    /// How many bcrypt verifications ran (each is a cold miss).
    pub fn bcrypt_runs(&self) -> u64 {
        self.bcrypt_runs.load(Ordering::Relaxed)
    }

    /// Whether this exact key is cached.
    #[cfg(test)]
    fn is_cached(&self, presented: &str) -> bool {
        use subtle::ConstantTimeEq;
        let digest = sha256(presented.as_bytes());
        self.cache
            .read()
            .keys()
            .any(|k| bool::from(k.ct_eq(&digest)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn local() -> IpAddr {
        IpAddr::from([127, 0, 0, 1])
    }

    fn snapshot_with(key: &str, active: bool, expires_at: Option<i64>) -> Snapshot {
        let mut s = Snapshot::default();
        let entry = KeyEntry {
            id: "k1".into(),
            hash: bcrypt::hash(key, 4).unwrap(),
            digest: None,
            is_active: active,
            expires_at,
            upstream_ids: vec![],
            allowed_models: vec![],
            counters: None,
        };
        s.keys_by_prefix
            .insert(stored_prefix(key).into(), vec!["k1".into()]);
        s.keys.insert("k1".into(), Arc::new(entry));
        s
    }

    /// A key made since digests are stored: found by its SHA-256, with no bcrypt at all.
    fn snapshot_with_digest(key: &str, active: bool) -> Snapshot {
        let mut s = Snapshot::default();
        let digest = sha256(key.as_bytes());
        let entry = KeyEntry {
            id: "k2".into(),
            hash: "not a bcrypt hash: never checked".into(),
            digest: Some(digest),
            is_active: active,
            expires_at: None,
            upstream_ids: vec![],
            allowed_models: vec![],
            counters: None,
        };
        s.keys_by_prefix
            .insert(stored_prefix(key).into(), vec!["k2".into()]);
        s.keys_by_digest.insert(digest, "k2".into());
        s.keys.insert("k2".into(), Arc::new(entry));
        s
    }

    #[tokio::test]
    async fn keys_with_a_digest_never_cost_a_bcrypt() {
        let key = "sk-auto-abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG";
        let v = KeyVerifier::default();
        let snap = snapshot_with_digest(key, true);
        assert_eq!(v.verify(&snap, key, 0, local).await.unwrap().id, "k2");
        // A wrong key under the same prefix, or under another, is refused without bcrypt.
        let same_prefix = "sk-auto-abcdXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX";
        for wrong in [
            same_prefix,
            "sk-auto-zzzzXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX",
        ] {
            assert_eq!(
                v.verify(&snap, wrong, 0, local).await.unwrap_err(),
                KeyRejection::Invalid
            );
        }
        assert_eq!(
            v.verify(&snapshot_with_digest(key, false), key, 0, local)
                .await
                .unwrap_err(),
            KeyRejection::Disabled
        );
        assert_eq!(v.bcrypt_runs(), 0);
    }

    #[tokio::test]
    async fn verifies_caches_and_rechecks_state() {
        let key = "sk-auto-abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG";
        let v = KeyVerifier::default();
        let snap = snapshot_with(key, true, None);
        assert_eq!(v.verify(&snap, key, 0, local).await.unwrap().id, "k1");
        assert!(v.is_cached(key));
        assert_eq!(v.verify(&snap, key, 0, local).await.unwrap().id, "k1");
        assert_eq!(v.bcrypt_runs(), 1, "a warm key costs no bcrypt");
        // A cached key is refused as soon as the snapshot says it is disabled, expired or gone.
        assert_eq!(
            v.verify(&snapshot_with(key, false, None), key, 0, local)
                .await
                .unwrap_err(),
            KeyRejection::Disabled
        );
        assert_eq!(
            v.verify(&snapshot_with(key, true, Some(10)), key, 10, local)
                .await
                .unwrap_err(),
            KeyRejection::Expired
        );
        assert_eq!(
            v.verify(&Snapshot::default(), key, 0, local)
                .await
                .unwrap_err(),
            KeyRejection::Invalid
        );
        assert!(!v.is_cached(key));
    }

    #[tokio::test]
    async fn wrong_keys_and_unknown_prefixes_are_refused() {
        let key = "sk-auto-abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG";
        let v = KeyVerifier::default();
        let snap = snapshot_with(key, true, None);
        let same_prefix = "sk-auto-abcdXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX";
        assert_eq!(
            v.verify(&snap, same_prefix, 0, local).await.unwrap_err(),
            KeyRejection::Invalid
        );
        assert_eq!(
            v.verify(&snap, "sk-auto-zzzz-other", 0, local)
                .await
                .unwrap_err(),
            KeyRejection::Invalid
        );
        assert_eq!(
            v.verify(&snap, "sk-openai-key", 0, local)
                .await
                .unwrap_err(),
            KeyRejection::Invalid
        );
        assert!(!v.is_cached(same_prefix));
        // One bcrypt for the wrong key with a known prefix; none for unknown prefixes or foreign
        // keys; retries of the same wrong key are answered from the rejection cache.
        assert_eq!(v.bcrypt_runs(), 1);
        for _ in 0..50 {
            assert_eq!(
                v.verify(&snap, same_prefix, 0, local).await.unwrap_err(),
                KeyRejection::Invalid
            );
        }
        assert_eq!(v.bcrypt_runs(), 1);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn a_new_key_arriving_on_many_requests_at_once_costs_one_bcrypt() {
        let key = "sk-auto-abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG";
        let wrong = "sk-auto-abcdXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX";
        let v = Arc::new(KeyVerifier::default());
        let snap = Arc::new(snapshot_with(key, true, None));
        let mut tasks = Vec::new();
        for i in 0..32 {
            let (v, snap) = (Arc::clone(&v), Arc::clone(&snap));
            let presented = if i % 2 == 0 { key } else { wrong };
            tasks.push(tokio::spawn(async move {
                (presented, v.verify(&snap, presented, 0, local).await)
            }));
        }
        for task in tasks {
            match task.await.unwrap() {
                (p, Ok(entry)) => assert!(p == key && entry.id == "k1"),
                (p, Err(e)) => assert!(p == wrong && e == KeyRejection::Invalid),
            }
        }
        assert_eq!(v.bcrypt_runs(), 2, "one bcrypt for each distinct key");
        assert!(v.checking.lock().is_empty(), "no gate is left behind");
    }

    /// Wrong keys from one source: a few bcrypt checks, one at a time, then refusals without
    /// bcrypt until the allowance returns; another source and the right key are unaffected.
    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn a_source_gets_a_bounded_number_of_bcrypt_checks() {
        let key = "sk-auto-abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG";
        let v = Arc::new(KeyVerifier::default());
        let snap = Arc::new(snapshot_with(key, true, None));
        let attacker = || IpAddr::from([10, 0, 0, 1]);
        let mut tasks = Vec::new();
        for i in 0..40 {
            let (v, snap) = (Arc::clone(&v), Arc::clone(&snap));
            tasks.push(tokio::spawn(async move {
                let wrong = format!("sk-auto-abcd{i:0>39}");
                v.verify(&snap, &wrong, 0, attacker).await
            }));
        }
        for task in tasks {
            assert_eq!(task.await.unwrap().unwrap_err(), KeyRejection::Invalid);
        }
        assert_eq!(v.bcrypt_runs(), u64::from(SOURCE_BURST));
        assert_eq!(v.over_budget(), 40 - u64::from(SOURCE_BURST));
        // Another address in the attacker's IPv6 /64 is the same source; an IPv4 one is not.
        let wrong = "sk-auto-abcdYYYYYYYYYYYYYYYYYYYYYYYYYYYYYYYYYYYYYYY";
        let v6 = || "2001:db8::1".parse::<IpAddr>().unwrap();
        let v6_same = || "2001:db8::2".parse::<IpAddr>().unwrap();
        for _ in 0..SOURCE_BURST {
            let w = format!("{wrong}{}", v.bcrypt_runs());
            let _ = v.verify(&snap, &w, 0, v6).await;
        }
        let runs = v.bcrypt_runs();
        let _ = v.verify(&snap, "sk-auto-abcdZZZ", 0, v6_same).await;
        assert_eq!(v.bcrypt_runs(), runs, "the /64 shares one allowance");
        assert_eq!(v.verify(&snap, key, 0, local).await.unwrap().id, "k1");
        // The allowance returns with time: one more try per SOURCE_REFILL_MS.
        let later = SOURCE_REFILL_MS;
        let runs = v.bcrypt_runs();
        let _ = v.verify(&snap, "sk-auto-abcdLATER1", later, attacker).await;
        let _ = v.verify(&snap, "sk-auto-abcdLATER2", later, attacker).await;
        assert_eq!(v.bcrypt_runs(), runs + 1);
    }

    #[test]
    fn keys_come_from_bearer_or_x_api_key() {
        let mut h = HeaderMap::new();
        assert_eq!(presented_key(&h), None);
        h.insert("x-api-key", "sk-auto-a".parse().unwrap());
        assert_eq!(presented_key(&h), Some("sk-auto-a"));
        h.insert("authorization", "Bearer sk-auto-b".parse().unwrap());
        assert_eq!(presented_key(&h), Some("sk-auto-b"));
    }

    #[test]
    fn google_clients_send_x_goog_api_key_or_the_key_parameter() {
        let mut h = HeaderMap::new();
        assert_eq!(presented_google_key(&h, None), None);
        assert_eq!(
            presented_google_key(&h, Some("alt=sse&key=sk-auto-q")).as_deref(),
            Some("sk-auto-q")
        );
        h.insert("authorization", "Bearer sk-auto-b".parse().unwrap());
        assert_eq!(
            presented_google_key(&h, Some("alt=sse")).as_deref(),
            Some("sk-auto-b")
        );
        assert_eq!(
            presented_google_key(&h, Some("key=sk-auto-q")).as_deref(),
            Some("sk-auto-q")
        );
        h.insert("x-goog-api-key", " sk-auto-g ".parse().unwrap());
        assert_eq!(
            presented_google_key(&h, Some("key=sk-auto-q")).as_deref(),
            Some("sk-auto-g")
        );
        // The other paths do not read Google's header.
        h.remove("authorization");
        assert_eq!(presented_key(&h), None);
    }
}
