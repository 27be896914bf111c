//! Circuit breakers for the browser: the same service as `/api/admin/circuit-breakers`.
use leptos::prelude::*;

use crate::model::breakers::BreakerView;
use crate::model::health::UpstreamHealthView;

#[cfg(feature = "ssr")]
fn state() -> Result<crate::server::state::AppState, ServerFnError> {
    use_context::<crate::server::state::AppState>()
        .ok_or_else(|| ServerFnError::new("server state missing"))
}

#[cfg(feature = "ssr")]
fn fail(e: crate::server::error::ApiError) -> ServerFnError {
    ServerFnError::new(e.to_string())
}

/// Every upstream's breaker, and its health for the same page.
#[server(prefix = "/api/ui", endpoint = "breakers")]
pub async fn list_breakers() -> Result<(Vec<BreakerView>, Vec<UpstreamHealthView>), ServerFnError> {
    use crate::server::service::{breakers, health};
    let state = state()?;
    Ok((
        breakers::list(&state).await.map_err(fail)?,
        health::list(&state, None).await.map_err(fail)?,
    ))
}

/// `open`: hold the breaker open; otherwise clear any override and close it.
#[server(prefix = "/api/ui", endpoint = "breakers/force")]
pub async fn force_breaker(upstream_id: String, open: bool) -> Result<BreakerView, ServerFnError> {
    use crate::server::service::breakers;
    let state = state()?;
    if open {
        breakers::force_open(&state, &upstream_id)
            .await
            .map_err(fail)
    } else {
        breakers::force_close(&state, &upstream_id)
            .await
            .map_err(fail)
    }
}
