//! Circuit breaker state as the admin API and the UI show it.
use serde::{Deserialize, Serialize};

use super::upstreams::BreakerConfig;

crate::wire_enum! {
    /// A circuit breaker's state.
    pub enum BreakerState {
        Closed = "closed",
        Open = "open",
        HalfOpen = "half_open",
    }
}

crate::wire_enum! {
    /// An administrator's override; while set, outcomes never change the state.
    pub enum Forced {
        Open = "open",
        Closed = "closed",
    }
}

/// One upstream's circuit breaker.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema), schema(as = CircuitBreaker))]
pub struct BreakerView {
    pub upstream_id: String,
    pub upstream_name: String,
    pub is_active: bool,
    /// What the next request sees; an open breaker whose `open_duration_ms` has passed reports
    /// `half_open`.
    pub state: BreakerState,
    /// Set while an admin holds the breaker open or closed.
    #[cfg_attr(feature = "ssr", schema(required = true))]
    pub forced: Option<Forced>,
    /// Consecutive failures counted towards `failure_threshold`.
    pub failure_count: u32,
    /// Successful probes counted towards `success_threshold` while half-open.
    pub success_count: u32,
    #[cfg_attr(feature = "ssr", schema(required = true, format = DateTime))]
    pub last_failure_at: Option<String>,
    #[cfg_attr(feature = "ssr", schema(required = true, format = DateTime))]
    pub opened_at: Option<String>,
    #[cfg_attr(feature = "ssr", schema(required = true, format = DateTime))]
    pub updated_at: Option<String>,
    pub config: BreakerConfig,
}
