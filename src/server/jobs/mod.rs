//! Background tasks.
pub(crate) mod alerts;
pub mod breaker_sync;
pub mod health_check;
pub mod memory_trim;
pub(crate) mod model_discovery;
pub mod retention;
pub mod routing_refresh;
