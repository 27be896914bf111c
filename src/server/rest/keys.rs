//! `/api/admin/keys`: thin handlers over the keys service.
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use serde::Deserialize;

use super::json::JsonBody;
use super::openapi::{BadRequest, Conflict, Forbidden, NotFound};
use super::query::QueryParams;
use crate::model::keys::{ApiKeyView, CreateApiKey, CreatedApiKey, RevealedApiKey, UpdateApiKey};
use crate::model::limits::DaySpend;
use crate::model::page::{Page, PageRequest};
use crate::server::error::ApiError;
use crate::server::service::keys;
use crate::server::state::AppState;

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct ListQuery {
    /// 1-based page number.
    #[param(minimum = 1, default = 1)]
    page: Option<u32>,
    #[param(minimum = 1, maximum = 100, default = 20)]
    page_size: Option<u32>,
    /// Case-insensitive substring of the name or the key prefix.
    search: Option<String>,
}

#[utoipa::path(
    get,
    path = "/keys",
    tag = "keys",
    operation_id = "listKeys",
    summary = "List client keys",
    params(ListQuery),
    responses(
        (status = 200, description = "A page of keys, newest first.", body = Page<ApiKeyView>),
        (status = 400, response = BadRequest),
    ),
)]
pub(crate) async fn list(
    State(state): State<AppState>,
    QueryParams(q): QueryParams<ListQuery>,
) -> Result<Json<Page<ApiKeyView>>, ApiError> {
    let page = PageRequest::new(q.page, q.page_size).map_err(ApiError::Invalid)?;
    Ok(Json(keys::list(&state, page, q.search.as_deref()).await?))
}

#[utoipa::path(
    post,
    path = "/keys",
    tag = "keys",
    operation_id = "createKey",
    summary = "Create a client key",
    description = "The full `key_value` is in this answer only; afterwards only `key_prefix` is shown (and `reveal`, if enabled, can show it again).",
    request_body = CreateApiKey,
    responses(
        (status = 201, description = "The key, with its full value shown this once.", body = CreatedApiKey,
            example = json!({
                "id": "5f0c3c1e-8d7a-4f59-9a51-0c6e7c3b2a10",
                "name": "ci-bot",
                "description": null,
                "key_prefix": "sk-auto-Ab3x",
                "is_active": true,
                "expires_at": null,
                "is_expired": false,
                "upstream_ids": ["0b0e6f7a-1c2d-4e5f-8a9b-0c1d2e3f4a5b"],
                "last_used_at": null,
                "created_at": "2030-01-31T12:00:00Z",
                "updated_at": "2030-01-31T12:00:00Z",
                "key_value": "sk-auto-Ab3x9QkL2mN7pR4sT8vW1yZ5cF0hJ6dG3bK9nM2qX4w"
            })),
        (status = 400, response = BadRequest),
    ),
)]
pub(crate) async fn create(
    State(state): State<AppState>,
    JsonBody(input): JsonBody<CreateApiKey>,
) -> Result<(StatusCode, Json<CreatedApiKey>), ApiError> {
    Ok((
        StatusCode::CREATED,
        Json(keys::create(&state, input).await?),
    ))
}

#[utoipa::path(
    get,
    path = "/keys/{id}",
    tag = "keys",
    operation_id = "getKey",
    summary = "Get a client key",
    params(("id" = String, Path, description = "The record's id (a UUID).")),
    responses(
        (status = 200, description = "The key.", body = ApiKeyView),
        (status = 404, response = NotFound),
    ),
)]
pub(crate) async fn get(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<ApiKeyView>, ApiError> {
    Ok(Json(keys::get(&state, &id).await?))
}

#[utoipa::path(
    put,
    path = "/keys/{id}",
    tag = "keys",
    operation_id = "updateKey",
    summary = "Edit, enable or disable a client key",
    description = "Partial update; changes apply to the very next proxied request.",
    params(("id" = String, Path, description = "The record's id (a UUID).")),
    request_body = UpdateApiKey,
    responses(
        (status = 200, description = "The updated key.", body = ApiKeyView),
        (status = 400, response = BadRequest),
        (status = 404, response = NotFound),
    ),
)]
pub(crate) async fn update(
    State(state): State<AppState>,
    Path(id): Path<String>,
    JsonBody(input): JsonBody<UpdateApiKey>,
) -> Result<Json<ApiKeyView>, ApiError> {
    Ok(Json(keys::update(&state, &id, input).await?))
}

#[utoipa::path(
    delete,
    path = "/keys/{id}",
    tag = "keys",
    operation_id = "deleteKey",
    summary = "Delete a client key",
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
    keys::delete(&state, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(
    get,
    path = "/keys/{id}/reveal",
    tag = "keys",
    operation_id = "revealKey",
    summary = "Show a client key's full value",
    description = "Only when the server runs with `ALLOW_KEY_REVEAL=true` (otherwise 403), and only for a key issued while it was: no copy of other keys is kept (409).",
    params(("id" = String, Path, description = "The record's id (a UUID).")),
    responses(
        (status = 200, description = "The full key.", body = RevealedApiKey),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
        (status = 409, response = Conflict),
    ),
)]
pub(crate) async fn reveal(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<RevealedApiKey>, ApiError> {
    Ok(Json(keys::reveal(&state, &id).await?))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct SpendQuery {
    /// How many days back, today included.
    #[param(minimum = 1, maximum = 90, default = 14)]
    days: Option<u32>,
}

#[utoipa::path(
    get,
    path = "/keys/{id}/spend",
    tag = "keys",
    operation_id = "keySpendByDay",
    summary = "A client key's spend day by day",
    description = "Days in the budget time zone (`BUDGET_TIMEZONE`), oldest first, today included; read from the hourly counters, so an hour holding a midnight that is not on the hour counts in the day it starts in.",
    params(("id" = String, Path, description = "The record's id (a UUID)."), SpendQuery),
    responses(
        (status = 200, description = "One entry per day.", body = Vec<DaySpend>),
        (status = 400, response = BadRequest),
        (status = 404, response = NotFound),
    ),
)]
pub(crate) async fn spend(
    State(state): State<AppState>,
    Path(id): Path<String>,
    QueryParams(q): QueryParams<SpendQuery>,
) -> Result<Json<Vec<DaySpend>>, ApiError> {
    Ok(Json(
        keys::spend_by_day(&state, &id, q.days.unwrap_or(14)).await?,
    ))
}
