//! Types shared by the browser and the server.
pub mod breakers;
pub mod errors;
pub mod health;
pub mod keys;
pub mod limits;
pub mod locale;
pub mod logs;
pub mod money;
pub mod named;
pub mod page;
pub mod session;
pub mod settings;
pub mod stats;
pub mod upstreams;
pub mod usage;
pub mod wire;
