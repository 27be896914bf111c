//! Repository for `request_stats_hourly`: per hour, the counters the dashboard needs for each
//! key, each upstream and each model, added to in the same transaction as the log rows.
use std::collections::HashMap;

use sqlx::{Any, AnyPool, Transaction};

use super::request_logs::LogRecord;

pub(crate) const HOUR_MS: i64 = 3_600_000;

/// Upper bounds (ms, inclusive) of the latency buckets; one more bucket holds the rest. The
/// migration that created the table lists the same bounds.
pub(crate) const LATENCY_BOUNDS_MS: [i64; 15] = [
    25, 50, 100, 200, 300, 500, 750, 1_000, 1_500, 2_000, 3_000, 5_000, 10_000, 30_000, 60_000,
];
pub(crate) const BUCKETS: usize = LATENCY_BOUNDS_MS.len() + 1;

/// The bucket a duration falls in.
pub(crate) fn bucket_of(duration_ms: i64) -> usize {
    LATENCY_BOUNDS_MS
        .iter()
        .position(|&bound| duration_ms <= bound)
        .unwrap_or(LATENCY_BOUNDS_MS.len())
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Counters {
    pub requests: i64,
    /// Answered 2xx or 3xx.
    pub successes: i64,
    /// Answered below 500: what the upstream health window counts as available.
    pub below_500: i64,
    pub prompt_tokens: i64,
    pub completion_tokens: i64,
    pub total_tokens: i64,
    pub duration_ms_sum: i64,
    pub duration_count: i64,
    pub ttft_ms_sum: i64,
    pub ttft_count: i64,
    pub ttfb_ms_sum: i64,
    pub ttfb_count: i64,
    /// What the requests cost, in nano-USD.
    pub cost_nanos: i64,
    /// Requests that used tokens of a model with no price.
    pub unpriced: i64,
    /// Requests a limit refused.
    pub refused: i64,
    /// Requests that belonged to an agent session, and those of them that went to the
    /// upstream that served the session last.
    pub session_requests: i64,
    pub sticky_hits: i64,
    pub latency: [i64; BUCKETS],
}

impl Counters {
    pub(crate) fn add_record(&mut self, r: &LogRecord) {
        self.requests += 1;
        if r.status_code.is_some_and(|s| (200..400).contains(&s)) {
            self.successes += 1;
        }
        if r.status_code.is_some_and(|s| s < 500) {
            self.below_500 += 1;
        }
        self.prompt_tokens += r.usage.prompt_tokens;
        self.completion_tokens += r.usage.completion_tokens;
        self.total_tokens += r.usage.total_tokens;
        if let Some(d) = r.duration_ms {
            self.duration_ms_sum += d;
            self.duration_count += 1;
            self.latency[bucket_of(d)] += 1;
        }
        if let Some(t) = r.ttft_ms {
            self.ttft_ms_sum += t;
            self.ttft_count += 1;
        }
        if let Some(t) = r.ttfb_ms {
            self.ttfb_ms_sum += t;
            self.ttfb_count += 1;
        }
        self.cost_nanos += r.cost_nanos.unwrap_or(0);
        self.unpriced += i64::from(r.unpriced());
        self.refused += i64::from(r.refused_by.is_some());
        if let Some(sticky) = r.sticky {
            self.session_requests += 1;
            self.sticky_hits += i64::from(sticky);
        }
    }

    /// The upper bound of the bucket holding the `p` quantile (0..=1): an estimate no lower
    /// than the true value, to the buckets' resolution. `None` without durations.
    pub(crate) fn latency_quantile_ms(&self, p: f64) -> Option<i64> {
        let n: i64 = self.latency.iter().sum();
        if n == 0 {
            return None;
        }
        let rank = ((p * n as f64).ceil() as i64).clamp(1, n);
        let mut seen = 0;
        for (i, count) in self.latency.iter().enumerate() {
            seen += count;
            if seen >= rank {
                return Some(
                    LATENCY_BOUNDS_MS
                        .get(i)
                        .copied()
                        .unwrap_or(LATENCY_BOUNDS_MS[LATENCY_BOUNDS_MS.len() - 1]),
                );
            }
        }
        None
    }
}

/// What a row counts by: every request is counted once in each dimension.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) enum Dimension {
    Key,
    Upstream,
    Model,
}

