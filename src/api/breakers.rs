//! Circuit breakers for the browser: the same service as `/api/admin/circuit-breakers`.
use leptos::prelude::*;

use crate::model::breakers::BreakerView;
use crate::model::errors::UiError;
use crate::model::health::UpstreamHealthView;

/// Every upstream's breaker, and its health for the same page.
#[server(prefix = "/api/ui", endpoint = "breakers")]
pub async fn list_breakers() -> Result<(Vec<BreakerView>, Vec<UpstreamHealthView>), UiError> {
    use crate::server::service::{breakers, health};
    let state = super::context::admin_state().await?;
    Ok((
        breakers::list(&state).await?,
        health::list(&state, None).await?,
    ))
}

/// `open`: hold the breaker open; otherwise clear any override and close it.
#[server(prefix = "/api/ui", endpoint = "breakers/force")]
pub async fn force_breaker(upstream_id: String, open: bool) -> Result<BreakerView, UiError> {
    use crate::server::service::breakers;
    let state = super::context::admin_state().await?;
    Ok(if open {
        breakers::force_open(&state, &upstream_id).await?
    } else {
        breakers::force_close(&state, &upstream_id).await?
    })
}
