//! Circuit breaker state as the admin API and the UI show it.
use serde::{Deserialize, Serialize};

use super::upstreams::BreakerConfig;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BreakerView {
    pub upstream_id: String,
    pub upstream_name: String,
    pub is_active: bool,
    /// What the next request sees: `closed`, `open` or `half_open` (an open breaker whose
    /// `open_duration_ms` has passed already reports `half_open`).
    pub state: String,
    /// `open` while an admin holds the breaker open; otherwise absent.
    pub forced: Option<String>,
    /// Consecutive failures counted towards `failure_threshold`.
    pub failure_count: u32,
    /// Successful probes counted towards `success_threshold` while half-open.
    pub success_count: u32,
    pub last_failure_at: Option<String>,
    pub opened_at: Option<String>,
    pub updated_at: Option<String>,
    pub config: BreakerConfig,
}
