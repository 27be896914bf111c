//! The counters in Redis: one script call per admission, leases renewed in the background, and
//! the switch to local counters (and back) when Redis stops (or starts again) answering.
//!
//! A multiplexed connection's driver is a task on the runtime that opened it. The gateway serves
//! on one single-threaded runtime per core, so a connection opened on the main runtime would
//! cost every admission two hand-offs between threads (the request's thread to the driver's and
//! back), each a wake-up of another thread. So each thread that admits opens its own connection,
//! its driver on that thread's runtime, and the shared one serves until it is ready.
use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use parking_lot::{Mutex, RwLock};
use redis::aio::MultiplexedConnection;
use redis::{AsyncConnectionConfig, RedisError, Script};
use thread_local::ThreadLocal;

use super::{Check, LimitsError, Rule, Seen, SharedOptions, Usage, Verdict, SPEND_GRACE_MS};
use crate::server::clock::SharedClock;
use crate::server::fast_map::FastMap;

/// Connecting, loading the scripts, renewing and releasing are off the request path: they may
/// take longer than a request's Redis call.
const BACKGROUND_TIMEOUT: Duration = Duration::from_secs(2);

// The kinds as the scripts know them.
const REQUESTS: i64 = 1;
const TOKENS: i64 = 2;
const CONCURRENT: i64 = 3;
const SPEND: i64 = 4;

pub(super) struct Shared {
    client: redis::Client,
    conn: RwLock<Option<MultiplexedConnection>>,
    /// Counts the connections made by `connect`; a thread's own connection from an earlier one
    /// is not used again (it may hang on a dead peer).
    generation: AtomicU64,
    /// Each thread's own connection, for the calls on the request path.
    own: ThreadLocal<Arc<Mutex<Own>>>,
    up: AtomicBool,
    clock: SharedClock,
    namespace: Box<str>,
    timeout: Duration,
    lease_ms: i64,
    renew_every: Duration,
    reconnect_every: Duration,
    admit_script: Script,
    charge_script: Script,
    /// Request ids are this instance's random id and a sequence number.
    instance: u64,
    next_id: AtomicU64,
    /// The leases this instance holds, renewed in the background until released.
    held: Mutex<FastMap<u64, Arc<Held>>>,
    /// For releases dropped outside any runtime.
    runtime: tokio::runtime::Handle,
}

struct Held {
    member: String,
    keys: Vec<String>,
}

/// A thread's own connection, as of `generation`: being opened (`None`), open, or `None` for good
/// when opening it failed (the shared one serves that thread until the next `connect`).
#[derive(Default)]
struct Own {
    generation: u64,
    conn: Option<MultiplexedConnection>,
}

/// Why a Redis call did not answer; the limiter then counts locally.
#[derive(Debug, thiserror::Error)]
pub(super) enum Fault {
    #[error("{0}")]
    Redis(#[from] RedisError),
    #[error("no answer within {0:?}")]
    Timeout(Duration),
    #[error("not connected")]
    Down,
    #[error("unexpected reply from the script")]
    Reply,
}

/// The Redis leases of one admitted request: released (a spawned ZREM) when dropped.
pub(super) struct Leases {
    shared: Arc<Shared>,
    id: u64,
    held: Arc<Held>,
}

impl std::fmt::Debug for Leases {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "shared::Leases({})", self.held.keys.len())
    }
}

impl Drop for Leases {
    fn drop(&mut self) {
        self.shared.held.lock().remove(&self.id);
        let shared = self.shared.clone();
        let held = self.held.clone();
        // An error is no matter: a lease nobody renews expires by itself.
        let release = async move {
            let _ = shared.release(&held).await;
        };
        match tokio::runtime::Handle::try_current() {
            Ok(here) => here.spawn(release),
            Err(_) => self.shared.runtime.spawn(release),
        };
    }
}

async fn within<T>(
    limit: Duration,
    call: impl Future<Output = Result<T, RedisError>>,
) -> Result<T, Fault> {
    match tokio::time::timeout(limit, call).await {
        Ok(answer) => Ok(answer?),
        Err(_) => Err(Fault::Timeout(limit)),
    }
}

