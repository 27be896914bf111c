//! Fetches every active upstream's model list on an interval (`MODELS_REFRESH_SECONDS`), so
//! keys' model lists follow what the upstreams offer.
use std::time::Duration;

use crate::server::state::AppState;

/// Every `MODELS_REFRESH_SECONDS` (the first pass a little after start-up), and for a new
/// upstream as soon as it is created.
pub(crate) fn spawn(state: AppState) {
    tokio::spawn(async move {
        let every = Duration::from_secs(state.config.models_refresh_secs);
        let mut next = tokio::time::Instant::now() + Duration::from_secs(10).min(every);
        loop {
            let only_new = tokio::select! {
                _ = tokio::time::sleep_until(next) => {
                    next = tokio::time::Instant::now() + every;
                    false
                }
                _ = state.models_wanted.notified() => true,
            };
            let pass = crate::server::service::upstream_models::refresh_all(&state, only_new);
            if let Err(e) = pass.await {
                tracing::warn!(error = %e, "model discovery pass failed");
            }
        }
    });
}
