//! `AppState`: what every handler and server function is handed.
use std::sync::Arc;

use std::ops::Deref;

use axum::extract::FromRef;
use leptos::config::LeptosOptions;

use super::auth::AdminAuth;
use super::clock::SharedClock;
use super::config::Config;
use super::crypto::Cipher;
use super::db::Database;
use super::proxy::data_plane::DataPlane;

/// Cheap to clone (one reference count): axum clones the state for every layer of every request.
#[derive(Clone)]
pub struct AppState(Arc<Shared>);

impl AppState {
    pub(crate) fn new(shared: Shared) -> Self {
        Self(Arc::new(shared))
    }
}

impl Deref for AppState {
    type Target = Shared;

    fn deref(&self) -> &Shared {
        &self.0
    }
}

/// The proxy's routes take the data plane alone.
impl FromRef<AppState> for Arc<DataPlane> {
    fn from_ref(state: &AppState) -> Self {
        Arc::clone(&state.plane)
    }
}

/// leptos_axum reads its options from the router state.
impl FromRef<AppState> for LeptosOptions {
    fn from_ref(state: &AppState) -> Self {
        state.leptos_options.clone()
    }
}

pub struct Shared {
    pub leptos_options: LeptosOptions,
    pub config: Arc<Config>,
    pub db: Database,
    pub(crate) cipher: Cipher,
    pub auth: Arc<AdminAuth>,
    pub clock: SharedClock,
    /// What proxied requests read; admin operations tell it about changes.
    pub plane: Arc<DataPlane>,
}

impl Shared {
    /// Called after every admin write, so the proxy sees the change on its very next request.
    pub async fn routing_changed(&self) {
        self.plane.reload().await;
    }
}
