//! `/api/admin/settings`: gateway-wide settings.
use axum::extract::State;
use axum::Json;

use super::json::JsonBody;
use crate::model::settings::{GatewaySettings, UpdateSettings};
use crate::server::error::ApiError;
use crate::server::service::settings;
use crate::server::state::AppState;

pub(crate) async fn get(State(state): State<AppState>) -> Result<Json<GatewaySettings>, ApiError> {
    Ok(Json(settings::get(&state).await?))
}

pub(crate) async fn update(
    State(state): State<AppState>,
    JsonBody(input): JsonBody<UpdateSettings>,
) -> Result<Json<GatewaySettings>, ApiError> {
    Ok(Json(settings::update(&state, input).await?))
}
