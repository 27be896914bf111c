//! Per-upstream circuit breakers driven by caller-supplied Unix-millisecond time, built so an open breaker always recovers.
use parking_lot::Mutex;

use crate::server::fast_map::FastMap;
use serde::{Deserialize, Serialize};

/// A leaked probe slot (a request whose outcome was never reported, e.g. a
/// panicking task) would otherwise pin a half-open breaker shut forever. Slots
/// older than this (or `open_duration_ms`, if longer) are reclaimed. It is
/// generous because LLM responses can stream for minutes; reclaiming a slow but
/// live probe only lets one extra probe through.
pub(crate) const PROBE_LEASE_MIN_MS: u64 = 60_000;

pub(crate) use crate::model::upstreams::BreakerConfig;

// Free functions because `BreakerConfig` is the shared model type. Zero is clamped to one:
// a zero probe limit or success threshold would mean a breaker that can never close again.
fn failure_threshold(cfg: &BreakerConfig) -> u32 {
    cfg.failure_threshold.max(1)
}

fn success_threshold(cfg: &BreakerConfig) -> u32 {
    cfg.success_threshold.max(1)
}

fn max_probes(cfg: &BreakerConfig) -> u32 {
    cfg.half_open_max_probes.max(1)
}

fn ms_as_i64(ms: u64) -> i64 {
    i64::try_from(ms).unwrap_or(i64::MAX)
}

/// A timestamp later than `now` (a clock stepped back, or state loaded from a
/// node with a skewed clock) counts as `now`, so skew can delay recovery by at
/// most one `open_duration_ms` instead of indefinitely.
fn effective_opened_at(opened_at_ms: Option<i64>, now_ms: i64) -> i64 {
    opened_at_ms.filter(|t| *t <= now_ms).unwrap_or(now_ms)
}

fn open_elapsed(cfg: &BreakerConfig, opened_at_ms: Option<i64>, now_ms: i64) -> bool {
    let opened = effective_opened_at(opened_at_ms, now_ms);
    now_ms.saturating_sub(opened) >= ms_as_i64(cfg.open_duration_ms)
}

pub(crate) use crate::model::breakers::{BreakerState as State, Forced};

impl Forced {
    fn state(self) -> State {
        match self {
            Forced::Open => State::Open,
            Forced::Closed => State::Closed,
        }
    }
}

/// What `admit` granted; hand it back with the outcome so a probe's slot is
/// released and a normal request's late result is not mistaken for a probe's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Admission {
    Allowed,
    Probe,
    Rejected,
}

/// A state change the caller should persist.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Transition {
    pub from: State,
    pub to: State,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Breaker {
    pub state: State,
    pub consecutive_failures: u32,
    pub half_open_successes: u32,
    pub probes_in_flight: u32,
    pub opened_at_ms: Option<i64>,
    pub last_failure_at_ms: Option<i64>,
    pub last_probe_at_ms: Option<i64>,
    pub forced: Option<Forced>,
    pub updated_at_ms: i64,
}

impl Breaker {
    pub(crate) fn new(now_ms: i64) -> Self {
        Self {
            state: State::Closed,
            consecutive_failures: 0,
            half_open_successes: 0,
            probes_in_flight: 0,
            opened_at_ms: None,
            last_failure_at_ms: None,
            last_probe_at_ms: None,
            forced: None,
            updated_at_ms: now_ms,
        }
    }

    /// The state `admit` would act on, without mutating: an open breaker whose
    /// timer has run out already reports `HalfOpen`.
    pub(crate) fn peek(&self, cfg: &BreakerConfig, now_ms: i64) -> State {
        if let Some(forced) = self.forced {
            return forced.state();
        }
        match self.state {
            State::Open if open_elapsed(cfg, self.opened_at_ms, now_ms) => State::HalfOpen,
            state => state,
        }
    }

    pub(crate) fn admit(&mut self, cfg: &BreakerConfig, now_ms: i64) -> Admission {
        match self.forced {
            Some(Forced::Closed) => return Admission::Allowed,
            Some(Forced::Open) => return Admission::Rejected,
            None => {}
        }
        let before = self.clone();
        let admission = self.admit_unforced(cfg, now_ms);
        self.touch_if_changed(&before, now_ms);
        admission
    }

