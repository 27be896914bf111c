//! Reloads the routing snapshot on an interval, so keys and upstreams changed through another
//! instance (several gateways on one PostgreSQL) reach this one within seconds.
use std::time::Duration;

use crate::server::state::AppState;

pub const REFRESH_EVERY: Duration = Duration::from_secs(5);

pub fn spawn(state: AppState) {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(REFRESH_EVERY);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        tick.tick().await;
        loop {
            tick.tick().await;
            state.routing_changed().await;
        }
    });
}
