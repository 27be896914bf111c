//! Cross-cutting HTTP plumbing.
pub mod bearer;
pub mod front;
pub mod per_core;
pub mod request_id;
pub mod security_headers;
pub mod upstream_client;
pub mod upstream_pool;
