//! `/api/admin/upstreams/health`: upstream health with latency percentiles, and a check on demand.
use axum::extract::State;
use axum::Json;
use serde::Deserialize;

use super::query::QueryParams;
use crate::model::health::{HealthCheckResult, UpstreamHealthView};
use crate::server::error::ApiError;
use crate::server::service::health;
use crate::server::state::AppState;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct HealthQuery {
    window_hours: Option<u32>,
}

pub(crate) async fn list(
    State(state): State<AppState>,
    QueryParams(q): QueryParams<HealthQuery>,
) -> Result<Json<Vec<UpstreamHealthView>>, ApiError> {
    Ok(Json(health::list(&state, q.window_hours).await?))
}

pub(crate) async fn check_now(
    State(state): State<AppState>,
) -> Result<Json<Vec<HealthCheckResult>>, ApiError> {
    Ok(Json(health::check_all(&state).await?))
}
