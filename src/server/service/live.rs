//! The live view of the request log: new rows as they are written, and the requests in flight
//! on this instance and on the others that share its PostgreSQL database.
//!
//! `LiveHub` is what the SSE streams read. The feed (`jobs/live_feed.rs`) fills it: rows this
//! instance writes come from the log writer, rows and in-flight lists of other instances from
//! PostgreSQL notifications. Nothing is gathered while nobody, here or elsewhere, watches.
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::Arc;

use parking_lot::Mutex;
use serde::{Deserialize, Serialize};
use tokio::sync::{broadcast, Notify};

use super::Services;
use crate::model::live::{InFlightEvent, InFlightRequest, InstanceInFlight, LiveQuery};
use crate::model::logs::RequestLogView;
use crate::server::clock::SharedClock;
use crate::server::error::ApiError;
use crate::server::fast_map::FastMap;
use crate::server::proxy::data_plane::DataPlane;
use crate::server::proxy::in_flight::Entry;
use crate::server::timefmt::to_rfc3339;

/// Events a stream has not taken yet, at most; a slower one is told to resync.
const EVENTS: usize = 256;
/// Another instance's in-flight list is shown for this long after its last report.
pub(crate) const REMOTE_FRESH_MS: i64 = 3_000;
/// How long a watch heard from another instance keeps this one reporting.
pub(crate) const WATCH_TTL_MS: i64 = 5_000;

#[derive(Debug, Clone)]
pub(crate) enum LiveEvent {
    /// Rows just written, oldest first.
    Rows(Arc<Vec<RequestLogView>>),
    /// Rows may have been missed (a lagging feed, a lost notification connection): reload.
    Resync,
}

/// One in-flight request as instances report it to each other (names resolved by the reader).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct WireFlight {
    #[serde(rename = "r")]
    pub request_id: String,
    #[serde(rename = "k")]
    pub key_id: String,
    #[serde(rename = "u")]
    pub upstream_id: String,
    #[serde(rename = "n")]
    pub upstream_name: String,
    #[serde(rename = "m")]
    pub model: String,
    #[serde(rename = "s")]
    pub is_stream: bool,
    #[serde(rename = "t")]
    pub started_ms: i64,
    #[serde(rename = "b")]
    pub bytes_out: u64,
}

impl From<&Entry> for WireFlight {
    fn from(e: &Entry) -> Self {
        WireFlight {
            request_id: e.request_id.as_str().to_string(),
            key_id: e.key_id.as_str().to_string(),
            upstream_id: e.upstream_id.as_str().to_string(),
            upstream_name: e.upstream_name.as_str().to_string(),
            model: e.model.as_str().to_string(),
            is_stream: e.is_stream,
            started_ms: e.started_ms,
            bytes_out: e.bytes_out,
        }
    }
}

/// What another instance last reported.
#[derive(Debug, Clone)]
pub(crate) struct RemoteReport {
    pub instance: String,
    /// All its requests in flight (`requests` may list only the oldest).
    pub total: u64,
    pub requests: Vec<WireFlight>,
    pub heard_ms: i64,
}

pub struct LiveHub {
    /// This instance's name (`INSTANCE_ID`).
    pub instance: String,
    /// Tells this process's notifications from others', even when two share a name.
    pub origin: String,
    events: broadcast::Sender<LiveEvent>,
    /// Other instances' reports, by origin.
    remote: Mutex<FastMap<String, RemoteReport>>,
    /// Until when another instance watches (its streams need this one's rows and list).
    remote_watch_until: AtomicI64,
    /// Wakes the feed: a stream opened, so it starts gathering at once.
    pub(crate) wake: Notify,
    closed: AtomicBool,
    closing: Notify,
}

impl LiveHub {
    pub(crate) fn new(instance: String) -> Self {
        let (events, _) = broadcast::channel(EVENTS);
        Self {
            instance,
            origin: uuid::Uuid::new_v4().simple().to_string(),
            events,
            remote: Mutex::default(),
            remote_watch_until: AtomicI64::new(0),
            wake: Notify::new(),
            closed: AtomicBool::new(false),
            closing: Notify::new(),
        }
    }

