//! Rate, concurrency and spend limits: the counters, in this process or shared through Redis.
//!
//! The caller builds a request's checks from the rules of its key and upstream, asks
//! [`Limiter::admit`] before forwarding, holds the [`Admitted`] (its concurrency leases) until
//! the answer ends, then reports tokens and cost with [`Limiter::charge`]. The algorithms, the
//! Redis key layout and what an outage costs are in docs/spend.md, "Limits and counters".
mod local;
mod shared;

use std::sync::Arc;
use std::time::Duration;

use crate::server::clock::SharedClock;
use crate::server::secret::Secret;

/// Requests and tokens are counted over the last minute.
const WINDOW_MS: i64 = 60_000;
/// A concurrency refusal cannot know when a slot frees; a client retrying after this is cheap.
const CONCURRENCY_RETRY_MS: u64 = 1_000;
/// A spend counter outlives its period by this much, for requests that end after it.
const SPEND_GRACE_MS: i64 = 3_600_000;

/// One limit to check for a request: a counter (`k:<key_id>`, `u:<upstream_id>`; any string the
/// caller keeps stable) and the rule it is held to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Check {
    pub counter: Arc<str>,
    pub rule: Rule,
}

impl Check {
    pub fn new(counter: impl Into<Arc<str>>, rule: Rule) -> Self {
        Self {
            counter: counter.into(),
            rule,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rule {
    /// At most this many requests admitted in any 60 s (an exact sliding-window log).
    Requests { per_minute: u32 },
    /// Admitted while the tokens charged in the last 60 s (one-second buckets) are under this.
    Tokens { per_minute: u64 },
    /// At most this many admitted requests not yet released.
    Concurrent { max: u32 },
    /// Admitted while the period's spend is under `limit_nanos` (USD × 10⁹). The spend is the
    /// larger of the live counter and `durable_nanos`, the database's sum for the period as the
    /// caller last read it; `period` names it (`d:2026-12-06`, `m:2026-12`, in the caller's time
    /// zone) and `ends_at_ms` is when it ends (the budget's retry time, the counter's expiry).
    Spend {
        period: Arc<str>,
        ends_at_ms: i64,
        limit_nanos: i64,
        durable_nanos: i64,
    },
}

impl Rule {
    pub fn kind(&self) -> Kind {
        match self {
            Rule::Requests { .. } | Rule::Tokens { .. } => Kind::Rate,
            Rule::Concurrent { .. } => Kind::Concurrency,
            Rule::Spend { .. } => Kind::Budget,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Rate,
    Concurrency,
    Budget,
}

/// One check's state for the `x-ratelimit-*` headers, after this request (for a refused one,
/// as it stands). `reset_ms`: for requests and tokens, until the oldest use counted leaves the
/// window (0 when nothing is counted); for spend, until the period ends; 0 for concurrency.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Quota {
    pub limit: u64,
    pub remaining: u64,
    pub reset_ms: u64,
}

/// A refusal: the first check that refused, its kind, when to retry (`Retry-After`), and every
/// check's quota in the order of the checks. Nothing was consumed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refused {
    pub check: usize,
    pub kind: Kind,
    pub retry_after_ms: u64,
    pub quotas: Vec<Quota>,
}

/// An admission: every check's quota in the order of the checks, and the request's concurrency
/// leases, released when this is dropped (the Redis call is spawned; drop never blocks).
#[derive(Debug)]
#[must_use = "dropping it releases the request's concurrency slots"]
pub struct Admitted {
    quotas: Vec<Quota>,
    _leases: Leases,
}

impl Admitted {
    pub fn quotas(&self) -> &[Quota] {
        &self.quotas
    }

    /// Frees the concurrency slots now; the same as dropping it.
    pub fn release(self) {}
}

#[derive(Debug)]
enum Leases {
    None,
    // Held for their drop, which releases the slots.
    Local { _slots: local::Leases },
    Shared { _slots: shared::Leases },
}

/// What a finished request used: tokens as the upstream reported them, and its cost.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Usage {
    pub tokens: u64,
    pub cost_nanos: i64,
}

/// Where the counters live right now: `Shared` only while Redis answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Local,
    Shared,
}

impl Mode {
    /// The value `/api/health` reports as `limits`.
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Local => "local",
            Mode::Shared => "shared",
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum LimitsError {
    /// The URL itself is never printed: it may hold a password.
    #[error("REDIS_URL is not a Redis URL this build can use (redis:// or unix://)")]
    Url,
}

/// How the shared counters reach Redis. `new` gives the defaults.
#[derive(Debug, Clone)]
pub struct SharedOptions {
    url: Secret<String>,
    /// Prefix of every key, so several gateways (or tests) can share one Redis.
    pub namespace: String,
    /// The longest a request waits for Redis before it is answered from local counters.
    pub timeout: Duration,
    /// A concurrency lease not renewed for this long is dropped (its instance died).
    pub lease: Duration,
    pub renew_every: Duration,
    /// While Redis is unreachable, how often to try it again.
    pub reconnect_every: Duration,
}

impl SharedOptions {
    pub fn new(redis_url: &str) -> Self {
        Self {
            url: Secret::new(redis_url.to_owned()),
            namespace: "ar:lim".to_owned(),
            timeout: Duration::from_millis(50),
            lease: Duration::from_secs(30),
            renew_every: Duration::from_secs(10),
            reconnect_every: Duration::from_secs(1),
        }
    }
}

/// The counters engine; cheap to clone (one shared state).
#[derive(Clone)]
pub struct Limiter {
    inner: Arc<Inner>,
}

struct Inner {
    clock: SharedClock,
    local: local::Local,
    shared: Option<Arc<shared::Shared>>,
}

impl std::fmt::Debug for Limiter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Limiter")
            .field("mode", &self.mode())
            .finish_non_exhaustive()
    }
}

