//! `GET /api/admin/logs`.
use axum::extract::State;
use axum::Json;

use super::openapi::BadRequest;
use super::query::QueryParams;
use crate::model::logs::{LogQuery, RequestLogView};
use crate::model::page::Page;
use crate::server::error::ApiError;
use crate::server::service::logs;
use crate::server::state::AppState;

#[utoipa::path(
    get,
    path = "/logs",
    tag = "logs",
    operation_id = "listLogs",
    summary = "List request logs",
    description = "Filters combine with AND; empty values are ignored. The list reaches the newest 10,000 matching rows: past that `total` is 10,000 with `total_exact: false`, and a page beyond is a 400 naming `page` (set `end_time` to reach older rows).",
    params(LogQuery),
    responses(
        (status = 200, description = "A page of logs, newest first.", body = Page<RequestLogView>),
        (status = 400, response = BadRequest),
    ),
)]
pub(crate) async fn list(
    State(state): State<AppState>,
    QueryParams(q): QueryParams<LogQuery>,
) -> Result<Json<Page<RequestLogView>>, ApiError> {
    Ok(Json(logs::list(&state, q).await?))
}
