//! Types shared by the browser and the server.
pub mod locale;
pub mod session;
