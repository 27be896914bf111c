//! HTTP plumbing under both the admin side and the data plane: serving connections, client
//! identity, request ids, security headers, and the upstream client with its SSRF guard.
pub mod bearer;
pub mod client_ip;
pub mod front;
pub mod per_core;
pub mod request_id;
pub mod security_headers;
pub mod serve;
pub mod ssrf;
pub mod upstream_client;
pub mod upstream_pool;
