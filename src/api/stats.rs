//! The dashboard's figures for the browser: the same service as `/api/admin/stats/*`.
use leptos::prelude::*;

use crate::model::stats::Dashboard;

#[server(prefix = "/api/ui", endpoint = "dashboard")]
pub async fn load_dashboard(
    range: String,
    tz_offset_minutes: i32,
) -> Result<Dashboard, ServerFnError> {
    use crate::model::stats::StatsQuery;
    use crate::server::service::stats;
    use crate::server::state::AppState;

    let state =
        use_context::<AppState>().ok_or_else(|| ServerFnError::new("server state missing"))?;
    let q = StatsQuery {
        range: Some(range),
        tz_offset_minutes: Some(tz_offset_minutes),
        limit: Some(5),
    };
    let fail = |e: crate::server::error::ApiError| ServerFnError::new(e.to_string());
    Ok(Dashboard {
        overview: stats::overview(&state, &q).await.map_err(fail)?,
        timeseries: stats::timeseries(&state, &q).await.map_err(fail)?,
        leaderboard: stats::leaderboard(&state, &q).await.map_err(fail)?,
    })
}
