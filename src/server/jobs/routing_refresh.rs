//! Reloads the routing snapshot on an interval, so keys and upstreams changed through another
//! instance (several gateways on one PostgreSQL) reach this one within seconds.
use std::time::Duration;

use crate::server::state::AppState;

/// Every `ROUTING_REFRESH_MS` (5 s by default).
pub(crate) fn spawn(state: AppState) {
    tokio::spawn(async move {
        let every = Duration::from_millis(state.config.routing_refresh_ms);
        let mut tick = tokio::time::interval(every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        tick.tick().await;
        loop {
            tick.tick().await;
            state.routing_changed().await;
        }
    });
}
