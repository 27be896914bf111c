//! Gateway-wide settings an admin changes at run time (stored in the database).
use serde::{Deserialize, Serialize};

pub const DEFAULT_MAX_ATTEMPTS: u32 = 3;
pub const DEFAULT_HEALTH_CHECK_INTERVAL_SECONDS: u32 = 30;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GatewaySettings {
    pub lb_strategy: Strategy,
    /// Upstreams tried per request at most (never the same one twice).
    pub max_attempts: u32,
    /// Seconds between active health checks (each round is jittered by up to 10%).
    pub health_check_interval_seconds: u32,
}

impl Default for GatewaySettings {
    fn default() -> Self {
        Self {
            lb_strategy: Strategy::default(),
            max_attempts: DEFAULT_MAX_ATTEMPTS,
            health_check_interval_seconds: DEFAULT_HEALTH_CHECK_INTERVAL_SECONDS,
        }
    }
}

/// A partial update: absent fields keep their value.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpdateSettings {
    #[serde(default)]
    pub lb_strategy: Option<String>,
    #[serde(default)]
    pub max_attempts: Option<u32>,
    #[serde(default)]
    pub health_check_interval_seconds: Option<u32>,
}

crate::wire_enum! {
    /// How the first choice is made among equally ranked candidates.
    #[derive(Default)]
    pub enum Strategy {
        #[default]
        Weighted = "weighted",
        RoundRobin = "round_robin",
        LeastConnections = "least_connections",
    }
}
