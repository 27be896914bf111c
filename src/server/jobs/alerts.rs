//! Alerts: turns the data plane's transitions into alerts as they come, and every
//! `ALERT_CHECK_MS` (60 s by default) checks budgets, quotas and the error rate.
use std::time::Duration;

use crate::server::proxy::events::EventFeed;
use crate::server::service::alerts;
use crate::server::state::AppState;

pub(crate) fn spawn(state: AppState, mut events: EventFeed) {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_millis(state.config.alert_check_ms));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        tick.tick().await;
        loop {
            tokio::select! {
                event = events.recv() => {
                    let Some(event) = event else { return };
                    if let Err(e) = alerts::on_event(&state, event).await {
                        tracing::warn!(error = %e, "cannot raise an alert");
                    }
                }
                _ = tick.tick() => {
                    if let Err(e) = alerts::evaluate(&state).await {
                        tracing::warn!(error = %e, "cannot check budgets and the error rate for alerts");
                    }
                }
            }
        }
    });
}
