//! Feeds the live view (`service/live.rs`) while someone watches: the rows this instance
//! writes, and on PostgreSQL the rows and in-flight lists of the other instances.
//!
//! Between instances it is PostgreSQL's LISTEN/NOTIFY on one channel per database schema, so
//! nothing but the database is needed and nothing is polled. A stream open on any instance
//! makes it say `watch` every second; an instance that heard a watch in the last 5 s sends
//! the ids of each batch it writes (the others load those rows) and its in-flight list every
//! second (the oldest that fit in a notification's 8,000 bytes, and the full count). With
//! nobody watching anywhere, an instance sends nothing and its log writer asks for no ids.
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use sqlx::postgres::PgListener;
use tokio::sync::{broadcast, mpsc};

use crate::server::config::DatabaseKind;
use crate::server::db::request_logs::by_ids;
use crate::server::proxy::log_writer::WrittenRows;
use crate::server::service::live::{LiveEvent, LiveHub, RemoteReport, WireFlight};
use crate::server::service::logs::view;
use crate::server::state::AppState;

/// PostgreSQL refuses a notification payload of 8,000 bytes or more.
const MAX_PAYLOAD: usize = 7_900;
/// Row ids per notification (at most 20 characters each).
const IDS_PER_NOTE: usize = 300;
/// In-flight requests an instance lists per report at most, oldest first.
const MAX_REPORTED: usize = 64;

/// What instances tell each other.
#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "t")]
enum Note {
    #[serde(rename = "w")]
    Watch { o: String },
    #[serde(rename = "r")]
    Rows { o: String, ids: Vec<i64> },
    #[serde(rename = "f")]
    InFlight {
        o: String,
        i: String,
        n: u64,
        r: Vec<WireFlight>,
    },
}

pub(crate) fn spawn(state: AppState) {
    tokio::spawn(run(state));
}

/// The notification channel of this database schema (tests run many schemas on one database).
async fn channel(state: &AppState) -> Result<String, sqlx::Error> {
    let schema: String = sqlx::query_scalar("SELECT current_schema()::text")
        .fetch_one(&state.db.pool)
        .await?;
    let digest = crate::server::crypto::sha256(schema.as_bytes());
    Ok(format!(
        "autorouter_live_{}",
        &crate::server::crypto::digest_hex(&digest)[..16]
    ))
}

/// Listens on `channel` in a task of its own (a listener's receive is not safe to cancel),
/// forwarding payloads; `None` tells of a lost connection (notifications may have been missed).
fn listen(url: String, channel: String) -> mpsc::Receiver<Option<String>> {
    let (tx, rx) = mpsc::channel(256);
    tokio::spawn(async move {
        let mut listener = loop {
            match connect(&url, &channel).await {
                Ok(l) => break l,
                Err(e) => {
                    tracing::warn!(error = %e, "live view: cannot LISTEN; retrying");
                    tokio::time::sleep(Duration::from_secs(2)).await;
                }
            }
        };
        loop {
            let got = match listener.try_recv().await {
                Ok(Some(n)) => Some(n.payload().to_string()),
                // The connection was lost; the next receive reconnects and listens again.
                Ok(None) => None,
                Err(e) => {
                    tracing::warn!(error = %e, "live view: LISTEN failed; retrying");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                    None
                }
            };
            if tx.send(got).await.is_err() {
                return;
            }
        }
    });
    rx
}

async fn connect(url: &str, channel: &str) -> Result<PgListener, sqlx::Error> {
    let mut listener = PgListener::connect(url).await?;
    listener.listen(channel).await?;
    Ok(listener)
}

async fn notify(state: &AppState, channel: &str, note: &Note) {
    let Ok(payload) = serde_json::to_string(note) else {
        return;
    };
    let sent = sqlx::query("SELECT pg_notify($1, $2)")
        .bind(channel)
        .bind(payload)
        .execute(&state.db.pool)
        .await;
    if let Err(e) = sent {
        tracing::warn!(error = %e, "live view: NOTIFY failed");
    }
}

/// This instance's in-flight list, cut to the oldest that fit in one notification.
fn report(state: &AppState) -> Note {
    let all = state.plane.in_flight.snapshot();
    let mut r: Vec<WireFlight> = all
        .iter()
        .take(MAX_REPORTED)
        .map(WireFlight::from)
        .collect();
    loop {
        let note = Note::InFlight {
            o: state.live.origin.clone(),
            i: state.live.instance.clone(),
            n: all.len() as u64,
            r,
        };
        let fits = serde_json::to_string(&note).is_ok_and(|s| s.len() <= MAX_PAYLOAD);
        match note {
            Note::InFlight { r: mut rest, .. } if !fits && !rest.is_empty() => {
                rest.pop();
                r = rest;
            }
            note => return note,
        }
    }
}

