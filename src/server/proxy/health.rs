//! What this process knows about each upstream's health, from active checks and from real
//! traffic. Unhealthy upstreams are tried after healthy ones, never dropped.
use parking_lot::Mutex;

use super::events::{EventSink, PlaneEvent};
use crate::server::db::upstream_health::HealthRow;
use crate::server::fast_map::FastMap;

/// Consecutive failures that mark an upstream unhealthy once an active check failed; one
/// success (a check or a request) marks it healthy again.
pub(crate) const UNHEALTHY_AFTER: u32 = 2;

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Health {
    /// `None` until a check or a request said anything.
    pub healthy: Option<bool>,
    pub latency_ms: Option<u64>,
    pub last_check_at: Option<i64>,
    pub last_success_at: Option<i64>,
    pub consecutive_failures: u32,
    pub last_error: Option<String>,
    pub updated_at: i64,
}

impl Health {
    fn success(&mut self, now_ms: i64) {
        self.healthy = Some(true);
        self.consecutive_failures = 0;
        self.last_success_at = Some(now_ms);
        self.updated_at = now_ms;
    }

    fn failure(&mut self, now_ms: i64, error: &str, may_mark_down: bool) {
        self.consecutive_failures = self.consecutive_failures.saturating_add(1);
        if may_mark_down && self.consecutive_failures >= UNHEALTHY_AFTER {
            self.healthy = Some(false);
        }
        self.last_error = Some(error.to_owned());
        self.updated_at = now_ms;
    }
}

/// An active check's outcome.
pub(crate) enum CheckOutcome<'a> {
    Up {
        latency_ms: u64,
    },
    Down {
        latency_ms: Option<u64>,
        error: &'a str,
    },
}

#[derive(Debug, Default)]
pub(crate) struct HealthBook {
    entries: Mutex<FastMap<String, Health>>,
    /// Flips between healthy and unhealthy, for the alerts.
    events: EventSink,
}

impl HealthBook {
    pub(crate) fn with_events(events: EventSink) -> Self {
        Self {
            entries: Mutex::default(),
            events,
        }
    }

    fn with(&self, id: &str, now_ms: i64, f: impl FnOnce(&mut Health)) {
        let flipped = {
            let mut map = self.entries.lock();
            let h = match map.get_mut(id) {
                Some(h) => h,
                None => map.entry(id.to_owned()).or_default(),
            };
            let before = h.healthy;
            f(h);
            // Unknown -> healthy is no news; unknown -> unhealthy is.
            match (before, h.healthy) {
                (b, Some(now)) if b != Some(now) && (b.is_some() || !now) => {
                    Some((now, h.last_error.clone()))
                }
                _ => None,
            }
        };
        if let Some((healthy, error)) = flipped {
            self.events.emit(PlaneEvent::HealthChanged {
                upstream_id: id.to_owned(),
                healthy,
                at_ms: now_ms,
                error: (!healthy).then_some(error).flatten(),
            });
        }
    }

    /// Unknown upstreams count as healthy.
    pub(crate) fn is_healthy(&self, id: &str) -> bool {
        self.entries.lock().get(id).and_then(|h| h.healthy) != Some(false)
    }

    pub(crate) fn record_check(&self, id: &str, now_ms: i64, outcome: CheckOutcome<'_>) {
        self.with(id, now_ms, |h| {
            h.last_check_at = Some(now_ms);
            match outcome {
                CheckOutcome::Up { latency_ms } => {
                    h.latency_ms = Some(latency_ms);
                    h.success(now_ms);
                }
                CheckOutcome::Down { latency_ms, error } => {
                    h.latency_ms = latency_ms;
                    h.failure(now_ms, error, true);
                }
            }
        });
    }

    /// A proxied request's outcome. A success proves the upstream up; a failure is recorded
    /// but never marks it down: failing traffic is the circuit breaker's job, and an upstream
    /// that traffic alone marked down would get traffic only after healthy ones failed, so
    /// nothing but an active check could ever bring it back.
    pub(crate) fn record_traffic(&self, id: &str, now_ms: i64, failure: Option<&str>) {
        self.with(id, now_ms, |h| match failure {
            None => h.success(now_ms),
            Some(error) => h.failure(now_ms, error, false),
        });
    }

    pub(crate) fn get(&self, id: &str) -> Option<Health> {
        self.entries.lock().get(id).cloned()
    }

    pub(crate) fn rows(&self) -> Vec<HealthRow> {
        self.entries
            .lock()
            .iter()
            .map(|(id, h)| HealthRow {
                upstream_id: id.clone(),
                is_healthy: i64::from(h.healthy != Some(false)),
                last_check_at: h.last_check_at,
                last_success_at: h.last_success_at,
                consecutive_failures: i64::from(h.consecutive_failures),
                latency_ms: h.latency_ms.map(|l| l as i64),
                last_error: h.last_error.clone(),
                updated_at: h.updated_at,
            })
            .collect()
    }

