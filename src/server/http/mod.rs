//! Cross-cutting HTTP plumbing.
pub mod bearer;
pub mod request_id;