impl Dimension {
    pub(crate) const ALL: [Dimension; 3] = [Dimension::Key, Dimension::Upstream, Dimension::Model];

    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Dimension::Key => "key",
            Dimension::Upstream => "upstream",
            Dimension::Model => "model",
        }
    }

    fn value_of(self, r: &LogRecord) -> String {
        match self {
            Dimension::Key => r.api_key_id.clone(),
            Dimension::Upstream => r.upstream_id.clone(),
            Dimension::Model => r.model_requested.clone(),
        }
        .unwrap_or_default()
    }
}

/// One row: a key, an upstream or a model ("" for none) in one hour or one UTC day.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
struct Slot {
    start: i64,
    dimension: Dimension,
    value: String,
}

pub(crate) const DAY_MS: i64 = 24 * HOUR_MS;

/// The start of the UTC hour holding `ms`.
pub(crate) fn hour_of(ms: i64) -> i64 {
    ms.div_euclid(HOUR_MS) * HOUR_MS
}

/// The start of the UTC day holding `ms`.
fn day_of(ms: i64) -> i64 {
    ms.div_euclid(DAY_MS) * DAY_MS
}

/// The two tables of counters: the same columns, per hour and per UTC day.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Grain {
    Hour,
    Day,
}

impl Grain {
    fn table(self) -> &'static str {
        match self {
            Grain::Hour => "request_stats_hourly",
            Grain::Day => "request_stats_daily",
        }
    }

    fn time_column(self) -> &'static str {
        match self {
            Grain::Hour => "hour_start",
            Grain::Day => "day_start",
        }
    }

    fn start_of(self, ms: i64) -> i64 {
        match self {
            Grain::Hour => hour_of(ms),
            Grain::Day => day_of(ms),
        }
    }
}

const COUNTER_COLUMNS: [&str; 17] = [
    "requests",
    "successes",
    "below_500",
    "prompt_tokens",
    "completion_tokens",
    "total_tokens",
    "duration_ms_sum",
    "duration_count",
    "ttft_ms_sum",
    "ttft_count",
    "ttfb_ms_sum",
    "ttfb_count",
    "cost_nanos",
    "unpriced",
    "refused",
    "session_requests",
    "sticky_hits",
];

fn all_counter_columns() -> Vec<String> {
    COUNTER_COLUMNS
        .iter()
        .map(|c| c.to_string())
        .chain((0..BUCKETS).map(|i| format!("latency_b{i}")))
        .collect()
}

fn counter_values(c: &Counters) -> Vec<i64> {
    [
        c.requests,
        c.successes,
        c.below_500,
        c.prompt_tokens,
        c.completion_tokens,
        c.total_tokens,
        c.duration_ms_sum,
        c.duration_count,
        c.ttft_ms_sum,
        c.ttft_count,
        c.ttfb_ms_sum,
        c.ttfb_count,
        c.cost_nanos,
        c.unpriced,
        c.refused,
        c.session_requests,
        c.sticky_hits,
    ]
    .into_iter()
    .chain(c.latency)
    .collect()
}

/// Adds a batch of log records to their hourly and daily rows, inside the batch's transaction.
pub(crate) async fn add_batch(
    tx: &mut Transaction<'_, Any>,
    records: &[LogRecord],
) -> Result<(), sqlx::Error> {
    for grain in [Grain::Hour, Grain::Day] {
        add_to(tx, grain, records).await?;
    }
    Ok(())
}

