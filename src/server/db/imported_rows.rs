//! Repository for `imported_rows`: which rows of another gateway have been copied here, so that
//! an import run twice copies nothing twice.
use std::collections::HashSet;

use sqlx::{AnyPool, Connection};

use super::request_logs::{insert_in, LogRecord};
use super::Database;

/// The kind of the original's request logs.
pub(crate) const REQUEST_LOG: &str = "autorouter_js.request_log";

/// Which of `ids` (of `kind`) have been copied already.
pub(crate) async fn copied(
    pool: &AnyPool,
    kind: &str,
    ids: &[String],
) -> Result<HashSet<String>, sqlx::Error> {
    let mut out = HashSet::new();
    for chunk in ids.chunks(500) {
        let params: Vec<String> = (0..chunk.len()).map(|i| format!("${}", i + 2)).collect();
        let sql = format!(
            "SELECT source_id FROM imported_rows WHERE kind = $1 AND source_id IN ({})",
            params.join(", ")
        );
        let mut q = sqlx::query_scalar::<_, String>(&sql).bind(kind);
        for id in chunk {
            q = q.bind(id.as_str());
        }
        out.extend(q.fetch_all(pool).await?);
    }
    Ok(out)
}

/// Inserts request logs copied from elsewhere, with their counters (as the log writer does)
/// and the marks that they were copied, in one transaction: a batch is copied whole or not at
/// all.
pub(crate) async fn insert_logs(
    db: &Database,
    records: &[LogRecord],
    source_ids: &[String],
    now: i64,
) -> Result<(), sqlx::Error> {
    let mut conn = db.pool.acquire().await?;
    let mut tx = conn.begin().await?;
    insert_in(&mut tx, db.kind, records, None).await?;
    for chunk in source_ids.chunks(300) {
        let rows: Vec<String> = (0..chunk.len())
            .map(|i| format!("($1, ${}, $2)", i + 3))
            .collect();
        let sql = format!(
            "INSERT INTO imported_rows (kind, source_id, imported_at) VALUES {}",
            rows.join(", ")
        );
        let mut q = sqlx::query(&sql).bind(REQUEST_LOG).bind(now);
        for id in chunk {
            q = q.bind(id.as_str());
        }
        q.execute(&mut *tx).await?;
    }
    tx.commit().await
}
