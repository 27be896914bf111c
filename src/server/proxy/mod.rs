//! The data plane: model rules, provider auth, SSRF guard, key verification, routing, usage accounting.
pub mod key_auth;
pub mod model_rules;
pub mod provider_auth;
pub mod routing_table;
pub mod ssrf;
pub mod usage;
