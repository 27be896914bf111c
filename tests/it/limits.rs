//! The limits engine (`server::limits`): exact windows, concurrency leases and budgets, in
//! process and shared by two limiters on one Redis, and the fall-back to local counters when
//! Redis stops answering.
//!
//! The Redis tests need Redis at `TEST_REDIS_URL` (default `redis://127.0.0.1:6379`) and fail,
//! saying so, without it. Each works under its own random key prefix and deletes it after.
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use autorouter::server::clock::{Clock, SharedClock};
use autorouter::server::limits::{
    Admitted, Check, Kind, Limiter, Mode, Refused, Rule, SharedOptions, Usage,
};
use futures_util::future::join_all;

use crate::common::redis::{redis_addr, redis_url, Forwarder};
use crate::common::{now_ms, TestClock};

/// A clock that moves only when told, from a fixed instant.
#[derive(Debug)]
struct ManualClock(AtomicI64);

impl ManualClock {
    fn at(ms: i64) -> Arc<Self> {
        Arc::new(Self(AtomicI64::new(ms)))
    }

    fn advance_ms(&self, ms: i64) {
        self.0.fetch_add(ms, Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now_ms(&self) -> i64 {
        self.0.load(Ordering::SeqCst)
    }
}

const T0: i64 = 1_765_000_000_000;

fn local_at(ms: i64) -> (Limiter, Arc<ManualClock>) {
    let clock = ManualClock::at(ms);
    (Limiter::local(clock.clone()), clock)
}

fn requests(counter: &str, per_minute: u32) -> Check {
    Check::new(counter, Rule::Requests { per_minute })
}

fn concurrent(counter: &str, max: u32) -> Check {
    Check::new(counter, Rule::Concurrent { max })
}

fn budget(counter: &str, period: &str, ends_at_ms: i64, limit: i64, durable: i64) -> Check {
    Check::new(
        counter,
        Rule::Spend {
            period: period.into(),
            ends_at_ms,
            limit_nanos: limit,
            durable_nanos: durable,
        },
    )
}

fn cost(nanos: i64) -> Usage {
    Usage {
        tokens: 0,
        cost_nanos: nanos,
    }
}

fn refusal(result: Result<Admitted, Refused>) -> Refused {
    match result {
        Ok(admitted) => panic!("admitted: {:?}", admitted.quotas()),
        Err(refused) => refused,
    }
}

#[tokio::test]
async fn no_checks_admit_at_once_and_the_future_is_send() {
    let (limiter, _) = local_at(T0);
    fn is_send<T: Send>(_: &T) {}
    let admitting = limiter.admit(&[]);
    is_send(&admitting);
    let admitted = admitting.await.unwrap();
    assert!(admitted.quotas().is_empty());
    assert_eq!(limiter.mode(), Mode::Local);
    assert_eq!(Mode::Local.as_str(), "local");
}

#[tokio::test]
async fn local_requests_per_minute_admit_exactly_the_limit() {
    let (limiter, clock) = local_at(T0);
    let checks = [requests("k:1", 10)];
    let mut admitted = 0;
    for i in 0..30u64 {
        match limiter.admit(&checks).await {
            Ok(a) => {
                admitted += 1;
                let q = a.quotas()[0];
                assert_eq!((q.limit, q.remaining), (10, 10 - admitted));
                // The oldest use counted is the one at T0.
                assert_eq!(q.reset_ms, 60_000 - 100 * i);
            }
            Err(r) => {
                assert_eq!((r.check, r.kind), (0, Kind::Rate));
                // The first of the ten (at T0) leaves the window at T0 + 60 s.
                assert_eq!(r.retry_after_ms, 60_000 - 100 * i);
                assert_eq!(r.quotas[0].remaining, 0);
            }
        }
        clock.advance_ms(100);
    }
    assert_eq!(admitted, 10);
}

#[tokio::test]
async fn local_window_slides_a_slot_free_sixty_seconds_after_its_use() {
    let (limiter, clock) = local_at(T0);
    let checks = [requests("k:1", 4)];
    for _ in 0..2 {
        let _ = limiter.admit(&checks).await.unwrap();
    }
    clock.advance_ms(30_000);
    for _ in 0..2 {
        let _ = limiter.admit(&checks).await.unwrap();
    }
    clock.advance_ms(29_999);
    let r = refusal(limiter.admit(&checks).await);
    assert_eq!(r.retry_after_ms, 1);
    clock.advance_ms(1);
    // Both uses at T0 have left: two slots, not the whole window.
    let a = limiter.admit(&checks).await.unwrap();
    assert_eq!(a.quotas()[0].remaining, 1);
    assert_eq!(
        a.quotas()[0].reset_ms,
        30_000,
        "the oldest left is from T0 + 30 s"
    );
    let _ = limiter.admit(&checks).await.unwrap();
    let r = refusal(limiter.admit(&checks).await);
    assert_eq!(r.retry_after_ms, 30_000);
}

#[tokio::test]
async fn local_tokens_admit_while_the_last_minute_is_under_the_limit() {
    let (limiter, clock) = local_at(T0);
    let checks = [Check::new("k:1", Rule::Tokens { per_minute: 100 })];
    let _ = limiter.admit(&checks).await.unwrap();
    limiter.charge(
        &checks,
        Usage {
            tokens: 60,
            cost_nanos: 0,
        },
    );
    clock.advance_ms(10_000);
    let a = limiter.admit(&checks).await.unwrap();
    assert_eq!(
        (a.quotas()[0].remaining, a.quotas()[0].reset_ms),
        (40, 50_000)
    );
    // Admitted while under: this answer takes the window over the limit.
    limiter.charge(
        &checks,
        Usage {
            tokens: 70,
            cost_nanos: 0,
        },
    );
    clock.advance_ms(5_000);
    let r = refusal(limiter.admit(&checks).await);
    assert_eq!(r.kind, Kind::Rate);
    // 130 charged; once the 60 of T0 leave (T0 + 60 s) the window holds 70 < 100.
    assert_eq!(r.retry_after_ms, 45_000);
    clock.advance_ms(45_000);
    let a = limiter.admit(&checks).await.unwrap();
    assert_eq!(a.quotas()[0].remaining, 30);
}

#[tokio::test]
async fn local_concurrency_admits_the_cap_and_a_release_frees_a_slot() {
    let (limiter, _) = local_at(T0);
    let checks = [concurrent("k:1", 2)];
    let results: Vec<_> = join_all((0..5).map(|_| limiter.admit(&checks))).await;
    let (held, refused): (Vec<_>, Vec<_>) = results.into_iter().partition(|r| r.is_ok());
    assert_eq!((held.len(), refused.len()), (2, 3));
    let r = refused.into_iter().next().unwrap().unwrap_err();
    assert_eq!((r.kind, r.retry_after_ms), (Kind::Concurrency, 1_000));
    let mut held: Vec<Admitted> = held.into_iter().map(Result::unwrap).collect();
    refusal(limiter.admit(&checks).await);
    held.pop().unwrap().release();
    let again = limiter.admit(&checks).await.unwrap();
    assert_eq!(again.quotas()[0].remaining, 0);
    drop(held);
    drop(again);
    assert_eq!(
        limiter.admit(&checks).await.unwrap().quotas()[0].remaining,
        1
    );
}

#[tokio::test]
async fn local_budget_refuses_the_request_after_spend_crosses_it() {
    let (limiter, _) = local_at(T0);
    let ends = T0 + 3_600_000;
    // A budget just above one request's cost (1000): the second is still admitted.
    let checks = [budget("k:1", "d:2025-12-06", ends, 1_001, 0)];
    let _ = limiter.admit(&checks).await.unwrap();
    limiter.charge(&checks, cost(1_000));
    let a = limiter.admit(&checks).await.unwrap();
    assert_eq!(a.quotas()[0].remaining, 1);
    limiter.charge(&checks, cost(1_000));
    let r = refusal(limiter.admit(&checks).await);
    assert_eq!((r.kind, r.retry_after_ms), (Kind::Budget, 3_600_000));
    assert_eq!(r.quotas[0].reset_ms, 3_600_000);
    // Another period starts from what the database says it holds.
    let next = [budget(
        "k:1",
        "d:2025-12-07",
        ends + 86_400_000,
        1_001,
        1_001,
    )];
    refusal(limiter.admit(&next).await);
    let next = [budget("k:1", "d:2025-12-07", ends + 86_400_000, 1_001, 500)];
    assert_eq!(
        limiter.admit(&next).await.unwrap().quotas()[0].remaining,
        501
    );
}

#[tokio::test]
async fn local_budget_reads_the_larger_of_the_counter_and_the_durable_sum() {
    let (limiter, _) = local_at(T0);
    let ends = T0 + 3_600_000;
    let with = |durable| [budget("k:1", "m:2025-12", ends, 10_000, durable)];
    let _ = limiter.admit(&with(1_000)).await.unwrap();
    limiter.charge(&with(1_000), cost(500));
    // The database has not caught up: the live counter (1500) counts.
    assert_eq!(
        limiter.admit(&with(1_200)).await.unwrap().quotas()[0].remaining,
        8_500
    );
    // The database knows more (another instance's spend): it counts, and raises the counter.
    assert_eq!(
        limiter.admit(&with(4_000)).await.unwrap().quotas()[0].remaining,
        6_000
    );
    assert_eq!(
        limiter.admit(&with(0)).await.unwrap().quotas()[0].remaining,
        6_000
    );
}

#[tokio::test]
async fn local_refusal_consumes_nothing() {
    let (limiter, _) = local_at(T0);
    let ends = T0 + 3_600_000;
    let checks = [
        requests("k:1", 5),
        budget("k:1", "d:2025-12-06", ends, 1_000, 0),
        concurrent("u:1", 1),
    ];
    let held = limiter.admit(&checks).await.unwrap();
    for _ in 0..10 {
        let r = refusal(limiter.admit(&checks).await);
        assert_eq!((r.check, r.kind), (2, Kind::Concurrency));
        assert_eq!(r.quotas[0].remaining, 4, "refusals took no request slot");
    }
    drop(held);
    let a = limiter.admit(&checks).await.unwrap();
    assert_eq!(a.quotas()[0].remaining, 3);
    assert_eq!(a.quotas()[2].remaining, 0);
}

// ---- Redis ----

/// A key prefix no other test (or run) shares; its keys are deleted when dropped.
struct Namespace {
    prefix: String,
    url: String,
}

impl Namespace {
    fn new(test: &str) -> Self {
        static N: AtomicU64 = AtomicU64::new(0);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos();
        let prefix = format!(
            "test:{test}:{}:{}:{nanos:x}",
            std::process::id(),
            N.fetch_add(1, Ordering::SeqCst)
        );
        Self {
            prefix,
            url: redis_url(),
        }
    }

    fn options(&self, url: &str) -> SharedOptions {
        let mut options = SharedOptions::new(url);
        options.namespace = self.prefix.clone();
        options
    }

    async fn limiter(&self, clock: SharedClock) -> Limiter {
        let limiter = Limiter::shared_with(self.options(&self.url), clock)
            .await
            .unwrap();
        assert_eq!(
            limiter.mode(),
            Mode::Shared,
            "Redis answers at {}",
            self.url
        );
        limiter
    }

    async fn connection(&self) -> redis::aio::MultiplexedConnection {
        let client = redis::Client::open(self.url.as_str()).unwrap();
        client.get_multiplexed_async_connection().await.unwrap()
    }
}

impl Drop for Namespace {
    fn drop(&mut self) {
        let Ok(client) = redis::Client::open(self.url.as_str()) else {
            return;
        };
        let Ok(mut conn) = client.get_connection() else {
            return;
        };
        let keys: Vec<String> = redis::cmd("KEYS")
            .arg(format!("{}:*", self.prefix))
            .query(&mut conn)
            .unwrap_or_default();
        if !keys.is_empty() {
            let _: redis::RedisResult<()> = redis::cmd("DEL").arg(keys).query(&mut conn);
        }
    }
}

fn real_clock() -> Arc<TestClock> {
    Arc::new(TestClock::default())
}

/// One more wait for a spawned release or charge to land in Redis, for at most 3 s in all.
async fn pause(since: Instant, what: &str) {
    assert!(
        since.elapsed() < Duration::from_secs(3),
        "{what}: not within 3 s"
    );
    tokio::time::sleep(Duration::from_millis(5)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_two_instances_admit_exactly_ten_of_thirty() {
    let ns = Namespace::new("rpm");
    let clock = real_clock();
    let (a, b) = (ns.limiter(clock.clone()).await, ns.limiter(clock).await);
    let checks = [requests("k:1", 10)];
    let results = join_all((0..30).map(|i| {
        let limiter = if i % 2 == 0 { &a } else { &b };
        limiter.admit(&checks)
    }))
    .await;
    let admitted = results.iter().filter(|r| r.is_ok()).count();
    assert_eq!(admitted, 10);
    for r in results.iter().filter_map(|r| r.as_ref().err()) {
        assert_eq!(r.kind, Kind::Rate);
        assert!((1..=60_000).contains(&r.retry_after_ms), "{r:?}");
        assert_eq!(r.quotas[0].remaining, 0);
    }
    assert_eq!((a.mode(), b.mode()), (Mode::Shared, Mode::Shared));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_window_slides_across_instances() {
    let ns = Namespace::new("slide");
    let (ca, cb) = (real_clock(), real_clock());
    let (a, b) = (ns.limiter(ca.clone()).await, ns.limiter(cb.clone()).await);
    let checks = [requests("k:1", 3)];
    for _ in 0..3 {
        let _ = a.admit(&checks).await.unwrap();
    }
    let r = refusal(b.admit(&checks).await);
    assert!(r.retry_after_ms > 59_000, "{r:?}");
    cb.advance(Duration::from_millis(60_000));
    let admitted = b.admit(&checks).await.unwrap();
    assert_eq!(admitted.quotas()[0].remaining, 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_concurrency_cap_holds_across_instances() {
    let ns = Namespace::new("conc");
    let clock = real_clock();
    let (a, b) = (ns.limiter(clock.clone()).await, ns.limiter(clock).await);
    let checks = [concurrent("u:1", 2)];
    let results = join_all((0..5).map(|i| {
        let limiter = if i % 2 == 0 { &a } else { &b };
        limiter.admit(&checks)
    }))
    .await;
    let mut held: Vec<Admitted> = Vec::new();
    for r in results {
        match r {
            Ok(admitted) => held.push(admitted),
            Err(r) => assert_eq!((r.kind, r.retry_after_ms), (Kind::Concurrency, 1_000)),
        }
    }
    assert_eq!(held.len(), 2);
    refusal(b.admit(&checks).await);
    drop(held.pop());
    let since = Instant::now();
    loop {
        match a.admit(&checks).await {
            Ok(admitted) => break held.push(admitted),
            Err(_) => pause(since, "a release frees a slot").await,
        }
    }
    refusal(b.admit(&checks).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_a_dead_instances_leases_expire() {
    let ns = Namespace::new("lease");
    let survivor_clock = real_clock();
    let dead = ns.limiter(real_clock()).await;
    let survivor = ns.limiter(survivor_clock.clone()).await;
    let checks = [concurrent("k:1", 1)];
    // The instance dies holding its slot: no release, no renewal.
    std::mem::forget(dead.admit(&checks).await.unwrap());
    drop(dead);
    refusal(survivor.admit(&checks).await);
    survivor_clock.advance(Duration::from_secs(31));
    let admitted = survivor.admit(&checks).await.unwrap();
    assert_eq!(admitted.quotas()[0].remaining, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_spend_is_seeded_from_the_database_and_crossed_across_instances() {
    let ns = Namespace::new("spend");
    let clock = real_clock();
    let (a, b) = (ns.limiter(clock.clone()).await, ns.limiter(clock).await);
    let ends = now_ms() + 3_600_000;
    let with = |durable| [budget("k:1", "d:2025-12-06", ends, 1_000, durable)];
    // The database holds 400 for the day: the counter starts there.
    let admitted = a.admit(&with(400)).await.unwrap();
    assert_eq!(admitted.quotas()[0].remaining, 600);
    a.charge(&with(400), cost(300));
    let since = Instant::now();
    while b.admit(&with(400)).await.unwrap().quotas()[0].remaining != 300 {
        pause(since, "a's charge").await;
    }
    // A charge from b, whose view of the database is older: the counter still holds it all.
    b.charge(&with(0), cost(300));
    let since = Instant::now();
    let r = loop {
        match a.admit(&with(400)).await {
            Ok(_) => pause(since, "b's charge").await,
            Err(r) => break r,
        }
    };
    assert_eq!(r.kind, Kind::Budget);
    assert!((3_590_000..=3_600_000).contains(&r.retry_after_ms), "{r:?}");
    assert_eq!(r.quotas[0].remaining, 0);

    // Redis lost the counter (a restart): it is seeded again from the database's sum.
    let mut conn = ns.connection().await;
    let key = format!("{}:k:1:sp:d:2025-12-06", ns.prefix);
    let held: i64 = redis::cmd("GET")
        .arg(&key)
        .query_async(&mut conn)
        .await
        .unwrap();
    assert_eq!(held, 1_000);
    let _: () = redis::cmd("DEL")
        .arg(&key)
        .query_async(&mut conn)
        .await
        .unwrap();
    let admitted = b.admit(&with(700)).await.unwrap();
    assert_eq!(admitted.quotas()[0].remaining, 300);
    let ttl: i64 = redis::cmd("PTTL")
        .arg(&key)
        .query_async(&mut conn)
        .await
        .unwrap();
    assert!(ttl > 3_600_000, "the counter outlives its period: {ttl}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_tokens_and_refusals_consume_nothing() {
    let ns = Namespace::new("tokens");
    let clock = real_clock();
    let (a, b) = (ns.limiter(clock.clone()).await, ns.limiter(clock).await);
    let tokens = Check::new("k:1", Rule::Tokens { per_minute: 100 });
    let checks = [requests("k:1", 10), tokens.clone()];
    let _ = a.admit(&checks).await.unwrap();
    a.charge(
        &checks,
        Usage {
            tokens: 150,
            cost_nanos: 0,
        },
    );
    let since = Instant::now();
    while b.admit(std::slice::from_ref(&tokens)).await.is_ok() {
        pause(since, "a's charge").await;
    }
    let r = refusal(b.admit(&checks).await);
    assert_eq!((r.check, r.kind), (1, Kind::Rate));
    assert!((58_000..=60_000).contains(&r.retry_after_ms), "{r:?}");
    assert_eq!(r.quotas[0].remaining, 9);
    assert_eq!(r.quotas[1].remaining, 0);
    for _ in 0..5 {
        refusal(a.admit(&checks).await);
    }
    let r = refusal(b.admit(&checks).await);
    assert_eq!(r.quotas[0].remaining, 9, "refusals took no request slot");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_outage_falls_back_to_local_counters_and_recovers() {
    let ns = Namespace::new("outage");
    let forwarder = Forwarder::start(redis_addr(&ns.url)).await;
    let clock = real_clock();
    let via = format!("redis://{}", forwarder.addr);
    let limiter = Limiter::shared_with(ns.options(&via), clock.clone())
        .await
        .unwrap();
    assert_eq!(limiter.mode(), Mode::Shared);
    let other = ns.limiter(clock).await;
    let checks = [requests("k:1", 5)];
    for _ in 0..3 {
        let _ = limiter.admit(&checks).await.unwrap();
    }
    for _ in 0..2 {
        let _ = other.admit(&checks).await.unwrap();
    }
    refusal(limiter.admit(&checks).await);

    forwarder.cut();
    let started = Instant::now();
    let admitted = limiter.admit(&checks).await;
    assert!(
        started.elapsed() < Duration::from_millis(200),
        "{:?}",
        started.elapsed()
    );
    assert!(
        admitted.is_ok(),
        "answered from this instance's own (empty) window"
    );
    assert_eq!(limiter.mode(), Mode::Local);
    limiter.charge(&checks, cost(1));
    for _ in 0..4 {
        let _ = limiter.admit(&checks).await.unwrap();
    }
    refusal(limiter.admit(&checks).await);
    // Still no Redis: the limiter keeps answering, without waiting for it.
    let started = Instant::now();
    for _ in 0..20 {
        refusal(limiter.admit(&checks).await);
    }
    assert!(started.elapsed() < Duration::from_millis(50));

    forwarder.restore();
    let started = Instant::now();
    while limiter.mode() != Mode::Shared {
        assert!(
            started.elapsed() < Duration::from_secs(3),
            "no reconnection within 3 s"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // The shared window (full since before the outage) applies again.
    let r = refusal(limiter.admit(&checks).await);
    assert!(r.retry_after_ms > 50_000, "{r:?}");
    assert_eq!(limiter.mode(), Mode::Shared);
    let fresh = [requests("k:2", 5)];
    let _ = limiter.admit(&fresh).await.unwrap();
    assert_eq!(other.admit(&fresh).await.unwrap().quotas()[0].remaining, 3);
}

/// Per-call latency of `admit` with one `Requests` check, in process and on Redis:
/// `cargo test --features ssr --test it -- --ignored limits::admit_latency --nocapture`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a measurement, not a test"]
async fn admit_latency() {
    async fn measure(limiter: &Limiter, checks: &[Check]) -> (Duration, Duration) {
        let mut times = Vec::with_capacity(10_000);
        for _ in 0..10_000 {
            let started = Instant::now();
            let admitted = limiter.admit(checks).await;
            times.push(started.elapsed());
            assert!(admitted.is_ok());
        }
        times.sort();
        (times[times.len() / 2], times[times.len() * 99 / 100])
    }
    let checks = [requests("k:bench", 1_000_000)];
    let local = Limiter::local(real_clock());
    let (p50, p99) = measure(&local, &checks).await;
    println!("admit, local: p50 {p50:?}, p99 {p99:?}");
    let ns = Namespace::new("bench");
    let shared = ns.limiter(real_clock()).await;
    let (p50, p99) = measure(&shared, &checks).await;
    println!("admit, Redis: p50 {p50:?}, p99 {p99:?}");
    let none = measure(&shared, &[]).await;
    println!("admit, no checks: p50 {:?}, p99 {:?}", none.0, none.1);
    let mut conn = ns.connection().await;
    let mut times = Vec::with_capacity(10_000);
    for _ in 0..10_000 {
        let started = Instant::now();
        let _: String = redis::cmd("PING").query_async(&mut conn).await.unwrap();
        times.push(started.elapsed());
    }
    times.sort();
    println!(
        "PING (the round trip alone): p50 {:?}, p99 {:?}",
        times[5_000], times[9_900]
    );
}