    fn admit_unforced(&mut self, cfg: &BreakerConfig, now_ms: i64) -> Admission {
        if self.state == State::Open {
            // Persisting the re-anchored time keeps the timer from restarting on
            // every call while the clock is behind.
            self.opened_at_ms = Some(effective_opened_at(self.opened_at_ms, now_ms));
            if !open_elapsed(cfg, self.opened_at_ms, now_ms) {
                return Admission::Rejected;
            }
            self.state = State::HalfOpen;
            self.half_open_successes = 0;
            self.probes_in_flight = 0;
        }
        if self.state == State::Closed {
            return Admission::Allowed;
        }
        let max = max_probes(cfg);
        if self.probes_in_flight >= max && self.probe_lease_expired(cfg, now_ms) {
            self.probes_in_flight = 0;
        }
        if self.probes_in_flight < max {
            self.probes_in_flight += 1;
            self.last_probe_at_ms = Some(now_ms);
            Admission::Probe
        } else {
            Admission::Rejected
        }
    }

    fn probe_lease_expired(&self, cfg: &BreakerConfig, now_ms: i64) -> bool {
        let lease = ms_as_i64(cfg.open_duration_ms.max(PROBE_LEASE_MIN_MS));
        match self.last_probe_at_ms {
            // A future timestamp means our clock stepped back; waiting for it to
            // catch up could take arbitrarily long, so favour recovery.
            Some(at) => at > now_ms || now_ms.saturating_sub(at) >= lease,
            None => true,
        }
    }

    /// Gives back a probe slot whose request ended without an outcome (e.g. the
    /// client disconnected). Takes no time because in-flight slots are
    /// process-local bookkeeping, not state worth persisting.
    pub(crate) fn release(&mut self, admission: Admission) {
        if admission == Admission::Probe {
            self.probes_in_flight = self.probes_in_flight.saturating_sub(1);
        }
    }

    pub(crate) fn on_success(
        &mut self,
        cfg: &BreakerConfig,
        now_ms: i64,
        admission: Admission,
    ) -> Option<Transition> {
        // A rejected request never reached the upstream, so it says nothing.
        if admission == Admission::Rejected {
            return None;
        }
        let before = self.clone();
        self.release(admission);
        if self.forced.is_some() {
            self.consecutive_failures = 0;
        } else {
            match self.state {
                State::Closed => self.consecutive_failures = 0,
                // A slow request admitted before the breaker opened: one success
                // must not cut the cool-down short.
                State::Open => {}
                // Only probes count: a request admitted while closed proves less
                // about the upstream's recovery than one sent after the cool-down.
                State::HalfOpen if admission == Admission::Probe => {
                    self.half_open_successes = self.half_open_successes.saturating_add(1);
                    if self.half_open_successes >= success_threshold(cfg) {
                        self.close();
                    }
                }
                State::HalfOpen => {}
            }
        }
        self.finish(&before, now_ms)
    }

    pub(crate) fn on_failure(
        &mut self,
        cfg: &BreakerConfig,
        now_ms: i64,
        admission: Admission,
    ) -> Option<Transition> {
        if admission == Admission::Rejected {
            return None;
        }
        let before = self.clone();
        self.release(admission);
        self.last_failure_at_ms = Some(now_ms);
        if self.forced.is_some() {
            self.consecutive_failures = self.consecutive_failures.saturating_add(1);
        } else {
            match self.state {
                State::Closed => {
                    self.consecutive_failures = self.consecutive_failures.saturating_add(1);
                    if self.consecutive_failures >= failure_threshold(cfg) {
                        self.open(now_ms);
                    }
                }
                // Restarting the timer here would let a stream of late failures
                // from pre-open requests postpone recovery indefinitely.
                State::Open => {}
                // Any failure while half-open reopens, even from a request
                // admitted before opening: the upstream is still failing, and
                // erring towards open is the cheaper mistake.
                State::HalfOpen => {
                    self.consecutive_failures = self.consecutive_failures.saturating_add(1);
                    self.open(now_ms);
                }
            }
        }
        self.finish(&before, now_ms)
    }

    /// Resets the counters so that clearing the override later starts clean.
    pub(crate) fn force(&mut self, forced: Forced, now_ms: i64) -> Option<Transition> {
        let before = self.clone();
        self.forced = Some(forced);
        self.consecutive_failures = 0;
        self.half_open_successes = 0;
        self.probes_in_flight = 0;
        self.state = forced.state();
        self.opened_at_ms = match forced {
            Forced::Open => Some(now_ms),
            Forced::Closed => None,
        };
        self.finish(&before, now_ms)
    }

    /// Also works as a manual reset: the breaker ends closed even if it was not
    /// forced, so an administrator can always bring an upstream back.
    pub(crate) fn clear_force(&mut self, now_ms: i64) -> Option<Transition> {
        let before = self.clone();
        self.forced = None;
        self.close();
        self.finish(&before, now_ms)
    }

