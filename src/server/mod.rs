//! Everything that runs only on the server (`ssr`).
pub mod auth;
pub mod clock;
pub mod config;
pub mod crypto;
pub mod db;
pub mod error;
pub mod fast_map;
pub mod http;
pub mod jobs;
pub mod proxy;
pub mod rest;
pub mod secret;
pub mod service;
pub mod startup;
pub mod state;
pub mod telemetry;
pub mod timefmt;
