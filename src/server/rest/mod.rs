//! Admin REST and public JSON handlers (parse -> service -> JSON) and the OpenAPI document.
pub(crate) mod admin;
pub(crate) mod alerts;
pub mod circuit_breakers;
pub mod health;
pub mod json;
pub mod keys;
pub mod logs;
pub mod not_found;
pub mod openapi;
pub mod prices;
pub mod query;
pub mod session;
pub mod settings;
pub mod stats;
pub mod upstream_health;
pub mod upstreams;
