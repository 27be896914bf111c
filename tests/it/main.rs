//! The integration tests, one binary: linked once, and run in parallel with each other. Each
//! module is what was a file under `tests/`; `common` is the harness (a real gateway on a
//! random port against SQLite or PostgreSQL, and a mock upstream speaking the providers'
//! formats).
#[macro_use]
mod common;

mod admin_api;
mod admin_at_scale;
mod agents;
mod alerts;
mod config_as_code;
mod formats;
mod foundation;
mod gemini;
mod limits;
mod live;
mod locales;
mod metrics;
mod openapi;
mod prices;
mod process;
mod proxy;
mod resilience;
mod responses;
mod sdk;
mod security;
mod sessions;
mod spend;
mod stats;
mod traces;
mod ui_functions;