impl Limiter {
    /// Counters in this process only.
    pub fn local(clock: SharedClock) -> Self {
        Self {
            inner: Arc::new(Inner {
                clock,
                local: local::Local::default(),
                shared: None,
            }),
        }
    }

    /// Counters shared in Redis, with the default options. See [`Limiter::shared_with`].
    pub async fn shared(redis_url: &str, clock: SharedClock) -> Result<Self, LimitsError> {
        Self::shared_with(SharedOptions::new(redis_url), clock).await
    }

    /// Counters shared in Redis. Connects once (at most about a second); an unreachable Redis
    /// is no error: the limiter starts in `Local` mode and keeps trying in the background. Only
    /// a URL it cannot use is. Spawns its background task: call it inside a tokio runtime.
    pub async fn shared_with(
        options: SharedOptions,
        clock: SharedClock,
    ) -> Result<Self, LimitsError> {
        let shared = shared::Shared::start(options, clock.clone()).await?;
        Ok(Self {
            inner: Arc::new(Inner {
                clock,
                local: local::Local::default(),
                shared: Some(shared),
            }),
        })
    }

    /// Whether the counters are meant to be shared (`REDIS_URL` given), whatever Redis does now.
    pub fn is_shared(&self) -> bool {
        self.inner.shared.is_some()
    }

    pub fn mode(&self) -> Mode {
        match &self.inner.shared {
            Some(shared) if shared.is_up() => Mode::Shared,
            _ => Mode::Local,
        }
    }

    /// Checks a request against all its checks at once: admitted by every one, or refused with
    /// nothing consumed. With Redis: one script call, one round trip. Never fails for Redis'
    /// sake: on an error or timeout this request (and the following, until Redis answers again)
    /// is answered from the local counters.
    pub async fn admit(&self, checks: &[Check]) -> Result<Admitted, Refused> {
        if checks.is_empty() {
            return Ok(Admitted {
                quotas: Vec::new(),
                _leases: Leases::None,
            });
        }
        let now_ms = self.inner.clock.now_ms();
        if let Some(shared) = self.inner.shared.as_ref().filter(|s| s.is_up()) {
            match shared.admit(checks, now_ms).await {
                Ok((verdict, leases)) => {
                    let leases = leases.map_or(Leases::None, |_slots| Leases::Shared { _slots });
                    return conclude(checks, verdict, leases, now_ms);
                }
                Err(fault) => shared.fall_back(&fault),
            }
        }
        let (verdict, leases) = self.inner.local.admit(checks, now_ms);
        let leases = leases.map_or(Leases::None, |_slots| Leases::Local { _slots });
        conclude(checks, verdict, leases, now_ms)
    }

    /// A shared entry (`key` under the limiter's namespace): `Some` with what Redis holds while
    /// it answers, `None` when there is no shared store right now (the caller keeps its own).
    pub async fn shared_get(&self, key: &str) -> Option<Option<String>> {
        let shared = self.inner.shared.as_ref().filter(|s| s.is_up())?;
        match shared.get(key).await {
            Ok(value) => Some(value),
            Err(fault) => {
                shared.fall_back(&fault);
                None
            }
        }
    }

