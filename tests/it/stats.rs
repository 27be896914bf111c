//! Dashboard statistics over real HTTP on SQLite and PostgreSQL: the figures follow the requests
//! sent through the gateway, old logs are counted after the upgrade, and fifty thousand logged
//! requests over thirty days are all counted.
use crate::common;

use std::time::Instant;

use autorouter::server::config::DatabaseKind;
use autorouter::server::db::request_logs::{insert_batch, LogRecord};
use autorouter::server::db::Database;
use autorouter::server::proxy::usage::Usage;
use common::mock_upstream::MockUpstream;
use common::{now_ms, Backend, TestApp};
use reqwest::Method;
use serde_json::{json, Value};

const UPSTREAM_KEY: &str = "sk-upstream-real-secret-0123456789";

async fn send(app: &TestApp, key: Option<&str>, model: &str) -> u16 {
    let mut req = app
        .client
        .post(app.url("/v1/chat/completions"))
        .json(&json!({"model": model, "messages": []}));
    if let Some(k) = key {
        req = req.bearer_auth(k);
    }
    req.send().await.unwrap().status().as_u16()
}

async fn stats(app: &TestApp, path: &str) -> Value {
    let (status, body) = app.admin_json(Method::GET, path, json!({})).await;
    assert_eq!(status, 200, "{path}: {body}");
    body
}

fn rows_by_name(list: &Value) -> Vec<(String, u64)> {
    list.as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["name"].as_str().unwrap().to_string(),
                r["requests"].as_u64().unwrap(),
            )
        })
        .collect()
}

async fn figures_follow_the_requests(app: &TestApp) {
    let a = MockUpstream::start().await;
    let b = MockUpstream::start().await;
    let general = app
        .upstream(json!({"name": "general", "provider": "openai", "base_url": a.base_url, "api_key": UPSTREAM_KEY}))
        .await;
    let special = app
        .upstream(json!({"name": "special", "provider": "openai", "base_url": b.base_url, "api_key": UPSTREAM_KEY,
                         "allowed_models": ["special-model"]}))
        .await;
    let (_, first) = app.key(&[&general]).await;
    let (second_id, second) = app.key(&[&general, &special]).await;
    app.admin_json(
        Method::PUT,
        &format!("/api/admin/keys/{second_id}"),
        json!({"name": "second key"}),
    )
    .await;

    for _ in 0..3 {
        assert_eq!(send(app, Some(&first), "gpt-4o-mini").await, 200);
    }
    for _ in 0..2 {
        assert_eq!(send(app, Some(&second), "special-model").await, 200);
        assert_eq!(send(app, Some(&second), "no-such-model").await, 404);
    }
    // Refused for want of a key: counted, not logged, so not in the figures either.
    assert_eq!(send(app, None, "gpt-4o-mini").await, 401);
    let logs = app.logs(7).await;
    assert_eq!(logs.len(), 7);
    let tokens: u64 = logs
        .iter()
        .map(|l| l["total_tokens"].as_u64().unwrap())
        .sum();
    assert!(tokens > 0);

    let o = stats(app, "/api/admin/stats/overview?range=today").await;
    assert_eq!(o["range"], "today");
    assert_eq!(o["requests"], 7);
    let rate = o["success_rate_percent"].as_f64().unwrap();
    assert!((rate - 500.0 / 7.0).abs() < 1e-9, "{o}");
    assert_eq!(o["total_tokens"], tokens);
    assert!(o["avg_duration_ms"].as_f64().is_some());
    assert!(o["p95_duration_ms"].as_i64().unwrap() >= 25, "{o}");
    assert!(o["avg_ttfb_ms"].as_f64().is_some());

    let t = stats(app, "/api/admin/stats/timeseries?range=today").await;
    assert_eq!(t["granularity"], "hour");
    let buckets = t["buckets"].as_array().unwrap().len();
    let hours_today = (std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        % 86_400)
        / 3_600
        + 1;
    assert_eq!(buckets as u64, hours_today);
    let series = t["series"].as_array().unwrap();
    let per_upstream: Vec<(String, u64)> = series
        .iter()
        .map(|s| {
            let requests = s["requests"].as_array().unwrap();
            assert_eq!(requests.len(), buckets);
            (
                s["upstream_name"].as_str().unwrap().to_string(),
                requests.iter().map(|v| v.as_u64().unwrap()).sum(),
            )
        })
        .collect();
    assert_eq!(
        per_upstream,
        vec![
            ("general".into(), 3),
            ("special".into(), 2),
            (String::new(), 2)
        ],
        "by requests, with the refused requests (no upstream) last"
    );
    assert_eq!(series[0]["upstream_id"], general.as_str());
    assert_eq!(series[2]["upstream_id"], Value::Null);

    let week = stats(app, "/api/admin/stats/timeseries?range=7d").await;
    assert_eq!(week["granularity"], "day");
    assert_eq!(week["buckets"].as_array().unwrap().len(), 7);
    assert_eq!(week["series"][0]["requests"][6], 3, "today is the last day");

    // Ties go to the one with more tokens: the refused model has none.
    let l = stats(app, "/api/admin/stats/leaderboard?range=30d&limit=2").await;
    assert_eq!(
        rows_by_name(&l["keys"]),
        vec![("second key".into(), 4), ("test key".into(), 3)]
    );
    assert_eq!(rows_by_name(&l["upstreams"]).len(), 2);
    assert_eq!(rows_by_name(&l["upstreams"])[0], ("general".into(), 3));
    assert_eq!(
        rows_by_name(&l["models"]),
        vec![("gpt-4o-mini".into(), 3), ("special-model".into(), 2)]
    );

    for bad in [
        "/api/admin/stats/overview?range=week",
        "/api/admin/stats/timeseries?tz_offset_minutes=900",
        "/api/admin/stats/leaderboard?limit=0",
    ] {
        let (s, e) = app.admin_json(Method::GET, bad, json!({})).await;
        assert_eq!(
            (s, e["error"]["type"].as_str()),
            (400, Some("invalid_request")),
            "{bad}"
        );
    }
}

