//! `/api/admin/stats/*`: the dashboard's figures, for scripts too.
use axum::extract::State;
use axum::Json;

use super::query::QueryParams;
use crate::model::stats::{Leaderboard, Overview, StatsQuery, Timeseries};
use crate::server::error::ApiError;
use crate::server::service::stats;
use crate::server::state::AppState;

pub(crate) async fn overview(
    State(state): State<AppState>,
    QueryParams(q): QueryParams<StatsQuery>,
) -> Result<Json<Overview>, ApiError> {
    Ok(Json(stats::overview(&state, &q).await?))
}

pub(crate) async fn timeseries(
    State(state): State<AppState>,
    QueryParams(q): QueryParams<StatsQuery>,
) -> Result<Json<Timeseries>, ApiError> {
    Ok(Json(stats::timeseries(&state, &q).await?))
}

pub(crate) async fn leaderboard(
    State(state): State<AppState>,
    QueryParams(q): QueryParams<StatsQuery>,
) -> Result<Json<Leaderboard>, ApiError> {
    Ok(Json(stats::leaderboard(&state, &q).await?))
}
