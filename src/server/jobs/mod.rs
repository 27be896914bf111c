//! Background tasks.
pub mod log_writer;
