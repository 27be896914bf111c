//! `/{locale}/logs`: every proxied request, filtered by status class, model, key, upstream and
//! time, refreshed on a chosen interval or followed live; a row expands to its routing and
//! failover history.
mod live;
mod log_row;

use std::time::Duration;

use leptos::prelude::*;

use crate::api::logs::list_logs;
use crate::app::components::load_state::{LoadError, Loading};
use crate::app::components::page_header::PageHeader;
use crate::app::components::pager::Pager;
use crate::app::time::{browser_zone, now_ms, rfc3339_of_ms, Zone};
use crate::i18n::*;
use crate::model::live::LiveQuery;
use crate::model::logs::{LogQuery, LogsScreen, RequestLogView};
use crate::model::named::Named;
use log_row::LogRow;

/// Time ranges offered, in hours (0: all time).
const RANGES: &[u32] = &[0, 1, 24, 168];
/// Auto-refresh intervals offered, in seconds (0: off).
const REFRESH: &[u32] = &[0, 5, 15, 60];

#[derive(Clone, Copy)]
struct Filters {
    status: RwSignal<String>,
    model: RwSignal<String>,
    session: RwSignal<String>,
    key: RwSignal<String>,
    upstream: RwSignal<String>,
    hours: RwSignal<u32>,
}

impl Filters {
    fn query(&self, page: u32) -> LogQuery {
        let some = |s: String| Some(s).filter(|s| !s.trim().is_empty());
        let hours = self.hours.get();
        LogQuery {
            page: Some(page),
            page_size: None,
            api_key_id: some(self.key.get()),
            upstream_id: some(self.upstream.get()),
            model: some(self.model.get()),
            session: some(self.session.get()),
            status: some(self.status.get()),
            start_time: (hours > 0).then(|| rfc3339_of_ms(now_ms() - i64::from(hours) * 3_600_000)),
            end_time: None,
        }
    }

    /// The live stream's filters: the list's, less the page and time range.
    fn live_query(&self) -> LiveQuery {
        let some = |s: String| Some(s).filter(|s| !s.trim().is_empty());
        LiveQuery {
            api_key_id: some(self.key.get()),
            upstream_id: some(self.upstream.get()),
            model: some(self.model.get()),
            session: some(self.session.get()),
            status: some(self.status.get()),
        }
    }

    fn clear(&self) {
        for s in [
            self.status,
            self.model,
            self.session,
            self.key,
            self.upstream,
        ] {
            s.set(String::new());
        }
        self.hours.set(0);
    }
}

#[component]
fn LogsTable(screen: LogsScreen, tz: Zone, session: RwSignal<String>) -> impl IntoView {
    let i18n = use_i18n();
    if screen.page.items.is_empty() {
        return view! { <div class="card empty-state" data-testid="empty-state"><p>{t!(i18n, pages.logs.empty)}</p></div> }.into_any();
    }
    let LogsScreen {
        page,
        keys,
        upstreams,
    } = screen;
    view! {
        <div class="card table-wrap">
            <table class="table" data-testid="logs-table">
                <thead><tr>
                    <th><span class="visually-hidden">{t!(i18n, pages.logs.details)}</span></th>
                    <th>{t!(i18n, pages.logs.time)}</th>
                    <th>{t!(i18n, pages.logs.key)}</th>
                    <th>{t!(i18n, pages.logs.upstream)}</th>
                    <th>{t!(i18n, pages.logs.model)}</th>
                    <th>{t!(i18n, pages.logs.status)}</th>
                    <th>{t!(i18n, pages.logs.stream)}</th>
                    <th class="num">{t!(i18n, pages.logs.tokens)}</th>
                    <th class="num" title=move || t_string!(i18n, pages.logs.ttfb_hint)>{t!(i18n, pages.logs.ttfb)}</th>
                    <th class="num" title=move || t_string!(i18n, pages.logs.ttft_hint)>{t!(i18n, pages.logs.ttft)}</th>
                    <th class="num">{t!(i18n, pages.logs.duration)}</th>
                    <th class="num">{t!(i18n, pages.logs.cost)}</th>
                </tr></thead>
                <tbody>
                    {page.items.into_iter().map(|l| view! {
                        <LogRow log=l keys=keys.clone() upstreams=upstreams.clone() tz=tz
                            on_session=move |id: String| session.set(id) />
                    }).collect::<Vec<_>>()}
                </tbody>
            </table>
        </div>
    }
    .into_any()
}

