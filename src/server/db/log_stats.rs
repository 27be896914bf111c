//! Aggregate queries over `request_logs` (portable SQL on both backends).
use sqlx::AnyPool;

/// Requests attributed to one upstream since `since_ms`, and how many it answered below 500.
#[derive(Debug, Clone, Default, PartialEq, Eq, sqlx::FromRow)]
pub(crate) struct UpstreamCounts {
    pub upstream_id: String,
    pub requests: i64,
    pub successes: i64,
}

pub(crate) async fn upstream_counts(
    pool: &AnyPool,
    since_ms: i64,
) -> Result<Vec<UpstreamCounts>, sqlx::Error> {
    sqlx::query_as(
        "SELECT upstream_id, COUNT(*) AS requests, \
         COALESCE(SUM(CASE WHEN status_code < 500 THEN 1 ELSE 0 END), 0) AS successes \
         FROM request_logs WHERE created_at >= $1 AND upstream_id IS NOT NULL \
         GROUP BY upstream_id",
    )
    .bind(since_ms)
    .fetch_all(pool)
    .await
}

/// The nearest-rank percentiles (`ps` in 0..=1) of one upstream's request durations since
/// `since_ms`; one indexed, offset-limited query per percentile.
pub(crate) async fn upstream_duration_percentiles(
    pool: &AnyPool,
    upstream_id: &str,
    since_ms: i64,
    ps: &[f64],
) -> Result<Vec<Option<i64>>, sqlx::Error> {
    let n: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM request_logs \
         WHERE upstream_id = $1 AND created_at >= $2 AND duration_ms IS NOT NULL",
    )
    .bind(upstream_id)
    .bind(since_ms)
    .fetch_one(pool)
    .await?;
    let mut out = Vec::with_capacity(ps.len());
    for &p in ps {
        if n == 0 {
            out.push(None);
            continue;
        }
        let rank = ((p * n as f64).ceil() as i64).clamp(1, n);
        let v: Option<i64> = sqlx::query_scalar(
            "SELECT duration_ms FROM request_logs \
             WHERE upstream_id = $1 AND created_at >= $2 AND duration_ms IS NOT NULL \
             ORDER BY duration_ms LIMIT 1 OFFSET $3",
        )
        .bind(upstream_id)
        .bind(since_ms)
        .bind(rank - 1)
        .fetch_optional(pool)
        .await?;
        out.push(v);
    }
    Ok(out)
}
