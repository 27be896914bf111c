//! Dashboard statistics as the admin API and the UI exchange them.
use serde::{Deserialize, Serialize};

/// `today` (since midnight at the caller's UTC offset), `7d` or `30d` (whole days, today
/// included).
pub const RANGES: &[&str] = &["today", "7d", "30d"];

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatsQuery {
    pub range: Option<String>,
    /// Minutes east of UTC for day boundaries (e.g. 480 for UTC+8); default 0.
    pub tz_offset_minutes: Option<i32>,
    /// Leaderboard length, 1..=50 (default 5).
    pub limit: Option<u32>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Overview {
    pub range: String,
    pub start: String,
    pub requests: u64,
    /// Share of requests answered 2xx/3xx, as a percentage; `None` without requests.
    pub success_rate_percent: Option<f64>,
    pub avg_duration_ms: Option<f64>,
    /// The upper bound of the latency bucket holding the 95th percentile.
    pub p95_duration_ms: Option<i64>,
    /// Over streams that carried content: time to their first content token.
    pub avg_ttft_ms: Option<f64>,
    /// Over every answer: time to its first byte.
    pub avg_ttfb_ms: Option<f64>,
    pub prompt_tokens: u64,
    pub completion_tokens: u64,
    pub total_tokens: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Series {
    pub upstream_id: Option<String>,
    pub upstream_name: String,
    /// One value per bucket, aligned with `Timeseries::buckets`.
    pub requests: Vec<u64>,
    pub tokens: Vec<u64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Timeseries {
    pub range: String,
    /// `hour` for today, `day` otherwise.
    pub granularity: String,
    /// Each bucket's start, RFC 3339 in UTC.
    pub buckets: Vec<String>,
    pub series: Vec<Series>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LeaderRow {
    /// `None` for requests without one (refused before a key or an upstream was known).
    pub id: Option<String>,
    pub name: String,
    pub requests: u64,
    pub tokens: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Leaderboard {
    pub range: String,
    pub keys: Vec<LeaderRow>,
    pub upstreams: Vec<LeaderRow>,
    pub models: Vec<LeaderRow>,
}

/// Everything the dashboard page shows, in one call.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Dashboard {
    pub overview: Overview,
    pub timeseries: Timeseries,
    pub leaderboard: Leaderboard,
}
