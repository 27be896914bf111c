//! The logs page's live mode: an `EventSource` on `/api/admin/logs/stream` (browser only) that
//! prepends new rows and keeps the "In flight" panel, whose elapsed times tick every second.
use leptos::prelude::*;

use crate::app::time::now_ms;
use crate::i18n::*;
use crate::model::live::{InFlightEvent, LiveQuery};
use crate::model::logs::RequestLogView;
use crate::model::named::{name_of, Named};

/// Rows kept on the page while following, newest first.
#[cfg_attr(not(target_arch = "wasm32"), allow(dead_code))]
const MAX_ROWS: usize = 100;

/// What the stream has brought so far.
#[derive(Clone, Copy)]
pub(super) struct Live {
    pub on: RwSignal<bool>,
    pub rows: RwSignal<Vec<RequestLogView>>,
    /// The latest in-flight list, and when (browser clock) it came.
    pub flights: RwSignal<Option<(InFlightEvent, i64)>>,
    /// Ticks every second while following, so elapsed times grow between events.
    pub now: RwSignal<i64>,
    pub connected: RwSignal<bool>,
}

impl Live {
    pub(super) fn new() -> Self {
        Self {
            on: RwSignal::new(false),
            rows: RwSignal::new(Vec::new()),
            flights: RwSignal::new(None),
            now: RwSignal::new(0),
            connected: RwSignal::new(false),
        }
    }

    #[cfg_attr(not(target_arch = "wasm32"), allow(dead_code))]
    fn add_rows(&self, mut new: Vec<RequestLogView>) {
        new.reverse();
        self.rows.update(|rows| {
            new.append(rows);
            new.truncate(MAX_ROWS);
            *rows = new;
        });
    }
}

/// `?a=b&...` of the filters that are set.
#[cfg(target_arch = "wasm32")]
fn query_string(q: &LiveQuery) -> String {
    let pairs = [
        ("api_key_id", &q.api_key_id),
        ("upstream_id", &q.upstream_id),
        ("model", &q.model),
        ("session", &q.session),
        ("status", &q.status),
    ];
    let set: Vec<String> = pairs
        .iter()
        .filter_map(|(k, v)| v.as_ref().map(|v| (k, v)))
        .map(|(k, v)| format!("{k}={}", web_sys::js_sys::encode_uri_component(v)))
        .collect();
    if set.is_empty() {
        String::new()
    } else {
        format!("?{}", set.join("&"))
    }
}

/// An open stream and the handlers it calls (kept alive with it, dropped when it closes).
#[cfg(target_arch = "wasm32")]
struct Connection {
    source: web_sys::EventSource,
    _handlers: Vec<wasm_bindgen::closure::Closure<dyn FnMut(web_sys::Event)>>,
}

/// However the effect is cleaned up (its cleanup, or the stored value disposed first), the
/// stream is closed.
#[cfg(target_arch = "wasm32")]
impl Drop for Connection {
    fn drop(&mut self) {
        self.source.close();
    }
}

#[cfg(target_arch = "wasm32")]
fn connect(live: Live, q: &LiveQuery, on_resync: Callback<()>) -> Option<Connection> {
    use wasm_bindgen::closure::Closure;
    use wasm_bindgen::JsCast;

    let url = format!("/api/admin/logs/stream{}", query_string(q));
    let source = web_sys::EventSource::new(&url).ok()?;
    let data = |e: &web_sys::Event| {
        e.dyn_ref::<web_sys::MessageEvent>()
            .and_then(|m| m.data().as_string())
    };
    let mut handlers: Vec<Closure<dyn FnMut(web_sys::Event)>> = Vec::new();
    let mut on = |name: &str, f: Box<dyn FnMut(web_sys::Event)>| {
        let handler = Closure::wrap(f);
        let _ = source.add_event_listener_with_callback(name, handler.as_ref().unchecked_ref());
        handlers.push(handler);
    };
    on(
        "row",
        Box::new(move |e| {
            if let Some(row) = data(&e).and_then(|d| serde_json::from_str(&d).ok()) {
                live.add_rows(vec![row]);
            }
        }),
    );
    on(
        "in_flight",
        Box::new(move |e| {
            if let Some(list) = data(&e).and_then(|d| serde_json::from_str(&d).ok()) {
                let now = now_ms();
                live.now.set(now);
                live.flights.set(Some((list, now)));
            }
        }),
    );
    on("resync", Box::new(move |_| on_resync.run(())));
    on("open", Box::new(move |_| live.connected.set(true)));
    // The browser reconnects by itself; meanwhile the page says so.
    on("error", Box::new(move |_| live.connected.set(false)));
    Some(Connection {
        source,
        _handlers: handlers,
    })
}