/// Rows written since Live was turned on, newest first.
#[component]
fn LiveRows(
    rows: Vec<RequestLogView>,
    keys: Vec<Named>,
    upstreams: Vec<Named>,
    tz: Zone,
    session: RwSignal<String>,
) -> impl IntoView {
    let i18n = use_i18n();
    view! {
        <section class="card table-wrap" data-testid="live-rows">
            <h2 class="live-head">{t!(i18n, pages.logs.live_rows)}</h2>
            {if rows.is_empty() {
                view! { <p class="muted" data-testid="live-rows-empty">{t!(i18n, pages.logs.live_rows_none)}</p> }.into_any()
            } else {
                view! {
                    <table class="table">
                        <tbody>
                            {rows.into_iter().map(|l| view! {
                                <LogRow log=l keys=keys.clone() upstreams=upstreams.clone() tz=tz
                                    on_session=move |id: String| session.set(id) />
                            }).collect::<Vec<_>>()}
                        </tbody>
                    </table>
                }.into_any()
            }}
        </section>
    }
}

#[component]
pub fn LogsPage() -> impl IntoView {
    let i18n = use_i18n();
    let f = Filters {
        status: RwSignal::new(String::new()),
        model: RwSignal::new(String::new()),
        session: RwSignal::new(String::new()),
        key: RwSignal::new(String::new()),
        upstream: RwSignal::new(String::new()),
        hours: RwSignal::new(0),
    };
    let page = RwSignal::new(1u32);
    let refresh = RwSignal::new(0u32);
    let tick = RwSignal::new(0u32);
    let tz = RwSignal::new(Zone::Utc);
    Effect::new(move |_| tz.set(browser_zone()));
    Effect::new(move |_| {
        let secs = refresh.get();
        if secs > 0 {
            if let Ok(h) = set_interval_with_handle(
                move || tick.update(|t| *t += 1),
                Duration::from_secs(secs.into()),
            ) {
                on_cleanup(move || h.clear());
            }
        }
    });
    // Any filter change starts again at page 1.
    Effect::new(move |_| {
        let _ = (
            f.status.get(),
            f.model.get(),
            f.session.get(),
            f.key.get(),
            f.upstream.get(),
            f.hours.get(),
        );
        if page.get_untracked() != 1 {
            page.set(1);
        }
    });
    let data = Resource::new(
        move || (f.query(page.get()), tick.get()),
        |(q, _)| list_logs(q),
    );
    let live = live::Live::new();
    // Rows may have been missed (the stream fell behind): the list is read again.
    live::follow(
        live,
        move || f.live_query(),
        Callback::new(move |()| tick.update(|t| *t += 1)),
    );
    let toggle_live = move |on: bool| {
        live.rows.set(Vec::new());
        live.flights.set(None);
        live.on.set(on);
        if !on {
            tick.update(|t| *t += 1);
        }
    };
    let names = move || {
        data.get_untracked()
            .and_then(|r| r.ok())
            .map(|s| (s.keys, s.upstreams))
            .unwrap_or_default()
    };
    let range_label = move |h: u32| match h {
        0 => t_string!(i18n, pages.logs.range_all).to_string(),
        1 => t_string!(i18n, pages.logs.range_1h).to_string(),
        24 => t_string!(i18n, pages.logs.range_24h).to_string(),
        _ => t_string!(i18n, pages.logs.range_7d).to_string(),
    };
    view! {
        <PageHeader
            title=Signal::derive(move || t_string!(i18n, pages.logs.title).to_string())
            subtitle=Signal::derive(move || t_string!(i18n, pages.logs.subtitle).to_string())
        />
        <div class="card filters" role="group" aria-label=move || t_string!(i18n, pages.logs.filters)>
            <select data-testid="filter-status" aria-label=move || t_string!(i18n, pages.logs.status)
                prop:value=move || f.status.get() on:change=move |ev| f.status.set(event_target_value(&ev))>
                <option value="">{t!(i18n, pages.logs.status_all)}</option>
                <option value="2xx">"2xx"</option>
                <option value="4xx">"4xx"</option>
                <option value="5xx">"5xx"</option>
            </select>
            <input type="search" data-testid="filter-model" placeholder=move || t_string!(i18n, pages.logs.model_filter)
                aria-label=move || t_string!(i18n, pages.logs.model_filter)
                prop:value=move || f.model.get() on:change=move |ev| f.model.set(event_target_value(&ev)) />
            <input type="search" data-testid="filter-session" placeholder=move || t_string!(i18n, pages.logs.session_filter)
                aria-label=move || t_string!(i18n, pages.logs.session_filter)
                prop:value=move || f.session.get() on:change=move |ev| f.session.set(event_target_value(&ev)) />
            <Transition fallback=|| ()>
                {move || {
                    data.track();
                    let (keys, upstreams) = names();
                    view! {
                        <select data-testid="filter-key" aria-label=move || t_string!(i18n, pages.logs.key)
                            prop:value=move || f.key.get() on:change=move |ev| f.key.set(event_target_value(&ev))>
                            <option value="">{t!(i18n, pages.logs.key_all)}</option>
                            {keys.into_iter().map(|k| view! { <option value=k.id.clone() selected=f.key.get_untracked() == k.id>{k.name}</option> }).collect::<Vec<_>>()}
                        </select>
                        <select data-testid="filter-upstream" aria-label=move || t_string!(i18n, pages.logs.upstream)
                            prop:value=move || f.upstream.get() on:change=move |ev| f.upstream.set(event_target_value(&ev))>
                            <option value="">{t!(i18n, pages.logs.upstream_all)}</option>
                            {upstreams.into_iter().map(|u| view! { <option value=u.id.clone() selected=f.upstream.get_untracked() == u.id>{u.name}</option> }).collect::<Vec<_>>()}
                        </select>
                    }
                }}
            </Transition>
            <select data-testid="filter-range" aria-label=move || t_string!(i18n, pages.logs.time)
                on:change=move |ev| f.hours.set(event_target_value(&ev).parse().unwrap_or(0))>
                {RANGES.iter().map(|h| view! { <option value=h.to_string() selected=move || f.hours.get() == *h>{range_label(*h)}</option> }).collect::<Vec<_>>()}
            </select>
            <label class="inline">
                <span>{t!(i18n, pages.logs.refresh)}</span>
                <select data-testid="auto-refresh" on:change=move |ev| refresh.set(event_target_value(&ev).parse().unwrap_or(0))>
                    {REFRESH.iter().map(|s| {
                        let label = if *s == 0 { t_string!(i18n, pages.logs.refresh_off).to_string() } else { format!("{s} s") };
                        view! { <option value=s.to_string() selected=move || refresh.get() == *s>{label}</option> }
                    }).collect::<Vec<_>>()}
                </select>
            </label>
            <label class="inline" title=move || t_string!(i18n, pages.logs.live_hint)>
                <input type="checkbox" data-testid="live-toggle" prop:checked=move || live.on.get()
                    on:change=move |ev| toggle_live(event_target_checked(&ev)) />
                <span>{t!(i18n, pages.logs.live)}</span>
            </label>
            <button type="button" class="button ghost" data-testid="clear-filters" on:click=move |_| f.clear()>{t!(i18n, pages.logs.clear)}</button>
        </div>
        <Show when=move || live.on.get()>
            <live::InFlightPanel live=live upstreams=Signal::derive(move || names().1) />
            {move || {
                let (keys, upstreams) = names();
                view! { <LiveRows rows=live.rows.get() keys=keys upstreams=upstreams tz=tz.get() session=f.session /> }
            }}
        </Show>
        <Transition fallback=Loading>
            {move || data.get().map(|result| match result {
                Ok(screen) => {
                    let (total_pages, total, exact) =
                        (screen.page.total_pages, screen.page.total, screen.page.total_exact);
                    view! {
                        <LogsTable screen=screen tz=tz.get() session=f.session />
                        <Pager page=page total_pages=total_pages total=total exact=exact />
                    }.into_any()
                }
                Err(e) => view! { <LoadError error=e on_retry=move |_| data.refetch() /> }.into_any(),
            })}
        </Transition>
    }
}
