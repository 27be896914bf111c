//! Cross-cutting HTTP plumbing.
pub mod request_id;
