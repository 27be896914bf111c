//! `/api/admin/keys`: thin handlers over the keys service.
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use serde::Deserialize;

use super::json::JsonBody;
use super::query::QueryParams;
use crate::model::keys::{ApiKeyView, CreateApiKey, CreatedApiKey, RevealedApiKey, UpdateApiKey};
use crate::model::page::{Page, PageRequest};
use crate::server::error::ApiError;
use crate::server::service::keys;
use crate::server::state::AppState;

#[derive(Debug, Deserialize)]
pub(crate) struct ListQuery {
    page: Option<u32>,
    page_size: Option<u32>,
    search: Option<String>,
}

pub(crate) async fn list(
    State(state): State<AppState>,
    QueryParams(q): QueryParams<ListQuery>,
) -> Result<Json<Page<ApiKeyView>>, ApiError> {
    let page = PageRequest::new(q.page, q.page_size).map_err(ApiError::Invalid)?;
    Ok(Json(keys::list(&state, page, q.search.as_deref()).await?))
}

pub(crate) async fn create(
    State(state): State<AppState>,
    JsonBody(input): JsonBody<CreateApiKey>,
) -> Result<(StatusCode, Json<CreatedApiKey>), ApiError> {
    Ok((
        StatusCode::CREATED,
        Json(keys::create(&state, input).await?),
    ))
}

pub(crate) async fn get(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<ApiKeyView>, ApiError> {
    Ok(Json(keys::get(&state, &id).await?))
}

pub(crate) async fn update(
    State(state): State<AppState>,
    Path(id): Path<String>,
    JsonBody(input): JsonBody<UpdateApiKey>,
) -> Result<Json<ApiKeyView>, ApiError> {
    Ok(Json(keys::update(&state, &id, input).await?))
}

pub(crate) async fn delete(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    keys::delete(&state, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

pub(crate) async fn reveal(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<RevealedApiKey>, ApiError> {
    Ok(Json(keys::reveal(&state, &id).await?))
}
