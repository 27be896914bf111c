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
use super::http::upstream_client::UpstreamClients;
use super::proxy::breaker_store::BreakerStore;
use super::proxy::health::HealthBook;
use super::proxy::key_auth::KeyVerifier;
use super::proxy::log_writer::LogWriter;
use super::proxy::routing_table::RoutingTable;
use super::proxy::strategy::Balancer;

/// Cheap to clone (one reference count): axum clones the state for every layer of every request.
#[derive(Clone)]
pub struct AppState(Arc<Shared>);

impl AppState {
    pub fn new(shared: Shared) -> Self {
        Self(Arc::new(shared))
    }
}

impl Deref for AppState {
    type Target = Shared;

    fn deref(&self) -> &Shared {
        &self.0
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
    pub cipher: Cipher,
    pub auth: Arc<AdminAuth>,
    pub clock: SharedClock,
    /// The HTTP clients for upstreams (one per thread): SSRF-guarded resolver, no redirects.
    pub http: UpstreamClients,
    pub routing: Arc<RoutingTable>,
    pub keys: Arc<KeyVerifier>,
    pub logs: Arc<LogWriter>,
    pub breakers: Arc<BreakerStore>,
    pub health: Arc<HealthBook>,
    pub balancer: Arc<Balancer>,
}

impl Shared {
    /// Called after every admin write, so the proxy sees the change on its very next request.
    pub async fn routing_changed(&self) {
        if let Err(e) = self.routing.reload(&self.db, &self.cipher).await {
            tracing::error!(error = %e, "routing table reload failed; the previous snapshot stays in use");
        }
    }
}