    /// Start-up: what the previous run (or another instance) last wrote.
    pub(crate) fn load(&self, rows: Vec<HealthRow>) {
        let mut map = self.entries.lock();
        for row in rows {
            // Every success stamps `last_success_at`, so a healthy row without one was never
            // judged (the column's default), which loads as unknown again.
            let healthy = if row.is_healthy == 0 {
                Some(false)
            } else {
                row.last_success_at.map(|_| true)
            };
            map.insert(
                row.upstream_id,
                Health {
                    healthy,
                    latency_ms: row.latency_ms.map(|l| l.max(0) as u64),
                    last_check_at: row.last_check_at,
                    last_success_at: row.last_success_at,
                    consecutive_failures: u32::try_from(row.consecutive_failures.max(0))
                        .unwrap_or(u32::MAX),
                    last_error: row.last_error,
                    updated_at: row.updated_at,
                },
            );
        }
    }

    pub(crate) fn forget(&self, id: &str) {
        self.entries.lock().remove(id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn flips_are_announced_and_steady_states_are_not() {
        let (sink, mut events) = EventSink::channel();
        let book = HealthBook::with_events(sink);
        book.record_check("u", 1, CheckOutcome::Up { latency_ms: 5 });
        assert!(events.try_recv().is_err(), "unknown to healthy is no news");
        for now in 2..6 {
            book.record_check(
                "u",
                now,
                CheckOutcome::Down {
                    latency_ms: None,
                    error: "refused",
                },
            );
        }
        assert_eq!(
            events.try_recv().unwrap(),
            PlaneEvent::HealthChanged {
                upstream_id: "u".into(),
                healthy: false,
                at_ms: 3,
                error: Some("refused".into())
            }
        );
        assert!(events.try_recv().is_err(), "still down is no news");
        book.record_traffic("u", 9, None);
        book.record_traffic("u", 10, None);
        assert_eq!(
            events.try_recv().unwrap(),
            PlaneEvent::HealthChanged {
                upstream_id: "u".into(),
                healthy: true,
                at_ms: 9,
                error: None
            }
        );
        assert!(events.try_recv().is_err());
    }

    #[test]
    fn unknown_upstreams_are_healthy() {
        let book = HealthBook::default();
        assert!(book.is_healthy("nobody"));
        assert!(book.get("nobody").is_none());
    }

    #[test]
    fn failures_mark_down_after_the_threshold_and_one_success_brings_back() {
        let book = HealthBook::default();
        for n in 1..UNHEALTHY_AFTER {
            book.record_check(
                "u",
                n as i64,
                CheckOutcome::Down {
                    latency_ms: None,
                    error: "refused",
                },
            );
            assert!(book.is_healthy("u"), "{n} failure(s) are not enough");
        }
        book.record_check(
            "u",
            10,
            CheckOutcome::Down {
                latency_ms: None,
                error: "timeout",
            },
        );
        assert!(!book.is_healthy("u"));
        let h = book.get("u").unwrap();
        assert_eq!(h.consecutive_failures, UNHEALTHY_AFTER);
        assert_eq!(h.last_error.as_deref(), Some("timeout"));
        assert_eq!(h.healthy, Some(false));

        book.record_check("u", 20, CheckOutcome::Up { latency_ms: 7 });
        let h = book.get("u").unwrap();
        assert_eq!(h.healthy, Some(true));
        assert_eq!(h.consecutive_failures, 0);
        assert_eq!(h.latency_ms, Some(7));
        assert_eq!(h.last_check_at, Some(20));
        assert_eq!(h.last_success_at, Some(20));
        assert!(book.is_healthy("u"));
    }

    #[test]
    fn traffic_success_resets_without_touching_check_fields() {
        let book = HealthBook::default();
        book.record_check(
            "u",
            1,
            CheckOutcome::Down {
                latency_ms: Some(3),
                error: "x",
            },
        );
        book.record_traffic("u", 2, None);
        let h = book.get("u").unwrap();
        assert_eq!(h.last_check_at, Some(1));
        assert_eq!(h.latency_ms, Some(3));
        assert_eq!(h.last_success_at, Some(2));
        assert_eq!(h.consecutive_failures, 0);
    }

    #[test]
    fn traffic_failures_are_recorded_but_never_mark_down() {
        let book = HealthBook::default();
        for t in 0..10 {
            book.record_traffic("u", t, Some("refused"));
        }
        assert!(book.is_healthy("u"));
        let h = book.get("u").unwrap();
        assert_eq!(h.consecutive_failures, 10);
        assert_eq!(h.last_error.as_deref(), Some("refused"));
        book.record_traffic("u", 11, None);
        assert_eq!(book.get("u").unwrap().healthy, Some(true));
    }

    #[test]
    fn rows_round_trip_through_load() {
        let book = HealthBook::default();
        book.record_check("a", 1, CheckOutcome::Up { latency_ms: 5 });
        for t in 2..4 {
            book.record_check(
                "b",
                t,
                CheckOutcome::Down {
                    latency_ms: None,
                    error: "boom",
                },
            );
        }
        let rows = book.rows();
        let again = HealthBook::default();
        again.load(rows);
        assert_eq!(again.get("a"), book.get("a"));
        assert_eq!(again.get("b"), book.get("b"));
        assert!(!again.is_healthy("b"));
    }
}