private_both_backends!(figures_follow_the_requests);

/// Fifty thousand logged requests over 30 days (20 keys, 5 upstreams, 10 models) are all
/// counted. How fast the figures come back at scale is measured, not asserted here: a shared
/// 2-core machine makes a wall-clock bound a coin toss.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_logged_request_over_thirty_days_is_counted() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let db = Database::connect_url_without_migrations(&app.database_url, DatabaseKind::Sqlite)
        .await
        .unwrap();
    let total: i64 = 50_000;
    // From the first millisecond of the 30-day range (29 days before today, UTC) to now.
    let day = 24 * 3_600_000i64;
    let start = now_ms().div_euclid(day) * day - 29 * day;
    let span = now_ms() - start - 1_000;
    let seeding = Instant::now();
    let mut batch = Vec::with_capacity(10_000);
    for i in 0..total {
        batch.push(LogRecord {
            request_id: format!("r{i}"),
            api_key_id: Some(format!("key-{}", i % 20)),
            upstream_id: Some(format!("upstream-{}", i % 5)),
            method: "POST".into(),
            path: "/v1/chat/completions".into(),
            model_requested: Some(format!("model-{}", i % 10)),
            status_code: Some(if i % 50 == 0 { 502 } else { 200 }),
            usage: Usage {
                total_tokens: 100,
                ..Usage::default()
            },
            duration_ms: Some(100 + i % 900),
            ttft_ms: Some(50),
            created_at: start + span * i / total,
            ..LogRecord::default()
        });
        if batch.len() == 10_000 {
            insert_batch(&db, &batch).await.unwrap();
            batch.clear();
        }
    }
    eprintln!("seeded {total} log rows in {:?}", seeding.elapsed());
    db.pool.close().await;

    for path in [
        "/api/admin/stats/overview?range=30d",
        "/api/admin/stats/timeseries?range=30d",
        "/api/admin/stats/leaderboard?range=30d",
        "/api/admin/stats/timeseries?range=today",
    ] {
        let t = Instant::now();
        let body = stats(&app, path).await;
        eprintln!("{path}: {:?}", t.elapsed());
        if path.contains("overview") {
            assert_eq!(body["requests"], total, "every row is counted");
            let rate = body["success_rate_percent"].as_f64().unwrap();
            assert!((rate - 98.0).abs() < 1e-9, "{body}");
            assert_eq!(body["avg_ttft_ms"], 50.0);
        }
        if path.contains("leaderboard") {
            assert_eq!(body["models"][0]["requests"], total / 10, "{body}");
            assert_eq!(body["upstreams"][0]["requests"], total / 5, "{body}");
        }
    }
    app.cleanup().await;
}

