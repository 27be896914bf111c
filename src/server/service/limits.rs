//! Checks of the limits an admin sets on keys and upstreams, and what has been spent against
//! them, read from the hourly and daily counters.
use std::collections::HashMap;

use super::{db_error, validate, Services};
use crate::model::limits::{DaySpend, KeyLimits, Spend, UpstreamLimits};
use crate::model::money::{usd, MAX_USD};
use crate::server::db::request_stats::{self, hour_of, Dimension};
use crate::server::error::ApiError;
use crate::server::proxy::model_rules::validate_model_patterns;

/// How many requests a minute or at once a limit may allow at most.
const MAX_RPM: u32 = 1_000_000;
const MAX_CONCURRENT: u32 = 100_000;
/// The price multiplier's range, and its unit (parts per million).
const MAX_MULTIPLIER: f64 = 100.0;
pub(crate) const PPM: i64 = 1_000_000;

fn money(field: &str, v: Option<f64>) -> Result<Option<f64>, ApiError> {
    match v {
        None => Ok(None),
        Some(x) if x.is_finite() && (0.0..=MAX_USD).contains(&x) => Ok(Some(x)),
        Some(_) => Err(validate::problem(
            field,
            "out_of_range",
            Some(format!("0–{MAX_USD}")),
            format!("must be between 0 and {MAX_USD} USD"),
        )),
    }
}

fn count<T: PartialOrd + std::fmt::Display + Copy + From<u8>>(
    field: &str,
    v: Option<T>,
    max: T,
) -> Result<Option<T>, ApiError> {
    v.map(|n| validate::in_range(field, n, T::from(1)..=max))
        .transpose()
}

pub(crate) fn checked_key_limits(l: &KeyLimits) -> Result<KeyLimits, ApiError> {
    let allowed_models: Vec<String> = l
        .allowed_models
        .iter()
        .map(|m| m.trim().to_string())
        .collect();
    validate_model_patterns(&allowed_models)
        .map_err(|e| validate::invalid("limits.allowed_models", e))?;
    Ok(KeyLimits {
        allowed_models,
        rpm: count("limits.rpm", l.rpm, MAX_RPM)?,
        tpm: count("limits.tpm", l.tpm, i64::MAX as u64)?,
        max_concurrent: count("limits.max_concurrent", l.max_concurrent, MAX_CONCURRENT)?,
        daily_budget_usd: money("limits.daily_budget_usd", l.daily_budget_usd)?,
        monthly_budget_usd: money("limits.monthly_budget_usd", l.monthly_budget_usd)?,
    })
}

pub(crate) fn checked_upstream_limits(l: &UpstreamLimits) -> Result<UpstreamLimits, ApiError> {
    Ok(UpstreamLimits {
        max_concurrent: count("limits.max_concurrent", l.max_concurrent, MAX_CONCURRENT)?,
        rpm: count("limits.rpm", l.rpm, MAX_RPM)?,
        monthly_quota_usd: money("limits.monthly_quota_usd", l.monthly_quota_usd)?,
    })
}

/// A price multiplier in parts per million.
pub(crate) fn checked_multiplier(m: f64) -> Result<i64, ApiError> {
    if !(m.is_finite() && (0.0..=MAX_MULTIPLIER).contains(&m)) {
        return Err(validate::problem(
            "price_multiplier",
            "out_of_range",
            Some(format!("0–{MAX_MULTIPLIER}")),
            format!("must be between 0 and {MAX_MULTIPLIER}"),
        ));
    }
    Ok((m * PPM as f64).round() as i64)
}

/// Cost per value of a dimension from `since_ms` (counted from the hour holding it) to now.
async fn cost_since(
    state: &Services,
    dimension: Dimension,
    since_ms: i64,
) -> Result<HashMap<String, i64>, ApiError> {
    let now = state.clock.now_ms();
    Ok(
        request_stats::totals_by_value(&state.db.pool, hour_of(since_ms), now, dimension)
            .await
            .map_err(db_error)?
            .into_iter()
            .map(|(value, t)| (value, t.cost_nanos))
            .collect(),
    )
}

/// Every key's spend today and this month, in the budget zone.
pub(crate) async fn key_spend(state: &Services) -> Result<HashMap<String, Spend>, ApiError> {
    let now = state.clock.now_ms();
    let zone = &state.config.budget_zone;
    let today = cost_since(state, Dimension::Key, zone.day(now).start_ms).await?;
    let month = cost_since(state, Dimension::Key, zone.month(now).start_ms).await?;
    Ok(month
        .into_iter()
        .map(|(id, m)| {
            let spend = Spend {
                today_usd: usd(today.get(&id).copied().unwrap_or(0)),
                month_usd: usd(m),
            };
            (id, spend)
        })
        .collect())
}

/// Every upstream's spend this month, in nano-USD.
pub(crate) async fn upstream_month_spend(
    state: &Services,
) -> Result<HashMap<String, i64>, ApiError> {
    let now = state.clock.now_ms();
    cost_since(
        state,
        Dimension::Upstream,
        state.config.budget_zone.month(now).start_ms,
    )
    .await
}

/// A key's spend per day over the last `days` days (budget zone), oldest first.
pub(crate) async fn key_days(
    state: &Services,
    key_id: &str,
    days: u32,
) -> Result<Vec<DaySpend>, ApiError> {
    let days = validate::in_range("days", days, 1..=90)?;
    let now = state.clock.now_ms();
    let periods = state.config.budget_zone.last_days(now, days);
    let since = periods.first().map_or(now, |p| hour_of(p.start_ms));
    let hours = request_stats::hours_of_value(&state.db.pool, Dimension::Key, key_id, since)
        .await
        .map_err(db_error)?;
    Ok(periods
        .iter()
        .map(|p| {
            let mut day = DaySpend {
                day: p.id.clone(),
                requests: 0,
                tokens: 0,
                cost_usd: 0.0,
            };
            let mut cost = 0;
            // An hour counts in the day its start falls in (or the hour holding a midnight
            // that is not on the hour).
            let (from, to) = (hour_of(p.start_ms), hour_of(p.end_ms));
            for (_, t) in hours.iter().filter(|(h, _)| (from..to).contains(h)) {
                day.requests += t.requests.max(0) as u64;
                day.tokens += t.tokens.max(0) as u64;
                cost += t.cost_nanos;
            }
            day.cost_usd = usd(cost);
            day
        })
        .collect())
}
