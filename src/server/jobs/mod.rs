//! Background tasks.
pub mod log_writer;
pub mod routing_refresh;