/// Logs written before the statistics table existed are counted by the migration that adds it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_upgrade_counts_earlier_logs() {
    let dir = std::env::temp_dir().join(format!("autorouter_upgrade_{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let url = format!("sqlite://{}/old.db", dir.display());
    let db = Database::connect_url_without_migrations(&url, DatabaseKind::Sqlite)
        .await
        .unwrap();
    // Only the first migration, as a gateway from before this change left the database.
    let first_only = dir.join("migrations");
    std::fs::create_dir_all(&first_only).unwrap();
    std::fs::copy(
        concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/migrations/sqlite/0001_initial.sql"
        ),
        first_only.join("0001_initial.sql"),
    )
    .unwrap();
    let old = sqlx::migrate::Migrator::new(first_only.as_path())
        .await
        .unwrap();
    old.run(&db.pool).await.unwrap();
    for (i, (status, tokens)) in [(200, 10), (200, 20), (404, 0), (500, 0)]
        .into_iter()
        .enumerate()
    {
        sqlx::query(
            "INSERT INTO request_logs (request_id, api_key_id, upstream_id, method, path, \
             model_requested, status_code, total_tokens, duration_ms, created_at) \
             VALUES ($1, 'k', 'u', 'POST', '/v1/chat/completions', 'm', $2, $3, 40, $4)",
        )
        .bind(format!("old-{i}"))
        .bind(status)
        .bind(tokens)
        .bind(now_ms() - 1_000)
        .execute(&db.pool)
        .await
        .unwrap();
    }
    db.migrate().await.unwrap();
    // 0008 counts the answers below 500 (the 404 too) that health's availability reads.
    let rows: Vec<(String, String, i64, i64, i64, i64)> = sqlx::query_as(
        "SELECT dimension, value, requests, successes, below_500, total_tokens \
         FROM request_stats_hourly ORDER BY dimension",
    )
    .fetch_all(&db.pool)
    .await
    .unwrap();
    assert_eq!(
        rows,
        vec![
            ("key".into(), "k".into(), 4, 2, 3, 30),
            ("model".into(), "m".into(), 4, 2, 3, 30),
            ("upstream".into(), "u".into(), 4, 2, 3, 30),
        ]
    );
    // 0009 sums the hourly rows into daily ones.
    let days: Vec<(String, i64, i64, i64)> = sqlx::query_as(
        "SELECT dimension, requests, below_500, total_tokens FROM request_stats_daily \
         ORDER BY dimension",
    )
    .fetch_all(&db.pool)
    .await
    .unwrap();
    assert_eq!(
        days,
        vec![
            ("key".into(), 4, 3, 30),
            ("model".into(), 4, 3, 30),
            ("upstream".into(), 4, 3, 30),
        ]
    );
    db.pool.close().await;
    let _ = std::fs::remove_dir_all(&dir);
}

/// Before migration 0007 `ttft_ms` held the time to the first byte: the migration moves it to
/// `ttfb_ms` (rows and hourly counters), so an old row does not claim a first-token time.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn first_byte_times_logged_before_the_split_become_ttfb() {
    let dir = std::env::temp_dir().join(format!("autorouter_ttfb_{}", std::process::id()));
    let before = dir.join("migrations");
    std::fs::create_dir_all(&before).unwrap();
    let all = concat!(env!("CARGO_MANIFEST_DIR"), "/migrations/sqlite");
    for entry in std::fs::read_dir(all).unwrap() {
        let entry = entry.unwrap();
        let name = entry.file_name().into_string().unwrap();
        if name.as_str() < "0007" {
            std::fs::copy(entry.path(), before.join(&name)).unwrap();
        }
    }
    let url = format!("sqlite://{}/old.db", dir.display());
    let db = Database::connect_url_without_migrations(&url, DatabaseKind::Sqlite)
        .await
        .unwrap();
    sqlx::migrate::Migrator::new(before.as_path())
        .await
        .unwrap()
        .run(&db.pool)
        .await
        .unwrap();
    sqlx::query(
        "INSERT INTO request_logs (request_id, method, path, status_code, ttft_ms, duration_ms, created_at) \
         VALUES ('old', 'POST', '/v1/chat/completions', 200, 120, 900, $1)",
    )
    .bind(now_ms())
    .execute(&db.pool)
    .await
    .unwrap();
    sqlx::query(
        "INSERT INTO request_stats_hourly (hour_start, dimension, value, requests, ttft_ms_sum, ttft_count) \
         VALUES (0, 'model', 'm', 1, 120, 1)",
    )
    .execute(&db.pool)
    .await
    .unwrap();
    db.migrate().await.unwrap();
    let row: (Option<i64>, Option<i64>) =
        sqlx::query_as("SELECT ttfb_ms, ttft_ms FROM request_logs WHERE request_id = 'old'")
            .fetch_one(&db.pool)
            .await
            .unwrap();
    assert_eq!(row, (Some(120), None));
    let counters: (i64, i64, i64, i64) = sqlx::query_as(
        "SELECT ttfb_ms_sum, ttfb_count, ttft_ms_sum, ttft_count FROM request_stats_hourly",
    )
    .fetch_one(&db.pool)
    .await
    .unwrap();
    assert_eq!(counters, (120, 1, 0, 0));
    db.pool.close().await;
    let _ = std::fs::remove_dir_all(&dir);
}