async fn add_to(
    tx: &mut Transaction<'_, Any>,
    grain: Grain,
    records: &[LogRecord],
) -> Result<(), sqlx::Error> {
    let mut slots: HashMap<Slot, Counters> = HashMap::new();
    for r in records {
        for dimension in Dimension::ALL {
            let slot = Slot {
                start: grain.start_of(r.created_at),
                dimension,
                value: dimension.value_of(r),
            };
            slots.entry(slot).or_default().add_record(r);
        }
    }
    let columns = all_counter_columns();
    let placeholders: Vec<String> = (4..4 + columns.len()).map(|i| format!("${i}")).collect();
    let (table, time) = (grain.table(), grain.time_column());
    let updates: Vec<String> = columns
        .iter()
        .map(|c| format!("{c} = {table}.{c} + excluded.{c}"))
        .collect();
    let sql = format!(
        "INSERT INTO {table} ({time}, dimension, value, {}) \
         VALUES ($1, $2, $3, {}) \
         ON CONFLICT ({time}, dimension, value) DO UPDATE SET {}",
        columns.join(", "),
        placeholders.join(", "),
        updates.join(", ")
    );
    let mut slots: Vec<(Slot, Counters)> = slots.into_iter().collect();
    // A stable order keeps two instances' transactions from locking rows in opposite orders.
    slots.sort_by(|a, b| a.0.cmp(&b.0));
    for (slot, counters) in slots {
        let mut q = sqlx::query(&sql)
            .bind(slot.start)
            .bind(slot.dimension.as_str())
            .bind(slot.value);
        for v in counter_values(&counters) {
            q = q.bind(v);
        }
        q.execute(&mut **tx).await?;
    }
    Ok(())
}

/// What the leaderboards and the time series sum: requests, tokens and cost.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Totals {
    pub requests: i64,
    pub tokens: i64,
    pub cost_nanos: i64,
}

impl Totals {
    /// The totals in columns `first..first + 3` of a row: requests, tokens, cost.
    fn at(row: &sqlx::any::AnyRow, first: usize) -> Result<Self, sqlx::Error> {
        use sqlx::Row;
        Ok(Self {
            requests: row.try_get(first)?,
            tokens: row.try_get(first + 1)?,
            cost_nanos: row.try_get(first + 2)?,
        })
    }
}

/// One value's totals in one step of a series (see `per_step`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct StepSums {
    pub value: String,
    pub step: i64,
    pub totals: Totals,
}

/// The rows of one dimension from `since_ms` (a whole hour) on, as a subquery named `w` with
/// the columns `t` (an hourly row's start, a daily row's noon), `value` and `columns`: daily
/// rows for the whole UTC days before today, hourly rows for the hours before the first of
/// them and from today on. Binds $1 (the dimension) and $2 to $4 (`Split::bind`).
fn window_rows(columns: &str) -> String {
    format!(
        "(SELECT hour_start AS t, value, {columns} FROM request_stats_hourly \
           WHERE dimension = $1 AND hour_start >= $2 AND hour_start < $3 \
         UNION ALL SELECT day_start + 43200000 AS t, value, {columns} FROM request_stats_daily \
           WHERE dimension = $1 AND day_start >= $3 AND day_start < $4 \
         UNION ALL SELECT hour_start AS t, value, {columns} FROM request_stats_hourly \
           WHERE dimension = $1 AND hour_start >= $4) AS w"
    )
}

/// Where a window from `since_ms` to now splits between hourly and daily rows: hourly in
/// [since, days_from), daily in [days_from, days_to), hourly from days_to on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Split {
    since: i64,
    days_from: i64,
    days_to: i64,
}

impl Split {
    fn new(since_ms: i64, now_ms: i64, days: bool) -> Self {
        if !days {
            return Self {
                since: since_ms,
                days_from: since_ms,
                days_to: since_ms,
            };
        }
        let days_from = day_of(since_ms + DAY_MS - 1);
        Self {
            since: since_ms,
            days_from,
            days_to: days_from.max(day_of(now_ms)),
        }
    }

    fn bind<'q>(
        &self,
        q: sqlx::query::Query<'q, Any, sqlx::any::AnyArguments<'q>>,
        dimension: Dimension,
    ) -> sqlx::query::Query<'q, Any, sqlx::any::AnyArguments<'q>> {
        q.bind(dimension.as_str())
            .bind(self.since)
            .bind(self.days_from)
            .bind(self.days_to)
    }
}

