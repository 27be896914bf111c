//! `/api/admin/stats/*`: the dashboard's figures, for scripts too.
use axum::extract::State;
use axum::Json;

use super::openapi::BadRequest;
use super::query::QueryParams;
use crate::model::stats::{Leaderboard, Overview, StatsQuery, Timeseries};
use crate::server::error::ApiError;
use crate::server::service::stats;
use crate::server::state::AppState;

#[utoipa::path(
    get,
    path = "/stats/overview",
    tag = "stats",
    operation_id = "statsOverview",
    summary = "Totals over a range",
    description = "Requests, success rate (2xx and 3xx), average and p95 duration, average time to first token and tokens. Read from hourly statistics the log writer keeps, not from the log itself.",
    params(StatsQuery),
    responses(
        (status = 200, description = "The totals.", body = Overview),
        (status = 400, response = BadRequest),
    ),
)]
pub(crate) async fn overview(
    State(state): State<AppState>,
    QueryParams(q): QueryParams<StatsQuery>,
) -> Result<Json<Overview>, ApiError> {
    Ok(Json(stats::overview(&state, &q).await?))
}

#[utoipa::path(
    get,
    path = "/stats/timeseries",
    tag = "stats",
    operation_id = "statsTimeseries",
    summary = "Requests and tokens over time per upstream",
    description = "Hourly buckets for `today`, daily otherwise. Series are ordered by requests; requests that never reached an upstream (refused keys, unknown models) come last with `upstream_id` null.",
    params(StatsQuery),
    responses(
        (status = 200, description = "The buckets and one series per upstream.", body = Timeseries),
        (status = 400, response = BadRequest),
    ),
)]
pub(crate) async fn timeseries(
    State(state): State<AppState>,
    QueryParams(q): QueryParams<StatsQuery>,
) -> Result<Json<Timeseries>, ApiError> {
    Ok(Json(stats::timeseries(&state, &q).await?))
}

#[utoipa::path(
    get,
    path = "/stats/leaderboard",
    tag = "stats",
    operation_id = "statsLeaderboard",
    summary = "Top keys, upstreams and models",
    description = "Ordered by requests, then tokens. A deleted key or upstream is listed under its id; requests without one have `id` null.",
    params(StatsQuery),
    responses(
        (status = 200, description = "The leaderboards.", body = Leaderboard),
        (status = 400, response = BadRequest),
    ),
)]
pub(crate) async fn leaderboard(
    State(state): State<AppState>,
    QueryParams(q): QueryParams<StatsQuery>,
) -> Result<Json<Leaderboard>, ApiError> {
    Ok(Json(stats::leaderboard(&state, &q).await?))
}
