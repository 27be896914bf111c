//! Model prices: their integer units, the cost of one request's usage, the lookup of a model's
//! price, and the prices as the admin API and the prices page exchange them.
//!
//! A price is an integer number of micro-USD per million tokens, which is also pico-USD per
//! token ($2.50 per million tokens is 2_500_000), so every price with up to six decimals per
//! million is exact. A cost is an integer number of nano-USD, rounded half up once per request.
use std::borrow::Cow;
use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use super::glob::glob_match;
use super::usage::Usage;

/// Micro-USD in one USD: a price of 1 USD per million tokens is this many units.
pub const MICROS_PER_USD: i64 = 1_000_000;
/// The per-upstream price multiplier 1.0, in parts per million.
pub const MULTIPLIER_ONE_PPM: i64 = 1_000_000;
/// The highest price an admin may set, in USD per million tokens.
pub const MAX_USD_PER_M: f64 = 10_000.0;
/// The longest model name or pattern a price may be set for.
pub const MAX_PATTERN_LEN: usize = 200;

/// One model's prices, in micro-USD per million tokens. A rate left out falls back:
/// `cached_input` and `cache_write_5m` to `input`, `cache_write_1h` to `cache_write_5m`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Price {
    pub input: i64,
    pub output: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cached_input: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache_write_5m: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache_write_1h: Option<i64>,
}

impl Price {
    pub fn cached_input_rate(&self) -> i64 {
        self.cached_input.unwrap_or(self.input)
    }

    pub fn cache_write_5m_rate(&self) -> i64 {
        self.cache_write_5m.unwrap_or(self.input)
    }

    pub fn cache_write_1h_rate(&self) -> i64 {
        self.cache_write_1h
            .unwrap_or_else(|| self.cache_write_5m_rate())
    }

    /// The same rates in USD per million tokens.
    pub fn to_rates(&self) -> PriceRates {
        PriceRates {
            input: micros_to_usd(self.input),
            output: micros_to_usd(self.output),
            cached_input: self.cached_input.map(micros_to_usd),
            cache_write_5m: self.cache_write_5m.map(micros_to_usd),
            cache_write_1h: self.cache_write_1h.map(micros_to_usd),
        }
    }

    /// Rates in USD per million tokens, checked; the error names the field at fault.
    pub fn from_rates(r: &PriceRates) -> Result<Price, (&'static str, RateError)> {
        let required = |field, v| usd_to_micros(v).map_err(|e| (field, e));
        let optional = |field, v: Option<f64>| v.map(|v| required(field, v)).transpose();
        Ok(Price {
            input: required("input", r.input)?,
            output: required("output", r.output)?,
            cached_input: optional("cached_input", r.cached_input)?,
            cache_write_5m: optional("cache_write_5m", r.cache_write_5m)?,
            cache_write_1h: optional("cache_write_1h", r.cache_write_1h)?,
        })
    }
}

/// What is wrong with a rate an admin typed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum RateError {
    #[error("must be a number from 0 to 10000 (USD per million tokens)")]
    OutOfRange,
    #[error("must have at most 6 decimals (USD per million tokens)")]
    TooPrecise,
}

/// USD per million tokens (a JSON number) -> micro-USD per million tokens, exactly.
pub fn usd_to_micros(usd: f64) -> Result<i64, RateError> {
    if !usd.is_finite() || !(0.0..=MAX_USD_PER_M).contains(&usd) {
        return Err(RateError::OutOfRange);
    }
    let scaled = usd * MICROS_PER_USD as f64;
    let micros = scaled.round();
    // A number with six decimals is never exactly representable; it lands within a rounding
    // error of a whole micro-dollar, while a seventh decimal lands at least 0.1 away.
    if (scaled - micros).abs() > 1e-3 {
        return Err(RateError::TooPrecise);
    }
    Ok(micros as i64)
}

pub fn micros_to_usd(micros: i64) -> f64 {
    micros as f64 / MICROS_PER_USD as f64
}