    fn open(&mut self, now_ms: i64) {
        self.state = State::Open;
        self.opened_at_ms = Some(now_ms);
        self.half_open_successes = 0;
    }

    fn close(&mut self) {
        self.state = State::Closed;
        self.consecutive_failures = 0;
        self.half_open_successes = 0;
        self.probes_in_flight = 0;
        self.opened_at_ms = None;
    }

    // Comparing with a snapshot keeps `updated_at_ms` meaning "last real
    // change", so hot-path calls that change nothing do not look like writes.
    fn touch_if_changed(&mut self, before: &Breaker, now_ms: i64) {
        if self != before {
            self.updated_at_ms = now_ms;
        }
    }

    fn finish(&mut self, before: &Breaker, now_ms: i64) -> Option<Transition> {
        self.touch_if_changed(before, now_ms);
        (self.state != before.state).then_some(Transition {
            from: before.state,
            to: self.state,
        })
    }
}

/// All breakers of this process, keyed by upstream id. Every method holds the
/// lock only for a few field updates; persisting transitions is the caller's job.
#[derive(Debug, Default)]
pub(crate) struct Registry {
    breakers: Mutex<FastMap<String, Breaker>>,
}

impl Registry {
    pub(crate) fn new() -> Self {
        Self::default()
    }

    fn with<R>(&self, id: &str, now_ms: i64, f: impl FnOnce(&mut Breaker) -> R) -> R {
        let mut map = self.breakers.lock();
        // Looking up first avoids allocating the key on every request.
        if let Some(breaker) = map.get_mut(id) {
            return f(breaker);
        }
        f(map
            .entry(id.to_owned())
            .or_insert_with(|| Breaker::new(now_ms)))
    }

    pub(crate) fn admit(&self, id: &str, cfg: &BreakerConfig, now_ms: i64) -> Admission {
        self.with(id, now_ms, |b| b.admit(cfg, now_ms))
    }

    /// Unknown ids report `Closed` without being created.
    pub(crate) fn peek(&self, id: &str, cfg: &BreakerConfig, now_ms: i64) -> State {
        self.breakers
            .lock()
            .get(id)
            .map_or(State::Closed, |b| b.peek(cfg, now_ms))
    }

    pub(crate) fn record(
        &self,
        id: &str,
        cfg: &BreakerConfig,
        now_ms: i64,
        admission: Admission,
        ok: bool,
    ) -> Option<Transition> {
        self.with(id, now_ms, |b| {
            if ok {
                b.on_success(cfg, now_ms, admission)
            } else {
                b.on_failure(cfg, now_ms, admission)
            }
        })
    }

    pub(crate) fn release(&self, id: &str, admission: Admission) {
        if let Some(breaker) = self.breakers.lock().get_mut(id) {
            breaker.release(admission);
        }
    }

    pub(crate) fn snapshot(&self, id: &str) -> Option<Breaker> {
        self.breakers.lock().get(id).cloned()
    }

    /// Sorted by id; sorting happens after the lock is released.
    #[cfg(test)]
    fn all(&self) -> Vec<(String, Breaker)> {
        let mut all: Vec<_> = self
            .breakers
            .lock()
            .iter()
            .map(|(id, b)| (id.clone(), b.clone()))
            .collect();
        all.sort_by(|a, b| a.0.cmp(&b.0));
        all
    }

    pub(crate) fn force(&self, id: &str, forced: Forced, now_ms: i64) -> Option<Transition> {
        self.with(id, now_ms, |b| b.force(forced, now_ms))
    }

    pub(crate) fn clear_force(&self, id: &str, now_ms: i64) -> Option<Transition> {
        self.with(id, now_ms, |b| b.clear_force(now_ms))
    }

    /// Installs persisted or remote state but keeps this process's probe
    /// bookkeeping: probes counted elsewhere (or before a restart) will never
    /// report back here, and adopting them would leak slots.
    pub(crate) fn replace(&self, id: &str, mut breaker: Breaker) {
        let mut map = self.breakers.lock();
        let (in_flight, last_probe) = map
            .get(id)
            .map_or((0, None), |b| (b.probes_in_flight, b.last_probe_at_ms));
        breaker.probes_in_flight = in_flight;
        breaker.last_probe_at_ms = last_probe;
        map.insert(id.to_owned(), breaker);
    }