    /// Sets a shared entry for `ttl_ms`, when there is a shared store; never waits (the Redis
    /// call is spawned).
    pub fn shared_set(&self, key: &str, value: &str, ttl_ms: i64) {
        let Some(shared) = self.inner.shared.as_ref().filter(|s| s.is_up()).cloned() else {
            return;
        };
        let (key, value) = (key.to_owned(), value.to_owned());
        tokio::spawn(async move {
            if let Err(fault) = shared.set(&key, &value, ttl_ms).await {
                shared.fall_back(&fault);
            }
        });
    }

    /// Charges a finished request: `usage.tokens` to each `Tokens` check's counter and
    /// `usage.cost_nanos` to each `Spend` check's counter and period. Pass the checks the request
    /// was admitted with, so spend lands in the period it started in. Never waits: the Redis
    /// call is spawned (call it inside a tokio runtime).
    pub fn charge(&self, checks: &[Check], usage: Usage) {
        let now_ms = self.inner.clock.now_ms();
        if let Some(shared) = self.inner.shared.as_ref().filter(|s| s.is_up()) {
            let Some(call) = shared.charge_call(checks, usage, now_ms) else {
                return;
            };
            let inner = self.inner.clone();
            let checks = checks.to_vec();
            tokio::spawn(async move {
                if let Err(fault) = call.await {
                    if let Some(shared) = &inner.shared {
                        shared.fall_back(&fault);
                    }
                    inner.local.charge(&checks, usage, now_ms);
                }
            });
            return;
        }
        self.inner.local.charge(checks, usage, now_ms);
    }
}

/// What a backend found, before this request: per check, the amount in use and the reset time.
#[derive(Debug, Clone, Copy, Default)]
struct Seen {
    used: u64,
    reset_ms: u64,
}

/// A backend's answer: what each check saw, and the first refusal (check, retry after ms).
#[derive(Debug)]
struct Verdict {
    seen: Vec<Seen>,
    refused: Option<(usize, u64)>,
}

fn ms_until(at_ms: i64, now_ms: i64) -> u64 {
    u64::try_from(at_ms.saturating_sub(now_ms)).unwrap_or(0)
}

fn non_negative(v: i64) -> u64 {
    u64::try_from(v).unwrap_or(0)
}

fn conclude(
    checks: &[Check],
    verdict: Verdict,
    leases: Leases,
    now_ms: i64,
) -> Result<Admitted, Refused> {
    let admitted = verdict.refused.is_none();
    let quotas = checks
        .iter()
        .zip(&verdict.seen)
        .map(|(check, seen)| quota(&check.rule, *seen, admitted, now_ms))
        .collect();
    match verdict.refused {
        None => Ok(Admitted {
            quotas,
            _leases: leases,
        }),
        Some((check, retry_ms)) => {
            let rule = &checks[check].rule;
            let retry_after_ms = match rule {
                Rule::Spend { ends_at_ms, .. } => ms_until(*ends_at_ms, now_ms),
                _ => retry_ms,
            };
            Err(Refused {
                check,
                kind: rule.kind(),
                retry_after_ms: retry_after_ms.max(1),
                quotas,
            })
        }
    }
}

fn quota(rule: &Rule, seen: Seen, admitted: bool, now_ms: i64) -> Quota {
    let taken = u64::from(admitted);
    match rule {
        Rule::Requests { per_minute } => {
            let limit = u64::from(*per_minute);
            Quota {
                limit,
                remaining: limit.saturating_sub(seen.used + taken),
                // This request is now the oldest use when the window was empty.
                reset_ms: if admitted && seen.used == 0 {
                    WINDOW_MS as u64
                } else {
                    seen.reset_ms
                },
            }
        }
        Rule::Tokens { per_minute } => Quota {
            limit: *per_minute,
            remaining: per_minute.saturating_sub(seen.used),
            reset_ms: seen.reset_ms,
        },
        Rule::Concurrent { max } => Quota {
            limit: u64::from(*max),
            remaining: u64::from(*max).saturating_sub(seen.used + taken),
            reset_ms: 0,
        },
        Rule::Spend {
            limit_nanos,
            ends_at_ms,
            ..
        } => {
            let limit = non_negative(*limit_nanos);
            Quota {
                limit,
                remaining: limit.saturating_sub(seen.used),
                reset_ms: ms_until(*ends_at_ms, now_ms),
            }
        }
    }
}
