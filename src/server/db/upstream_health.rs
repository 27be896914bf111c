//! Repository for `upstream_health`: the last known health of each upstream.
use sqlx::AnyPool;

#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub(crate) struct HealthRow {
    pub upstream_id: String,
    pub is_healthy: i64,
    pub last_check_at: Option<i64>,
    pub last_success_at: Option<i64>,
    pub consecutive_failures: i64,
    pub latency_ms: Option<i64>,
    pub last_error: Option<String>,
    pub updated_at: i64,
}

const COLUMNS: &str = "upstream_id, is_healthy, last_check_at, last_success_at, \
                       consecutive_failures, latency_ms, last_error, updated_at";

/// Writes all rows in one transaction; rows of upstreams deleted meanwhile are skipped.
pub(crate) async fn upsert_all(pool: &AnyPool, rows: &[HealthRow]) -> Result<(), sqlx::Error> {
    if rows.is_empty() {
        return Ok(());
    }
    let sql = format!(
        "INSERT INTO upstream_health ({COLUMNS}) \
         SELECT $1, $2, $3, $4, $5, $6, $7, $8 WHERE EXISTS (SELECT 1 FROM upstreams WHERE id = $1) \
         ON CONFLICT (upstream_id) DO UPDATE SET is_healthy = excluded.is_healthy, \
         last_check_at = excluded.last_check_at, last_success_at = excluded.last_success_at, \
         consecutive_failures = excluded.consecutive_failures, latency_ms = excluded.latency_ms, \
         last_error = excluded.last_error, updated_at = excluded.updated_at"
    );
    let mut tx = pool.begin().await?;
    for row in rows {
        sqlx::query(&sql)
            .bind(&row.upstream_id)
            .bind(row.is_healthy)
            .bind(row.last_check_at)
            .bind(row.last_success_at)
            .bind(row.consecutive_failures)
            .bind(row.latency_ms)
            .bind(&row.last_error)
            .bind(row.updated_at)
            .execute(&mut *tx)
            .await?;
    }
    tx.commit().await
}

pub(crate) async fn list_all(pool: &AnyPool) -> Result<Vec<HealthRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM upstream_health ORDER BY upstream_id"
    ))
    .fetch_all(pool)
    .await
}
