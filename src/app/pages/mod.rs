//! One file per page.
pub mod alerts;
pub mod circuit_breakers;
pub mod dashboard;
pub mod keys;
pub mod login;
pub mod logs;
pub mod not_found;
pub mod prices;
pub mod upstreams;