impl Shared {
    pub(super) async fn start(
        options: SharedOptions,
        clock: SharedClock,
    ) -> Result<Arc<Self>, LimitsError> {
        let client =
            redis::Client::open(options.url.expose().as_str()).map_err(|_| LimitsError::Url)?;
        let shared = Arc::new(Self {
            client,
            conn: RwLock::new(None),
            generation: AtomicU64::new(0),
            own: ThreadLocal::new(),
            up: AtomicBool::new(false),
            clock,
            namespace: options.namespace.into(),
            timeout: options.timeout,
            lease_ms: i64::try_from(options.lease.as_millis()).unwrap_or(i64::MAX / 4),
            renew_every: options.renew_every,
            reconnect_every: options.reconnect_every,
            admit_script: Script::new(include_str!("scripts/admit.lua")),
            charge_script: Script::new(include_str!("scripts/charge.lua")),
            instance: rand::random(),
            next_id: AtomicU64::new(0),
            held: Mutex::new(FastMap::default()),
            runtime: tokio::runtime::Handle::current(),
        });
        if let Err(fault) = shared.connect().await {
            tracing::warn!(error = %fault, "limits: Redis unreachable; counting in this instance until it answers");
        }
        tokio::spawn(maintain(Arc::downgrade(&shared)));
        Ok(shared)
    }

    pub(super) fn is_up(&self) -> bool {
        self.up.load(Ordering::Relaxed)
    }

    /// Switches to local counters; said once per outage, not once per request.
    pub(super) fn fall_back(&self, fault: &Fault) {
        if self.up.swap(false, Ordering::Relaxed) {
            tracing::warn!(error = %fault, "limits: Redis unreachable; counting in this instance until it answers");
        }
    }

    fn connection(&self) -> Result<MultiplexedConnection, Fault> {
        self.conn.read().clone().ok_or(Fault::Down)
    }

    /// The calling thread's own connection when it is open; until then the shared one, and
    /// the thread's is opened by a task on the calling runtime (so its driver runs there).
    fn own_connection(self: &Arc<Self>) -> Result<MultiplexedConnection, Fault> {
        let generation = self.generation.load(Ordering::Acquire);
        let slot = self.own.get_or(Default::default);
        {
            let mut own = slot.lock();
            if own.generation == generation {
                if let Some(conn) = &own.conn {
                    return Ok(conn.clone());
                }
            } else if let Ok(here) = tokio::runtime::Handle::try_current() {
                own.generation = generation;
                own.conn = None;
                here.spawn(open_own(self.client.clone(), slot.clone(), generation));
            }
        }
        self.connection()
    }

    fn connection_config() -> AsyncConnectionConfig {
        AsyncConnectionConfig::new()
            .set_connection_timeout(Some(BACKGROUND_TIMEOUT))
            .set_response_timeout(None)
    }

    /// A fresh connection (never the old one: it may hang on a dead peer) with both scripts
    /// loaded; then shared mode again.
    async fn connect(&self) -> Result<(), Fault> {
        let config = Self::connection_config();
        let conn = within(BACKGROUND_TIMEOUT, async {
            let mut conn = self
                .client
                .get_multiplexed_async_connection_with_config(&config)
                .await?;
            self.admit_script
                .prepare_invoke()
                .load_async(&mut conn)
                .await?;
            self.charge_script
                .prepare_invoke()
                .load_async(&mut conn)
                .await?;
            Ok(conn)
        })
        .await?;
        *self.conn.write() = Some(conn);
        self.generation.fetch_add(1, Ordering::AcqRel);
        self.up.store(true, Ordering::Relaxed);
        Ok(())
    }

    fn key(&self, check: &Check) -> String {
        let (ns, counter) = (&self.namespace, &check.counter);
        match &check.rule {
            Rule::Requests { .. } => format!("{ns}:{counter}:rq"),
            Rule::Tokens { .. } => format!("{ns}:{counter}:tk"),
            Rule::Concurrent { .. } => format!("{ns}:{counter}:cc"),
            Rule::Spend { period, .. } => format!("{ns}:{counter}:sp:{period}"),
        }
    }

