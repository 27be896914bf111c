//! Model prices: the shipped list with the admin's prices over it, searched and paged; setting
//! and resetting a price; and the models requested lately that no price matches.
use std::collections::BTreeMap;

use super::Services;
use super::{db_error, validate};
use crate::model::page::{Page, PageRequest};
use crate::model::prices::{
    normalize_pattern, PatternError, Price, PriceRates, PriceSource, PriceView, RateError,
    UnpricedModel, MAX_PATTERN_LEN,
};
use crate::server::db::prices::{self as repo, PriceRow, DEFAULTS};
use crate::server::db::request_stats::{self as stats, Dimension, DAY_MS};
use crate::server::error::ApiError;
use crate::server::timefmt::to_rfc3339;

/// How far back "models seen without a price" looks.
pub(crate) const UNPRICED_WINDOW_DAYS: i64 = 30;

fn pattern_problem(e: PatternError) -> ApiError {
    match e {
        PatternError::Empty => validate::problem("model", "required", None, e),
        PatternError::TooLong => {
            validate::problem("model", "too_long", Some(MAX_PATTERN_LEN.to_string()), e)
        }
        PatternError::Characters => validate::invalid("model", e),
    }
}

fn rate_problem(field: &str, e: RateError) -> ApiError {
    match e {
        RateError::OutOfRange => {
            validate::problem(field, "out_of_range", Some("0–10000".into()), e)
        }
        RateError::TooPrecise => validate::problem(field, "too_precise", Some("6".into()), e),
    }
}

fn view_of_row(row: &PriceRow) -> PriceView {
    let default = DEFAULTS.prices.get(&row.model);
    PriceView {
        model: row.model.clone(),
        price: row.price().to_rates(),
        source: if default.is_some() {
            PriceSource::Override
        } else {
            PriceSource::Custom
        },
        default: default.map(Price::to_rates),
        updated_at: Some(to_rfc3339(row.updated_at)),
    }
}

/// Every price by model: the shipped ones, and the admin's in their place or beside them.
fn all_views(rows: &[PriceRow]) -> BTreeMap<String, PriceView> {
    let mut views: BTreeMap<String, PriceView> = DEFAULTS
        .prices
        .iter()
        .map(|(model, price)| {
            let view = PriceView {
                model: model.clone(),
                price: price.to_rates(),
                source: PriceSource::Default,
                default: None,
                updated_at: None,
            };
            (model.clone(), view)
        })
        .collect();
    for row in rows {
        views.insert(row.model.clone(), view_of_row(row));
    }
    views
}

/// One page of prices by model; `q` keeps those whose model contains it (case-insensitive).
pub(crate) async fn list(
    state: &Services,
    q: Option<&str>,
    page: PageRequest,
) -> Result<Page<PriceView>, ApiError> {
    let rows = repo::list_all(&state.db.pool).await.map_err(db_error)?;
    let q = q.map(|q| q.trim().to_lowercase()).unwrap_or_default();
    let matching: Vec<PriceView> = all_views(&rows)
        .into_values()
        .filter(|v| v.model.contains(&q))
        .collect();
    let total = matching.len() as u64;
    let items = matching
        .into_iter()
        .skip(page.offset() as usize)
        .take(page.page_size as usize)
        .collect();
    Ok(Page::new(items, total, page.page, page.page_size))
}

/// The prices the admin set (overrides and custom ones), by model; the shipped list is left out.
pub(crate) async fn admin_set(state: &Services) -> Result<Vec<(String, PriceRates)>, ApiError> {
    let rows = repo::list_all(&state.db.pool).await.map_err(db_error)?;
    let mut out: Vec<(String, PriceRates)> = rows
        .iter()
        .map(|r| (r.model.clone(), r.price().to_rates()))
        .collect();
    out.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(out)
}

/// A price as it would be stored: the pattern normalized and the rates rounded as stored, or
/// the field's problem.
pub(crate) fn normalized(
    model: &str,
    rates: &PriceRates,
) -> Result<(String, PriceRates), ApiError> {
    let model = normalize_pattern(model).map_err(pattern_problem)?;
    let price = Price::from_rates(rates).map_err(|(field, e)| rate_problem(field, e))?;
    Ok((model, price.to_rates()))
}

/// Sets the price of a model or pattern: an override of a shipped price, or a custom one.
pub(crate) async fn set(
    state: &Services,
    model: &str,
    rates: PriceRates,
) -> Result<PriceView, ApiError> {
    let model = normalize_pattern(model).map_err(pattern_problem)?;
    let price = Price::from_rates(&rates).map_err(|(field, e)| rate_problem(field, e))?;
    let row = PriceRow::new(model, price, state.clock.now_ms());
    repo::upsert(&state.db.pool, &row).await.map_err(db_error)?;
    state.routing_changed().await;
    tracing::info!(model = %row.model, ?price, "model price set");
    Ok(view_of_row(&row))
}

/// Removes the admin's price of a model or pattern: the shipped price applies again, or none.
pub(crate) async fn reset(state: &Services, model: &str) -> Result<(), ApiError> {
    let not_found = || ApiError::NotFound(format!("no price was set for {model:?}"));
    let model = normalize_pattern(model).map_err(|_| not_found())?;
    if !repo::delete(&state.db.pool, &model)
        .await
        .map_err(db_error)?
    {
        return Err(not_found());
    }
    state.routing_changed().await;
    tracing::info!(model = %model, "model price reset");
    Ok(())
}

/// Models requested in the last 30 days and answered at least once that no price matches,
/// most requested first.
pub(crate) async fn unpriced(state: &Services) -> Result<Vec<UnpricedModel>, ApiError> {
    let now = state.clock.now_ms();
    let since = stats::hour_of(now - UNPRICED_WINDOW_DAYS * DAY_MS);
    let pool = &state.db.pool;
    let seen = stats::sums_by_value(pool, since, now, Dimension::Model)
        .await
        .map_err(db_error)?;
    let table = repo::load_table(pool).await.map_err(db_error)?;
    let mut out: Vec<UnpricedModel> = seen
        .into_iter()
        // Rows whose tokens had no price (the writer and the proxy price by the model sent, so a
        // redirect to a priced model does not count), of a model still without one.
        .filter(|(model, c)| !model.is_empty() && c.unpriced > 0 && table.lookup(model).is_none())
        .map(|(model, c)| UnpricedModel {
            model,
            requests: c.requests.max(0) as u64,
            tokens: c.total_tokens.max(0) as u64,
        })
        .collect();
    out.sort_by(|a, b| {
        b.requests
            .cmp(&a.requests)
            .then_with(|| a.model.cmp(&b.model))
    });
    Ok(out)
}

/// Where the shipped prices come from, for the prices page.
pub(crate) fn defaults_source() -> String {
    format!("{}, {}", DEFAULTS.source, DEFAULTS.generated)
}
