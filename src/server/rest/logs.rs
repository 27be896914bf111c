//! `GET /api/admin/logs`.
use axum::extract::State;
use axum::Json;

use super::query::QueryParams;
use crate::model::logs::{LogQuery, RequestLogView};
use crate::model::page::Page;
use crate::server::error::ApiError;
use crate::server::service::logs;
use crate::server::state::AppState;

pub(crate) async fn list(
    State(state): State<AppState>,
    QueryParams(q): QueryParams<LogQuery>,
) -> Result<Json<Page<RequestLogView>>, ApiError> {
    Ok(Json(logs::list(&state, q).await?))
}
