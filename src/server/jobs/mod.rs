//! Background tasks.
pub mod breaker_sync;
pub mod health_check;
pub(crate) mod live_feed;
pub mod memory_trim;
pub(crate) mod model_discovery;
pub mod retention;
pub mod routing_refresh;
