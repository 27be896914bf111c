//! `Services`: the parts of the running gateway the admin operations work with.
use std::sync::Arc;

use leptos::config::LeptosOptions;

use crate::server::auth::AdminAuth;
use crate::server::clock::SharedClock;
use crate::server::config::Config;
use crate::server::crypto::Cipher;
use crate::server::db::Database;
use crate::server::proxy::data_plane::DataPlane;

/// Built once at start; `AppState` (which axum clones for every request) holds it.
pub struct Services {
    pub leptos_options: LeptosOptions,
    pub config: Arc<Config>,
    pub db: Database,
    pub(crate) cipher: Cipher,
    pub auth: Arc<AdminAuth>,
    pub clock: SharedClock,
    /// What proxied requests read; admin operations tell it about changes.
    pub plane: Arc<DataPlane>,
    /// Wakes model discovery for upstreams never asked yet (a new one).
    pub(crate) models_wanted: Arc<tokio::sync::Notify>,
    /// The live view's rows and in-flight lists (`service/live.rs`).
    pub live: Arc<super::live::LiveHub>,
}

impl Services {
    /// Called after every admin write, so the proxy sees the change on its very next request.
    pub async fn routing_changed(&self) {
        self.plane.reload().await;
    }
}
