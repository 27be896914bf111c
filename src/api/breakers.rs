//! Circuit breakers for the browser: the same service as `/api/admin/circuit-breakers`.
use leptos::prelude::*;

use crate::model::breakers::BreakerView;
use crate::model::health::UpstreamHealthView;

/// Every upstream's breaker, and its health for the same page.
#[server(prefix = "/api/ui", endpoint = "breakers")]
pub async fn list_breakers() -> Result<(Vec<BreakerView>, Vec<UpstreamHealthView>), ServerFnError> {
    use super::context::{app_state, failed};
    use crate::server::service::{breakers, health};
    let state = app_state()?;
    Ok((
        breakers::list(&state).await.map_err(failed)?,
        health::list(&state, None).await.map_err(failed)?,
    ))
}

/// `open`: hold the breaker open; otherwise clear any override and close it.
#[server(prefix = "/api/ui", endpoint = "breakers/force")]
pub async fn force_breaker(upstream_id: String, open: bool) -> Result<BreakerView, ServerFnError> {
    use super::context::{app_state, failed};
    use crate::server::service::breakers;
    let state = app_state()?;
    if open {
        breakers::force_open(&state, &upstream_id)
            .await
            .map_err(failed)
    } else {
        breakers::force_close(&state, &upstream_id)
            .await
            .map_err(failed)
    }
}
