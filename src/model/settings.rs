//! Gateway-wide settings an admin changes at run time (stored in the database).
use serde::{Deserialize, Serialize};

pub const DEFAULT_MAX_ATTEMPTS: u32 = 3;
pub const DEFAULT_HEALTH_CHECK_INTERVAL_SECONDS: u32 = 30;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct GatewaySettings {
    pub lb_strategy: Strategy,
    /// Upstreams tried per request at most, never the same one twice, never after a byte
    /// reached the client.
    #[cfg_attr(feature = "ssr", schema(minimum = 1, maximum = 10, default = 3))]
    pub max_attempts: u32,
    /// Seconds between active health checks, each round jittered by up to 10%; 0 turns them
    /// off.
    #[cfg_attr(feature = "ssr", schema(minimum = 0, maximum = 86400, default = 30))]
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
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct UpdateSettings {
    #[cfg_attr(feature = "ssr", schema(value_type = Option<Strategy>))]
    #[serde(default)]
    pub lb_strategy: Option<String>,
    /// Upstreams tried per request at most, never the same one twice, never after a byte
    /// reached the client.
    #[cfg_attr(feature = "ssr", schema(minimum = 1, maximum = 10))]
    #[serde(default)]
    pub max_attempts: Option<u32>,
    /// Seconds between active health checks, each round jittered by up to 10%; 0 turns them
    /// off.
    #[cfg_attr(feature = "ssr", schema(minimum = 0, maximum = 86400))]
    #[serde(default)]
    pub health_check_interval_seconds: Option<u32>,
}

crate::wire_enum! {
    /// How the first upstream is chosen within a priority tier: `weighted` (smooth weighted round
    /// robin, proportional to weight), `round_robin`, or `least_connections` (fewest in-flight
    /// requests on this instance, ties to higher weight). Recorded in each log row.
    #[derive(Default)]
    pub enum Strategy {
        #[default]
        Weighted = "weighted",
        RoundRobin = "round_robin",
        LeastConnections = "least_connections",
    }
}
