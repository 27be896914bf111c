//! Background tasks.
pub mod breaker_sync;
pub mod health_check;
pub mod memory_trim;
pub mod retention;
pub mod routing_refresh;
