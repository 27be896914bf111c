//! Dashboard statistics (overview, time series, leaderboards) over a range, read from the
//! hourly and daily counters rather than the request log, summed by the database.
use std::collections::{BTreeMap, HashMap};

use super::Services;
use super::{db_error, validate};
use crate::model::money::usd;
use crate::model::stats::{
    CostSummary, Dashboard, LeaderRow, Leaderboard, Overview, Series, StatsQuery, Timeseries,
    RANGES,
};
use crate::server::db::request_stats::{self, hour_of, Dimension, Totals, DAY_MS, HOUR_MS};
use crate::server::db::{keys as key_repo, upstreams as upstream_repo};
use crate::server::error::ApiError;
use crate::server::timefmt::to_rfc3339;

/// The range resolved against a clock: where it starts and how it is bucketed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Window {
    pub range: &'static str,
    pub start_ms: i64,
    pub step_ms: i64,
    pub buckets: usize,
}

impl Window {
    pub(crate) fn resolve(
        range: Option<&str>,
        tz_offset_minutes: Option<i32>,
        now_ms: i64,
    ) -> Result<Window, ApiError> {
        let range = match range.map(str::trim).unwrap_or("today") {
            "today" => "today",
            "7d" => "7d",
            "30d" => "30d",
            _ => {
                return Err(validate::invalid(
                    "range",
                    format!("must be one of {}", RANGES.join(", ")),
                ))
            }
        };
        let offset = i64::from(validate::in_range(
            "tz_offset_minutes",
            tz_offset_minutes.unwrap_or(0),
            -720..=840,
        )?) * 60_000;
        let local_midnight = (now_ms + offset).div_euclid(DAY_MS) * DAY_MS;
        let days_back = match range {
            "today" => 0,
            "7d" => 6,
            _ => 29,
        };
        let start_ms = local_midnight - days_back * DAY_MS - offset;
        let step_ms = if range == "today" { HOUR_MS } else { DAY_MS };
        let buckets = ((now_ms - start_ms).div_euclid(step_ms) + 1).max(1) as usize;
        Ok(Window {
            range,
            start_ms,
            step_ms,
            buckets,
        })
    }

    /// The first hourly row the window reads. Rows are whole UTC hours, so a zone with a
    /// half-hour offset counts the hour its day starts in.
    fn first_hour(&self) -> i64 {
        hour_of(self.start_ms)
    }

    /// The bucket an hourly row belongs to, if it is inside the window.
    fn bucket(&self, hour_start: i64) -> Option<usize> {
        let i = (hour_start - self.start_ms).div_euclid(self.step_ms);
        (0..self.buckets as i64).contains(&i).then_some(i as usize)
    }
}

fn window_of(state: &Services, q: &StatsQuery) -> Result<Window, ApiError> {
    Window::resolve(
        q.range.as_deref(),
        q.tz_offset_minutes,
        state.clock.now_ms(),
    )
}

fn avg(sum: i64, count: i64) -> Option<f64> {
    (count > 0).then(|| sum as f64 / count as f64)
}

pub(crate) async fn overview(state: &Services, q: &StatsQuery) -> Result<Overview, ApiError> {
    let w = window_of(state, q)?;
    let total = request_stats::total_since(
        &state.db.pool,
        w.first_hour(),
        state.clock.now_ms(),
        Dimension::Upstream,
    )
    .await
    .map_err(db_error)?;
    Ok(Overview {
        range: w.range.into(),
        start: to_rfc3339(w.start_ms),
        requests: total.requests.max(0) as u64,
        success_rate_percent: (total.requests > 0)
            .then(|| total.successes as f64 * 100.0 / total.requests as f64),
        avg_duration_ms: avg(total.duration_ms_sum, total.duration_count),
        p95_duration_ms: total.latency_quantile_ms(0.95),
        avg_ttft_ms: avg(total.ttft_ms_sum, total.ttft_count),
        avg_ttfb_ms: avg(total.ttfb_ms_sum, total.ttfb_count),
        prompt_tokens: total.prompt_tokens.max(0) as u64,
        completion_tokens: total.completion_tokens.max(0) as u64,
        total_tokens: total.total_tokens.max(0) as u64,
        cost_usd: usd(total.cost_nanos),
        unpriced_requests: total.unpriced.max(0) as u64,
        refused_requests: total.refused.max(0) as u64,
        session_requests: total.session_requests.max(0) as u64,
        sticky_share_percent: (total.session_requests > 0)
            .then(|| total.sticky_hits as f64 * 100.0 / total.session_requests as f64),
    })
}

