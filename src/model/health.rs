//! Upstream health as the admin API and the UI show it.
use serde::{Deserialize, Serialize};

/// One upstream's health as this instance knows it, with figures from the request logs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema), schema(as = UpstreamHealth))]
pub struct UpstreamHealthView {
    pub upstream_id: String,
    pub upstream_name: String,
    pub is_active: bool,
    /// `null` until a check or a request said anything.
    #[cfg_attr(feature = "ssr", schema(required = true))]
    pub healthy: Option<bool>,
    /// Latency of the last active check.
    #[cfg_attr(feature = "ssr", schema(required = true))]
    pub latency_ms: Option<u64>,
    #[cfg_attr(feature = "ssr", schema(required = true, format = DateTime))]
    pub last_check_at: Option<String>,
    #[cfg_attr(feature = "ssr", schema(required = true, format = DateTime))]
    pub last_success_at: Option<String>,
    pub consecutive_failures: u32,
    #[cfg_attr(feature = "ssr", schema(required = true))]
    pub last_error: Option<String>,
    #[cfg_attr(feature = "ssr", schema(inline))]
    pub window: LatencyWindow,
}

/// Figures for the requests this upstream answered or failed, from the hourly counters: the
/// window starts at the top of the hour `hours` ago, so it holds whole hours.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct LatencyWindow {
    pub hours: u32,
    /// Requests whose log row names this upstream (the one that answered, or the last one
    /// tried).
    pub requests: u64,
    /// Of those, answered with a status below 500 (4xx is the caller's fault).
    pub successes: u64,
    /// `successes / requests` as a percentage; `null` without requests.
    #[cfg_attr(feature = "ssr", schema(required = true))]
    pub availability_percent: Option<f64>,
    #[cfg_attr(feature = "ssr", schema(required = true))]
    pub p50_ms: Option<u64>,
    #[cfg_attr(feature = "ssr", schema(required = true))]
    pub p95_ms: Option<u64>,
    /// Percentiles of the requests' total duration, each the upper bound of the latency bucket
    /// it falls in (25, 50, 100, 200, 300, 500, 750, 1000, 1500, 2000, 3000, 5000, 10000,
    /// 30000, 60000 ms).
    #[cfg_attr(feature = "ssr", schema(required = true))]
    pub p99_ms: Option<u64>,
}

/// One active check's outcome, as `POST /api/admin/upstreams/health/check` reports it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct HealthCheckResult {
    pub upstream_id: String,
    pub upstream_name: String,
    /// The upstream's health after this check.
    pub healthy: bool,
    #[cfg_attr(feature = "ssr", schema(required = true))]
    pub latency_ms: Option<u64>,
    #[cfg_attr(feature = "ssr", schema(required = true))]
    pub error: Option<String>,
}
