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

/// One row: a key, an upstream or a model ("" for none) in one hour.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) struct Slot {
    pub hour_start: i64,
    pub dimension: Dimension,
    pub value: String,
}

/// The start of the UTC hour holding `ms`.
pub(crate) fn hour_of(ms: i64) -> i64 {
    ms.div_euclid(HOUR_MS) * HOUR_MS
}

const COUNTER_COLUMNS: [&str; 12] = [
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
    ]
    .into_iter()
    .chain(c.latency)
    .collect()
}

/// Adds a batch of log records to their hourly rows, inside the batch's transaction.
pub(crate) async fn add_batch(
    tx: &mut Transaction<'_, Any>,
    records: &[LogRecord],
) -> Result<(), sqlx::Error> {
    let mut slots: HashMap<Slot, Counters> = HashMap::new();
    for r in records {
        for dimension in Dimension::ALL {
            let slot = Slot {
                hour_start: hour_of(r.created_at),
                dimension,
                value: dimension.value_of(r),
            };
            slots.entry(slot).or_default().add_record(r);
        }
    }
    let columns = all_counter_columns();
    let placeholders: Vec<String> = (4..4 + columns.len()).map(|i| format!("${i}")).collect();
    let updates: Vec<String> = columns
        .iter()
        .map(|c| format!("{c} = request_stats_hourly.{c} + excluded.{c}"))
        .collect();
    let sql = format!(
        "INSERT INTO request_stats_hourly (hour_start, dimension, value, {}) \
         VALUES ($1, $2, $3, {}) \
         ON CONFLICT (hour_start, dimension, value) DO UPDATE SET {}",
        columns.join(", "),
        placeholders.join(", "),
        updates.join(", ")
    );
    let mut slots: Vec<(Slot, Counters)> = slots.into_iter().collect();
    // A stable order keeps two instances' transactions from locking rows in opposite orders.
    slots.sort_by(|a, b| a.0.cmp(&b.0));
    for (slot, counters) in slots {
        let mut q = sqlx::query(&sql)
            .bind(slot.hour_start)
            .bind(slot.dimension.as_str())
            .bind(slot.value);
        for v in counter_values(&counters) {
            q = q.bind(v);
        }
        q.execute(&mut **tx).await?;
    }
    Ok(())
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
        latency,
    })
}

/// Every counter of one dimension from `since_ms` on, summed per value by the database: one
/// row per key, upstream or model however long the window.
pub(crate) async fn sums_by_value(
    pool: &AnyPool,
    since_ms: i64,
    dimension: Dimension,
) -> Result<Vec<(String, Counters)>, sqlx::Error> {
    use sqlx::Row;
    let sums: Vec<String> = all_counter_columns()
        .iter()
        .map(|c| format!("CAST(SUM({c}) AS BIGINT)"))
        .collect();
    let sql = format!(
        "SELECT value, {} FROM request_stats_hourly \
         WHERE dimension = $1 AND hour_start >= $2 GROUP BY value",
        sums.join(", ")
    );
    let rows = sqlx::query(&sql)
        .bind(dimension.as_str())
        .bind(since_ms)
        .fetch_all(pool)
        .await?;
    rows.iter()
        .map(|row| Ok((row.try_get(0)?, counters_at(row, 1)?)))
        .collect()
}

/// Every counter of one dimension from `since_ms` on, summed by the database into one.
pub(crate) async fn total_since(
    pool: &AnyPool,
    since_ms: i64,
    dimension: Dimension,
) -> Result<Counters, sqlx::Error> {
    let sums: Vec<String> = all_counter_columns()
        .iter()
        .map(|c| format!("CAST(COALESCE(SUM({c}), 0) AS BIGINT)"))
        .collect();
    let sql = format!(
        "SELECT {} FROM request_stats_hourly WHERE dimension = $1 AND hour_start >= $2",
        sums.join(", ")
    );
    let row = sqlx::query(&sql)
        .bind(dimension.as_str())
        .bind(since_ms)
        .fetch_one(pool)
        .await?;
    counters_at(&row, 0)
}

/// Requests and tokens of one dimension per value and step (`step_ms`, a whole number of hours)
/// from `start_ms` on, summed by the database: (value, step index, requests, tokens). Hourly
/// rows from `since_ms` up to `start_ms` come back with a negative index.
pub(crate) async fn per_step(
    pool: &AnyPool,
    dimension: Dimension,
    since_ms: i64,
    start_ms: i64,
    step_ms: i64,
) -> Result<Vec<(String, i64, i64, i64)>, sqlx::Error> {
    // Division truncates toward zero in SQL: offset by 1,000 steps to floor instead.
    sqlx::query_as(
        "SELECT value, (hour_start - $3 + $4 * 1000) / $4 - 1000 AS step, \
         CAST(SUM(requests) AS BIGINT), CAST(SUM(total_tokens) AS BIGINT) \
         FROM request_stats_hourly WHERE dimension = $1 AND hour_start >= $2 \
         GROUP BY value, (hour_start - $3 + $4 * 1000) / $4 - 1000",
    )
    .bind(dimension.as_str())
    .bind(since_ms)
    .bind(start_ms)
    .bind(step_ms)
    .fetch_all(pool)
    .await
}

/// Requests and tokens per value of one dimension from `since_ms` on, summed by the database.
pub(crate) async fn totals_by_value(
    pool: &AnyPool,
    since_ms: i64,
    dimension: Dimension,
) -> Result<Vec<(String, i64, i64)>, sqlx::Error> {
    sqlx::query_as(
        "SELECT value, CAST(SUM(requests) AS BIGINT), CAST(SUM(total_tokens) AS BIGINT) \
         FROM request_stats_hourly WHERE dimension = $1 AND hour_start >= $2 GROUP BY value",
    )
    .bind(dimension.as_str())
    .bind(since_ms)
    .fetch_all(pool)
    .await
}

/// Retention: hourly rows before `cutoff_ms` go with the logs they summarised.
pub(crate) async fn delete_before(pool: &AnyPool, cutoff_ms: i64) -> Result<u64, sqlx::Error> {
    let done = sqlx::query("DELETE FROM request_stats_hourly WHERE hour_start < $1")
        .bind(hour_of(cutoff_ms))
        .execute(pool)
        .await?;
    Ok(done.rows_affected())
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
    fn slots_are_whole_hours_and_none_is_empty() {
        assert_eq!(hour_of(3 * HOUR_MS + 59_999), 3 * HOUR_MS);
        let r = LogRecord {
            api_key_id: Some("k".into()),
            ..LogRecord::default()
        };
        assert_eq!(Dimension::Key.value_of(&r), "k");
        assert_eq!(Dimension::Upstream.value_of(&r), "");
    }
}