/// The cost of one request in nano-USD: every token at its rate, the multiplier (parts per
/// million) applied, then rounded half up, once. Uncached input is `prompt_tokens` less the
/// cache reads and writes; the 1-hour writes are the part of `cache_creation_tokens` that
/// `cache_creation_1h_tokens` names. Counts and rates below zero count as zero; a cost beyond
/// `i64` is `i64::MAX`.
pub fn cost_nanos(price: &Price, usage: &Usage, multiplier_ppm: i64) -> i64 {
    let n = |v: i64| i128::from(v.max(0));
    let cached = n(usage.cached_tokens);
    let writes = n(usage.cache_creation_tokens);
    let writes_1h = n(usage.cache_creation_1h_tokens).min(writes);
    let uncached = (n(usage.prompt_tokens) - cached - writes).max(0);
    // tokens x micro-USD per million tokens = pico-USD.
    let pico = [
        (uncached, price.input),
        (cached, price.cached_input_rate()),
        (writes - writes_1h, price.cache_write_5m_rate()),
        (writes_1h, price.cache_write_1h_rate()),
        (n(usage.completion_tokens), price.output),
    ]
    .into_iter()
    .fold(0i128, |sum, (tokens, rate)| {
        sum.saturating_add(tokens.saturating_mul(n(rate)))
    });
    // pico-USD x ppm is 1e-18 USD; a nano-USD is 1e9 of those.
    const PER_NANO: i128 = 1_000_000_000;
    let scaled = pico.saturating_mul(n(multiplier_ppm));
    let nanos = scaled.saturating_add(PER_NANO / 2) / PER_NANO;
    i64::try_from(nanos).unwrap_or(i64::MAX)
}

/// What is wrong with a model name or pattern a price is set for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum PatternError {
    #[error("must not be empty")]
    Empty,
    #[error("must be at most 200 characters")]
    TooLong,
    #[error("may hold only letters, digits, '*' and - _ . : / @ +")]
    Characters,
}

/// A model name or `*` pattern as prices are stored: trimmed and in lower case (prices match
/// ASCII case-insensitively, like upstreams' model patterns).
pub fn normalize_pattern(raw: &str) -> Result<String, PatternError> {
    let p = raw.trim();
    if p.is_empty() {
        return Err(PatternError::Empty);
    }
    if p.len() > MAX_PATTERN_LEN {
        return Err(PatternError::TooLong);
    }
    let allowed = |b: u8| b.is_ascii_alphanumeric() || b"*-_.:/@+".contains(&b);
    if !p.bytes().all(allowed) {
        return Err(PatternError::Characters);
    }
    Ok(p.to_ascii_lowercase())
}

/// Prices by model: an exact name first, else the most specific matching `*` pattern (the most
/// literal characters; then the fewest stars; then the smaller pattern). A name with a leading
/// `provider/` segment (`openai/gpt-4o`, `models/gemini-2.5-pro`, as aggregators and Google
/// spell them) is also tried without it: an exact match of either form wins, the full one first,
/// then the most specific pattern that matches either. Names compare ASCII case-insensitively.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PriceTable {
    exact: HashMap<String, Price>,
    /// Most specific first.
    globs: Vec<(String, Price)>,
}

impl PriceTable {
    /// A later entry for the same pattern replaces an earlier one.
    pub fn new(entries: impl IntoIterator<Item = (String, Price)>) -> Self {
        let mut exact = HashMap::new();
        let mut globs: HashMap<String, Price> = HashMap::new();
        for (pattern, price) in entries {
            let pattern = pattern.to_ascii_lowercase();
            if pattern.contains('*') {
                globs.insert(pattern, price);
            } else {
                exact.insert(pattern, price);
            }
        }
        let mut globs: Vec<(String, Price)> = globs.into_iter().collect();
        globs.sort_by(|(a, _), (b, _)| {
            let literal = |p: &str| p.bytes().filter(|&c| c != b'*').count();
            let stars = |p: &str| p.len() - literal(p);
            literal(b)
                .cmp(&literal(a))
                .then_with(|| stars(a).cmp(&stars(b)))
                .then_with(|| a.cmp(b))
        });
        Self { exact, globs }
    }