    pub(super) async fn admit(
        self: &Arc<Self>,
        checks: &[Check],
        now_ms: i64,
    ) -> Result<(Verdict, Option<Leases>), Fault> {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let member = format!("{:016x}{id:x}", self.instance);
        let mut call = self.admit_script.prepare_invoke();
        call.arg(now_ms)
            .arg(now_ms.saturating_add(self.lease_ms))
            .arg(self.lease_ms)
            .arg(&member);
        let mut lease_keys = Vec::new();
        for check in checks {
            let key = self.key(check);
            let (kind, limit, durable, expires_at) = match &check.rule {
                Rule::Requests { per_minute } => (REQUESTS, i64::from(*per_minute), 0, 0),
                Rule::Tokens { per_minute } => {
                    (TOKENS, i64::try_from(*per_minute).unwrap_or(i64::MAX), 0, 0)
                }
                Rule::Concurrent { max } => {
                    lease_keys.push(key.clone());
                    (CONCURRENT, i64::from(*max), 0, 0)
                }
                Rule::Spend {
                    ends_at_ms,
                    limit_nanos,
                    durable_nanos,
                    ..
                } => (
                    SPEND,
                    *limit_nanos,
                    *durable_nanos,
                    ends_at_ms.saturating_add(SPEND_GRACE_MS),
                ),
            };
            call.key(key)
                .arg(kind)
                .arg(limit)
                .arg(durable)
                .arg(expires_at);
        }
        let mut conn = self.own_connection()?;
        let reply: Vec<i64> = within(self.timeout, call.invoke_async(&mut conn)).await?;
        let verdict = parse_admit(&reply, checks.len()).ok_or(Fault::Reply)?;
        if verdict.refused.is_some() || lease_keys.is_empty() {
            return Ok((verdict, None));
        }
        let held = Arc::new(Held {
            member,
            keys: lease_keys,
        });
        self.held.lock().insert(id, held.clone());
        let leases = Leases {
            shared: self.clone(),
            id,
            held,
        };
        Ok((verdict, Some(leases)))
    }

    /// The script call that charges a finished request, or `None` when there is nothing to
    /// charge. Built now (it borrows nothing), awaited by a spawned task.
    pub(super) fn charge_call(
        self: &Arc<Self>,
        checks: &[Check],
        usage: Usage,
        now_ms: i64,
    ) -> Option<impl Future<Output = Result<(), Fault>> + Send + 'static> {
        let mut keys = Vec::new();
        let mut args = vec![now_ms.div_euclid(1000)];
        for check in checks {
            match &check.rule {
                Rule::Tokens { .. } if usage.tokens > 0 => {
                    keys.push(self.key(check));
                    let tokens = i64::try_from(usage.tokens).unwrap_or(i64::MAX);
                    args.extend([TOKENS, tokens, 0, 0]);
                }
                Rule::Spend {
                    ends_at_ms,
                    durable_nanos,
                    ..
                } if usage.cost_nanos != 0 => {
                    keys.push(self.key(check));
                    let expires_at = ends_at_ms.saturating_add(SPEND_GRACE_MS);
                    args.extend([SPEND, usage.cost_nanos, *durable_nanos, expires_at]);
                }
                _ => {}
            }
        }
        if keys.is_empty() {
            return None;
        }
        let shared = self.clone();
        Some(async move {
            let mut call = shared.charge_script.prepare_invoke();
            call.key(keys).arg(args);
            let mut conn = shared.own_connection()?;
            within(BACKGROUND_TIMEOUT, call.invoke_async::<()>(&mut conn)).await
        })
    }

    async fn release(&self, held: &Held) -> Result<(), Fault> {
        if !self.is_up() {
            return Ok(());
        }
        let mut pipe = redis::pipe();
        for key in &held.keys {
            pipe.zrem(key, &held.member).ignore();
        }
        let mut conn = self.connection()?;
        within(BACKGROUND_TIMEOUT, pipe.exec_async(&mut conn)).await
    }

    /// Moves every held lease's expiry forward, in one pipeline. A lease that expired meanwhile
    /// (Redis unreachable for longer than a lease) is not brought back: its slot may be taken.
    async fn renew(&self) -> Result<(), Fault> {
        let held: Vec<Arc<Held>> = self.held.lock().values().cloned().collect();
        if held.is_empty() {
            return Ok(());
        }
        let expires_at = self.clock.now_ms().saturating_add(self.lease_ms);
        let mut pipe = redis::pipe();
        for lease in &held {
            for key in &lease.keys {
                pipe.cmd("ZADD")
                    .arg(key)
                    .arg("XX")
                    .arg(expires_at)
                    .arg(&lease.member)
                    .ignore();
                pipe.pexpire(key, self.lease_ms.saturating_mul(2)).ignore();
            }
        }
        let mut conn = self.connection()?;
        within(BACKGROUND_TIMEOUT, pipe.exec_async(&mut conn)).await
    }
}

/// Opens a thread's own connection into `slot`, unless a newer `connect` came first. A failure
/// leaves the slot empty for this generation: the shared connection serves that thread. (A
/// runtime that ends while its thread goes on admitting takes that thread's connection with it:
/// the next call fails, the limiter falls back, and the reconnection opens new ones.)
async fn open_own(client: redis::Client, slot: Arc<Mutex<Own>>, generation: u64) {
    let config = Shared::connection_config();
    let opened = within(
        BACKGROUND_TIMEOUT,
        client.get_multiplexed_async_connection_with_config(&config),
    )
    .await;
    if let Ok(conn) = opened {
        let mut own = slot.lock();
        if own.generation == generation {
            own.conn = Some(conn);
        }
    }
}

