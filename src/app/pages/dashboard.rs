//! `/{locale}`: traffic, latency and tokens over today / 7 days / 30 days, refreshed on its own.
use std::time::Duration;

use leptos::prelude::*;

use crate::api::stats::load_dashboard;
use crate::app::components::bar_chart::{BarChart, ChartSeries};
use crate::app::components::page_header::PageHeader;
use crate::app::components::spend_bar::usd_text;
use crate::app::time::{browser_zone, bucket_label, now_ms, Zone};
use crate::i18n::*;
use crate::model::stats::{Dashboard, LeaderRow, Series, RANGES};

const REFRESH: Duration = Duration::from_secs(30);

fn fmt_ms(v: Option<f64>) -> String {
    v.map_or_else(|| "—".into(), |v| format!("{v:.0} ms"))
}

/// A cost in micro-dollars (the chart's unit), as money.
fn micros_text(v: u64) -> String {
    usd_text(v as f64 / 1e6)
}

#[component]
fn Leaders(
    #[prop(into)] title: String,
    rows: Vec<LeaderRow>,
    none_label: String,
    testid: &'static str,
) -> impl IntoView {
    let i18n = use_i18n();
    let empty = rows.is_empty();
    view! {
        <div class="card leaders" data-testid=testid>
            <h2>{title}</h2>
            <Show when=move || !empty fallback=move || view! { <p class="muted">{t!(i18n, pages.dashboard.nothing_yet)}</p> }>
                <table class="table compact">
                    <thead><tr>
                        <th>{t!(i18n, pages.dashboard.name)}</th>
                        <th class="num">{t!(i18n, pages.dashboard.requests)}</th>
                        <th class="num">{t!(i18n, pages.dashboard.tokens)}</th>
                        <th class="num">{t!(i18n, pages.dashboard.cost)}</th>
                    </tr></thead>
                    <tbody>
                        {rows.clone().into_iter().map(|r| {
                            let name = if r.id.is_none() { none_label.clone() } else { r.name.clone() };
                            view! { <tr><td>{name}</td><td class="num">{r.requests}</td><td class="num">{r.tokens}</td><td class="num">{usd_text(r.cost_usd)}</td></tr> }
                        }).collect::<Vec<_>>()}
                    </tbody>
                </table>
            </Show>
        </div>
    }
}

#[component]
fn Figures(data: Dashboard, tz: Zone) -> impl IntoView {
    let i18n = use_i18n();
    let o = data.overview.clone();
    let hourly = data.timeseries.granularity == "hour";
    let labels: Vec<String> = data
        .timeseries
        .buckets
        .iter()
        .map(|b| bucket_label(b, tz, hourly))
        .collect();
    let none = t_string!(i18n, pages.dashboard.none).to_string();
    // One bar series per upstream, of requests or of cost (micro-dollars, the chart's unit).
    let chart = |values: &dyn Fn(&Series) -> Vec<u64>| -> Vec<ChartSeries> {
        data.timeseries
            .series
            .iter()
            .map(|s| ChartSeries {
                name: if s.upstream_id.is_none() {
                    none.clone()
                } else {
                    s.upstream_name.clone()
                },
                values: values(s),
            })
            .collect()
    };
    let series = chart(&|s| s.requests.clone());
    let cost_series = chart(&|s| {
        s.cost_usd
            .iter()
            .map(|c| (c * 1e6).round().max(0.0) as u64)
            .collect()
    });
    let rate = o
        .success_rate_percent
        .map_or_else(|| "—".into(), |r| format!("{r:.1}%"));
    let p95 = o
        .p95_duration_ms
        .map_or_else(|| "—".into(), |v| format!("≤ {v} ms"));
    let lb = data.leaderboard.clone();
    let by_cost = data.by_cost.clone();
    let costs = data.costs.clone();
    let unpriced = o.unpriced_requests;
    let refused = o.refused_requests;
    let sticky = o
        .sticky_share_percent
        .map_or_else(|| "—".into(), |r| format!("{r:.1}%"));
    let cost_labels = labels.clone();
    let empty = o.requests == 0;
    view! {
        <div class="cards" data-testid="dashboard-cards">
            <div class="card stat"><span class="stat-label">{t!(i18n, pages.dashboard.requests)}</span><span class="stat-value" data-testid="stat-requests">{o.requests}</span></div>
            <div class="card stat"><span class="stat-label">{t!(i18n, pages.dashboard.success_rate)}</span><span class="stat-value">{rate}</span></div>
            <div class="card stat"><span class="stat-label">{t!(i18n, pages.dashboard.avg_latency)}</span><span class="stat-value">{fmt_ms(o.avg_duration_ms)}</span></div>
            <div class="card stat"><span class="stat-label">{t!(i18n, pages.dashboard.p95_latency)}</span><span class="stat-value">{p95}</span></div>
            <div class="card stat"><span class="stat-label">{t!(i18n, pages.dashboard.avg_ttft)}</span><span class="stat-value">{fmt_ms(o.avg_ttft_ms)}</span></div>
            <div class="card stat"><span class="stat-label">{t!(i18n, pages.dashboard.avg_ttfb)}</span><span class="stat-value">{fmt_ms(o.avg_ttfb_ms)}</span></div>
            <div class="card stat"><span class="stat-label">{t!(i18n, pages.dashboard.tokens)}</span><span class="stat-value">{o.total_tokens}</span></div>
            <div class="card stat"><span class="stat-label">{t!(i18n, pages.dashboard.refused)}</span><span class="stat-value" data-testid="stat-refused">{refused}</span></div>
            <div class="card stat"><span class="stat-label">{t!(i18n, pages.dashboard.sticky_share)}</span><span class="stat-value" data-testid="stat-sticky">{sticky}</span></div>
        </div>
        <div class="cards" data-testid="cost-cards">
            <div class="card stat"><span class="stat-label">{t!(i18n, pages.dashboard.cost_today)}</span><span class="stat-value" data-testid="cost-today">{usd_text(costs.today_usd)}</span></div>
            <div class="card stat"><span class="stat-label">{t!(i18n, pages.dashboard.cost_7d)}</span><span class="stat-value" data-testid="cost-7d">{usd_text(costs.last_7d_usd)}</span></div>
            <div class="card stat"><span class="stat-label">{t!(i18n, pages.dashboard.cost_30d)}</span><span class="stat-value" data-testid="cost-30d">{usd_text(costs.last_30d_usd)}</span></div>
            <div class="card stat"><span class="stat-label">{t!(i18n, pages.dashboard.unpriced)}</span><span class="stat-value" data-testid="stat-unpriced">{unpriced}</span></div>
        </div>
        <Show when=move || empty>
            <div class="card empty-state" data-testid="empty-state">
                <p>{t!(i18n, pages.dashboard.no_traffic)}</p>
            </div>
        </Show>
        <div class="card">
            <h2>{t!(i18n, pages.dashboard.chart_title)}</h2>
            <BarChart labels=labels series=series aria_label=t_string!(i18n, pages.dashboard.chart_title).to_string() />
        </div>
        <div class="leaderboards">
            <Leaders title=t_string!(i18n, pages.dashboard.top_keys).to_string() rows=lb.keys none_label=none.clone() testid="top-keys" />
            <Leaders title=t_string!(i18n, pages.dashboard.top_upstreams).to_string() rows=lb.upstreams none_label=none.clone() testid="top-upstreams" />
            <Leaders title=t_string!(i18n, pages.dashboard.top_models).to_string() rows=lb.models none_label=none.clone() testid="top-models" />
        </div>
        <div class="card">
            <h2>{t!(i18n, pages.dashboard.cost_chart_title)}</h2>
            <BarChart labels=cost_labels series=cost_series aria_label=t_string!(i18n, pages.dashboard.cost_chart_title).to_string()
                format=micros_text testid="cost-chart" />
        </div>
        <div class="leaderboards">
            <Leaders title=t_string!(i18n, pages.dashboard.top_keys_cost).to_string() rows=by_cost.keys none_label=none.clone() testid="top-keys-cost" />
            <Leaders title=t_string!(i18n, pages.dashboard.top_upstreams_cost).to_string() rows=by_cost.upstreams none_label=none.clone() testid="top-upstreams-cost" />
            <Leaders title=t_string!(i18n, pages.dashboard.top_models_cost).to_string() rows=by_cost.models none_label=none testid="top-models-cost" />
        </div>
    }
}

