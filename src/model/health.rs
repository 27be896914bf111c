//! Upstream health as the admin API and the UI show it.
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UpstreamHealthView {
    pub upstream_id: String,
    pub upstream_name: String,
    pub is_active: bool,
    /// `None` until the first check or request says anything.
    pub healthy: Option<bool>,
    /// Latency of the last active check.
    pub latency_ms: Option<u64>,
    pub last_check_at: Option<String>,
    pub last_success_at: Option<String>,
    pub consecutive_failures: u32,
    pub last_error: Option<String>,
    pub window: LatencyWindow,
}

/// Request-log figures over the last `hours` for requests this upstream answered or failed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LatencyWindow {
    pub hours: u32,
    pub requests: u64,
    /// Requests the upstream answered with a status below 500 (4xx is the caller's fault).
    pub successes: u64,
    /// `successes / requests` as a percentage; `None` without requests.
    pub availability_percent: Option<f64>,
    pub p50_ms: Option<u64>,
    pub p95_ms: Option<u64>,
    pub p99_ms: Option<u64>,
}

/// One active check's outcome, as `POST /api/admin/upstreams/health/check` reports it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HealthCheckResult {
    pub upstream_id: String,
    pub upstream_name: String,
    pub healthy: bool,
    pub latency_ms: Option<u64>,
    pub error: Option<String>,
}
