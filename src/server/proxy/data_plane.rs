//! The data plane as one value: everything a proxied request reads, built once at start-up,
//! and the narrow interface through which the rest of the gateway tells it about changes.
use std::sync::Arc;

use super::breaker_store::BreakerStore;
use super::health::HealthBook;
use super::key_auth::KeyVerifier;
use super::log_writer::LogWriter;
use super::request_metrics::RequestMetrics;
use super::routing_table::RoutingTable;
use super::sessions::SessionBook;
use super::strategy::Balancer;
use crate::server::clock::SharedClock;
use crate::server::crypto::Cipher;
use crate::server::db::Database;
use crate::server::http::upstream_client::UpstreamClients;
use crate::server::limits::Limiter;
use crate::server::periods::CurrentPeriods;

/// The limits a request is held to, from the configuration.
#[derive(Debug, Clone, Default)]
pub struct RequestLimits {
    pub max_body_bytes: usize,
    /// Reverse proxies whose forwarding headers name the client (`TRUSTED_PROXIES`).
    pub trusted_proxies: Vec<ipnet::IpNet>,
}

pub struct DataPlane {
    pub(crate) clock: SharedClock,
    /// For what the proxy writes itself: a pre-digest key's digest, breaker states.
    pub(crate) db: Database,
    /// Decrypts upstream keys when the routing snapshot is reloaded.
    pub(crate) cipher: Cipher,
    pub(crate) limits: RequestLimits,
    /// The HTTP clients for upstreams (one per thread): SSRF-guarded resolver, no redirects.
    pub(crate) http: UpstreamClients,
    pub(crate) routing: RoutingTable,
    pub keys: KeyVerifier,
    pub logs: Arc<LogWriter>,
    pub(crate) breakers: BreakerStore,
    pub(crate) health: HealthBook,
    pub(crate) balancer: Balancer,
    /// The budget day and month, in the budget zone.
    pub(crate) periods: CurrentPeriods,
    /// The counters of keys' limits and upstreams' caps: here, or shared in Redis.
    pub(crate) limiter: Limiter,
    /// Which upstream served each agent session last.
    pub(crate) sessions: SessionBook,
    /// Which upstream made each Responses object (by key and response id), so that
    /// `previous_response_id` and `/v1/responses/{id}` reach it.
    pub(crate) responses: SessionBook,
    /// The Prometheus metrics, unless `METRICS=off` (the log writer counts into them).
    pub(crate) metrics: Option<Arc<RequestMetrics>>,
    /// This gateway's OpenTelemetry tracer, when traces are on (`OTEL_EXPORTER_OTLP_ENDPOINT`);
    /// `None` costs a request nothing.
    pub traces: Option<crate::server::telemetry::otlp::Traces>,
    /// The requests in flight here, for the live view.
    pub(crate) in_flight: Arc<super::in_flight::InFlightBook>,
}

impl DataPlane {
    /// Keys, upstreams or settings changed: the next request routes by the new snapshot.
    pub async fn reload(&self) {
        let now = self.clock.now_ms();
        let reloaded = self
            .routing
            .reload(&self.db, &self.cipher, &self.periods, now)
            .await;
        match reloaded {
            Ok(()) => self.routing_loaded(),
            Err(e) => {
                tracing::error!(error = %e, "routing table reload failed; the previous snapshot stays in use")
            }
        }
    }

    /// A new routing snapshot is in place: the log writer prices and labels by it.
    pub(crate) fn routing_loaded(&self) {
        let snapshot = self.routing.snapshot();
        self.logs.set_prices(snapshot.prices.clone());
        if let Some(metrics) = &self.metrics {
            metrics.set_models(&snapshot);
        }
    }

    /// The `/metrics` text (`None` with `METRICS=off`): the counters so far, the gauges now,
    /// in the OpenMetrics text format or Prometheus' classic one.
    pub fn render_metrics(&self, openmetrics: bool) -> Option<String> {
        self.metrics.as_ref().map(|m| m.metrics.render(openmetrics))
    }

    /// The price the next request for `model` is costed at, from the routing snapshot.
    pub fn price_of(&self, model: &str) -> Option<crate::model::prices::Price> {
        self.routing.snapshot().prices.lookup(model).copied()
    }

    /// An upstream was deleted: its breaker, health and balancing state go with it.
    pub(crate) fn forget_upstream(&self, id: &str) {
        self.breakers.forget(id);
        self.health.forget(id);
        self.balancer.forget(id);
    }
}
