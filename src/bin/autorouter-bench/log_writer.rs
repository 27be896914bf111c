//! The request log writer on its own: sustained rows per second into SQLite and PostgreSQL,
//! through the same `LogWriter` the gateway runs (bounded queue, batched inserts).
use std::time::{Duration, Instant};

use autorouter::server::config::DatabaseKind;
use autorouter::server::db::request_logs::LogRecord;
use autorouter::server::db::Database;
use autorouter::server::proxy::log_writer::LogWriter;
use serde::Serialize;

#[derive(Debug, Clone, Serialize)]
pub struct WriterResult {
    pub backend: &'static str,
    pub rows: u64,
    pub seconds: f64,
    pub rows_per_second: f64,
    pub dropped: u64,
}

pub fn record(i: u64) -> LogRecord {
    LogRecord {
        request_id: uuid::Uuid::now_v7().simple().to_string(),
        api_key_id: Some("bench-key".into()),
        upstream_id: Some("bench-upstream".into()),
        method: "POST".into(),
        path: "/v1/chat/completions".into(),
        model_requested: Some("bench-model".into()),
        model_sent: Some("bench-model".into()),
        status_code: Some(200),
        ttft_ms: Some(3),
        duration_ms: Some(5),
        lb_strategy: Some("weighted".into()),
        failover_attempts: 1,
        created_at: 1_700_000_000_000 + i as i64,
        ..LogRecord::default()
    }
}

/// Feeds `rows` records as fast as the writer takes them (never more than 30,000 queued, so
/// none is dropped) and times until the last one is in the database.
pub async fn sustained(db: Database, backend: &'static str, rows: u64) -> WriterResult {
    let writer = LogWriter::spawn(db);
    let started = Instant::now();
    let mut submitted = 0u64;
    while submitted < rows {
        while submitted < rows && submitted - writer.written() < 30_000 {
            writer.submit(record(submitted));
            submitted += 1;
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    writer.flush().await;
    let seconds = started.elapsed().as_secs_f64();
    WriterResult {
        backend,
        rows: writer.written(),
        seconds,
        rows_per_second: writer.written() as f64 / seconds,
        dropped: writer.dropped(),
    }
}

/// Submits `per_second` records per second to the SQLite database at `url`, forever: the
/// steady second writer, run as its own process (`autorouter-bench paced-writer <url> <rate>`) so
/// its work never shares a runtime with the client that measures latency.
pub async fn paced_forever(url: &str, per_second: u64) {
    let db = Database::connect_url_without_migrations(url, DatabaseKind::Sqlite)
        .await
        .expect("the gateway's SQLite file");
    let writer = LogWriter::spawn(db);
    let mut tick = tokio::time::interval(Duration::from_millis(10));
    let per_tick = per_second / 100;
    let mut i = 10_000_000u64;
    loop {
        tick.tick().await;
        for _ in 0..per_tick {
            writer.submit(record(i));
            i += 1;
        }
    }
}

pub async fn sqlite(dir: &std::path::Path, rows: u64) -> WriterResult {
    let url = format!("sqlite://{}/writer-bench.db", dir.display());
    let db = Database::connect_url(&url, DatabaseKind::Sqlite, 1, 4)
        .await
        .expect("SQLite opens");
    sustained(db, "sqlite", rows).await
}

/// `None` when no PostgreSQL answers at `url`.
pub async fn postgres(url: &str, rows: u64) -> Option<WriterResult> {
    let admin = Database::connect_url_without_migrations(url, DatabaseKind::Postgres)
        .await
        .ok()?;
    let schema = format!("ar_bench_{}", std::process::id());
    sqlx::query(&format!("CREATE SCHEMA {schema}"))
        .execute(&admin.pool)
        .await
        .ok()?;
    let sep = if url.contains('?') { '&' } else { '?' };
    let scoped = format!("{url}{sep}options=-c%20search_path%3D{schema}");
    let result = match Database::connect_url(&scoped, DatabaseKind::Postgres, 1, 4).await {
        Ok(db) => Some(sustained(db, "postgres", rows).await),
        Err(e) => {
            eprintln!("PostgreSQL writer benchmark skipped: {e}");
            None
        }
    };
    let _ = sqlx::query(&format!("DROP SCHEMA {schema} CASCADE"))
        .execute(&admin.pool)
        .await;
    result
}