    /// Streams open on this instance.
    pub(crate) fn local_watchers(&self) -> usize {
        self.events.receiver_count()
    }

    pub(crate) fn remote_watching(&self, now_ms: i64) -> bool {
        self.remote_watch_until.load(Ordering::Relaxed) > now_ms
    }

    pub(crate) fn heard_watch(&self, now_ms: i64) {
        self.remote_watch_until
            .fetch_max(now_ms + WATCH_TTL_MS, Ordering::Relaxed);
    }

    pub(crate) fn publish(&self, event: LiveEvent) {
        let _ = self.events.send(event);
    }

    pub(crate) fn heard_report(&self, origin: &str, report: RemoteReport) {
        self.remote.lock().insert(origin.to_string(), report);
    }

    /// Other instances' reports heard recently; older ones are forgotten.
    fn fresh_reports(&self, now_ms: i64) -> Vec<RemoteReport> {
        let mut remote = self.remote.lock();
        remote.retain(|_, r| now_ms - r.heard_ms <= REMOTE_FRESH_MS);
        let mut reports: Vec<RemoteReport> = remote.values().cloned().collect();
        reports.sort_by(|a, b| a.instance.cmp(&b.instance));
        reports
    }

    /// Ends every stream (shutdown must not wait for them).
    pub fn close(&self) {
        self.closed.store(true, Ordering::Relaxed);
        self.closing.notify_waiters();
    }

    fn subscribe(&self) -> broadcast::Receiver<LiveEvent> {
        let rx = self.events.subscribe();
        self.wake.notify_one();
        rx
    }
}

/// A stream's filters, parsed once.
#[derive(Debug, Default)]
pub(crate) struct LiveFilter {
    api_key_id: Option<String>,
    upstream_id: Option<String>,
    model: Option<String>,
    session: Option<String>,
    status: Option<(i64, i64)>,
}

impl LiveFilter {
    pub(crate) fn parse(q: LiveQuery) -> Result<Self, ApiError> {
        let nonempty =
            |v: Option<String>| v.map(|s| s.trim().to_string()).filter(|s| !s.is_empty());
        Ok(Self {
            api_key_id: nonempty(q.api_key_id),
            upstream_id: nonempty(q.upstream_id),
            model: nonempty(q.model),
            session: nonempty(q.session),
            status: nonempty(q.status)
                .as_deref()
                .map(super::logs::status_range)
                .transpose()?,
        })
    }

    fn same(want: &Option<String>, have: Option<&str>) -> bool {
        want.as_deref().is_none_or(|w| have == Some(w))
    }

    pub(crate) fn row(&self, r: &RequestLogView) -> bool {
        Self::same(&self.api_key_id, r.api_key_id.as_deref())
            && Self::same(&self.upstream_id, r.upstream_id.as_deref())
            && Self::same(&self.model, r.model_requested.as_deref())
            && Self::same(&self.session, r.session_id.as_deref())
            && self
                .status
                .is_none_or(|(lo, hi)| r.status_code.is_some_and(|s| (lo..=hi).contains(&s)))
    }

    fn flight(&self, f: &WireFlight) -> bool {
        Self::same(&self.api_key_id, Some(&f.key_id))
            && Self::same(&self.upstream_id, Some(&f.upstream_id))
            && Self::same(&self.model, Some(&f.model))
    }
}

/// One open stream: its subscription, filters and the key names it shows.
pub(crate) struct LiveStream {
    hub: Arc<LiveHub>,
    plane: Arc<DataPlane>,
    clock: SharedClock,
    pool: sqlx::AnyPool,
    rx: broadcast::Receiver<LiveEvent>,
    filter: LiveFilter,
    key_names: FastMap<String, String>,
    names_loaded_ms: i64,
}

/// What a stream sends next.
pub(crate) enum Next {
    Rows(Vec<RequestLogView>),
    InFlight(InFlightEvent),
    Resync,
    Closed,
}

/// How often a stream sends the in-flight list.
pub(crate) const IN_FLIGHT_EVERY: std::time::Duration = std::time::Duration::from_secs(1);

