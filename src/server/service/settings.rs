//! Gateway settings: read, validated partial update, and the typed form the proxy uses.
use super::{db_error, validate};
use crate::model::settings::{GatewaySettings, UpdateSettings, STRATEGIES};
use crate::server::db::settings as repo;
use crate::server::error::ApiError;
use crate::server::proxy::strategy::Strategy;
use crate::server::state::AppState;

const LB_STRATEGY: &str = "lb_strategy";
const MAX_ATTEMPTS: &str = "max_attempts";
const HEALTH_INTERVAL: &str = "health_check_interval_seconds";

pub const MAX_ATTEMPTS_RANGE: std::ops::RangeInclusive<u32> = 1..=10;
/// 0 turns active checks off; otherwise up to a day.
pub const HEALTH_INTERVAL_RANGE: std::ops::RangeInclusive<u32> = 0..=86_400;

/// The settings as the proxy and the jobs use them, parsed once per routing reload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Runtime {
    pub strategy: Strategy,
    pub max_attempts: usize,
    pub health_check_interval_seconds: u32,
}

impl Default for Runtime {
    fn default() -> Self {
        runtime(&GatewaySettings::default())
    }
}

fn runtime(s: &GatewaySettings) -> Runtime {
    Runtime {
        strategy: s.lb_strategy.parse().unwrap_or_default(),
        max_attempts: s.max_attempts as usize,
        health_check_interval_seconds: s.health_check_interval_seconds,
    }
}

/// Stored values are read leniently: one that is unreadable (edited by hand) falls back to its
/// default with a warning rather than stopping the gateway.
fn from_pairs(pairs: Vec<(String, String)>) -> GatewaySettings {
    let mut s = GatewaySettings::default();
    for (key, value) in pairs {
        let ok = match key.as_str() {
            LB_STRATEGY => value
                .parse::<Strategy>()
                .map(|v| s.lb_strategy = v.as_str().to_owned())
                .is_ok(),
            MAX_ATTEMPTS => value
                .parse::<u32>()
                .ok()
                .filter(|v| MAX_ATTEMPTS_RANGE.contains(v))
                .map(|v| s.max_attempts = v)
                .is_some(),
            HEALTH_INTERVAL => value
                .parse::<u32>()
                .ok()
                .filter(|v| HEALTH_INTERVAL_RANGE.contains(v))
                .map(|v| s.health_check_interval_seconds = v)
                .is_some(),
            _ => true,
        };
        if !ok {
            tracing::warn!(setting = %key, "unreadable stored setting; using its default");
        }
    }
    s
}

pub async fn load(pool: &sqlx::AnyPool) -> Result<GatewaySettings, sqlx::Error> {
    Ok(from_pairs(repo::all(pool).await?))
}

pub async fn load_runtime(pool: &sqlx::AnyPool) -> Result<Runtime, sqlx::Error> {
    Ok(runtime(&load(pool).await?))
}

pub async fn get(state: &AppState) -> Result<GatewaySettings, ApiError> {
    load(&state.db.pool).await.map_err(db_error)
}

pub async fn update(state: &AppState, input: UpdateSettings) -> Result<GatewaySettings, ApiError> {
    let mut pairs: Vec<(&str, String)> = Vec::new();
    if let Some(raw) = &input.lb_strategy {
        let strategy = raw.trim().parse::<Strategy>().map_err(|_| {
            validate::invalid(
                LB_STRATEGY,
                format!("must be one of {}", STRATEGIES.join(", ")),
            )
        })?;
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

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(p: &[(&str, &str)]) -> Vec<(String, String)> {
        p.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn defaults_when_nothing_is_stored() {
        let s = from_pairs(vec![]);
        assert_eq!(s, GatewaySettings::default());
        let r = runtime(&s);
        assert_eq!(r.strategy, Strategy::Weighted);
        assert_eq!(r.max_attempts, 3);
        assert_eq!(r.health_check_interval_seconds, 30);
    }

    #[test]
    fn stored_values_win_and_bad_ones_fall_back() {
        let s = from_pairs(pairs(&[
            (LB_STRATEGY, "least_connections"),
            (MAX_ATTEMPTS, "5"),
            (HEALTH_INTERVAL, "0"),
            ("unrelated", "x"),
        ]));
        assert_eq!(s.lb_strategy, "least_connections");
        assert_eq!(s.max_attempts, 5);
        assert_eq!(s.health_check_interval_seconds, 0);
        let s = from_pairs(pairs(&[
            (LB_STRATEGY, "random"),
            (MAX_ATTEMPTS, "0"),
            (HEALTH_INTERVAL, "-1"),
        ]));
        assert_eq!(s, GatewaySettings::default());
    }
}