/// The background task: reconnects while Redis is down, renews leases while it is up. Ends
/// when the limiter and its last lease are gone.
async fn maintain(shared: Weak<Shared>) {
    let Some(every) = shared.upgrade().map(|s| s.reconnect_every) else {
        return;
    };
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut renewed = Instant::now();
    loop {
        tick.tick().await;
        let Some(shared) = shared.upgrade() else {
            return;
        };
        if !shared.is_up() {
            if shared.connect().await.is_err() {
                continue;
            }
            tracing::info!("limits: Redis answers again; counters are shared");
        } else if renewed.elapsed() < shared.renew_every {
            continue;
        }
        renewed = Instant::now();
        if let Err(fault) = shared.renew().await {
            shared.fall_back(&fault);
        }
    }
}

/// `{admitted, refused check (1-based, 0 for none), retry ms}` then `{used, reset ms}` per check.
fn parse_admit(reply: &[i64], checks: usize) -> Option<Verdict> {
    if reply.len() != 3 + 2 * checks {
        return None;
    }
    let refused = match (reply[0], usize::try_from(reply[1]).ok()?) {
        (1, _) => None,
        (_, at) if (1..=checks).contains(&at) => Some((at - 1, super::non_negative(reply[2]))),
        _ => return None,
    };
    let seen = reply[3..]
        .chunks_exact(2)
        .map(|pair| Seen {
            used: super::non_negative(pair[0]),
            reset_ms: super::non_negative(pair[1]),
        })
        .collect();
    Some(Verdict { seen, refused })
}

/// Plain shared entries beside the counters (the sticky sessions' upstreams), under the same
/// namespace, with the same timeout and fallback.
impl Shared {
    /// On the request path (a sticky session's lookup): the serving thread's own connection.
    pub(super) async fn get(self: &Arc<Self>, key: &str) -> Result<Option<String>, Fault> {
        let mut conn = self.own_connection()?;
        let key = format!("{}:{key}", self.namespace);
        within(
            self.timeout,
            redis::cmd("GET").arg(key).query_async(&mut conn),
        )
        .await
    }

    pub(super) async fn set(&self, key: &str, value: &str, ttl_ms: i64) -> Result<(), Fault> {
        let mut conn = self.connection()?;
        let key = format!("{}:{key}", self.namespace);
        within(
            BACKGROUND_TIMEOUT,
            redis::cmd("SET")
                .arg(key)
                .arg(value)
                .arg("PX")
                .arg(ttl_ms.max(1))
                .query_async::<()>(&mut conn),
        )
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Redis at `TEST_REDIS_URL`, as the integration tests of the limits use it.
    fn options() -> SharedOptions {
        let url =
            std::env::var("TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into());
        let mut options = SharedOptions::new(&url);
        options.namespace = format!("ar:test:own:{:x}", rand::random::<u64>());
        options
    }

    fn own_is_open(shared: &Shared) -> bool {
        let generation = shared.generation.load(Ordering::Acquire);
        shared.own.get().is_some_and(|own| {
            let own = own.lock();
            own.generation == generation && own.conn.is_some()
        })
    }

    #[tokio::test(flavor = "current_thread")]
    async fn a_thread_admits_on_its_own_connection_once_open_and_not_after_a_reconnection() {
        let clock = crate::server::clock::system();
        let shared = Shared::start(options(), clock.clone()).await.unwrap();
        assert!(shared.is_up(), "the test needs Redis at TEST_REDIS_URL");
        let checks = [Check::new("k:own", Rule::Requests { per_minute: 1_000 })];
        // The first call goes over the shared connection and has this thread's opened.
        let (first, _) = shared.admit(&checks, clock.now_ms()).await.unwrap();
        assert_eq!(first.seen[0].used, 0);
        for _ in 0..200 {
            if own_is_open(&shared) {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        assert!(own_is_open(&shared), "this thread's connection opened");
        let (second, _) = shared.admit(&checks, clock.now_ms()).await.unwrap();
        assert_eq!(
            second.seen[0].used, 1,
            "the same counters on either connection"
        );
        // A reconnection retires it: the shared connection serves until a new one is open.
        shared.connect().await.unwrap();
        assert!(!own_is_open(&shared));
        let (third, _) = shared.admit(&checks, clock.now_ms()).await.unwrap();
        assert_eq!(third.seen[0].used, 2);
    }
}
