//! Upstream health: the active check round (also run on demand) and the admin's health list
//! with availability and latency percentiles from the hourly counters.
use std::collections::HashMap;
use std::sync::Arc;

use futures_util::stream::{self, StreamExt};

use super::Services;
use super::{db_error, validate};
use crate::model::health::{HealthCheckResult, LatencyWindow, UpstreamHealthView};
use crate::server::db::request_stats::{self, hour_of, Counters, Dimension, HOUR_MS};
use crate::server::db::{upstream_health, upstreams as upstream_repo};
use crate::server::error::ApiError;
use crate::server::proxy::health::CheckOutcome;
use crate::server::proxy::routing_table::UpstreamEntry;
use crate::server::service::upstreams::{probe, HEALTH_CHECK_AGENT};
use crate::server::timefmt::to_rfc3339;

/// Checks run at most this many at once, so a large fleet never floods the network.
pub(crate) const CHECK_CONCURRENCY: usize = 4;
/// A check waits at most this long, whatever the upstream's own timeout.
pub(crate) const CHECK_TIMEOUT_MS: u64 = 10_000;
pub(crate) const DEFAULT_WINDOW_HOURS: u32 = 24;

async fn check_one(state: &Services, u: Arc<UpstreamEntry>) -> HealthCheckResult {
    let timeout = u.timeout_ms.clamp(1_000, CHECK_TIMEOUT_MS);
    let result = probe(
        state,
        u.provider,
        &u.base_url,
        u.api_key.expose(),
        timeout,
        HEALTH_CHECK_AGENT,
    )
    .await;
    let now = state.clock.now_ms();
    let outcome = if result.success {
        CheckOutcome::Up {
            latency_ms: result.latency_ms.unwrap_or(0),
        }
    } else {
        CheckOutcome::Down {
            latency_ms: result.latency_ms,
            error: &result.message,
        }
    };
    state.plane.health.record_check(&u.id, now, outcome);
    HealthCheckResult {
        upstream_id: u.id.clone(),
        upstream_name: u.name.clone(),
        healthy: state.plane.health.is_healthy(&u.id),
        latency_ms: result.latency_ms,
        error: (!result.success).then_some(result.message),
    }
}

/// One round over every active upstream (`GET {base}/models`, which spends no tokens), then
/// the health table is written in one transaction.
pub(crate) async fn check_all(state: &Services) -> Result<Vec<HealthCheckResult>, ApiError> {
    let snapshot = state.plane.routing.snapshot();
    let mut upstreams: Vec<Arc<UpstreamEntry>> = snapshot
        .upstreams
        .values()
        .filter(|u| u.is_active)
        .cloned()
        .collect();
    upstreams.sort_by(|a, b| a.name.cmp(&b.name));
    let mut results: Vec<HealthCheckResult> = stream::iter(upstreams)
        .map(|u| check_one(state, u))
        .buffer_unordered(CHECK_CONCURRENCY)
        .collect()
        .await;
    results.sort_by(|a, b| a.upstream_name.cmp(&b.upstream_name));
    upstream_health::upsert_all(&state.db.pool, &state.plane.health.rows())
        .await
        .map_err(db_error)?;
    Ok(results)
}

/// Every upstream with its live health and, over the window, its availability (answers below
/// 500) and latency percentiles, read from the hourly counters: one grouped query whatever the
/// traffic. The window starts at the top of the hour `window_hours` ago, so it holds whole
/// hours; percentiles are the upper bound of the latency bucket they fall in.
pub(crate) async fn list(
    state: &Services,
    window_hours: Option<u32>,
) -> Result<Vec<UpstreamHealthView>, ApiError> {
    let hours = validate::in_range(
        "window_hours",
        window_hours.unwrap_or(DEFAULT_WINDOW_HOURS),
        1..=24 * 90,
    )?;
    let now = state.clock.now_ms();
    let since = hour_of(now - i64::from(hours) * HOUR_MS);
    let rows = upstream_repo::list_all(&state.db.pool)
        .await
        .map_err(db_error)?;
    let mut sums: HashMap<String, Counters> =
        request_stats::sums_by_value(&state.db.pool, since, now, Dimension::Upstream)
            .await
            .map_err(db_error)?
            .into_iter()
            .collect();
    let mut out = Vec::with_capacity(rows.len());
    for row in rows {
        let c = sums.remove(&row.id).unwrap_or_default();
        let ms = |p: f64| c.latency_quantile_ms(p).map(|v| v.max(0) as u64);
        let h = state.plane.health.get(&row.id).unwrap_or_default();
        out.push(UpstreamHealthView {
            upstream_id: row.id,
            upstream_name: row.name,
            is_active: row.is_active != 0,
            healthy: h.healthy,
            latency_ms: h.latency_ms,
            last_check_at: h.last_check_at.map(to_rfc3339),
            last_success_at: h.last_success_at.map(to_rfc3339),
            consecutive_failures: h.consecutive_failures,
            last_error: h.last_error,
            window: LatencyWindow {
                hours,
                requests: c.requests.max(0) as u64,
                successes: c.below_500.max(0) as u64,
                availability_percent: (c.requests > 0)
                    .then(|| c.below_500 as f64 * 100.0 / c.requests as f64),
                p50_ms: ms(0.5),
                p95_ms: ms(0.95),
                p99_ms: ms(0.99),
            },
        });
    }
    Ok(out)
}