/// Spend today, over 7 and over 30 days, in the caller's zone.
pub(crate) async fn costs(
    state: &Services,
    tz_offset_minutes: i32,
) -> Result<CostSummary, ApiError> {
    let now = state.clock.now_ms();
    let mut spent = [0.0; 3];
    for (slot, range) in spent.iter_mut().zip(RANGES) {
        let w = Window::resolve(Some(range), Some(tz_offset_minutes), now)?;
        let total =
            request_stats::total_since(&state.db.pool, w.first_hour(), now, Dimension::Upstream)
                .await
                .map_err(db_error)?;
        *slot = usd(total.cost_nanos);
    }
    let [today_usd, last_7d_usd, last_30d_usd] = spent;
    Ok(CostSummary {
        today_usd,
        last_7d_usd,
        last_30d_usd,
    })
}

/// Everything the dashboard page shows.
pub(crate) async fn dashboard(
    state: &Services,
    range: String,
    tz_offset_minutes: i32,
) -> Result<Dashboard, ApiError> {
    let q = StatsQuery {
        range: Some(range),
        tz_offset_minutes: Some(tz_offset_minutes),
        limit: Some(5),
        sort: None,
    };
    let by_cost = StatsQuery {
        sort: Some("cost".into()),
        ..q.clone()
    };
    Ok(Dashboard {
        overview: overview(state, &q).await?,
        costs: costs(state, tz_offset_minutes).await?,
        timeseries: timeseries(state, &q).await?,
        leaderboard: leaderboard(state, &q).await?,
        by_cost: leaderboard(state, &by_cost).await?,
    })
}

async fn upstream_names(state: &Services) -> Result<HashMap<String, String>, ApiError> {
    Ok(upstream_repo::list_all(&state.db.pool)
        .await
        .map_err(db_error)?
        .into_iter()
        .map(|u| (u.id, u.name))
        .collect())
}

/// A deleted record keeps its id as its name; "none" is an empty id.
fn named(id: &str, names: &HashMap<String, String>) -> (Option<String>, String) {
    if id.is_empty() {
        (None, String::new())
    } else {
        (
            Some(id.to_string()),
            names.get(id).cloned().unwrap_or_else(|| id.to_string()),
        )
    }
}

pub(crate) async fn timeseries(state: &Services, q: &StatsQuery) -> Result<Timeseries, ApiError> {
    let w = window_of(state, q)?;
    let names = upstream_names(state).await?;
    let mut by_upstream: BTreeMap<String, Vec<Totals>> = BTreeMap::new();
    let steps = request_stats::per_step(
        &state.db.pool,
        Dimension::Upstream,
        w.first_hour(),
        state.clock.now_ms(),
        w.start_ms,
        w.step_ms,
    )
    .await
    .map_err(db_error)?;
    for s in steps {
        let Some(i) = w.bucket(w.start_ms + s.step * w.step_ms) else {
            continue;
        };
        let buckets = by_upstream
            .entry(s.value)
            .or_insert_with(|| vec![Totals::default(); w.buckets]);
        buckets[i].requests += s.totals.requests;
        buckets[i].tokens += s.totals.tokens;
        buckets[i].cost_nanos += s.totals.cost_nanos;
    }
    let mut series: Vec<Series> = by_upstream
        .into_iter()
        .map(|(id, buckets)| {
            let (upstream_id, upstream_name) = named(&id, &names);
            Series {
                upstream_id,
                upstream_name,
                requests: buckets.iter().map(|t| t.requests.max(0) as u64).collect(),
                tokens: buckets.iter().map(|t| t.tokens.max(0) as u64).collect(),
                cost_usd: buckets.iter().map(|t| usd(t.cost_nanos)).collect(),
            }
        })
        .collect();
    // Busiest first; requests that never reached an upstream last.
    series.sort_by(|a, b| {
        a.upstream_id
            .is_none()
            .cmp(&b.upstream_id.is_none())
            .then_with(|| {
                b.requests
                    .iter()
                    .sum::<u64>()
                    .cmp(&a.requests.iter().sum::<u64>())
            })
            .then_with(|| a.upstream_name.cmp(&b.upstream_name))
    });
    Ok(Timeseries {
        range: w.range.into(),
        granularity: if w.step_ms == HOUR_MS { "hour" } else { "day" }.into(),
        buckets: (0..w.buckets)
            .map(|i| to_rfc3339(w.start_ms + i as i64 * w.step_ms))
            .collect(),
        series,
    })
}

/// How a leaderboard is ordered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Order {
    Requests,
    Cost,
}

