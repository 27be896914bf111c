//! The service layer: the one place admin operations live, called by REST handlers and server functions.
pub(crate) mod alerts;
pub(crate) mod autorouter_js;
pub mod breakers;
pub(crate) mod config_io;
pub mod context;
pub mod health;
pub mod keys;
pub(crate) mod limits;
pub mod live;
pub mod logs;
pub mod prices;
pub mod settings;
pub mod stats;
pub(crate) mod upstream_models;
pub mod upstreams;
pub mod validate;

pub use context::Services;

use crate::server::error::ApiError;

/// Database failures are internal errors; a unique-constraint race is a conflict.
pub(crate) fn db_error(e: sqlx::Error) -> ApiError {
    if let sqlx::Error::Database(db) = &e {
        if db.is_unique_violation() {
            return ApiError::Conflict("a record with that name already exists".into());
        }
    }
    ApiError::internal(e)
}
