//! `/api/admin/upstreams/health`: upstream health with latency percentiles, and a check on demand.
use axum::extract::State;
use axum::Json;
use serde::Deserialize;

use super::openapi::BadRequest;
use super::query::QueryParams;
use crate::model::health::{HealthCheckResult, UpstreamHealthView};
use crate::server::error::ApiError;
use crate::server::service::health;
use crate::server::state::AppState;

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub(crate) struct HealthQuery {
    /// The window for availability and percentiles, in hours; it starts at the top of the hour
    /// that many hours ago.
    #[param(minimum = 1, maximum = 2160, default = 24)]
    window_hours: Option<u32>,
}

#[utoipa::path(
    get,
    path = "/upstreams/health",
    tag = "health",
    operation_id = "listUpstreamHealth",
    summary = "Upstream health",
    description = "Every upstream's health as this instance knows it (active checks of `GET {base_url}/models` and real traffic), with availability and latency percentiles of the requests it handled over a window of whole hours, read from the hourly counters. An upstream is marked unhealthy after 2 consecutive failures and healthy again after one success; unhealthy upstreams are tried after healthy ones of the same priority, never dropped.",
    params(HealthQuery),
    responses(
        (status = 200, description = "One entry per upstream, by priority then name.", body = Vec<UpstreamHealthView>),
        (status = 400, response = BadRequest),
    ),
)]
pub(crate) async fn list(
    State(state): State<AppState>,
    QueryParams(q): QueryParams<HealthQuery>,
) -> Result<Json<Vec<UpstreamHealthView>>, ApiError> {
    Ok(Json(health::list(&state, q.window_hours).await?))
}

#[utoipa::path(
    post,
    path = "/upstreams/health/check",
    tag = "health",
    operation_id = "checkUpstreamHealth",
    summary = "Run a health check round now",
    description = "Probes every active upstream at once (at most 4 in parallel, each for at most 10 s) and records the results, as the background checker does every `health_check_interval_seconds`.",
    responses(
        (status = 200, description = "The outcome per active upstream, by name.", body = Vec<HealthCheckResult>),
    ),
)]
pub(crate) async fn check_now(
    State(state): State<AppState>,
) -> Result<Json<Vec<HealthCheckResult>>, ApiError> {
    Ok(Json(health::check_all(&state).await?))
}
