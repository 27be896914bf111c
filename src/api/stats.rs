//! The dashboard's figures for the browser: the same service as `/api/admin/stats/*`.
use leptos::prelude::*;

use crate::model::errors::UiError;
use crate::model::stats::Dashboard;

#[server(prefix = "/api/ui", endpoint = "dashboard")]
pub async fn load_dashboard(range: String, tz_offset_minutes: i32) -> Result<Dashboard, UiError> {
    use crate::model::stats::StatsQuery;
    use crate::server::service::stats;

    let state = super::context::admin_state().await?;
    let q = StatsQuery {
        range: Some(range),
        tz_offset_minutes: Some(tz_offset_minutes),
        limit: Some(5),
    };
    Ok(Dashboard {
        overview: stats::overview(&state, &q).await?,
        timeseries: stats::timeseries(&state, &q).await?,
        leaderboard: stats::leaderboard(&state, &q).await?,
    })
}
