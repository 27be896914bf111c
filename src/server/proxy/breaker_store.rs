//! The breakers the proxy consults, tied to the database: transitions are queued for the sync
//! job to persist off the request path, forced states are written before the admin gets an
//! answer, and rows written by other instances are adopted.
use parking_lot::Mutex;

use tokio::sync::mpsc;

use super::breaker::{Admission, Breaker, BreakerConfig, Forced, Registry, State, Transition};
use super::events::{EventSink, PlaneEvent};
use crate::server::db::breaker_states::{self as repo, BreakerRow};
use crate::server::db::Database;
use crate::server::fast_map::FastMap;

pub(crate) struct BreakerStore {
    registry: Registry,
    /// Ids whose state changed; the sync job persists their latest state.
    changed: mpsc::UnboundedSender<String>,
    /// Per upstream, the `updated_at` of the row this process last wrote or adopted: a row
    /// with any other value was written by another instance.
    versions: Mutex<FastMap<String, i64>>,
    /// Openings and closings, for the alerts.
    events: EventSink,
}

pub(crate) type ChangeFeed = mpsc::UnboundedReceiver<String>;

fn to_row(id: &str, b: &Breaker) -> BreakerRow {
    BreakerRow {
        upstream_id: id.to_owned(),
        state: b.state.as_str().to_owned(),
        failure_count: i64::from(b.consecutive_failures),
        success_count: i64::from(b.half_open_successes),
        last_failure_at: b.last_failure_at_ms,
        opened_at: b.opened_at_ms,
        last_probe_at: b.last_probe_at_ms,
        forced: b.forced.map(|f| f.as_str().to_owned()),
        updated_at: b.updated_at_ms,
    }
}

fn from_row(row: &BreakerRow) -> Breaker {
    let count = |n: i64| u32::try_from(n.max(0)).unwrap_or(u32::MAX);
    Breaker {
        state: row.state.parse().unwrap_or(State::Closed),
        consecutive_failures: count(row.failure_count),
        half_open_successes: count(row.success_count),
        probes_in_flight: 0,
        opened_at_ms: row.opened_at,
        last_failure_at_ms: row.last_failure_at,
        last_probe_at_ms: row.last_probe_at,
        forced: row.forced.as_deref().and_then(|f| f.parse().ok()),
        updated_at_ms: row.updated_at,
    }
}

impl BreakerStore {
    #[cfg(test)]
    pub(crate) fn new() -> (Self, ChangeFeed) {
        Self::with_events(EventSink::default())
    }

    pub(crate) fn with_events(events: EventSink) -> (Self, ChangeFeed) {
        let (changed, feed) = mpsc::unbounded_channel();
        (
            Self {
                registry: Registry::new(),
                changed,
                versions: Mutex::new(FastMap::default()),
                events,
            },
            feed,
        )
    }

    pub(crate) fn admit(&self, id: &str, cfg: &BreakerConfig, now_ms: i64) -> Admission {
        self.registry.admit(id, cfg, now_ms)
    }

    pub(crate) fn peek(&self, id: &str, cfg: &BreakerConfig, now_ms: i64) -> State {
        self.registry.peek(id, cfg, now_ms)
    }

    pub(crate) fn release(&self, id: &str, admission: Admission) {
        self.registry.release(id, admission);
    }

    /// Records an outcome; a state change is queued for persistence (never awaited here).
    pub(crate) fn record(
        &self,
        id: &str,
        cfg: &BreakerConfig,
        now_ms: i64,
        admission: Admission,
        ok: bool,
    ) -> Option<Transition> {
        let transition = self.registry.record(id, cfg, now_ms, admission, ok);
        if let Some(t) = transition {
            let _ = self.changed.send(id.to_owned());
            self.announce(id, t, now_ms);
        }
        transition
    }

    /// An opening from closed, or a closing: what an operator is alerted to. A half-open
    /// breaker whose probe failed re-opens within the same outage and is not announced again.
    fn announce(&self, id: &str, t: Transition, now_ms: i64) {
        let upstream_id = id.to_owned();
        match (t.from, t.to) {
            (State::Closed, State::Open) => {
                let opened_at_ms = self
                    .registry
                    .snapshot(id)
                    .and_then(|b| b.opened_at_ms)
                    .unwrap_or(now_ms);
                self.events.emit(PlaneEvent::BreakerOpened {
                    upstream_id,
                    opened_at_ms,
                });
            }
            (_, State::Closed) => self.events.emit(PlaneEvent::BreakerClosed {
                upstream_id,
                at_ms: now_ms,
            }),
            _ => {}
        }
    }

    /// This process's view of one breaker; `None` if it never saw traffic or a persisted row.
    pub(crate) fn get(&self, id: &str) -> Option<Breaker> {
        self.registry.snapshot(id)
    }

    /// Holds the breaker open until `reset`; persisted before returning.
    pub(crate) async fn force_open(
        &self,
        db: &Database,
        id: &str,
        now_ms: i64,
    ) -> Result<Breaker, sqlx::Error> {
        self.registry.force(id, Forced::Open, now_ms);
        self.persist(db, id).await?;
        Ok(self.get(id).unwrap_or_else(|| Breaker::new(now_ms)))
    }

