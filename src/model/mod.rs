//! Types shared by the browser and the server.
pub mod keys;
pub mod locale;
pub mod logs;
pub mod page;
pub mod session;
pub mod upstreams;
