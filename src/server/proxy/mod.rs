//! The data plane: key verification, routing, forwarding, usage accounting, SSRF guard.
pub mod breaker;
pub mod breaker_store;
pub mod errors;
pub mod failover;
pub mod handler;
pub mod headers;
pub mod health;
pub mod key_auth;
pub mod metered_body;
pub mod model_rules;
pub mod provider_auth;
pub mod request_body;
pub mod routing_table;
pub mod ssrf;
pub mod strategy;
pub mod upstream_target;
pub mod usage;
