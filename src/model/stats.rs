//! Dashboard statistics as the admin API and the UI exchange them.
use serde::{Deserialize, Serialize};

/// `today` (since midnight at the caller's UTC offset), `7d` or `30d` (whole days, today
/// included).
pub const RANGES: &[&str] = &["today", "7d", "30d"];

/// The statistics' query.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(
    feature = "ssr",
    derive(utoipa::IntoParams),
    into_params(parameter_in = Query)
)]
pub struct StatsQuery {
    /// `today` since local midnight, `7d` and `30d` whole local days with today included.
    #[cfg_attr(feature = "ssr", param(default = "today", example = "7d"))]
    pub range: Option<String>,
    /// Minutes east of UTC that day boundaries follow (480 for UTC+8). Statistics are kept per
    /// UTC hour, so a zone with a half-hour offset starts its day at the hour that contains its
    /// midnight.
    #[cfg_attr(feature = "ssr", param(minimum = -720, maximum = 840, default = 0))]
    pub tz_offset_minutes: Option<i32>,
    /// The leaderboard's length (read by `/stats/leaderboard` only).
    #[cfg_attr(feature = "ssr", param(minimum = 1, maximum = 50, default = 5))]
    pub limit: Option<u32>,
    /// The leaderboard's order: `requests` (then tokens) or `cost` (read by
    /// `/stats/leaderboard` only).
    #[cfg_attr(feature = "ssr", param(default = "requests", example = "cost"))]
    pub sort: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema), schema(as = StatsOverview))]
pub struct Overview {
    pub range: String,
    #[cfg_attr(feature = "ssr", schema(format = DateTime))]
    pub start: String,
    pub requests: u64,
    /// Share of requests answered 2xx/3xx, as a percentage; `null` without requests.
    #[cfg_attr(feature = "ssr", schema(required = true))]
    pub success_rate_percent: Option<f64>,
    #[cfg_attr(feature = "ssr", schema(required = true))]
    pub avg_duration_ms: Option<f64>,
    /// The upper bound of the latency bucket holding the 95th percentile (bounds 25, 50, 100,
    /// 200, 300, 500, 750, 1000, 1500, 2000, 3000, 5000, 10000, 30000, 60000 ms).
    #[cfg_attr(feature = "ssr", schema(required = true))]
    pub p95_duration_ms: Option<i64>,
    /// Average time to first content token, over streams that carried content.
    #[cfg_attr(feature = "ssr", schema(required = true))]
    pub avg_ttft_ms: Option<f64>,
    /// Average time to the first byte of the answer, over every answer.
    #[cfg_attr(feature = "ssr", schema(required = true))]
    pub avg_ttfb_ms: Option<f64>,
    pub prompt_tokens: u64,
    pub completion_tokens: u64,
    pub total_tokens: u64,
    /// What the range's requests cost, in USD (summed from integer nano-dollars).
    pub cost_usd: f64,
    /// Requests that used tokens of a model with no price: their cost is unknown, not 0.
    pub unpriced_requests: u64,
    /// Requests a limit refused (rate, concurrency, budget, model allow-list).
    pub refused_requests: u64,
    /// Requests that belonged to an agent session.
    pub session_requests: u64,
    /// Share of those that went to the upstream that served the session last, as a
    /// percentage; `null` without session requests.
    #[cfg_attr(feature = "ssr", schema(required = true))]
    pub sticky_share_percent: Option<f64>,
}

/// Spend over the dashboard's three standard ranges, whatever range it shows.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CostSummary {
    pub today_usd: f64,
    pub last_7d_usd: f64,
    pub last_30d_usd: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct Series {
    #[cfg_attr(feature = "ssr", schema(required = true))]
    pub upstream_id: Option<String>,
    pub upstream_name: String,
    /// One value per bucket, aligned with `Timeseries::buckets`.
    pub requests: Vec<u64>,
    pub tokens: Vec<u64>,
    /// USD per bucket.
    pub cost_usd: Vec<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema), schema(as = StatsTimeseries))]
pub struct Timeseries {
    pub range: String,
    /// `hour` for today, `day` otherwise.
    #[cfg_attr(feature = "ssr", schema(examples("hour", "day")))]
    pub granularity: String,
    /// Each bucket's start, RFC 3339 in UTC.
    pub buckets: Vec<String>,
    #[cfg_attr(feature = "ssr", schema(inline))]
    pub series: Vec<Series>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct LeaderRow {
    /// `null` for requests without one (refused before a key or an upstream was known); a
    /// deleted key or upstream is listed under its id.
    #[cfg_attr(feature = "ssr", schema(required = true))]
    pub id: Option<String>,
    pub name: String,
    pub requests: u64,
    pub tokens: u64,
    pub cost_usd: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema), schema(as = StatsLeaderboard))]
pub struct Leaderboard {
    pub range: String,
    #[cfg_attr(feature = "ssr", schema(inline))]
    pub keys: Vec<LeaderRow>,
    #[cfg_attr(feature = "ssr", schema(inline))]
    pub upstreams: Vec<LeaderRow>,
    #[cfg_attr(feature = "ssr", schema(inline))]
    pub models: Vec<LeaderRow>,
}

/// Everything the dashboard page shows, in one call.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Dashboard {
    pub overview: Overview,
    pub costs: CostSummary,
    pub timeseries: Timeseries,
    pub leaderboard: Leaderboard,
    /// The same leaderboard ordered by cost.
    pub by_cost: Leaderboard,
}
