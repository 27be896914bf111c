//! `/api/admin/settings`: gateway-wide settings.
use axum::extract::State;
use axum::Json;

use super::json::JsonBody;
use super::openapi::BadRequest;
use crate::model::settings::{GatewaySettings, UpdateSettings};
use crate::server::error::ApiError;
use crate::server::service::settings;
use crate::server::state::AppState;

#[utoipa::path(
    get,
    path = "/settings",
    tag = "settings",
    operation_id = "getSettings",
    summary = "Gateway settings",
    responses(
        (status = 200, description = "The current settings (defaults for any never set).", body = GatewaySettings),
    ),
)]
pub(crate) async fn get(State(state): State<AppState>) -> Result<Json<GatewaySettings>, ApiError> {
    Ok(Json(settings::get(&state).await?))
}

#[utoipa::path(
    put,
    path = "/settings",
    tag = "settings",
    operation_id = "updateSettings",
    summary = "Change gateway settings",
    description = "A partial update: fields left out keep their value. Takes effect on the next request of this instance, and on other instances sharing the database within 5 s.",
    request_body = UpdateSettings,
    responses(
        (status = 200, description = "The settings after the change.", body = GatewaySettings),
        (status = 400, response = BadRequest),
    ),
)]
pub(crate) async fn update(
    State(state): State<AppState>,
    JsonBody(input): JsonBody<UpdateSettings>,
) -> Result<Json<GatewaySettings>, ApiError> {
    Ok(Json(settings::update(&state, input).await?))
}
