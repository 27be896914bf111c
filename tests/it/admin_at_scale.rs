//! What the admin reads does not grow with traffic: the log list counts only as far as it
//! serves, and the upstream health window comes from the hourly counters. (How fast at ten
//! million rows is measured by `scripts/bench_scale.py`, not asserted here.)
use crate::common;

use autorouter::server::db::request_logs::{insert_batch, LogRecord};
use common::{now_ms, TestApp};
use reqwest::Method;
use serde_json::{json, Value};

async fn get(app: &TestApp, path: &str) -> (u16, Value) {
    app.admin_json(Method::GET, path, Value::Null).await
}

fn record(i: i64, status: i64, created_at: i64) -> LogRecord {
    LogRecord {
        request_id: format!("r{i}"),
        api_key_id: Some(format!("key-{}", i % 3)),
        upstream_id: Some("upstream-x".into()),
        method: "POST".into(),
        path: "/v1/chat/completions".into(),
        model_requested: Some("m".into()),
        status_code: Some(status),
        duration_ms: Some(100),
        created_at,
        ..LogRecord::default()
    }
}

/// Past 10,000 matching rows the list says "at least 10,000" and refuses pages beyond; a
/// filter that matches fewer is counted exactly, and error rows are found among many others.
async fn the_log_list_counts_as_far_as_it_serves(app: &TestApp) {
    let start = now_ms() - 3_600_000;
    let rows: Vec<LogRecord> = (0..10_050)
        .map(|i| record(i, if i % 1_000 == 7 { 502 } else { 200 }, start + i))
        .collect();
    for chunk in rows.chunks(2_000) {
        insert_batch(&app.state.db, chunk).await.unwrap();
    }

    let (s, page) = get(app, "/api/admin/logs?page_size=100").await;
    assert_eq!(s, 200, "{page}");
    assert_eq!(
        (&page["total"], &page["total_exact"], &page["total_pages"]),
        (&json!(10_000), &json!(false), &json!(100))
    );
    assert_eq!(page["items"][0]["request_id"], "r10049", "newest first");

    let (s, last) = get(app, "/api/admin/logs?page=100&page_size=100").await;
    assert_eq!(s, 200, "{last}");
    assert_eq!(last["items"].as_array().unwrap().len(), 100);
    let (s, beyond) = get(app, "/api/admin/logs?page=101&page_size=100").await;
    assert_eq!(s, 400, "{beyond}");
    assert_eq!(beyond["error"]["type"], "invalid_request");
    assert!(
        beyond["error"]["message"]
            .as_str()
            .unwrap()
            .starts_with("page:"),
        "{beyond}"
    );

    let (s, errors) = get(app, "/api/admin/logs?status=5xx").await;
    assert_eq!(s, 200, "{errors}");
    assert_eq!(
        (&errors["total"], &errors["total_exact"]),
        (&json!(11), &json!(true))
    );
    let ids: Vec<&str> = errors["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["request_id"].as_str().unwrap())
        .collect();
    assert_eq!(ids.first(), Some(&"r10007"));
    assert_eq!(ids.last(), Some(&"r7"));
    let (_, exact) = get(app, "/api/admin/logs?status=502&api_key_id=key-1").await;
    // Of 7, 1007, ..., 10007, those with i % 3 == 1: 7, 3007, 6007, 9007.
    assert_eq!(exact["total"], 4, "{exact}");
    let (_, ok) = get(app, "/api/admin/logs?status=2xx").await;
    assert_eq!(
        (&ok["total"], &ok["total_exact"]),
        (&json!(10_000), &json!(false))
    );
}

both_backends!(the_log_list_counts_as_far_as_it_serves);

/// The health window's availability counts every answer below 500 (a 404 is the caller's
/// fault), its percentiles are latency-bucket bounds, and rows before the window's first hour
/// are left out.
async fn upstream_health_is_read_from_the_hourly_counters(app: &TestApp) {
    let id = app
        .upstream(json!({
            "name": "counted", "provider": "openai",
            "base_url": "https://api.openai.com/v1", "api_key": "sk-counted-0123456789"
        }))
        .await;
    let now = now_ms();
    let mut rows = Vec::new();
    for (i, (status, duration)) in [
        (200, 20),
        (200, 20),
        (200, 40),
        (200, 40),
        (200, 90),
        (200, 90),
        (404, 90),
        (404, 180),
        (502, 2_500),
        (503, 9_000),
    ]
    .into_iter()
    .enumerate()
    {
        rows.push(LogRecord {
            upstream_id: Some(id.clone()),
            duration_ms: Some(duration),
            ..record(i as i64, status, now - 1_000)
        });
    }
    // Three hours back: inside 24 hours, outside a one-hour window.
    rows.push(LogRecord {
        upstream_id: Some(id.clone()),
        ..record(99, 500, now - 3 * 3_600_000)
    });
    insert_batch(&app.state.db, &rows).await.unwrap();

    let window = |all: &Value| {
        all.as_array()
            .unwrap()
            .iter()
            .find(|h| h["upstream_id"] == id.as_str())
            .unwrap()["window"]
            .clone()
    };
    let (s, all) = get(app, "/api/admin/upstreams/health?window_hours=1").await;
    assert_eq!(s, 200, "{all}");
    let w = window(&all);
    assert_eq!(
        (&w["requests"], &w["successes"], &w["availability_percent"]),
        (&json!(10), &json!(8), &json!(80.0)),
        "{w}"
    );
    // Durations 20 20 40 40 90 90 90 180 2500 9000: the 5th falls in the <= 100 ms bucket, the
    // 10th (p95, p99) in the <= 10 s one.
    assert_eq!(
        (&w["p50_ms"], &w["p95_ms"], &w["p99_ms"]),
        (&json!(100), &json!(10_000), &json!(10_000)),
        "{w}"
    );
    let (_, all) = get(app, "/api/admin/upstreams/health?window_hours=24").await;
    let w = window(&all);
    assert_eq!((&w["requests"], &w["successes"]), (&json!(11), &json!(8)));
}

both_backends!(upstream_health_is_read_from_the_hourly_counters);

/// A dashboard east or west of UTC gets the same daily series whether its days are read from
/// the hourly rows or from the UTC daily rows with the hours that cross a local midnight moved:
/// every hour counts in the local day its start falls in.
async fn local_days_match_the_hours_they_hold(app: &TestApp) {
    const HOUR: i64 = 3_600_000;
    const DAY: i64 = 24 * HOUR;
    let id = app
        .upstream(json!({
            "name": "zoned", "provider": "openai",
            "base_url": "https://api.openai.com/v1", "api_key": "sk-zoned-0123456789"
        }))
        .await;
    let today = now_ms().div_euclid(DAY) * DAY;
    let mut rows = Vec::new();
    for day in 1..=5i64 {
        for hour in [0i64, 3, 5, 7, 8, 15, 16, 17, 18, 23] {
            let created_at = today - day * DAY + hour * HOUR + 10 * 60_000;
            rows.push(LogRecord {
                upstream_id: Some(id.clone()),
                usage: autorouter::model::usage::Usage {
                    total_tokens: day * 100 + hour,
                    ..Default::default()
                },
                ..record(day * 100 + hour, 200, created_at)
            });
        }
    }
    insert_batch(&app.state.db, &rows).await.unwrap();

    for offset_minutes in [0i64, 480, 330, -300, -720, 840] {
        let now = now_ms();
        let offset = offset_minutes * 60_000;
        let start = (now + offset).div_euclid(DAY) * DAY - 6 * DAY - offset;
        let mut tokens = [0i64; 7];
        let mut requests = [0i64; 7];
        for r in &rows {
            let hour_start = r.created_at.div_euclid(HOUR) * HOUR;
            let i = (hour_start - start).div_euclid(DAY);
            if (0..7).contains(&i) {
                tokens[i as usize] += r.usage.total_tokens;
                requests[i as usize] += 1;
            }
        }
        let (s, body) = get(
            app,
            &format!("/api/admin/stats/timeseries?range=7d&tz_offset_minutes={offset_minutes}"),
        )
        .await;
        assert_eq!(s, 200, "{body}");
        let series = body["series"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["upstream_id"] == id.as_str())
            .unwrap_or_else(|| panic!("no series for the upstream: {body}"));
        assert_eq!(series["tokens"], json!(tokens), "offset {offset_minutes}");
        assert_eq!(
            series["requests"],
            json!(requests),
            "offset {offset_minutes}"
        );
    }
}

both_backends!(local_days_match_the_hours_they_hold);
