//! Deletes request logs older than `LOG_RETENTION_DAYS`: once shortly after start, then daily.
use std::time::Duration;

use crate::server::service::logs::purge_older_than;
use crate::server::state::AppState;

pub(crate) const EVERY: Duration = Duration::from_secs(24 * 3600);
const DAY_MS: i64 = 24 * 3600 * 1000;

/// One pass; returns how many rows were deleted.
pub(crate) async fn run_once(state: &AppState) -> Result<u64, sqlx::Error> {
    let cutoff = state.clock.now_ms() - i64::from(state.config.log_retention_days) * DAY_MS;
    let deleted = purge_older_than(&state.db, cutoff).await?;
    crate::server::db::request_stats::delete_before(&state.db.pool, cutoff).await?;
    crate::server::db::admin_sessions::purge_expired(&state.db.pool, state.clock.now_ms()).await?;
    crate::server::db::alerts::delete_before(&state.db.pool, cutoff).await?;
    if deleted > 0 {
        tracing::info!(
            deleted,
            days = state.config.log_retention_days,
            "old request logs deleted"
        );
    }
    Ok(deleted)
}

pub(crate) fn spawn(state: AppState) {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(EVERY);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            // The first tick fires at once: a gateway that restarts daily still purges.
            tick.tick().await;
            if let Err(e) = run_once(&state).await {
                tracing::error!(error = %e, "request log retention failed; retrying at the next run");
            }
        }
    });
}
