//! Keeps breakers and the database in step: persists each state change off the request path,
//! and adopts changes other instances made (a forced state, an opened breaker) every
//! `BREAKER_SYNC_MS` (2 s by default).
use std::time::Duration;

use crate::server::proxy::breaker_store::ChangeFeed;
use crate::server::state::AppState;

pub(crate) fn spawn(state: AppState, mut changes: ChangeFeed) {
    tokio::spawn(async move {
        let every = Duration::from_millis(state.config.breaker_sync_ms);
        let mut tick = tokio::time::interval(every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        tick.tick().await;
        loop {
            tokio::select! {
                changed = changes.recv() => {
                    let Some(id) = changed else { return };
                    persist(&state, &id).await;
                }
                _ = tick.tick() => {
                    // Our own queued changes go out first, so a pull never undoes them.
                    while let Ok(id) = changes.try_recv() {
                        persist(&state, &id).await;
                    }
                    match state.plane.breakers.pull(&state.db).await {
                        Ok(0) => {}
                        Ok(n) => tracing::info!(adopted = n, "circuit breaker states adopted from the database"),
                        Err(e) => tracing::warn!(error = %e, "cannot read circuit breaker states"),
                    }
                }
            }
        }
    });
}

async fn persist(state: &AppState, id: &str) {
    if let Err(e) = state.plane.breakers.persist(&state.db, id).await {
        tracing::warn!(upstream_id = %id, error = %e, "cannot persist circuit breaker state");
    }
}
