//! Gateway-wide settings an admin changes at run time (stored in the database).
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// The balancing strategies, in the order the UI offers them.
pub const STRATEGIES: &[&str] = &["weighted", "round_robin", "least_connections"];

pub const DEFAULT_STRATEGY: &str = "weighted";
pub const DEFAULT_MAX_ATTEMPTS: u32 = 3;
pub const DEFAULT_HEALTH_CHECK_INTERVAL_SECONDS: u32 = 30;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GatewaySettings {
    /// `weighted`, `round_robin` or `least_connections`.
    pub lb_strategy: String,
    /// Upstreams tried per request at most (never the same one twice).
    pub max_attempts: u32,
    /// Seconds between active health checks (each round is jittered by up to 10%).
    pub health_check_interval_seconds: u32,
}

impl Default for GatewaySettings {
    fn default() -> Self {
        Self {
            lb_strategy: DEFAULT_STRATEGY.into(),
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

/// How the first choice is made among equally ranked candidates.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, Default, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum Strategy {
    RoundRobin,
    #[default]
    Weighted,
    LeastConnections,
}

impl Strategy {
    pub const ALL: [Strategy; 3] = [
        Strategy::RoundRobin,
        Strategy::Weighted,
        Strategy::LeastConnections,
    ];

    /// The same spelling serde uses, so config files and API payloads agree.
    pub const fn as_str(self) -> &'static str {
        match self {
            Strategy::RoundRobin => "round_robin",
            Strategy::Weighted => "weighted",
            Strategy::LeastConnections => "least_connections",
        }
    }
}

impl fmt::Display for Strategy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown strategy {0:?}: expected one of round_robin, weighted, least_connections")]
pub struct ParseStrategyError(pub String);

impl FromStr for Strategy {
    type Err = ParseStrategyError;

    // Exact names only, matching serde, so a value accepted here is accepted everywhere.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Strategy::ALL
            .into_iter()
            .find(|strategy| strategy.as_str() == s)
            .ok_or_else(|| ParseStrategyError(s.to_owned()))
    }
}
