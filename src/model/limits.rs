//! Spend and rate limits of client keys and upstreams as the admin API and the UI exchange
//! them, with what has been spent against them. Every limit is optional: absent means none.
use serde::{Deserialize, Serialize};

/// A client key's limits.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(default, deny_unknown_fields)]
pub struct KeyLimits {
    /// Model names or `*` globs the key may use (at most 100, each at most 200 characters);
    /// empty: every model its upstreams serve.
    pub allowed_models: Vec<String>,
    /// Requests per minute, over a sliding minute.
    #[cfg_attr(feature = "ssr", schema(minimum = 1, maximum = 1000000))]
    pub rpm: Option<u32>,
    /// Tokens per minute as upstreams report them, charged when an answer ends; a request is
    /// admitted while the last minute's tokens are under the limit.
    #[cfg_attr(feature = "ssr", schema(minimum = 1))]
    pub tpm: Option<u64>,
    /// Requests in flight at once.
    #[cfg_attr(feature = "ssr", schema(minimum = 1, maximum = 100000))]
    pub max_concurrent: Option<u32>,
    /// USD per day, in the gateway's budget time zone.
    #[cfg_attr(feature = "ssr", schema(minimum = 0, maximum = 10000000))]
    pub daily_budget_usd: Option<f64>,
    /// USD per calendar month, in the gateway's budget time zone.
    #[cfg_attr(feature = "ssr", schema(minimum = 0, maximum = 10000000))]
    pub monthly_budget_usd: Option<f64>,
}

impl KeyLimits {
    /// Whether any limit is set (the allow-list is not a counter).
    pub fn counts_anything(&self) -> bool {
        self.rpm.is_some()
            || self.tpm.is_some()
            || self.max_concurrent.is_some()
            || self.daily_budget_usd.is_some()
            || self.monthly_budget_usd.is_some()
    }
}

/// An upstream's limits.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(default, deny_unknown_fields)]
pub struct UpstreamLimits {
    /// Requests in flight at once; over it a request goes to the next candidate.
    #[cfg_attr(feature = "ssr", schema(minimum = 1, maximum = 100000))]
    pub max_concurrent: Option<u32>,
    /// Requests per minute; over it a request goes to the next candidate.
    #[cfg_attr(feature = "ssr", schema(minimum = 1, maximum = 1000000))]
    pub rpm: Option<u32>,
    /// USD per calendar month (budget time zone); once spent, the upstream is skipped until
    /// the month turns.
    #[cfg_attr(feature = "ssr", schema(minimum = 0, maximum = 10000000))]
    pub monthly_quota_usd: Option<f64>,
}

/// What has been spent against a budget, in USD: the durable sum from the statistics.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct Spend {
    pub today_usd: f64,
    pub month_usd: f64,
}

/// One day's spend of a key.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct DaySpend {
    /// The day, `YYYY-MM-DD` in the budget time zone.
    pub day: String,
    pub requests: u64,
    pub tokens: u64,
    pub cost_usd: f64,
}

/// Why a limit refused a request, as logs record it.
pub const REFUSALS: &[&str] = &[
    "key_rpm",
    "key_tpm",
    "key_concurrency",
    "key_daily_budget",
    "key_monthly_budget",
    "model_not_allowed",
    "upstream_limits",
];