impl LiveStream {
    pub(crate) fn open(state: &Services, q: LiveQuery) -> Result<Self, ApiError> {
        let filter = LiveFilter::parse(q)?;
        let rx = state.live.subscribe();
        Ok(Self {
            hub: Arc::clone(&state.live),
            plane: Arc::clone(&state.plane),
            clock: state.clock.clone(),
            pool: state.db.pool.clone(),
            rx,
            filter,
            key_names: FastMap::default(),
            names_loaded_ms: i64::MIN,
        })
    }

    /// Waits for rows (or a closing), up to `until`; then the in-flight list is due.
    pub(crate) async fn next(&mut self, until: tokio::time::Instant) -> Next {
        loop {
            if self.hub.closed.load(Ordering::Relaxed) {
                return Next::Closed;
            }
            let closing = self.hub.closing.notified();
            tokio::select! {
                got = self.rx.recv() => match got {
                    Ok(LiveEvent::Rows(rows)) => {
                        let rows: Vec<RequestLogView> =
                            rows.iter().filter(|r| self.filter.row(r)).cloned().collect();
                        if !rows.is_empty() {
                            return Next::Rows(rows);
                        }
                    }
                    Ok(LiveEvent::Resync) | Err(broadcast::error::RecvError::Lagged(_)) => {
                        return Next::Resync
                    }
                    Err(broadcast::error::RecvError::Closed) => return Next::Closed,
                },
                () = tokio::time::sleep_until(until) => {
                    return Next::InFlight(self.in_flight().await);
                }
                () = closing => return Next::Closed,
            }
        }
    }

    /// Every instance's requests in flight that pass the filters, oldest first.
    pub(crate) async fn in_flight(&mut self) -> InFlightEvent {
        let hub = Arc::clone(&self.hub);
        let now = self.clock.now_ms();
        let local: Vec<WireFlight> = self
            .plane
            .in_flight
            .snapshot()
            .iter()
            .map(WireFlight::from)
            .collect();
        let mut instances = vec![InstanceInFlight {
            instance: hub.instance.clone(),
            in_flight: local.len() as u64,
        }];
        let mut all: Vec<(String, WireFlight)> = local
            .into_iter()
            .map(|f| (hub.instance.clone(), f))
            .collect();
        for report in hub.fresh_reports(now) {
            instances.push(InstanceInFlight {
                instance: report.instance.clone(),
                in_flight: report.total,
            });
            all.extend(
                report
                    .requests
                    .into_iter()
                    .map(|f| (report.instance.clone(), f)),
            );
        }
        all.retain(|(_, f)| self.filter.flight(f));
        all.sort_by_key(|(_, f)| f.started_ms);
        self.load_names_for(&all, now).await;
        let requests = all
            .into_iter()
            .map(|(instance, f)| InFlightRequest {
                api_key_name: self.key_names.get(&f.key_id).cloned(),
                request_id: f.request_id,
                instance,
                api_key_id: f.key_id,
                upstream_id: f.upstream_id,
                upstream_name: f.upstream_name,
                model: f.model,
                is_stream: f.is_stream,
                started_at: to_rfc3339(f.started_ms),
                elapsed_ms: (now - f.started_ms).max(0),
                bytes_out: f.bytes_out,
            })
            .collect();
        InFlightEvent {
            instance: hub.instance.clone(),
            requests,
            instances,
        }
    }

    /// Key names, read again when a key this stream has not named shows up (at most every 5 s).
    async fn load_names_for(&mut self, flights: &[(String, WireFlight)], now: i64) {
        let unknown = flights
            .iter()
            .any(|(_, f)| !self.key_names.contains_key(&f.key_id));
        if !unknown || now.saturating_sub(self.names_loaded_ms) < 5_000 {
            return;
        }
        self.names_loaded_ms = now;
        match crate::server::db::keys::names(&self.pool).await {
            Ok(names) => self.key_names = names.into_iter().collect(),
            Err(e) => tracing::warn!(error = %e, "live view: cannot read key names"),
        }
    }
}
