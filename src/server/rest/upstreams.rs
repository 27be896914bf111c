//! `/api/admin/upstreams`: thin handlers over the upstreams service.
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use serde::Deserialize;

use super::json::JsonBody;
use super::query::QueryParams;
use crate::model::page::{Page, PageRequest};
use crate::model::upstreams::{
    ConnectionTestResult, CreateUpstream, TestUpstreamForm, UpdateUpstream, UpstreamView,
};
use crate::server::error::ApiError;
use crate::server::service::upstreams;
use crate::server::state::AppState;

#[derive(Debug, Deserialize)]
pub(crate) struct ListQuery {
    page: Option<u32>,
    page_size: Option<u32>,
}

pub(crate) async fn list(
    State(state): State<AppState>,
    QueryParams(q): QueryParams<ListQuery>,
) -> Result<Json<Page<UpstreamView>>, ApiError> {
    let page = PageRequest::new(q.page, q.page_size).map_err(ApiError::Invalid)?;
    Ok(Json(upstreams::list(&state, page).await?))
}

pub(crate) async fn create(
    State(state): State<AppState>,
    JsonBody(input): JsonBody<CreateUpstream>,
) -> Result<(StatusCode, Json<UpstreamView>), ApiError> {
    Ok((
        StatusCode::CREATED,
        Json(upstreams::create(&state, input).await?),
    ))
}

pub(crate) async fn get(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<UpstreamView>, ApiError> {
    Ok(Json(upstreams::get(&state, &id).await?))
}

pub(crate) async fn update(
    State(state): State<AppState>,
    Path(id): Path<String>,
    JsonBody(input): JsonBody<UpdateUpstream>,
) -> Result<Json<UpstreamView>, ApiError> {
    Ok(Json(upstreams::update(&state, &id, input).await?))
}

pub(crate) async fn delete(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    upstreams::delete(&state, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

pub(crate) async fn test_saved(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<ConnectionTestResult>, ApiError> {
    Ok(Json(upstreams::test_saved(&state, &id).await?))
}

pub(crate) async fn test_form(
    State(state): State<AppState>,
    JsonBody(form): JsonBody<TestUpstreamForm>,
) -> Result<Json<ConnectionTestResult>, ApiError> {
    Ok(Json(upstreams::test_form(&state, form).await?))
}
