//! Server functions: the UI's admin calls, served under `/api/ui/*` and guarded like `/api/admin/*`.
pub mod alerts;
pub mod breakers;
#[cfg(feature = "ssr")]
pub mod context;
pub mod keys;
pub mod logs;
pub mod prices;
pub mod session;
pub mod stats;
pub mod upstreams;
