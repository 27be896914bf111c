//! `/api/admin/circuit-breakers`: every upstream's breaker, and the admin's overrides.
use axum::extract::{Path, State};
use axum::Json;

use super::openapi::NotFound;
use crate::model::breakers::BreakerView;
use crate::server::error::ApiError;
use crate::server::service::breakers;
use crate::server::state::AppState;

#[utoipa::path(
    get,
    path = "/circuit-breakers",
    tag = "circuit-breakers",
    operation_id = "listCircuitBreakers",
    summary = "Every upstream's circuit breaker",
    responses(
        (status = 200, description = "One entry per upstream, by priority then name.", body = Vec<BreakerView>),
    ),
)]
pub(crate) async fn list(
    State(state): State<AppState>,
) -> Result<Json<Vec<BreakerView>>, ApiError> {
    Ok(Json(breakers::list(&state).await?))
}

#[utoipa::path(
    get,
    path = "/circuit-breakers/{upstream_id}",
    tag = "circuit-breakers",
    operation_id = "getCircuitBreaker",
    summary = "One upstream's circuit breaker",
    params(("upstream_id" = String, Path, description = "The upstream's id.")),
    responses(
        (status = 200, description = "The breaker.", body = BreakerView),
        (status = 404, response = NotFound),
    ),
)]
pub(crate) async fn get(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<BreakerView>, ApiError> {
    Ok(Json(breakers::get(&state, &id).await?))
}

#[utoipa::path(
    post,
    path = "/circuit-breakers/{upstream_id}/force-open",
    tag = "circuit-breakers",
    operation_id = "forceOpenCircuitBreaker",
    summary = "Take an upstream out of rotation",
    description = "Holds the breaker open until force-close: the next request skips the upstream. Persisted before the answer; other instances sharing the database adopt it within 2 s.",
    params(("upstream_id" = String, Path, description = "The upstream's id.")),
    responses(
        (status = 200, description = "The breaker after the change.", body = BreakerView),
        (status = 404, response = NotFound),
    ),
)]
pub(crate) async fn force_open(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<BreakerView>, ApiError> {
    Ok(Json(breakers::force_open(&state, &id).await?))
}

#[utoipa::path(
    post,
    path = "/circuit-breakers/{upstream_id}/force-close",
    tag = "circuit-breakers",
    operation_id = "forceCloseCircuitBreaker",
    summary = "Put an upstream back into rotation",
    description = "Clears any override and closes the breaker with fresh counters: the next request may use the upstream, and the breaker opens again by itself if it keeps failing. Persisted before the answer; other instances adopt it within 2 s.",
    params(("upstream_id" = String, Path, description = "The upstream's id.")),
    responses(
        (status = 200, description = "The breaker after the change.", body = BreakerView),
        (status = 404, response = NotFound),
    ),
)]
pub(crate) async fn force_close(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<BreakerView>, ApiError> {
    Ok(Json(breakers::force_close(&state, &id).await?))
}
