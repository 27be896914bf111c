//! Outcomes of the admin login, as the UI sees them.
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum LoginOutcome {
    SignedIn,
    InvalidToken,
    Throttled { retry_after_secs: u64 },
}
