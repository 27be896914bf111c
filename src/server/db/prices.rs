//! Model prices: the shipped list (`default_prices.json`, made by `scripts/refresh_prices.py`)
//! and the repository for `model_prices`, the prices an admin set, which win over it.
use std::collections::BTreeMap;
use std::sync::LazyLock;

use serde::Deserialize;
use sqlx::AnyPool;

use crate::model::prices::{Price, PriceTable};

/// The shipped list, as `scripts/refresh_prices.py` writes it.
#[derive(Debug, Deserialize)]
pub(crate) struct Defaults {
    /// Where the list came from (package, version and file).
    pub source: String,
    /// The day it was made (YYYY-MM-DD).
    pub generated: String,
    /// Exact model names, sorted, in micro-USD per million tokens.
    pub prices: BTreeMap<String, Price>,
}

/// Parsed once; the file is part of the build, so a broken one fails the unit tests.
pub(crate) static DEFAULTS: LazyLock<Defaults> = LazyLock::new(|| {
    serde_json::from_str(include_str!("default_prices.json"))
        .expect("src/server/db/default_prices.json is a valid price list")
});

#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub(crate) struct PriceRow {
    /// An exact model name or a `*` pattern, in lower case.
    pub model: String,
    pub input: i64,
    pub output: i64,
    pub cached_input: Option<i64>,
    pub cache_write_5m: Option<i64>,
    pub cache_write_1h: Option<i64>,
    pub updated_at: i64,
}

impl PriceRow {
    pub(crate) fn new(model: String, price: Price, updated_at: i64) -> Self {
        Self {
            model,
            input: price.input,
            output: price.output,
            cached_input: price.cached_input,
            cache_write_5m: price.cache_write_5m,
            cache_write_1h: price.cache_write_1h,
            updated_at,
        }
    }

    pub(crate) fn price(&self) -> Price {
        Price {
            input: self.input,
            output: self.output,
            cached_input: self.cached_input,
            cache_write_5m: self.cache_write_5m,
            cache_write_1h: self.cache_write_1h,
        }
    }
}

const COLUMNS: &str =
    "model, input, output, cached_input, cache_write_5m, cache_write_1h, updated_at";

/// Every admin price, by model.
pub(crate) async fn list_all(pool: &AnyPool) -> Result<Vec<PriceRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM model_prices ORDER BY model"
    ))
    .fetch_all(pool)
    .await
}

/// Sets the price of `row.model`, replacing any the admin set before.
pub(crate) async fn upsert(pool: &AnyPool, row: &PriceRow) -> Result<(), sqlx::Error> {
    sqlx::query(&format!(
        "INSERT INTO model_prices ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7) \
         ON CONFLICT (model) DO UPDATE SET input = excluded.input, output = excluded.output, \
         cached_input = excluded.cached_input, cache_write_5m = excluded.cache_write_5m, \
         cache_write_1h = excluded.cache_write_1h, updated_at = excluded.updated_at"
    ))
    .bind(&row.model)
    .bind(row.input)
    .bind(row.output)
    .bind(row.cached_input)
    .bind(row.cache_write_5m)
    .bind(row.cache_write_1h)
    .bind(row.updated_at)
    .execute(pool)
    .await?;
    Ok(())
}

pub(crate) async fn delete(pool: &AnyPool, model: &str) -> Result<bool, sqlx::Error> {
    let done = sqlx::query("DELETE FROM model_prices WHERE model = $1")
        .bind(model)
        .execute(pool)
        .await?;
    Ok(done.rows_affected() > 0)
}

/// The shipped prices with the admin's over them.
pub(crate) fn merged(rows: &[PriceRow]) -> PriceTable {
    let shipped = DEFAULTS.prices.iter().map(|(m, p)| (m.clone(), *p));
    PriceTable::new(shipped.chain(rows.iter().map(|r| (r.model.clone(), r.price()))))
}

/// The table the proxy prices requests by: the shipped prices with the admin's over them.
pub(crate) async fn load_table(pool: &AnyPool) -> Result<PriceTable, sqlx::Error> {
    Ok(merged(&list_all(pool).await?))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::prices::normalize_pattern;

    #[test]
    fn the_shipped_list_is_sorted_lower_case_and_sane() {
        let d = &*DEFAULTS;
        assert!(d.source.starts_with("litellm "), "{}", d.source);
        assert_eq!(d.generated.len(), 10, "{}", d.generated);
        assert!(d.prices.len() > 50, "{} prices", d.prices.len());
        for (model, p) in &d.prices {
            assert_eq!(normalize_pattern(model).as_deref(), Ok(model.as_str()));
            assert!(
                !model.contains('*') && !model.starts_with("gemini/") && !model.starts_with("ft:")
            );
            for rate in [
                Some(p.input),
                Some(p.output),
                p.cached_input,
                p.cache_write_5m,
                p.cache_write_1h,
            ]
            .into_iter()
            .flatten()
            {
                assert!((0..=10_000_000_000).contains(&rate), "{model}: {rate}");
            }
        }
        // One of each provider, with the rates it is known for.
        let sonnet = d.prices["claude-sonnet-4-5"];
        assert_eq!(
            (
                sonnet.input,
                sonnet.cached_input,
                sonnet.cache_write_5m,
                sonnet.cache_write_1h
            ),
            (3_000_000, Some(300_000), Some(3_750_000), Some(6_000_000))
        );
        assert_eq!(d.prices["gpt-4o"].input, 2_500_000);
        assert_eq!(d.prices["gemini-2.5-pro"].output, 10_000_000);
        // Every Anthropic model has a 1-hour write price (shipped, or 2x input).
        for (model, p) in d.prices.iter().filter(|(m, _)| m.starts_with("claude-")) {
            assert!(p.cache_write_1h.is_some(), "{model}");
        }
    }

    #[test]
    fn admin_prices_win_over_shipped_ones() {
        let custom = Price {
            input: 1,
            output: 2,
            ..Price::default()
        };
        let table = merged(&[
            PriceRow::new("gpt-4o".into(), custom, 0),
            PriceRow::new("my-model-*".into(), custom, 0),
        ]);
        assert_eq!(table.lookup("gpt-4o"), Some(&custom));
        assert_eq!(table.lookup("my-model-7b"), Some(&custom));
        assert_eq!(
            table.lookup("gpt-4o-mini"),
            Some(&DEFAULTS.prices["gpt-4o-mini"])
        );
        assert_eq!(table.lookup("no-such-model"), None);
        assert_eq!(table.len(), DEFAULTS.prices.len() + 1);
    }
}
