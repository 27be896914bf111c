//! What the data plane tells the alerts about: breaker and health transitions, sent through a
//! bounded channel that never waits (the proxy never depends on who listens).
use tokio::sync::mpsc;

/// Transitions are rare (a few per upstream per outage); a full queue drops, never blocks.
const CAPACITY: usize = 1_024;

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum PlaneEvent {
    /// A closed breaker opened (a failed probe re-opening a half-open one is the same outage).
    BreakerOpened {
        upstream_id: String,
        opened_at_ms: i64,
    },
    /// A half-open breaker closed again: the upstream recovered.
    BreakerClosed { upstream_id: String, at_ms: i64 },
    /// An upstream's health flipped; `error` is the last check's error when it went down.
    HealthChanged {
        upstream_id: String,
        healthy: bool,
        at_ms: i64,
        error: Option<String>,
    },
}

/// The sending side, cloned into the breakers and the health book; the default sends nowhere.
#[derive(Debug, Clone, Default)]
pub(crate) struct EventSink(Option<mpsc::Sender<PlaneEvent>>);

pub(crate) type EventFeed = mpsc::Receiver<PlaneEvent>;

impl EventSink {
    pub(crate) fn channel() -> (Self, EventFeed) {
        let (tx, rx) = mpsc::channel(CAPACITY);
        (Self(Some(tx)), rx)
    }

    pub(crate) fn emit(&self, event: PlaneEvent) {
        if let Some(tx) = &self.0 {
            if let Err(e) = tx.try_send(event) {
                tracing::warn!(error = %e, "alert event dropped");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_default_sink_sends_nowhere_and_a_full_one_drops() {
        EventSink::default().emit(PlaneEvent::BreakerClosed {
            upstream_id: "u".into(),
            at_ms: 1,
        });
        let (sink, mut feed) = EventSink::channel();
        for i in 0..CAPACITY + 5 {
            sink.emit(PlaneEvent::BreakerClosed {
                upstream_id: "u".into(),
                at_ms: i as i64,
            });
        }
        let mut n = 0;
        while feed.try_recv().is_ok() {
            n += 1;
        }
        assert_eq!(n, CAPACITY);
    }
}
