//! Gateway settings: read, and a validated partial update.
use super::Services;
use super::{db_error, validate};
use crate::model::settings::{GatewaySettings, Strategy, UpdateSettings};
use crate::server::db::settings::{
    self as repo, load, HEALTH_INTERVAL, HEALTH_INTERVAL_RANGE, LB_STRATEGY, MAX_ATTEMPTS,
    MAX_ATTEMPTS_RANGE,
};
use crate::server::error::ApiError;

pub(crate) async fn get(state: &Services) -> Result<GatewaySettings, ApiError> {
    load(&state.db.pool).await.map_err(db_error)
}

pub(crate) async fn update(
    state: &Services,
    input: UpdateSettings,
) -> Result<GatewaySettings, ApiError> {
    let mut pairs: Vec<(&str, String)> = Vec::new();
    if let Some(raw) = &input.lb_strategy {
        let strategy = raw
            .trim()
            .parse::<Strategy>()
            .map_err(|e| validate::invalid(LB_STRATEGY, format!("must be one of {}", e.names())))?;
        pairs.push((LB_STRATEGY, strategy.as_str().to_owned()));
    }
    if let Some(n) = input.max_attempts {
        validate::in_range(MAX_ATTEMPTS, n, MAX_ATTEMPTS_RANGE)?;
        pairs.push((MAX_ATTEMPTS, n.to_string()));
    }
    if let Some(n) = input.health_check_interval_seconds {
        validate::in_range(HEALTH_INTERVAL, n, HEALTH_INTERVAL_RANGE)?;
        pairs.push((HEALTH_INTERVAL, n.to_string()));
    }
    if !pairs.is_empty() {
        repo::put_all(&state.db.pool, &pairs, state.clock.now_ms())
            .await
            .map_err(db_error)?;
        tracing::info!(changed = ?pairs, "gateway settings changed");
        state.routing_changed().await;
    }
    get(state).await
}