/// Follows the stream while `live.on` is set, reconnecting when the filters change.
pub(super) fn follow(
    live: Live,
    query: impl Fn() -> LiveQuery + Send + Sync + 'static,
    on_resync: Callback<()>,
) {
    let _ = on_resync;
    Effect::new(move |_| {
        if !live.on.get() {
            live.connected.set(false);
            return;
        }
        let q = query();
        #[cfg(target_arch = "wasm32")]
        {
            let conn = StoredValue::new_local(connect(live, &q, on_resync));
            on_cleanup(move || conn.update_value(|c| drop(c.take())));
        }
        #[cfg(not(target_arch = "wasm32"))]
        let _ = q;
        if let Ok(h) = set_interval_with_handle(
            move || live.now.set(now_ms()),
            std::time::Duration::from_secs(1),
        ) {
            on_cleanup(move || h.clear());
        }
    });
}

fn seconds(ms: i64) -> String {
    let s = ms.max(0) / 1_000;
    if s >= 60 {
        format!("{}m {:02}s", s / 60, s % 60)
    } else {
        format!("{}.{} s", s, ms.max(0) % 1_000 / 100)
    }
}

fn bytes(n: u64) -> String {
    match n {
        0..1_024 => format!("{n} B"),
        1_024..1_048_576 => format!("{:.1} KiB", n as f64 / 1_024.0),
        _ => format!("{:.1} MiB", n as f64 / 1_048_576.0),
    }
}

/// The "In flight" panel: every instance's requests still running, oldest first.
#[component]
pub(super) fn InFlightPanel(live: Live, upstreams: Signal<Vec<Named>>) -> impl IntoView {
    let i18n = use_i18n();
    let list = move || live.flights.get();
    view! {
        <section class="card live-panel" data-testid="in-flight-panel" aria-live="polite">
            <header class="live-head">
                <h2>{t!(i18n, pages.logs.in_flight)}</h2>
                <span class="muted small" data-testid="live-status">
                    {move || if live.connected.get() { t_string!(i18n, pages.logs.live_connected) } else { t_string!(i18n, pages.logs.live_connecting) }}
                </span>
                <span class="muted small" data-testid="live-instances">
                    {move || list().map(|(e, _)| {
                        let each: Vec<String> = e.instances.iter().map(|i| format!("{} ({})", i.instance, i.in_flight)).collect();
                        format!("{} {}", t_string!(i18n, pages.logs.instances), each.join(", "))
                    })}
                </span>
            </header>
            {move || {
                let Some((event, received)) = list() else {
                    return view! { <p class="muted">{t!(i18n, pages.logs.live_connecting)}</p> }.into_any();
                };
                if event.requests.is_empty() {
                    return view! { <p class="muted" data-testid="in-flight-empty">{t!(i18n, pages.logs.in_flight_none)}</p> }.into_any();
                }
                let ups = upstreams.get();
                view! {
                    <div class="table-wrap">
                        <table class="table" data-testid="in-flight-table">
                            <thead><tr>
                                <th class="num">{t!(i18n, pages.logs.elapsed)}</th>
                                <th>{t!(i18n, pages.logs.key)}</th>
                                <th>{t!(i18n, pages.logs.model)}</th>
                                <th>{t!(i18n, pages.logs.upstream)}</th>
                                <th>{t!(i18n, pages.logs.instance)}</th>
                                <th>{t!(i18n, pages.logs.stream)}</th>
                                <th class="num">{t!(i18n, pages.logs.bytes_out)}</th>
                                <th>{t!(i18n, pages.logs.request_id)}</th>
                            </tr></thead>
                            <tbody>
                                {event.requests.into_iter().map(|r| {
                                    let base = r.elapsed_ms;
                                    let elapsed = move || seconds(base + (live.now.get() - received).max(0));
                                    let upstream = name_of(&ups, &r.upstream_id).to_string();
                                    let upstream = if upstream == r.upstream_id { r.upstream_name.clone() } else { upstream };
                                    view! {
                                        <tr data-testid="in-flight-row" data-request-id=r.request_id.clone()>
                                            <td class="num" data-testid="in-flight-elapsed" data-elapsed-ms=move || (base + (live.now.get() - received).max(0)).to_string()>{elapsed}</td>
                                            <td>{r.api_key_name.clone().unwrap_or(r.api_key_id.clone())}</td>
                                            <td data-testid="in-flight-model">{r.model.clone()}</td>
                                            <td data-testid="in-flight-upstream">{upstream}</td>
                                            <td data-testid="in-flight-instance">{r.instance.clone()}</td>
                                            <td>{if r.is_stream { t_string!(i18n, common.yes) } else { t_string!(i18n, common.no) }}</td>
                                            <td class="num">{bytes(r.bytes_out)}</td>
                                            <td><code class="small">{r.request_id.clone()}</code></td>
                                        </tr>
                                    }
                                }).collect::<Vec<_>>()}
                            </tbody>
                        </table>
                    </div>
                }.into_any()
            }}
        </section>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn elapsed_and_sizes_read_well() {
        assert_eq!(seconds(1_234), "1.2 s");
        assert_eq!(seconds(75_000), "1m 15s");
        assert_eq!(bytes(512), "512 B");
        assert_eq!(bytes(2_048), "2.0 KiB");
    }
}
