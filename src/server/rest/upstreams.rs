//! `/api/admin/upstreams`: thin handlers over the upstreams service.
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use serde::Deserialize;

use super::json::JsonBody;
use super::openapi::{BadRequest, Conflict, NotFound};
use super::query::QueryParams;
use crate::model::page::{Page, PageRequest};
use crate::model::upstreams::{
    ConnectionTestResult, CreateUpstream, DiscoveredModels, TestUpstreamForm, UpdateUpstream,
    UpstreamView,
};
use crate::server::error::ApiError;
use crate::server::service::{upstream_models, upstreams};
use crate::server::state::AppState;

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct ListQuery {
    /// 1-based page number.
    #[param(minimum = 1, default = 1)]
    page: Option<u32>,
    #[param(minimum = 1, maximum = 100, default = 20)]
    page_size: Option<u32>,
}

#[utoipa::path(
    get,
    path = "/upstreams",
    tag = "upstreams",
    operation_id = "listUpstreams",
    summary = "List upstreams",
    params(ListQuery),
    responses(
        (status = 200, description = "A page of upstreams, by priority then name.", body = Page<UpstreamView>),
        (status = 400, response = BadRequest),
    ),
)]
pub(crate) async fn list(
    State(state): State<AppState>,
    QueryParams(q): QueryParams<ListQuery>,
) -> Result<Json<Page<UpstreamView>>, ApiError> {
    let page = PageRequest::new(q.page, q.page_size).map_err(ApiError::Invalid)?;
    Ok(Json(upstreams::list(&state, page).await?))
}

#[utoipa::path(
    post,
    path = "/upstreams",
    tag = "upstreams",
    operation_id = "createUpstream",
    summary = "Create an upstream",
    request_body = CreateUpstream,
    responses(
        (status = 201, description = "The upstream.", body = UpstreamView),
        (status = 400, response = BadRequest),
        (status = 409, response = Conflict),
    ),
)]
pub(crate) async fn create(
    State(state): State<AppState>,
    JsonBody(mut input): JsonBody<CreateUpstream>,
) -> Result<(StatusCode, Json<UpstreamView>), ApiError> {
    // Scripts written for the original AutoRouter send its field names.
    input.resolve_aliases();
    Ok((
        StatusCode::CREATED,
        Json(upstreams::create(&state, input).await?),
    ))
}

#[utoipa::path(
    get,
    path = "/upstreams/{id}",
    tag = "upstreams",
    operation_id = "getUpstream",
    summary = "Get an upstream",
    params(("id" = String, Path, description = "The record's id (a UUID).")),
    responses(
        (status = 200, description = "The upstream.", body = UpstreamView),
        (status = 404, response = NotFound),
    ),
)]
pub(crate) async fn get(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<UpstreamView>, ApiError> {
    Ok(Json(upstreams::get(&state, &id).await?))
}

#[utoipa::path(
    put,
    path = "/upstreams/{id}",
    tag = "upstreams",
    operation_id = "updateUpstream",
    summary = "Edit an upstream",
    description = "Partial update; routing uses the new settings from the next request. Moving `base_url` to another origin (scheme, host or port) needs `api_key` again (400, code `required_for_new_origin`).",
    params(("id" = String, Path, description = "The record's id (a UUID).")),
    request_body = UpdateUpstream,
    responses(
        (status = 200, description = "The updated upstream.", body = UpstreamView),
        (status = 400, response = BadRequest),
        (status = 404, response = NotFound),
        (status = 409, response = Conflict),
    ),
)]
pub(crate) async fn update(
    State(state): State<AppState>,
    Path(id): Path<String>,
    JsonBody(mut input): JsonBody<UpdateUpstream>,
) -> Result<Json<UpstreamView>, ApiError> {
    input.resolve_aliases();
    Ok(Json(upstreams::update(&state, &id, input).await?))
}

#[utoipa::path(
    delete,
    path = "/upstreams/{id}",
    tag = "upstreams",
    operation_id = "deleteUpstream",
    summary = "Delete an upstream",
    params(("id" = String, Path, description = "The record's id (a UUID).")),
    responses(
        (status = 204, description = "Deleted; keys lose their permission for it."),
        (status = 404, response = NotFound),
    ),
)]
pub(crate) async fn delete(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    upstreams::delete(&state, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(
    post,
    path = "/upstreams/{id}/test",
    tag = "upstreams",
    operation_id = "testUpstream",
    summary = "Test a saved upstream",
    description = "Probes `GET {base_url}/models` with the stored key and timeout.",
    params(("id" = String, Path, description = "The record's id (a UUID).")),
    responses(
        (status = 200, description = "The probe's outcome (also when it failed).", body = ConnectionTestResult),
        (status = 404, response = NotFound),
    ),
)]
pub(crate) async fn test_saved(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<ConnectionTestResult>, ApiError> {
    Ok(Json(upstreams::test_saved(&state, &id).await?))
}

#[utoipa::path(
    post,
    path = "/upstreams/test",
    tag = "upstreams",
    operation_id = "testUpstreamForm",
    summary = "Test an unsaved upstream",
    description = "Probes `GET {base_url}/models` with the given key without saving anything. 400 only for a bad `provider`, `api_key` or `timeout_ms`.",
    request_body = TestUpstreamForm,
    responses(
        (status = 200, description = "The probe's outcome (also when it failed).", body = ConnectionTestResult),
        (status = 400, response = BadRequest),
    ),
)]
pub(crate) async fn test_form(
    State(state): State<AppState>,
    JsonBody(form): JsonBody<TestUpstreamForm>,
) -> Result<Json<ConnectionTestResult>, ApiError> {
    Ok(Json(upstreams::test_form(&state, form).await?))
}

#[utoipa::path(
    get,
    path = "/upstreams/{id}/models",
    tag = "upstreams",
    operation_id = "upstreamModels",
    summary = "The models an upstream listed",
    description = "As stored by the last fetch of its own model list (every `MODELS_REFRESH_SECONDS`, after it is created, and on `POST .../models/refresh`).",
    params(("id" = String, Path, description = "The record's id (a UUID).")),
    responses(
        (status = 200, description = "The models and when they were fetched.", body = DiscoveredModels),
        (status = 404, response = NotFound),
    ),
)]
pub(crate) async fn models(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<DiscoveredModels>, ApiError> {
    Ok(Json(upstream_models::list(&state, &id).await?))
}

#[utoipa::path(
    post,
    path = "/upstreams/{id}/models/refresh",
    tag = "upstreams",
    operation_id = "refreshUpstreamModels",
    summary = "Fetch an upstream's models now",
    description = "Asks `GET {base_url}/models` (Anthropic with `limit=1000`; Gemini's `models[].name` is read too) and stores the answer; a failure is recorded in `error` and the previous list kept.",
    params(("id" = String, Path, description = "The record's id (a UUID).")),
    responses(
        (status = 200, description = "The models now stored.", body = DiscoveredModels),
        (status = 404, response = NotFound),
    ),
)]
pub(crate) async fn refresh_models(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<DiscoveredModels>, ApiError> {
    Ok(Json(upstream_models::refresh(&state, &id).await?))
}
