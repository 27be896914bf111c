//! `AppState`: what every handler and server function is handed.
use std::sync::Arc;

use axum::extract::FromRef;
use leptos::config::LeptosOptions;

use super::auth::AdminAuth;
use super::config::Config;
use super::crypto::Cipher;
use super::db::Database;

#[derive(Clone, FromRef)]
pub struct AppState {
    pub leptos_options: LeptosOptions,
    pub config: Arc<Config>,
    pub db: Database,
    pub cipher: Cipher,
    pub auth: Arc<AdminAuth>,
}
