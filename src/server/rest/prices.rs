//! `/api/admin/prices`: thin handlers over the prices service.
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use serde::Deserialize;

use super::json::JsonBody;
use super::openapi::{BadRequest, NotFound};
use super::query::QueryParams;
use crate::model::page::{Page, PageRequest};
use crate::model::prices::{PriceRates, PriceView, UnpricedModel};
use crate::server::error::ApiError;
use crate::server::service::prices;
use crate::server::state::AppState;

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct ListQuery {
    /// Keeps the prices whose model (or pattern) contains this text, case-insensitively.
    q: Option<String>,
    /// 1-based page number.
    #[param(minimum = 1, default = 1)]
    page: Option<u32>,
    #[param(minimum = 1, maximum = 100, default = 20)]
    page_size: Option<u32>,
}

#[utoipa::path(
    get,
    path = "/prices",
    tag = "prices",
    operation_id = "listPrices",
    summary = "List model prices",
    description = "The shipped prices (`default`) with the admin's over them (`override`) or beside them (`custom`), by model. Rates are USD per million tokens. A request is costed by its model's exact name (also tried without a leading `provider/` segment, such as `openai/`), else the most specific `*` pattern matching either; a model none matches is logged without a cost.",
    params(ListQuery),
    responses(
        (status = 200, description = "A page of prices, by model.", body = Page<PriceView>),
        (status = 400, response = BadRequest),
    ),
)]
pub(crate) async fn list(
    State(state): State<AppState>,
    QueryParams(q): QueryParams<ListQuery>,
) -> Result<Json<Page<PriceView>>, ApiError> {
    let page = PageRequest::new(q.page, q.page_size).map_err(ApiError::Invalid)?;
    Ok(Json(prices::list(&state, q.q.as_deref(), page).await?))
}

#[utoipa::path(
    put,
    path = "/prices/{model}",
    tag = "prices",
    operation_id = "setPrice",
    summary = "Set a model's price",
    description = "Overrides the shipped price of a model, or adds a price for a model or `*` pattern the list lacks. The proxy costs requests by it from the next request on. Refreshing the shipped list never changes a price set here.",
    params(("model" = String, Path, description = "An exact model name or a pattern where `*` matches any run of characters: at most 200 of letters, digits and `* - _ . : / @ +` (send `/` as `%2F`); stored in lower case.")),
    request_body = PriceRates,
    responses(
        (status = 200, description = "The price as it now applies.", body = PriceView),
        (status = 400, response = BadRequest),
    ),
)]
pub(crate) async fn set(
    State(state): State<AppState>,
    Path(model): Path<String>,
    JsonBody(rates): JsonBody<PriceRates>,
) -> Result<Json<PriceView>, ApiError> {
    Ok(Json(prices::set(&state, &model, rates).await?))
}

#[utoipa::path(
    delete,
    path = "/prices/{model}",
    tag = "prices",
    operation_id = "resetPrice",
    summary = "Reset a model's price",
    description = "Removes the price set for this model or pattern: an override gives way to the shipped price again, a custom price goes.",
    params(("model" = String, Path, description = "The model or pattern as the list shows it (send `/` as `%2F`).")),
    responses(
        (status = 204, description = "Removed."),
        (status = 404, response = NotFound),
    ),
)]
pub(crate) async fn reset(
    State(state): State<AppState>,
    Path(model): Path<String>,
) -> Result<StatusCode, ApiError> {
    prices::reset(&state, &model).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(
    get,
    path = "/prices/unpriced",
    tag = "prices",
    operation_id = "listUnpricedModels",
    summary = "Models seen without a price",
    description = "Models requested in the last 30 days whose tokens went unpriced and that no price matches now, most requested first: their requests are logged without a cost.",
    responses(
        (status = 200, description = "The models, most requested first.", body = Vec<UnpricedModel>),
    ),
)]
pub(crate) async fn unpriced(
    State(state): State<AppState>,
) -> Result<Json<Vec<UnpricedModel>>, ApiError> {
    Ok(Json(prices::unpriced(&state).await?))
}
