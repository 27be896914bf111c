//! `AppState`: what every handler and server function is handed.
use std::sync::Arc;

use std::ops::Deref;

use axum::extract::FromRef;
use leptos::config::LeptosOptions;

use super::proxy::data_plane::DataPlane;
use super::service::Services;

/// Cheap to clone (one reference count): axum clones the state for every layer of every request.
#[derive(Clone)]
pub struct AppState(Arc<Services>);

impl AppState {
    pub(crate) fn new(services: Services) -> Self {
        Self(Arc::new(services))
    }
}

impl Deref for AppState {
    type Target = Services;

    fn deref(&self) -> &Services {
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