    pub(crate) fn remove(&self, id: &str) -> Option<Breaker> {
        self.breakers.lock().remove(id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicI64, AtomicU32, Ordering};
    use std::sync::Arc;
    use std::thread;

    const T0: i64 = 1_700_000_000_000;

    fn cfg() -> BreakerConfig {
        BreakerConfig::default()
    }

    fn fail_n(b: &mut Breaker, cfg: &BreakerConfig, n: u32, now: i64) -> Option<Transition> {
        let mut last = None;
        for _ in 0..n {
            let adm = b.admit(cfg, now);
            last = b.on_failure(cfg, now, adm);
        }
        last
    }

    fn opened(cfg: &BreakerConfig, now: i64) -> Breaker {
        let mut b = Breaker::new(now);
        fail_n(&mut b, cfg, cfg.failure_threshold, now);
        assert_eq!(b.state, State::Open);
        b
    }

    fn open_ms(cfg: &BreakerConfig) -> i64 {
        cfg.open_duration_ms as i64
    }

    #[test]
    fn defaults_match_the_app() {
        let c = BreakerConfig::default();
        assert_eq!(
            (
                c.failure_threshold,
                c.success_threshold,
                c.open_duration_ms,
                c.half_open_max_probes
            ),
            (5, 2, 30_000, 1)
        );
        let parsed: BreakerConfig = serde_json::from_str(r#"{"failure_threshold":3}"#).unwrap();
        assert_eq!(parsed.failure_threshold, 3);
        assert_eq!(parsed.success_threshold, 2);
    }

    #[test]
    fn state_and_forced_strings_round_trip() {
        for s in [State::Closed, State::Open, State::HalfOpen] {
            assert_eq!(s.as_str().parse::<State>(), Ok(s));
            assert_eq!(s.to_string(), s.as_str());
            assert_eq!(serde_json::to_string(&s).unwrap(), format!("\"{s}\""));
        }
        for f in [Forced::Open, Forced::Closed] {
            assert_eq!(f.as_str().parse::<Forced>(), Ok(f));
        }
        let err = "half-open".parse::<State>().unwrap_err();
        assert_eq!(
            err.to_string(),
            r#""half-open" is not one of closed, open, half_open"#
        );
        assert!("".parse::<Forced>().is_err());
    }

    #[test]
    fn opens_after_exactly_failure_threshold_consecutive_failures() {
        let c = cfg();
        let mut b = Breaker::new(T0);
        assert_eq!(fail_n(&mut b, &c, c.failure_threshold - 1, T0), None);
        assert_eq!(b.state, State::Closed);
        // A success in between starts the count over.
        assert_eq!(b.on_success(&c, T0, Admission::Allowed), None);
        assert_eq!(b.consecutive_failures, 0);
        assert_eq!(fail_n(&mut b, &c, c.failure_threshold - 1, T0 + 1), None);
        assert_eq!(b.state, State::Closed);
        let t = fail_n(&mut b, &c, 1, T0 + 2);
        assert_eq!(
            t,
            Some(Transition {
                from: State::Closed,
                to: State::Open
            })
        );
        assert_eq!(b.opened_at_ms, Some(T0 + 2));
        assert_eq!(b.last_failure_at_ms, Some(T0 + 2));
        assert_eq!(b.consecutive_failures, c.failure_threshold);
    }

    #[test]
    fn rejects_while_open() {
        let c = cfg();
        let mut b = opened(&c, T0);
        for dt in [0, 1, 1_000, open_ms(&c) - 1] {
            assert_eq!(b.admit(&c, T0 + dt), Admission::Rejected);
            assert_eq!(b.peek(&c, T0 + dt), State::Open);
        }
        assert_eq!(b.state, State::Open);
    }

    #[test]
    fn half_open_exactly_at_open_duration() {
        let c = cfg();
        let mut b = opened(&c, T0);
        let due = T0 + open_ms(&c);
        assert_eq!(b.peek(&c, due - 1), State::Open);
        assert_eq!(b.admit(&c, due - 1), Admission::Rejected);
        assert_eq!(b.peek(&c, due), State::HalfOpen);
        assert_eq!(b.state, State::Open, "peek must not mutate");
        assert_eq!(b.admit(&c, due), Admission::Probe);
        assert_eq!(b.state, State::HalfOpen);
        assert_eq!(b.probes_in_flight, 1);
        assert_eq!(b.last_probe_at_ms, Some(due));
        assert_eq!(b.updated_at_ms, due);
    }

    #[test]
    fn only_max_probes_in_flight() {
        let c = BreakerConfig {
            half_open_max_probes: 2,
            success_threshold: 3,
            ..cfg()
        };
        let mut b = opened(&c, T0);
        let t = T0 + open_ms(&c);
        assert_eq!(b.admit(&c, t), Admission::Probe);
        assert_eq!(b.admit(&c, t), Admission::Probe);
        assert_eq!(b.admit(&c, t + 1), Admission::Rejected);
        assert_eq!(b.probes_in_flight, 2);
        assert_eq!(b.on_success(&c, t + 2, Admission::Probe), None);
        assert_eq!(b.probes_in_flight, 1);
        assert_eq!(b.admit(&c, t + 3), Admission::Probe);
        assert_eq!(b.admit(&c, t + 3), Admission::Rejected);
    }

    #[test]
    fn success_threshold_probe_successes_close() {
        let c = cfg();
        let mut b = opened(&c, T0);
        let t = T0 + open_ms(&c);
        for i in 0..c.success_threshold {
            let adm = b.admit(&c, t + i as i64);
            assert_eq!(adm, Admission::Probe);
            let tr = b.on_success(&c, t + i as i64, adm);
            if i + 1 < c.success_threshold {
                assert_eq!(tr, None);
                assert_eq!(b.half_open_successes, i + 1);
            } else {
                assert_eq!(
                    tr,
                    Some(Transition {
                        from: State::HalfOpen,
                        to: State::Closed
                    })
                );
            }
        }
        assert_eq!(b.state, State::Closed);
        assert_eq!(
            (
                b.consecutive_failures,
                b.half_open_successes,
                b.probes_in_flight
            ),
            (0, 0, 0)
        );
        assert_eq!(b.opened_at_ms, None);
        assert_eq!(b.admit(&c, t + 10), Admission::Allowed);
    }

    #[test]
    fn half_open_failure_reopens_and_restarts_timer() {
        let c = cfg();
        let mut b = opened(&c, T0);
        let t = T0 + open_ms(&c);
        let adm = b.admit(&c, t);
        assert_eq!(b.on_success(&c, t, adm), None);
        assert_eq!(b.half_open_successes, 1);
        let t2 = t + 500;
        let adm = b.admit(&c, t2);
        assert_eq!(adm, Admission::Probe);
        assert_eq!(
            b.on_failure(&c, t2, adm),
            Some(Transition {
                from: State::HalfOpen,
                to: State::Open
            })
        );
        assert_eq!(b.opened_at_ms, Some(t2));
        assert_eq!(b.half_open_successes, 0);
        assert_eq!(b.probes_in_flight, 0);
        assert_eq!(b.admit(&c, t2 + open_ms(&c) - 1), Admission::Rejected);
        assert_eq!(b.admit(&c, t2 + open_ms(&c)), Admission::Probe);
    }

    #[test]
    fn recovers_every_time() {
        let c = cfg();
        let mut b = Breaker::new(T0);
        let mut now = T0;
        let mut transitions = Vec::new();
        for _ in 0..2 {
            for _ in 0..c.failure_threshold {
                let adm = b.admit(&c, now);
                assert_eq!(adm, Admission::Allowed);
                transitions.extend(b.on_failure(&c, now, adm));
                now += 10;
            }
            assert_eq!(b.admit(&c, now), Admission::Rejected);
            now += open_ms(&c);
            for _ in 0..c.success_threshold {
                let adm = b.admit(&c, now);
                assert_eq!(adm, Admission::Probe);
                transitions.extend(b.on_success(&c, now, adm));
                now += 10;
            }
            assert_eq!(b.state, State::Closed);
            assert_eq!(b.admit(&c, now), Admission::Allowed);
        }
        let to: Vec<_> = transitions.iter().map(|t| t.to).collect();
        assert_eq!(
            to,
            [State::Open, State::Closed, State::Open, State::Closed],
            "Open -> HalfOpen happens inside admit and is not reported"
        );
    }

    #[test]
    fn forced_open_rejects_and_forced_closed_admits() {
        let c = cfg();
        let mut b = Breaker::new(T0);
        assert_eq!(
            b.force(Forced::Open, T0),
            Some(Transition {
                from: State::Closed,
                to: State::Open
            })
        );
        assert_eq!(b.opened_at_ms, Some(T0));
        // Long past the open duration, a forced breaker never goes half-open.
        let later = T0 + 10 * open_ms(&c);
        assert_eq!(b.admit(&c, later), Admission::Rejected);
        assert_eq!(b.peek(&c, later), State::Open);

        let mut b = Breaker::new(T0);
        assert_eq!(b.force(Forced::Closed, T0), None);
        for i in 0..50 {
            let adm = b.admit(&c, T0 + i);
            assert_eq!(adm, Admission::Allowed);
            assert_eq!(b.on_failure(&c, T0 + i, adm), None);
        }
        assert_eq!(b.state, State::Closed);
        assert_eq!(b.consecutive_failures, 50, "admins still see failures");
        assert_eq!(b.last_failure_at_ms, Some(T0 + 49));
        assert_eq!(b.on_success(&c, T0 + 50, Admission::Allowed), None);
        assert_eq!(b.consecutive_failures, 0);
    }

    #[test]
    fn force_over_an_open_breaker_resets_counters() {
        let c = cfg();
        let mut b = opened(&c, T0);
        assert_eq!(
            b.force(Forced::Closed, T0 + 1),
            Some(Transition {
                from: State::Open,
                to: State::Closed
            })
        );
        assert_eq!(b.consecutive_failures, 0);
        assert_eq!(b.opened_at_ms, None);
        assert_eq!(b.forced, Some(Forced::Closed));
        assert_eq!(b.updated_at_ms, T0 + 1);
    }

    #[test]
    fn clear_force_returns_to_closed() {
        let c = cfg();
        let mut b = Breaker::new(T0);
        b.force(Forced::Open, T0);
        b.on_failure(&c, T0 + 1, Admission::Allowed);
        assert_eq!(b.consecutive_failures, 1);
        assert_eq!(
            b.clear_force(T0 + 2),
            Some(Transition {
                from: State::Open,
                to: State::Closed
            })
        );
        assert_eq!(b.forced, None);
        assert_eq!(b.consecutive_failures, 0);
        assert_eq!(b.opened_at_ms, None);
        assert_eq!(b.admit(&c, T0 + 3), Admission::Allowed);

        // Doubles as a manual reset of a naturally open breaker.
        let mut b = opened(&c, T0);
        assert!(b.clear_force(T0 + 1).is_some());
        assert_eq!(b.state, State::Closed);
        assert_eq!(b.clear_force(T0 + 2), None);
    }

    #[test]
    fn late_results_while_open_do_not_corrupt() {
        let c = cfg();
        let mut b = Breaker::new(T0);
        let slow = b.admit(&c, T0);
        assert_eq!(slow, Admission::Allowed);
        fail_n(&mut b, &c, c.failure_threshold, T0 + 1);
        let snapshot = b.clone();

        assert_eq!(b.on_success(&c, T0 + 2, slow), None);
        assert_eq!(b, snapshot, "a late success changes nothing");

        assert_eq!(b.on_failure(&c, T0 + 3, slow), None);
        assert_eq!(
            b,
            Breaker {
                last_failure_at_ms: Some(T0 + 3),
                updated_at_ms: T0 + 3,
                ..snapshot
            },
            "a late failure only records when it happened"
        );
        // The open timer was not pushed back.
        assert_eq!(b.admit(&c, T0 + 1 + open_ms(&c)), Admission::Probe);
    }

    #[test]
    fn allowed_results_while_half_open_are_not_probes() {
        let c = cfg();
        let mut b = Breaker::new(T0);
        let slow = b.admit(&c, T0);
        fail_n(&mut b, &c, c.failure_threshold, T0);
        let t = T0 + open_ms(&c);
        assert_eq!(b.admit(&c, t), Admission::Probe);

        assert_eq!(b.on_success(&c, t + 1, slow), None);
        assert_eq!(b.probes_in_flight, 1, "only a probe frees a probe slot");
        assert_eq!(b.half_open_successes, 0, "does not count towards closing");
        assert_eq!(b.admit(&c, t + 1), Admission::Rejected);

        assert_eq!(
            b.on_failure(&c, t + 2, slow),
            Some(Transition {
                from: State::HalfOpen,
                to: State::Open
            })
        );
        assert_eq!(b.opened_at_ms, Some(t + 2));
    }

    #[test]
    fn late_probe_result_after_close_is_harmless() {
        let c = BreakerConfig {
            half_open_max_probes: 2,
            success_threshold: 1,
            ..cfg()
        };
        let mut b = opened(&c, T0);
        let t = T0 + open_ms(&c);
        let p1 = b.admit(&c, t);
        let p2 = b.admit(&c, t);
        assert!(b.on_success(&c, t + 1, p1).is_some());
        assert_eq!(b.on_success(&c, t + 2, p2), None);
        assert_eq!((b.state, b.probes_in_flight), (State::Closed, 0));
    }

    #[test]
    fn rejected_outcomes_are_ignored() {
        let c = cfg();
        let mut b = opened(&c, T0);
        let snapshot = b.clone();
        assert_eq!(b.on_failure(&c, T0 + 5, Admission::Rejected), None);
        assert_eq!(b.on_success(&c, T0 + 5, Admission::Rejected), None);
        assert_eq!(b, snapshot);
    }

    #[test]
    fn updated_at_changes_only_on_mutation() {
        let c = cfg();
        let mut b = Breaker::new(T0);
        assert_eq!(b.admit(&c, T0 + 5), Admission::Allowed);
        b.on_success(&c, T0 + 6, Admission::Allowed);
        assert_eq!(b.updated_at_ms, T0);
        b.on_failure(&c, T0 + 7, Admission::Allowed);
        assert_eq!(b.updated_at_ms, T0 + 7);
    }

    #[test]
    fn leaked_probe_slot_is_reclaimed_after_lease() {
        let c = cfg();
        let mut b = opened(&c, T0);
        let t = T0 + open_ms(&c);
        assert_eq!(b.admit(&c, t), Admission::Probe);
        let lease = PROBE_LEASE_MIN_MS.max(c.open_duration_ms) as i64;
        assert_eq!(b.admit(&c, t + lease - 1), Admission::Rejected);
        assert_eq!(b.admit(&c, t + lease), Admission::Probe);
        assert_eq!(b.probes_in_flight, 1);
    }

    #[test]
    fn clock_skew_delays_recovery_by_at_most_one_open_duration() {
        let c = cfg();
        let mut b = opened(&c, T0 + 3_600_000);
        assert_eq!(b.admit(&c, T0), Admission::Rejected);
        assert_eq!(b.opened_at_ms, Some(T0));
        assert_eq!(b.admit(&c, T0 + open_ms(&c)), Admission::Probe);

        let mut b = Breaker {
            state: State::Open,
            opened_at_ms: None,
            ..Breaker::new(T0)
        };
        assert_eq!(b.peek(&c, T0), State::Open);
        assert_eq!(b.admit(&c, T0), Admission::Rejected);
        assert_eq!(b.admit(&c, T0 + open_ms(&c)), Admission::Probe);
    }

    #[test]
    fn zero_limits_still_recover() {
        let c = BreakerConfig {
            failure_threshold: 0,
            success_threshold: 0,
            open_duration_ms: 0,
            half_open_max_probes: 0,
        };
        let mut b = Breaker::new(T0);
        assert!(b.on_failure(&c, T0, Admission::Allowed).is_some());
        assert_eq!(b.state, State::Open);
        let adm = b.admit(&c, T0);
        assert_eq!(adm, Admission::Probe);
        assert_eq!(b.admit(&c, T0), Admission::Rejected);
        assert!(b.on_success(&c, T0, adm).is_some());
        assert_eq!(b.state, State::Closed);
    }

    #[test]
    fn serde_round_trip() {
        let c = cfg();
        let mut b = opened(&c, T0);
        b.admit(&c, T0 + open_ms(&c));
        b.force(Forced::Open, T0 + 40_000);
        b.on_failure(&c, T0 + 40_001, Admission::Allowed);
        let json = serde_json::to_string(&b).unwrap();
        assert!(json.contains(r#""forced":"open""#), "{json}");
        let back: Breaker = serde_json::from_str(&json).unwrap();
        assert_eq!(back, b);

        let half = Breaker {
            state: State::HalfOpen,
            ..Breaker::new(T0)
        };
        let json = serde_json::to_value(&half).unwrap();
        assert_eq!(json["state"], "half_open");
        assert_eq!(json["forced"], serde_json::Value::Null);
        assert_eq!(serde_json::from_value::<Breaker>(json).unwrap(), half);
    }

    #[test]
    fn registry_creates_unknown_ids_closed() {
        let c = cfg();
        let r = Registry::new();
        assert_eq!(r.snapshot("a"), None);
        assert_eq!(r.peek("a", &c, T0), State::Closed);
        r.release("a", Admission::Probe);
        assert_eq!(r.snapshot("a"), None, "peek and release do not create");
        assert_eq!(r.admit("a", &c, T0), Admission::Allowed);
        assert_eq!(r.snapshot("a"), Some(Breaker::new(T0)));
        assert_eq!(r.record("b", &c, T0, Admission::Allowed, false), None);
        assert_eq!(r.snapshot("b").unwrap().consecutive_failures, 1);
        let ids: Vec<_> = r.all().into_iter().map(|(id, _)| id).collect();
        assert_eq!(ids, ["a", "b"]);
        assert!(r.remove("a").is_some());
        assert_eq!(r.remove("a"), None);
        assert_eq!(r.all().len(), 1);
    }

    #[test]
    fn registry_force_and_clear() {
        let c = cfg();
        let r = Registry::new();
        assert!(r.force("u", Forced::Open, T0).is_some());
        assert_eq!(r.admit("u", &c, T0 + 1), Admission::Rejected);
        assert_eq!(r.peek("u", &c, T0 + 10 * open_ms(&c)), State::Open);
        assert_eq!(
            r.clear_force("u", T0 + 2),
            Some(Transition {
                from: State::Open,
                to: State::Closed
            })
        );
        assert_eq!(r.admit("u", &c, T0 + 3), Admission::Allowed);
    }

    #[test]
    fn release_gives_back_a_probe_slot() {
        let c = cfg();
        let r = Registry::new();
        for _ in 0..c.failure_threshold {
            r.record("u", &c, T0, Admission::Allowed, false);
        }
        let t = T0 + open_ms(&c);
        assert_eq!(r.admit("u", &c, t), Admission::Probe);
        assert_eq!(r.admit("u", &c, t), Admission::Rejected);
        r.release("u", Admission::Allowed);
        assert_eq!(r.admit("u", &c, t), Admission::Rejected);
        r.release("u", Admission::Probe);
        assert_eq!(r.snapshot("u").unwrap().probes_in_flight, 0);
        assert_eq!(r.admit("u", &c, t + 1), Admission::Probe);
        r.release("u", Admission::Probe);
        r.release("u", Admission::Probe);
        assert_eq!(r.snapshot("u").unwrap().probes_in_flight, 0, "saturates");
    }

    #[test]
    fn replace_keeps_local_probe_slots() {
        let c = cfg();
        let r = Registry::new();
        let remote = Breaker {
            state: State::HalfOpen,
            probes_in_flight: 1,
            last_probe_at_ms: Some(T0),
            opened_at_ms: Some(T0 - open_ms(&c)),
            ..Breaker::new(T0)
        };
        r.replace("u", remote.clone());
        let loaded = r.snapshot("u").unwrap();
        assert_eq!(
            (loaded.probes_in_flight, loaded.last_probe_at_ms),
            (0, None)
        );
        assert_eq!(r.admit("u", &c, T0 + 1), Admission::Probe);
        r.replace("u", remote);
        assert_eq!(r.snapshot("u").unwrap().probes_in_flight, 1);
        assert_eq!(r.admit("u", &c, T0 + 2), Admission::Rejected);
    }

    #[test]
    fn registry_concurrency_keeps_probes_bounded() {
        const THREADS: u64 = 8;
        const ITERS: u64 = 1_000;
        let c = BreakerConfig {
            failure_threshold: 3,
            success_threshold: 2,
            open_duration_ms: 40,
            half_open_max_probes: 2,
        };
        let r = Arc::new(Registry::new());
        let clock = Arc::new(AtomicI64::new(T0));
        let probes = Arc::new(AtomicU32::new(0));
        let closes = Arc::new(AtomicU32::new(0));
        let handles: Vec<_> = (0..THREADS)
            .map(|seed| {
                let (r, clock, probes, closes) =
                    (r.clone(), clock.clone(), probes.clone(), closes.clone());
                thread::spawn(move || {
                    let mut rng = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
                    for _ in 0..ITERS {
                        rng ^= rng << 13;
                        rng ^= rng >> 7;
                        rng ^= rng << 17;
                        let now = clock.fetch_add(1, Ordering::Relaxed);
                        let adm = r.admit("u", &c, now);
                        let in_flight = r.snapshot("u").unwrap().probes_in_flight;
                        assert!(in_flight <= c.half_open_max_probes, "{in_flight}");
                        match adm {
                            Admission::Rejected => continue,
                            Admission::Probe => {
                                probes.fetch_add(1, Ordering::Relaxed);
                            }
                            Admission::Allowed => {}
                        }
                        if rng % 7 == 0 {
                            r.release("u", adm);
                            continue;
                        }
                        // Failures dominate early on, then the upstream heals.
                        let ok = if now - T0 < 4_000 {
                            rng % 3 == 0
                        } else {
                            rng % 10 != 0
                        };
                        let done = clock.load(Ordering::Relaxed);
                        if let Some(t) = r.record("u", &c, done, adm, ok) {
                            if t.to == State::Closed {
                                closes.fetch_add(1, Ordering::Relaxed);
                            }
                        }
                    }
                })
            })
            .collect();
        for h in handles {
            h.join().unwrap();
        }
        let b = r.snapshot("u").unwrap();
        assert_eq!(b.probes_in_flight, 0, "every slot was given back: {b:?}");
        assert!(probes.load(Ordering::Relaxed) > 0);
        assert!(closes.load(Ordering::Relaxed) > 0, "the breaker recovered");
    }
}
