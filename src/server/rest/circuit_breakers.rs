//! `/api/admin/circuit-breakers`: every upstream's breaker, and the admin's overrides.
use axum::extract::{Path, State};
use axum::Json;

use crate::model::breakers::BreakerView;
use crate::server::error::ApiError;
use crate::server::service::breakers;
use crate::server::state::AppState;

pub(crate) async fn list(
    State(state): State<AppState>,
) -> Result<Json<Vec<BreakerView>>, ApiError> {
    Ok(Json(breakers::list(&state).await?))
}

pub(crate) async fn get(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<BreakerView>, ApiError> {
    Ok(Json(breakers::get(&state, &id).await?))
}

pub(crate) async fn force_open(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<BreakerView>, ApiError> {
    Ok(Json(breakers::force_open(&state, &id).await?))
}

pub(crate) async fn force_close(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<BreakerView>, ApiError> {
    Ok(Json(breakers::force_close(&state, &id).await?))
}
