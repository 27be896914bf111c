//! `GET /api/admin/logs/stream`: the request log, live, as server-sent events.
use std::convert::Infallible;
use std::time::Duration;

use axum::extract::State;
use axum::response::sse::{Event, KeepAlive, Sse};
use futures_util::Stream;

use super::openapi::BadRequest;
use super::query::QueryParams;
use crate::model::live::{InFlightEvent, LiveQuery};
use crate::server::error::ApiError;
use crate::server::service::live::{LiveStream, Next, IN_FLIGHT_EVERY};
use crate::server::state::AppState;

/// A comment line this often keeps proxies from closing a quiet stream.
const KEEP_ALIVE: Duration = Duration::from_secs(15);

#[utoipa::path(
    get,
    path = "/logs/stream",
    tag = "logs",
    operation_id = "streamLogs",
    summary = "Follow the request log live",
    description = "Server-sent events, until the client closes the stream. `event: row`: a request log row as soon as it is written (the same JSON as an item of `GET /api/admin/logs`), from this instance and, on PostgreSQL, from every other instance on the same database. `event: in_flight`: when the stream opens and then every second, the requests sent upstream and not finished yet on every instance, oldest first (an `InFlightEvent`: a stuck stream is the one whose `elapsed_ms` keeps growing). `event: resync`: rows may have been missed (the client fell behind, or the notification connection was lost); reload the list. A comment line every 15 s keeps the connection open. The filters apply to rows; `api_key_id`, `upstream_id` and `model` apply to requests in flight too.",
    params(LiveQuery),
    responses(
        (status = 200, description = "An event stream (`text/event-stream`); the `in_flight` event's data is this schema.", content_type = "text/event-stream", body = InFlightEvent),
        (status = 400, response = BadRequest),
    ),
)]
pub(crate) async fn stream(
    State(state): State<AppState>,
    QueryParams(q): QueryParams<LiveQuery>,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, ApiError> {
    let live = LiveStream::open(&state, q)?;
    let first = tokio::time::Instant::now();
    let events = futures_util::stream::unfold(
        (live, first, Vec::<Event>::new()),
        |(mut live, mut due, mut queued)| async move {
            loop {
                if let Some(event) = queued.pop() {
                    return Some((Ok(event), (live, due, queued)));
                }
                match live.next(due).await {
                    Next::Rows(rows) => {
                        // Popped from the end: newest last in, oldest first out.
                        queued = rows.iter().rev().filter_map(|r| json("row", r)).collect();
                    }
                    Next::InFlight(list) => {
                        due = tokio::time::Instant::now() + IN_FLIGHT_EVERY;
                        queued.extend(json("in_flight", &list));
                    }
                    Next::Resync => queued.push(Event::default().event("resync").data("{}")),
                    Next::Closed => return None,
                }
            }
        },
    );
    Ok(Sse::new(events).keep_alive(KeepAlive::new().interval(KEEP_ALIVE)))
}

fn json(name: &str, value: &impl serde::Serialize) -> Option<Event> {
    Event::default().event(name).json_data(value).ok()
}