#[component]
pub fn DashboardPage() -> impl IntoView {
    let i18n = use_i18n();
    let range = RwSignal::new("today".to_string());
    // The server renders in UTC; once hydrated, the browser's zone takes over.
    let tz = RwSignal::new(Zone::Utc);
    let tick = RwSignal::new(0u32);
    Effect::new(move |_| {
        tz.set(browser_zone());
        if let Ok(handle) = set_interval_with_handle(move || tick.update(|t| *t += 1), REFRESH) {
            on_cleanup(move || handle.clear());
        }
    });
    let data = Resource::new(
        move || (range.get(), tz.get(), tick.get()),
        |(r, tz, _)| load_dashboard(r, tz.offset_minutes_at(now_ms())),
    );
    let range_label = move |r: &str| match r {
        "today" => t_string!(i18n, pages.dashboard.range_today).to_string(),
        "7d" => t_string!(i18n, pages.dashboard.range_7d).to_string(),
        _ => t_string!(i18n, pages.dashboard.range_30d).to_string(),
    };
    view! {
        <PageHeader
            title=Signal::derive(move || t_string!(i18n, pages.dashboard.title).to_string())
            subtitle=Signal::derive(move || t_string!(i18n, pages.dashboard.subtitle).to_string())
        />
        <div class="segmented" role="group" aria-label=move || t_string!(i18n, pages.dashboard.range_label)>
            {RANGES.iter().map(|r| {
                let r = r.to_string();
                let key = r.clone();
                let label = range_label(&r);
                view! {
                    <button type="button" class="button"
                        data-testid=format!("range-{r}")
                        aria-pressed=move || (range.get() == key).to_string()
                        on:click=move |_| range.set(r.clone())>
                        {label}
                    </button>
                }
            }).collect::<Vec<_>>()}
        </div>
        <Transition fallback=move || view! { <div class="card muted" data-testid="loading">{t!(i18n, pages.dashboard.loading)}</div> }>
            {move || data.get().map(|result| match result {
                Ok(d) => view! { <Figures data=d tz=tz.get_untracked() /> }.into_any(),
                Err(_) => view! {
                    <div class="card form-error" role="alert" data-testid="dashboard-error">
                        <p>{t!(i18n, pages.dashboard.load_failed)}</p>
                        <button type="button" class="button" on:click=move |_| data.refetch()>{t!(i18n, pages.dashboard.retry)}</button>
                    </div>
                }.into_any(),
            })}
        </Transition>
    }
}
