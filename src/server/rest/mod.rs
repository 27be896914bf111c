//! Admin REST and public JSON handlers: parse -> service -> JSON.
pub mod health;
pub mod json;
pub mod keys;
pub mod logs;
pub mod not_found;
pub mod openapi;
pub mod query;
pub mod session;
pub mod upstreams;