    /// Clears any override and closes the breaker with fresh counters; persisted before returning.
    pub(crate) async fn reset(
        &self,
        db: &Database,
        id: &str,
        now_ms: i64,
    ) -> Result<Breaker, sqlx::Error> {
        self.registry.clear_force(id, now_ms);
        self.persist(db, id).await?;
        Ok(self.get(id).unwrap_or_else(|| Breaker::new(now_ms)))
    }

    /// Drops a deleted upstream's breaker.
    pub(crate) fn forget(&self, id: &str) {
        self.registry.remove(id);
        self.versions.lock().remove(id);
    }

    /// Writes the current state of one breaker.
    pub(crate) async fn persist(&self, db: &Database, id: &str) -> Result<(), sqlx::Error> {
        let Some(breaker) = self.registry.snapshot(id) else {
            return Ok(());
        };
        repo::upsert(&db.pool, &to_row(id, &breaker)).await?;
        self.versions
            .lock()
            .insert(id.to_owned(), breaker.updated_at_ms);
        Ok(())
    }

    /// Adopts rows another instance wrote (or, at start-up, every persisted row); returns how
    /// many breakers changed.
    pub(crate) async fn pull(&self, db: &Database) -> Result<usize, sqlx::Error> {
        let rows = repo::list_all(&db.pool).await?;
        let mut adopted = 0;
        let mut versions = self.versions.lock();
        for row in rows {
            if versions.get(&row.upstream_id) == Some(&row.updated_at) {
                continue;
            }
            self.registry.replace(&row.upstream_id, from_row(&row));
            versions.insert(row.upstream_id.clone(), row.updated_at);
            adopted += 1;
        }
        Ok(adopted)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_round_trip_without_local_probe_slots() {
        let mut b = Breaker::new(5);
        b.state = State::HalfOpen;
        b.consecutive_failures = 4;
        b.half_open_successes = 1;
        b.probes_in_flight = 1;
        b.opened_at_ms = Some(3);
        b.last_failure_at_ms = Some(4);
        b.last_probe_at_ms = Some(6);
        b.forced = Some(Forced::Open);
        b.updated_at_ms = 7;
        let row = to_row("u1", &b);
        assert_eq!(row.state, "half_open");
        assert_eq!(row.forced.as_deref(), Some("open"));
        let back = from_row(&row);
        assert_eq!(back.probes_in_flight, 0, "probe slots are process-local");
        assert_eq!(
            Breaker {
                probes_in_flight: 1,
                ..back
            },
            b
        );
    }

    #[test]
    fn unreadable_rows_fall_back_to_closed_and_unforced() {
        let row = BreakerRow {
            upstream_id: "u".into(),
            state: "melted".into(),
            failure_count: -3,
            success_count: 0,
            last_failure_at: None,
            opened_at: None,
            last_probe_at: None,
            forced: Some("sideways".into()),
            updated_at: 1,
        };
        let b = from_row(&row);
        assert_eq!(b.state, State::Closed);
        assert_eq!(b.forced, None);
        assert_eq!(b.consecutive_failures, 0);
    }

    #[tokio::test]
    async fn transitions_are_queued_and_quiet_outcomes_are_not() {
        let (store, mut feed) = BreakerStore::new();
        let cfg = BreakerConfig {
            failure_threshold: 2,
            ..BreakerConfig::default()
        };
        let a = store.admit("u", &cfg, 0);
        assert!(store.record("u", &cfg, 0, a, false).is_none());
        assert!(
            feed.try_recv().is_err(),
            "a counted failure is not a transition"
        );
        let a = store.admit("u", &cfg, 1);
        assert!(store.record("u", &cfg, 1, a, false).is_some());
        assert_eq!(feed.try_recv().unwrap(), "u");
        assert_eq!(store.get("u").unwrap().state, State::Open);
    }

    #[tokio::test]
    async fn an_opening_and_a_closing_are_announced_once_each() {
        let (sink, mut events) = EventSink::channel();
        let (store, _feed) = BreakerStore::with_events(sink);
        let cfg = BreakerConfig {
            failure_threshold: 2,
            success_threshold: 1,
            open_duration_ms: 10,
            half_open_max_probes: 1,
        };
        for now in 0..5 {
            let a = store.admit("u", &cfg, now);
            store.record("u", &cfg, now, a, false);
        }
        assert_eq!(
            events.try_recv().unwrap(),
            PlaneEvent::BreakerOpened {
                upstream_id: "u".into(),
                opened_at_ms: 1
            }
        );
        assert!(events.try_recv().is_err(), "failing fast announces nothing");
        // The probe fails: re-opened within the same outage, not announced.
        let a = store.admit("u", &cfg, 20);
        assert_eq!(a, Admission::Probe);
        store.record("u", &cfg, 20, a, false);
        assert!(events.try_recv().is_err());
        let a = store.admit("u", &cfg, 40);
        store.record("u", &cfg, 40, a, true);
        assert_eq!(
            events.try_recv().unwrap(),
            PlaneEvent::BreakerClosed {
                upstream_id: "u".into(),
                at_ms: 40
            }
        );
    }
}
