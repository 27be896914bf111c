//! The dashboard's figures for the browser: the same service as `/api/admin/stats/*`.
use leptos::prelude::*;

use crate::model::errors::UiError;
use crate::model::stats::Dashboard;

#[server(prefix = "/api/ui", endpoint = "dashboard")]
pub async fn load_dashboard(range: String, tz_offset_minutes: i32) -> Result<Dashboard, UiError> {
    use crate::server::service::stats;

    let state = super::context::admin_state().await?;
    Ok(stats::dashboard(&state, range, tz_offset_minutes).await?)
}
