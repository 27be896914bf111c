//! Types shared by the browser and the server.
pub mod breakers;
pub mod health;
pub mod keys;
pub mod locale;
pub mod logs;
pub mod page;
pub mod session;
pub mod settings;
pub mod stats;
pub mod upstreams;
