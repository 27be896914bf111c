//! Repository for `settings`: a small key/value table of gateway-wide settings, read into the
//! typed settings (stored values read leniently) and the runtime form the proxy uses.
use sqlx::AnyPool;

use crate::model::settings::{GatewaySettings, Strategy};

pub(crate) const LB_STRATEGY: &str = "lb_strategy";
pub(crate) const MAX_ATTEMPTS: &str = "max_attempts";
pub(crate) const HEALTH_INTERVAL: &str = "health_check_interval_seconds";

pub(crate) const MAX_ATTEMPTS_RANGE: std::ops::RangeInclusive<u32> = 1..=10;
/// 0 turns active checks off; otherwise up to a day.
pub(crate) const HEALTH_INTERVAL_RANGE: std::ops::RangeInclusive<u32> = 0..=86_400;

/// The settings as the proxy and the jobs use them, parsed once per routing reload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Runtime {
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
        strategy: s.lb_strategy,
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
            LB_STRATEGY => value.parse::<Strategy>().map(|v| s.lb_strategy = v).is_ok(),
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

pub(crate) async fn load(pool: &AnyPool) -> Result<GatewaySettings, sqlx::Error> {
    Ok(from_pairs(all(pool).await?))
}

pub(crate) async fn load_runtime(pool: &AnyPool) -> Result<Runtime, sqlx::Error> {
    Ok(runtime(&load(pool).await?))
}

pub(crate) async fn all(pool: &AnyPool) -> Result<Vec<(String, String)>, sqlx::Error> {
    sqlx::query_as("SELECT key, value FROM settings ORDER BY key")
        .fetch_all(pool)
        .await
}

/// Writes every pair in one transaction, so a partial update is never half applied.
pub(crate) async fn put_all(
    pool: &AnyPool,
    pairs: &[(&str, String)],
    now_ms: i64,
) -> Result<(), sqlx::Error> {
    let mut tx = pool.begin().await?;
    for (key, value) in pairs {
        sqlx::query(
            "INSERT INTO settings (key, value, updated_at) VALUES ($1, $2, $3) \
             ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
        )
        .bind(*key)
        .bind(value)
        .bind(now_ms)
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await
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
        assert_eq!(s.lb_strategy, Strategy::LeastConnections);
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
