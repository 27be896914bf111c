//! Cross-cutting HTTP plumbing.
pub mod bearer;
pub mod client_ip;
pub mod front;
pub mod per_core;
pub mod request_id;
pub mod security_headers;
pub mod serve;
pub mod upstream_client;
pub mod upstream_pool;