impl Order {
    fn parse(raw: Option<&str>) -> Result<Self, ApiError> {
        match raw.map(str::trim).unwrap_or("requests") {
            "requests" | "" => Ok(Order::Requests),
            "cost" => Ok(Order::Cost),
            _ => Err(validate::invalid("sort", "must be requests or cost")),
        }
    }
}

fn top(
    totals: Vec<(String, Totals)>,
    limit: usize,
    order: Order,
    name: impl Fn(&str) -> (Option<String>, String),
) -> Vec<LeaderRow> {
    let mut rows: Vec<(LeaderRow, i64)> = totals
        .into_iter()
        .map(|(id, t)| {
            let (id, name) = name(&id);
            let row = LeaderRow {
                id,
                name,
                requests: t.requests.max(0) as u64,
                tokens: t.tokens.max(0) as u64,
                cost_usd: usd(t.cost_nanos),
            };
            (row, t.cost_nanos)
        })
        .collect();
    if order == Order::Cost {
        rows.retain(|(_, cost)| *cost > 0);
    }
    rows.sort_by(|(a, a_cost), (b, b_cost)| {
        let by_requests = b.requests.cmp(&a.requests).then(b.tokens.cmp(&a.tokens));
        match order {
            Order::Requests => by_requests,
            Order::Cost => b_cost.cmp(a_cost).then(by_requests),
        }
        .then_with(|| a.name.cmp(&b.name))
    });
    rows.truncate(limit);
    rows.into_iter().map(|(row, _)| row).collect()
}

pub(crate) async fn leaderboard(state: &Services, q: &StatsQuery) -> Result<Leaderboard, ApiError> {
    let w = window_of(state, q)?;
    let limit = validate::in_range("limit", q.limit.unwrap_or(5), 1..=50)? as usize;
    let order = Order::parse(q.sort.as_deref())?;
    // The database sums, so only one row per value comes back.
    let (from, now) = (w.first_hour(), state.clock.now_ms());
    let mut totals: [Vec<(String, Totals)>; 3] = Default::default();
    for (slot, dimension) in totals.iter_mut().zip(Dimension::ALL) {
        *slot = request_stats::totals_by_value(&state.db.pool, from, now, dimension)
            .await
            .map_err(db_error)?;
    }
    let [keys, upstreams, models] = totals;
    let key_names: HashMap<String, String> = key_repo::list_all(&state.db.pool)
        .await
        .map_err(db_error)?
        .into_iter()
        .map(|k| (k.id, k.name))
        .collect();
    let upstream_names = upstream_names(state).await?;
    Ok(Leaderboard {
        range: w.range.into(),
        keys: top(keys, limit, order, |id| named(id, &key_names)),
        upstreams: top(upstreams, limit, order, |id| named(id, &upstream_names)),
        models: top(models, limit, order, |m| {
            if m.is_empty() {
                (None, String::new())
            } else {
                (Some(m.to_string()), m.to_string())
            }
        }),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    // 2030-01-31T10:30:00Z
    const NOW: i64 = 1_896_085_800_000;

    #[test]
    fn today_is_hourly_from_local_midnight() {
        let w = Window::resolve(Some("today"), None, NOW).unwrap();
        assert_eq!(to_rfc3339(w.start_ms), "2030-01-31T00:00:00Z");
        assert_eq!((w.step_ms, w.buckets), (HOUR_MS, 11));
        // UTC+8: local midnight is 16:00 UTC the day before.
        let w = Window::resolve(Some("today"), Some(480), NOW).unwrap();
        assert_eq!(to_rfc3339(w.start_ms), "2030-01-30T16:00:00Z");
        assert_eq!(w.buckets, 19);
        assert_eq!(w.bucket(w.start_ms), Some(0));
        assert_eq!(w.bucket(w.start_ms - HOUR_MS), None);
    }

    #[test]
    fn seven_and_thirty_days_are_daily_and_include_today() {
        let w = Window::resolve(Some("7d"), None, NOW).unwrap();
        assert_eq!(to_rfc3339(w.start_ms), "2030-01-25T00:00:00Z");
        assert_eq!((w.step_ms, w.buckets), (DAY_MS, 7));
        assert_eq!(w.bucket(hour_of(NOW)), Some(6));
        let w = Window::resolve(Some("30d"), None, NOW).unwrap();
        assert_eq!(w.buckets, 30);
    }

    #[test]
    fn bad_ranges_and_offsets_are_refused() {
        assert!(Window::resolve(Some("week"), None, NOW).is_err());
        assert!(Window::resolve(Some("7d"), Some(900), NOW).is_err());
    }
}