async fn next_batch(
    rows: &mut Option<broadcast::Receiver<WrittenRows>>,
) -> Result<WrittenRows, broadcast::error::RecvError> {
    match rows {
        Some(rx) => rx.recv().await,
        None => std::future::pending().await,
    }
}

async fn next_note(notes: &mut Option<mpsc::Receiver<Option<String>>>) -> Option<Option<String>> {
    match notes {
        Some(rx) => rx.recv().await,
        None => std::future::pending().await,
    }
}

async fn run(state: AppState) {
    let hub: Arc<LiveHub> = Arc::clone(&state.live);
    let channel = match state.db.kind {
        DatabaseKind::Sqlite => None,
        DatabaseKind::Postgres => match channel(&state).await {
            Ok(c) => Some(c),
            Err(e) => {
                tracing::error!(error = %e, "live view: cannot name the notification channel; other instances will not be seen");
                None
            }
        },
    };
    let mut notes = channel
        .clone()
        .map(|c| listen(state.config.database_url.expose().clone(), c));
    let mut rows: Option<broadcast::Receiver<WrittenRows>> = None;
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        let now = state.clock.now_ms();
        let local = hub.local_watchers() > 0;
        let remote = hub.remote_watching(now);
        if (local || remote) != rows.is_some() {
            rows = (local || remote).then(|| state.plane.logs.subscribe());
        }
        tokio::select! {
            batch = next_batch(&mut rows) => match batch {
                Ok(batch) => {
                    if local {
                        let views = batch.iter().cloned().map(view).collect();
                        hub.publish(LiveEvent::Rows(Arc::new(views)));
                    }
                    if let (Some(channel), true) = (&channel, remote) {
                        let ids: Vec<i64> = batch.iter().map(|r| r.id).collect();
                        for chunk in ids.chunks(IDS_PER_NOTE) {
                            let note = Note::Rows { o: hub.origin.clone(), ids: chunk.to_vec() };
                            notify(&state, channel, &note).await;
                        }
                    }
                }
                Err(broadcast::error::RecvError::Lagged(_)) => hub.publish(LiveEvent::Resync),
                Err(broadcast::error::RecvError::Closed) => rows = None,
            },
            note = next_note(&mut notes) => match note {
                Some(Some(payload)) => {
                    if let Some(channel) = &channel {
                        heard(&state, &hub, channel, &payload, local).await;
                    }
                }
                Some(None) => hub.publish(LiveEvent::Resync),
                None => notes = None,
            },
            _ = tick.tick() => {
                if let Some(channel) = &channel {
                    if local {
                        notify(&state, channel, &Note::Watch { o: hub.origin.clone() }).await;
                    }
                    if remote {
                        notify(&state, channel, &report(&state)).await;
                    }
                }
            }
            () = hub.wake.notified() => {
                // A stream opened: the other instances hear of it now, not on the next tick.
                if let Some(channel) = &channel {
                    notify(&state, channel, &Note::Watch { o: hub.origin.clone() }).await;
                }
            }
        }
    }
}

/// Another instance's notification (this instance's own are ignored).
async fn heard(state: &AppState, hub: &LiveHub, channel: &str, payload: &str, local: bool) {
    let note: Note = match serde_json::from_str(payload) {
        Ok(n) => n,
        Err(e) => {
            tracing::warn!(error = %e, "live view: unreadable notification");
            return;
        }
    };
    let now = state.clock.now_ms();
    match note {
        Note::Watch { o } if o != hub.origin => {
            let was = hub.remote_watching(now);
            hub.heard_watch(now);
            if !was {
                // Report at once, so a stream that just opened elsewhere sees this one.
                notify(state, channel, &report(state)).await;
            }
        }
        Note::Rows { o, ids } if o != hub.origin && local => {
            match by_ids(&state.db.pool, &ids).await {
                Ok(rows) => {
                    let views = rows.into_iter().map(view).collect();
                    hub.publish(LiveEvent::Rows(Arc::new(views)));
                }
                Err(e) => {
                    tracing::warn!(error = %e, "live view: cannot load another instance's rows");
                    hub.publish(LiveEvent::Resync);
                }
            }
        }
        Note::InFlight { o, i, n, r } if o != hub.origin => hub.heard_report(
            &o,
            RemoteReport {
                instance: i,
                total: n,
                requests: r,
                heard_ms: now,
            },
        ),
        _ => {}
    }
}
