//! Circuit breakers for the admin: every upstream's breaker, and the force-open / force-close
//! overrides (persisted before answering, so other instances pick them up on their next sync).
use super::db_error;
use super::Services;
use crate::model::breakers::BreakerView;
use crate::server::db::upstreams::{self as upstream_repo, UpstreamRow};
use crate::server::error::ApiError;
use crate::server::proxy::breaker::Breaker;
use crate::server::service::upstreams::load;
use crate::server::timefmt::to_rfc3339;

fn view(state: &Services, row: &UpstreamRow, breaker: Option<Breaker>) -> BreakerView {
    let config = row.breaker();
    let now = state.clock.now_ms();
    let b = breaker.unwrap_or_else(|| Breaker::new(row.created_at));
    BreakerView {
        upstream_id: row.id.clone(),
        upstream_name: row.name.clone(),
        is_active: row.is_active != 0,
        state: b.peek(&config, now),
        forced: b.forced,
        failure_count: b.consecutive_failures,
        success_count: b.half_open_successes,
        last_failure_at: b.last_failure_at_ms.map(to_rfc3339),
        opened_at: b.opened_at_ms.map(to_rfc3339),
        updated_at: Some(to_rfc3339(b.updated_at_ms)),
        config,
    }
}

pub(crate) async fn list(state: &Services) -> Result<Vec<BreakerView>, ApiError> {
    let rows = upstream_repo::list_all(&state.db.pool)
        .await
        .map_err(db_error)?;
    Ok(rows
        .iter()
        .map(|row| view(state, row, state.plane.breakers.get(&row.id)))
        .collect())
}

pub(crate) async fn get(state: &Services, id: &str) -> Result<BreakerView, ApiError> {
    let row = load(state, id).await?;
    Ok(view(state, &row, state.plane.breakers.get(id)))
}

/// Takes the upstream out of rotation until `force_close`.
pub(crate) async fn force_open(state: &Services, id: &str) -> Result<BreakerView, ApiError> {
    let row = load(state, id).await?;
    let b = state
        .plane
        .breakers
        .force_open(&state.db, id, state.clock.now_ms())
        .await
        .map_err(db_error)?;
    tracing::warn!(upstream_id = %id, "circuit breaker forced open by an admin");
    Ok(view(state, &row, Some(b)))
}

/// Clears any override and closes the breaker with fresh counters: the upstream is tried on
/// the next request, and its breaker opens again on its own if it keeps failing.
pub(crate) async fn force_close(state: &Services, id: &str) -> Result<BreakerView, ApiError> {
    let row = load(state, id).await?;
    let b = state
        .plane
        .breakers
        .reset(&state.db, id, state.clock.now_ms())
        .await
        .map_err(db_error)?;
    tracing::warn!(upstream_id = %id, "circuit breaker forced closed by an admin");
    Ok(view(state, &row, Some(b)))
}