/// The counters of a row whose columns `first..` are `all_counter_columns()` in order.
fn counters_at(row: &sqlx::any::AnyRow, first: usize) -> Result<Counters, sqlx::Error> {
    use sqlx::Row;
    let v = |i: usize| row.try_get::<i64, _>(first + i);
    let mut latency = [0i64; BUCKETS];
    for (b, slot) in latency.iter_mut().enumerate() {
        *slot = v(COUNTER_COLUMNS.len() + b)?;
    }
    Ok(Counters {
        requests: v(0)?,
        successes: v(1)?,
        below_500: v(2)?,
        prompt_tokens: v(3)?,
        completion_tokens: v(4)?,
        total_tokens: v(5)?,
        duration_ms_sum: v(6)?,
        duration_count: v(7)?,
        ttft_ms_sum: v(8)?,
        ttft_count: v(9)?,
        ttfb_ms_sum: v(10)?,
        ttfb_count: v(11)?,
        cost_nanos: v(12)?,
        unpriced: v(13)?,
        refused: v(14)?,
        session_requests: v(15)?,
        sticky_hits: v(16)?,
        latency,
    })
}

/// Every counter column summed (0 over no rows), in `all_counter_columns()` order.
fn summed_counters() -> String {
    all_counter_columns()
        .iter()
        .map(|c| format!("CAST(COALESCE(SUM({c}), 0) AS BIGINT)"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Every counter of one dimension from `since_ms` (a whole hour) to `now_ms`, summed per value
/// by the database: one row per key, upstream or model however long the window.
pub(crate) async fn sums_by_value(
    pool: &AnyPool,
    since_ms: i64,
    now_ms: i64,
    dimension: Dimension,
) -> Result<Vec<(String, Counters)>, sqlx::Error> {
    use sqlx::Row;
    let sql = format!(
        "SELECT value, {} FROM {} GROUP BY value",
        summed_counters(),
        window_rows(&all_counter_columns().join(", "))
    );
    let q = Split::new(since_ms, now_ms, true).bind(sqlx::query(&sql), dimension);
    let rows = q.fetch_all(pool).await?;
    rows.iter()
        .map(|row| Ok((row.try_get(0)?, counters_at(row, 1)?)))
        .collect()
}

/// Every counter of one dimension from `since_ms` (a whole hour) to `now_ms`, summed by the
/// database into one.
pub(crate) async fn total_since(
    pool: &AnyPool,
    since_ms: i64,
    now_ms: i64,
    dimension: Dimension,
) -> Result<Counters, sqlx::Error> {
    let sql = format!(
        "SELECT {} FROM {}",
        summed_counters(),
        window_rows(&all_counter_columns().join(", "))
    );
    let q = Split::new(since_ms, now_ms, true).bind(sqlx::query(&sql), dimension);
    let row = q.fetch_one(pool).await?;
    counters_at(&row, 0)
}

/// Requests, tokens and cost of one dimension per value and step (`step_ms`, a whole number
/// of hours) from `start_ms` on, summed by the database. Hourly rows from `since_ms` up to
/// `start_ms` come back with a negative index. Every hour counts in the step its start falls
/// in, whether it is read from an hourly or a daily row.
///
/// Steps of one day read the daily rows. When those days are not UTC days (a dashboard east or
/// west of UTC), a daily row counts in the step of its noon, and the hours of the day's smaller
/// side, which fall in the neighbouring step, are moved there: added to their own step and
/// taken from the noon's. Those hours are read by range (8 of each day's 24 at UTC+8), so the
/// other hourly rows are never visited.
pub(crate) async fn per_step(
    pool: &AnyPool,
    dimension: Dimension,
    since_ms: i64,
    now_ms: i64,
    start_ms: i64,
    step_ms: i64,
) -> Result<Vec<StepSums>, sqlx::Error> {
    let days = step_ms == DAY_MS;
    let split = Split::new(since_ms, now_ms, days);
    // Division truncates toward zero in SQL: offset by 1,000 steps to floor instead.
    let step_of = |t: &str| format!("({t} - $5 + $6 * 1000) / $6 - 1000");
    let boundary = start_ms.rem_euclid(DAY_MS);
    // The hours of each UTC day on the other side of the local midnight from its noon.
    let minority: Vec<(i64, i64)> = if !days || boundary == 0 {
        Vec::new()
    } else {
        (split.days_from..split.days_to)
            .step_by(DAY_MS as usize)
            .map(|d| {
                if boundary <= DAY_MS / 2 {
                    (d, d + boundary)
                } else {
                    (d + boundary, d + DAY_MS)
                }
            })
            .collect()
    };
    let (with, moved) = if minority.is_empty() {
        (String::new(), String::new())
    } else {
        // Integers the server computed, not input: written into the statement as they are.
        let ranges = minority
            .iter()
            .map(|(a, b)| format!("(hour_start >= {a} AND hour_start < {b})"))
            .collect::<Vec<_>>()
            .join(" OR ");
        // Each day's moved hours summed once (they all fall in one step), then added to that
        // step and taken from the step of the day's noon.
        let with = format!(
            "WITH moved AS (SELECT value, MIN(hour_start) AS first_hour, \
             hour_start - hour_start % 86400000 + 43200000 AS noon, \
             SUM(requests) AS r, SUM(total_tokens) AS k, SUM(cost_nanos) AS c \
             FROM request_stats_hourly WHERE dimension = $1 AND ({ranges}) \
             GROUP BY value, hour_start - hour_start % 86400000 + 43200000) "
        );
        let moved = format!(
            " UNION ALL SELECT value, {first}, r, k, c FROM moved \
             UNION ALL SELECT value, {noon}, -r, -k, -c FROM moved",
            first = step_of("first_hour"),
            noon = step_of("noon"),
        );
        (with, moved)
    };
    let sql = format!(
        "{with}SELECT value, step, CAST(SUM(requests) AS BIGINT), \
         CAST(SUM(total_tokens) AS BIGINT), CAST(SUM(cost_nanos) AS BIGINT) \
         FROM (SELECT value, {t} AS step, requests, total_tokens, cost_nanos FROM {rows}{moved}) \
         AS s GROUP BY value, step",
        t = step_of("t"),
        rows = window_rows("requests, total_tokens, cost_nanos"),
    );
    let q = split.bind(sqlx::query(&sql), dimension);
    let rows = q.bind(start_ms).bind(step_ms).fetch_all(pool).await?;
    use sqlx::Row;
    rows.iter()
        .map(|r| {
            Ok(StepSums {
                value: r.try_get(0)?,
                step: r.try_get(1)?,
                totals: Totals::at(r, 2)?,
            })
        })
        .collect()
}

/// Requests, tokens and cost per value of one dimension from `since_ms` (a whole hour) to
/// `now_ms`, summed by the database.
pub(crate) async fn totals_by_value(
    pool: &AnyPool,
    since_ms: i64,
    now_ms: i64,
    dimension: Dimension,
) -> Result<Vec<(String, Totals)>, sqlx::Error> {
    use sqlx::Row;
    let sql = format!(
        "SELECT value, CAST(SUM(requests) AS BIGINT), CAST(SUM(total_tokens) AS BIGINT), \
         CAST(SUM(cost_nanos) AS BIGINT) FROM {} GROUP BY value",
        window_rows("requests, total_tokens, cost_nanos")
    );
    let q = Split::new(since_ms, now_ms, true).bind(sqlx::query(&sql), dimension);
    let rows = q.fetch_all(pool).await?;
    rows.iter()
        .map(|r| Ok((r.try_get(0)?, Totals::at(r, 1)?)))
        .collect()
}

/// One value's hourly requests, tokens and cost from `since_ms` on, oldest first.
pub(crate) async fn hours_of_value(
    pool: &AnyPool,
    dimension: Dimension,
    value: &str,
    since_ms: i64,
) -> Result<Vec<(i64, Totals)>, sqlx::Error> {
    use sqlx::Row;
    let rows = sqlx::query(
        "SELECT hour_start, requests, total_tokens, cost_nanos FROM request_stats_hourly \
         WHERE dimension = $1 AND value = $2 AND hour_start >= $3 ORDER BY hour_start",
    )
    .bind(dimension.as_str())
    .bind(value)
    .bind(since_ms)
    .fetch_all(pool)
    .await?;
    rows.iter()
        .map(|r| Ok((r.try_get(0)?, Totals::at(r, 1)?)))
        .collect()
}

/// Retention: hourly rows before `cutoff_ms`, and daily rows of the days before the one holding
/// it, go with the logs they summarised.
pub(crate) async fn delete_before(pool: &AnyPool, cutoff_ms: i64) -> Result<u64, sqlx::Error> {
    let hours = sqlx::query("DELETE FROM request_stats_hourly WHERE hour_start < $1")
        .bind(hour_of(cutoff_ms))
        .execute(pool)
        .await?;
    let days = sqlx::query("DELETE FROM request_stats_daily WHERE day_start < $1")
        .bind(day_of(cutoff_ms))
        .execute(pool)
        .await?;
    Ok(hours.rows_affected() + days.rows_affected())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_follow_the_bounds() {
        assert_eq!(bucket_of(0), 0);
        assert_eq!(bucket_of(25), 0);
        assert_eq!(bucket_of(26), 1);
        assert_eq!(bucket_of(60_000), 14);
        assert_eq!(bucket_of(60_001), 15);
    }

    #[test]
    fn quantiles_are_bucket_upper_bounds() {
        let mut c = Counters::default();
        assert_eq!(c.latency_quantile_ms(0.95), None);
        for d in 1..=100 {
            let r = LogRecord {
                duration_ms: Some(d * 10),
                status_code: Some(if d <= 90 { 200 } else { 502 }),
                ..LogRecord::default()
            };
            c.add_record(&r);
        }
        assert_eq!(c.requests, 100);
        assert_eq!(c.successes, 90);
        assert_eq!(c.below_500, 90);
        // 10..1000 ms: the 50th is 500 ms (bucket <= 500), the 95th 950 ms (bucket <= 1000).
        assert_eq!(c.latency_quantile_ms(0.5), Some(500));
        assert_eq!(c.latency_quantile_ms(0.95), Some(1_000));
    }

    #[test]
    fn a_window_reads_whole_days_from_the_daily_rows_and_the_edges_from_the_hourly() {
        let now = 40 * DAY_MS + 5 * HOUR_MS + 123;
        // From 22:00 thirty days ago: hours 22 and 23, then 29 whole days, then today by hour.
        let s = Split::new(10 * DAY_MS - 2 * HOUR_MS, now, true);
        assert_eq!(
            (s.days_from, s.days_to),
            (10 * DAY_MS, 40 * DAY_MS),
            "{s:?}"
        );
        // From midnight: no hourly rows before the days.
        let s = Split::new(10 * DAY_MS, now, true);
        assert_eq!((s.since, s.days_from), (10 * DAY_MS, 10 * DAY_MS));
        // Within today: hourly rows only (the daily part is empty).
        let s = Split::new(40 * DAY_MS + HOUR_MS, now, true);
        assert_eq!(s.days_from, s.days_to);
        assert_eq!(s.days_from, 41 * DAY_MS);
        // Days not wanted: hourly rows only, from the start.
        let s = Split::new(10 * DAY_MS - 2 * HOUR_MS, now, false);
        assert_eq!((s.days_from, s.days_to), (s.since, s.since));
    }

    #[test]
    fn slots_are_whole_hours_and_none_is_empty() {
        assert_eq!(hour_of(3 * HOUR_MS + 59_999), 3 * HOUR_MS);
        assert_eq!(day_of(3 * DAY_MS - 1), 2 * DAY_MS);
        assert_eq!(Grain::Day.start_of(-1), -DAY_MS);
        let r = LogRecord {
            api_key_id: Some("k".into()),
            ..LogRecord::default()
        };
        assert_eq!(Dimension::Key.value_of(&r), "k");
        assert_eq!(Dimension::Upstream.value_of(&r), "");
    }
}
