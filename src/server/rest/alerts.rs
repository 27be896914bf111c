//! `/api/admin/alerts`: webhooks, the test button, recent deliveries and the alert settings.
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use serde::Deserialize;

use super::json::JsonBody;
use super::openapi::{BadRequest, Conflict, NotFound};
use super::query::QueryParams;
use crate::model::alerts::{
    AlertSettings, CreateWebhook, DeliveryView, UpdateAlertSettings, UpdateWebhook, WebhookView,
};
use crate::server::error::ApiError;
use crate::server::service::alerts;
use crate::server::state::AppState;

#[utoipa::path(
    get,
    path = "/alerts/webhooks",
    tag = "alerts",
    operation_id = "listAlertWebhooks",
    summary = "List alert webhooks",
    responses(
        (status = 200, description = "Every webhook, by name; URLs masked, secrets never shown.", body = Vec<WebhookView>),
    ),
)]
pub(crate) async fn list(
    State(state): State<AppState>,
) -> Result<Json<Vec<WebhookView>>, ApiError> {
    Ok(Json(alerts::list(&state).await?))
}

#[utoipa::path(
    post,
    path = "/alerts/webhooks",
    tag = "alerts",
    operation_id = "createAlertWebhook",
    summary = "Create an alert webhook",
    description = "The URL is checked against the same SSRF rules as upstream URLs (private and loopback addresses only with `ALLOW_PRIVATE_UPSTREAMS=true`), stored encrypted, and shown masked from then on.",
    request_body = CreateWebhook,
    responses(
        (status = 201, description = "The webhook.", body = WebhookView),
        (status = 400, response = BadRequest),
        (status = 409, response = Conflict),
    ),
)]
pub(crate) async fn create(
    State(state): State<AppState>,
    JsonBody(input): JsonBody<CreateWebhook>,
) -> Result<(StatusCode, Json<WebhookView>), ApiError> {
    Ok((
        StatusCode::CREATED,
        Json(alerts::create(&state, input).await?),
    ))
}

#[utoipa::path(
    get,
    path = "/alerts/webhooks/{id}",
    tag = "alerts",
    operation_id = "getAlertWebhook",
    summary = "Get an alert webhook",
    params(("id" = String, Path, description = "The record's id (a UUID).")),
    responses(
        (status = 200, description = "The webhook.", body = WebhookView),
        (status = 404, response = NotFound),
    ),
)]
pub(crate) async fn get(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<WebhookView>, ApiError> {
    Ok(Json(alerts::get(&state, &id).await?))
}

#[utoipa::path(
    put,
    path = "/alerts/webhooks/{id}",
    tag = "alerts",
    operation_id = "updateAlertWebhook",
    summary = "Change an alert webhook",
    description = "A partial update: fields left out keep their value; `secret: \"\"` removes the secret.",
    params(("id" = String, Path, description = "The record's id (a UUID).")),
    request_body = UpdateWebhook,
    responses(
        (status = 200, description = "The webhook after the change.", body = WebhookView),
        (status = 400, response = BadRequest),
        (status = 404, response = NotFound),
        (status = 409, response = Conflict),
    ),
)]
pub(crate) async fn update(
    State(state): State<AppState>,
    Path(id): Path<String>,
    JsonBody(input): JsonBody<UpdateWebhook>,
) -> Result<Json<WebhookView>, ApiError> {
    Ok(Json(alerts::update(&state, &id, input).await?))
}

#[utoipa::path(
    delete,
    path = "/alerts/webhooks/{id}",
    tag = "alerts",
    operation_id = "deleteAlertWebhook",
    summary = "Delete an alert webhook and its deliveries",
    params(("id" = String, Path, description = "The record's id (a UUID).")),
    responses(
        (status = 204, description = "Deleted."),
        (status = 404, response = NotFound),
    ),
)]
pub(crate) async fn delete(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    alerts::delete(&state, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(
    post,
    path = "/alerts/webhooks/{id}/test",
    tag = "alerts",
    operation_id = "testAlertWebhook",
    summary = "Send a test alert",
    description = "Sends a `test` alert to the webhook now, once (no retries; at most 10 s), records the delivery and answers it: `status` is `delivered` on a 2xx answer, else `failed` with `last_error`.",
    params(("id" = String, Path, description = "The record's id (a UUID).")),
    responses(
        (status = 200, description = "The delivery.", body = DeliveryView),
        (status = 404, response = NotFound),
    ),
)]
pub(crate) async fn test(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<DeliveryView>, ApiError> {
    Ok(Json(alerts::test(&state, &id).await?))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct DeliveriesQuery {
    /// Only this webhook's deliveries.
    webhook_id: Option<String>,
    /// How many, newest first.
    #[param(minimum = 1, maximum = 200, default = 50)]
    limit: Option<u32>,
}

#[utoipa::path(
    get,
    path = "/alerts/deliveries",
    tag = "alerts",
    operation_id = "listAlertDeliveries",
    summary = "Recent alert deliveries",
    params(DeliveriesQuery),
    responses(
        (status = 200, description = "The newest deliveries first.", body = Vec<DeliveryView>),
        (status = 400, response = BadRequest),
    ),
)]
pub(crate) async fn deliveries(
    State(state): State<AppState>,
    QueryParams(q): QueryParams<DeliveriesQuery>,
) -> Result<Json<Vec<DeliveryView>>, ApiError> {
    Ok(Json(
        alerts::deliveries(&state, q.webhook_id.as_deref(), q.limit).await?,
    ))
}

#[utoipa::path(
    get,
    path = "/alerts/settings",
    tag = "alerts",
    operation_id = "getAlertSettings",
    summary = "Alert settings",
    responses(
        (status = 200, description = "The current settings (defaults for any never set).", body = AlertSettings),
    ),
)]
pub(crate) async fn get_settings(
    State(state): State<AppState>,
) -> Result<Json<AlertSettings>, ApiError> {
    Ok(Json(alerts::settings(&state).await?))
}

#[utoipa::path(
    put,
    path = "/alerts/settings",
    tag = "alerts",
    operation_id = "updateAlertSettings",
    summary = "Change alert settings",
    description = "A partial update: fields left out keep their value.",
    request_body = UpdateAlertSettings,
    responses(
        (status = 200, description = "The settings after the change.", body = AlertSettings),
        (status = 400, response = BadRequest),
    ),
)]
pub(crate) async fn update_settings(
    State(state): State<AppState>,
    JsonBody(input): JsonBody<UpdateAlertSettings>,
) -> Result<Json<AlertSettings>, ApiError> {
    Ok(Json(alerts::update_settings(&state, input).await?))
}
