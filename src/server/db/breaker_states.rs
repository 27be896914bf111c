//! Repository for `circuit_breaker_states`: the persisted side of each upstream's breaker.
use sqlx::AnyPool;

#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub(crate) struct BreakerRow {
    pub upstream_id: String,
    pub state: String,
    pub failure_count: i64,
    pub success_count: i64,
    pub last_failure_at: Option<i64>,
    pub opened_at: Option<i64>,
    pub last_probe_at: Option<i64>,
    pub forced: Option<String>,
    pub updated_at: i64,
}

const COLUMNS: &str = "upstream_id, state, failure_count, success_count, last_failure_at, \
                       opened_at, last_probe_at, forced, updated_at";

/// Inserts or replaces the row. A row for an upstream deleted meanwhile is skipped, not an error.
pub(crate) async fn upsert(pool: &AnyPool, row: &BreakerRow) -> Result<(), sqlx::Error> {
    let sql = format!(
        "INSERT INTO circuit_breaker_states ({COLUMNS}) \
         SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9 WHERE EXISTS (SELECT 1 FROM upstreams WHERE id = $1) \
         ON CONFLICT (upstream_id) DO UPDATE SET state = excluded.state, \
         failure_count = excluded.failure_count, success_count = excluded.success_count, \
         last_failure_at = excluded.last_failure_at, opened_at = excluded.opened_at, \
         last_probe_at = excluded.last_probe_at, forced = excluded.forced, updated_at = excluded.updated_at"
    );
    sqlx::query(&sql)
        .bind(&row.upstream_id)
        .bind(&row.state)
        .bind(row.failure_count)
        .bind(row.success_count)
        .bind(row.last_failure_at)
        .bind(row.opened_at)
        .bind(row.last_probe_at)
        .bind(&row.forced)
        .bind(row.updated_at)
        .execute(pool)
        .await?;
    Ok(())
}

pub(crate) async fn list_all(pool: &AnyPool) -> Result<Vec<BreakerRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM circuit_breaker_states ORDER BY upstream_id"
    ))
    .fetch_all(pool)
    .await
}
