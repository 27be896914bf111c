//! `/{locale}`: traffic, latency and tokens over today / 7 days / 30 days, refreshed on its own.
use std::time::Duration;

use leptos::prelude::*;

use crate::api::stats::load_dashboard;
use crate::app::components::bar_chart::{BarChart, ChartSeries};
use crate::app::components::page_header::PageHeader;
use crate::i18n::*;
use crate::model::stats::{Dashboard, LeaderRow, RANGES};

const REFRESH: Duration = Duration::from_secs(30);

/// Days since 1970-01-01 of a civil date (Howard Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * (m + if m > 2 { -3 } else { 9 }) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// `(month, day)` of a day number since 1970-01-01.
fn civil_from_days(z: i64) -> (i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (m, d)
}

/// A bucket's label in the viewer's time: `HH:00` for hours, `MM-DD` for days.
pub fn bucket_label(rfc3339_utc: &str, tz_offset_minutes: i32, hourly: bool) -> String {
    let num = |a: usize, b: usize| {
        rfc3339_utc
            .get(a..b)
            .and_then(|s| s.parse::<i64>().ok())
            .unwrap_or(0)
    };
    let days = days_from_civil(num(0, 4), num(5, 7), num(8, 10));
    let minutes = days * 1_440 + num(11, 13) * 60 + num(14, 16) + i64::from(tz_offset_minutes);
    if hourly {
        format!("{:02}:00", minutes.rem_euclid(1_440) / 60)
    } else {
        let (m, d) = civil_from_days(minutes.div_euclid(1_440));
        format!("{m:02}-{d:02}")
    }
}

fn browser_tz_offset_minutes() -> i32 {
    // getTimezoneOffset is minutes *behind* UTC (UTC+8 gives -480).
    -(web_sys::js_sys::Date::new_0().get_timezone_offset() as i32)
}

fn fmt_ms(v: Option<f64>) -> String {
    v.map_or_else(|| "—".into(), |v| format!("{v:.0} ms"))
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
                    </tr></thead>
                    <tbody>
                        {rows.clone().into_iter().map(|r| {
                            let name = if r.id.is_none() { none_label.clone() } else { r.name.clone() };
                            view! { <tr><td>{name}</td><td class="num">{r.requests}</td><td class="num">{r.tokens}</td></tr> }
                        }).collect::<Vec<_>>()}
                    </tbody>
                </table>
            </Show>
        </div>
    }
}

#[component]
fn Figures(data: Dashboard, tz: i32) -> impl IntoView {
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
    let series: Vec<ChartSeries> = data
        .timeseries
        .series
        .iter()
        .map(|s| ChartSeries {
            name: if s.upstream_id.is_none() {
                none.clone()
            } else {
                s.upstream_name.clone()
            },
            values: s.requests.clone(),
        })
        .collect();
    let rate = o
        .success_rate_percent
        .map_or_else(|| "—".into(), |r| format!("{r:.1}%"));
    let p95 = o
        .p95_duration_ms
        .map_or_else(|| "—".into(), |v| format!("≤ {v} ms"));
    let lb = data.leaderboard.clone();
    let empty = o.requests == 0;
    view! {
        <div class="cards" data-testid="dashboard-cards">
            <div class="card stat"><span class="stat-label">{t!(i18n, pages.dashboard.requests)}</span><span class="stat-value" data-testid="stat-requests">{o.requests}</span></div>
            <div class="card stat"><span class="stat-label">{t!(i18n, pages.dashboard.success_rate)}</span><span class="stat-value">{rate}</span></div>
            <div class="card stat"><span class="stat-label">{t!(i18n, pages.dashboard.avg_latency)}</span><span class="stat-value">{fmt_ms(o.avg_duration_ms)}</span></div>
            <div class="card stat"><span class="stat-label">{t!(i18n, pages.dashboard.p95_latency)}</span><span class="stat-value">{p95}</span></div>
            <div class="card stat"><span class="stat-label">{t!(i18n, pages.dashboard.avg_ttft)}</span><span class="stat-value">{fmt_ms(o.avg_ttft_ms)}</span></div>
            <div class="card stat"><span class="stat-label">{t!(i18n, pages.dashboard.tokens)}</span><span class="stat-value">{o.total_tokens}</span></div>
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
            <Leaders title=t_string!(i18n, pages.dashboard.top_models).to_string() rows=lb.models none_label=none testid="top-models" />
        </div>
    }
}

#[component]
pub fn DashboardPage() -> impl IntoView {
    let i18n = use_i18n();
    let range = RwSignal::new("today".to_string());
    // The server renders in UTC; once hydrated, the browser's zone takes over.
    let tz = RwSignal::new(0i32);
    let tick = RwSignal::new(0u32);
    Effect::new(move |_| {
        tz.set(browser_tz_offset_minutes());
        if let Ok(handle) = set_interval_with_handle(move || tick.update(|t| *t += 1), REFRESH) {
            on_cleanup(move || handle.clear());
        }
    });
    let data = Resource::new(
        move || (range.get(), tz.get(), tick.get()),
        |(r, tz, _)| load_dashboard(r, tz),
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_follow_the_viewers_zone() {
        assert_eq!(bucket_label("2030-01-31T16:00:00Z", 0, true), "16:00");
        assert_eq!(bucket_label("2030-01-31T16:00:00Z", 480, true), "00:00");
        assert_eq!(bucket_label("2030-01-31T16:00:00Z", 480, false), "02-01");
        assert_eq!(bucket_label("2030-03-01T00:00:00Z", -60, false), "02-28");
        assert_eq!(bucket_label("2028-03-01T00:00:00Z", -60, false), "02-29");
    }
}
