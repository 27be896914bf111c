//! Outcomes of the admin login, as the UI sees them, and where the UI's server functions live.
use serde::{Deserialize, Serialize};

/// Where every server function is served (each `#[server(prefix = ...)]` names it too): the
/// server's guards and error answers tell the UI's calls apart by it.
pub const UI_PREFIX: &str = "/api/ui/";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum LoginOutcome {
    SignedIn,
    InvalidToken,
    Throttled { retry_after_secs: u64 },
}