    pub fn len(&self) -> usize {
        self.exact.len() + self.globs.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The price of `model`, if any pattern gives it one.
    pub fn lookup(&self, model: &str) -> Option<&Price> {
        self.find(model).map(|(_, price)| price)
    }

    /// The pattern that prices `model`, and its price.
    pub fn find(&self, model: &str) -> Option<(&str, &Price)> {
        let bare = model
            .split_once('/')
            .map(|(_, rest)| rest)
            .filter(|rest| !rest.is_empty());
        self.exact(model)
            .or_else(|| bare.and_then(|b| self.exact(b)))
            .or_else(|| {
                self.globs
                    .iter()
                    .find(|(pattern, _)| {
                        glob_match(pattern, model) || bare.is_some_and(|b| glob_match(pattern, b))
                    })
                    .map(|(pattern, price)| (pattern.as_str(), price))
            })
    }

    fn exact(&self, model: &str) -> Option<(&str, &Price)> {
        let key: Cow<str> = if model.bytes().any(|b| b.is_ascii_uppercase()) {
            Cow::Owned(model.to_ascii_lowercase())
        } else {
            Cow::Borrowed(model)
        };
        self.exact
            .get_key_value(key.as_ref())
            .map(|(pattern, price)| (pattern.as_str(), price))
    }
}

crate::wire_enum! {
    /// Where a price comes from: `default` (the list the gateway ships), `override` (an admin's
    /// price for a model that list has) or `custom` (an admin's price for a model or pattern it
    /// lacks).
    pub enum PriceSource {
        Default = "default",
        Override = "override",
        Custom = "custom",
    }
}

/// Prices in USD per million tokens. A rate left out or null falls back: `cached_input` and
/// `cache_write_5m` to `input`, `cache_write_1h` to `cache_write_5m`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct PriceRates {
    /// Uncached input tokens. 0-10000, at most 6 decimals (as every rate).
    #[cfg_attr(feature = "ssr", schema(minimum = 0, maximum = 10000, examples(2.5)))]
    pub input: f64,
    /// Output tokens, reasoning included.
    #[cfg_attr(feature = "ssr", schema(minimum = 0, maximum = 10000, examples(10)))]
    pub output: f64,
    /// Input tokens read from the provider's prompt cache.
    #[cfg_attr(feature = "ssr", schema(minimum = 0, maximum = 10000, examples(1.25)))]
    #[serde(default)]
    pub cached_input: Option<f64>,
    /// Input tokens written to the prompt cache with the 5-minute TTL (Anthropic).
    #[cfg_attr(feature = "ssr", schema(minimum = 0, maximum = 10000))]
    #[serde(default)]
    pub cache_write_5m: Option<f64>,
    /// Input tokens written to the prompt cache with the 1-hour TTL (Anthropic).
    #[cfg_attr(feature = "ssr", schema(minimum = 0, maximum = 10000))]
    #[serde(default)]
    pub cache_write_1h: Option<f64>,
}

/// A price as the API shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct PriceView {
    /// An exact model name, or a pattern where `*` matches any run of characters; lower case.
    #[cfg_attr(feature = "ssr", schema(examples("gpt-4o", "claude-sonnet-4*")))]
    pub model: String,
    pub price: PriceRates,
    pub source: PriceSource,
    /// For an override, the shipped price it replaces; null otherwise.
    #[cfg_attr(feature = "ssr", schema(required = true))]
    pub default: Option<PriceRates>,
    /// When an admin last set it (RFC 3339, UTC); null for a shipped price.
    #[cfg_attr(feature = "ssr", schema(required = true, format = DateTime))]
    pub updated_at: Option<String>,
}

/// A model requested in the last 30 days, answered at least once, that no price matches: its
/// requests cost nothing in the logs until it gets one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct UnpricedModel {
    /// The model name as clients requested it.
    pub model: String,
    /// Requests for it in the last 30 days.
    pub requests: u64,
    /// Their tokens, input and output.
    pub tokens: u64,
}

/// What the prices page shows: one page of prices and the models seen without one.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PricesScreen {
    pub page: super::page::Page<PriceView>,
    pub unpriced: Vec<UnpricedModel>,
    /// The package, file and day the shipped prices were made from.
    pub defaults_source: String,
}

#[cfg(test)]
mod tests;
