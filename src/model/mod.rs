//! Types shared by the browser and the server.
pub mod breakers;
pub mod errors;
pub mod glob;
pub mod health;
pub mod keys;
pub mod locale;
pub mod logs;
pub mod named;
pub mod page;
pub mod prices;
pub mod session;
pub mod settings;
pub mod stats;
pub mod upstreams;
pub mod usage;
pub mod wire;
