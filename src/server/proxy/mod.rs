//! The data plane: key verification, routing, forwarding, usage accounting, SSRF guard.
pub mod balancer;
pub mod errors;
pub mod handler;
pub mod headers;
pub mod key_auth;
pub mod metered_body;
pub mod model_rules;
pub mod provider_auth;
pub mod routing_table;
pub mod ssrf;
pub mod usage;
