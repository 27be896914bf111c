//! Resilience over real HTTP on SQLite and PostgreSQL: the balancing strategy setting, breakers
//! persisted and shared between instances, admin overrides, active health checks, log retention,
//! and the chaos run (one upstream killed, one slowed, the dead one restarted).
use crate::common;

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use autorouter::server::config::DatabaseKind;
use autorouter::server::db::request_logs::{insert_batch, LogRecord};
use autorouter::server::db::Database;
use autorouter::server::proxy::usage::Usage;
use common::mock_upstream::{self as mock, MockUpstream};
use common::{now_ms, Backend, TestApp};
use reqwest::Method;
use serde_json::{json, Value};

const UPSTREAM_KEY: &str = "sk-upstream-real-secret-0123456789";

async fn chat(app: &TestApp, key: &str) -> reqwest::Response {
    app.client
        .post(app.url("/v1/chat/completions"))
        .bearer_auth(key)
        .json(&json!({"model": "gpt-4o-mini", "messages": []}))
        .send()
        .await
        .unwrap()
}

async fn openai_upstream(app: &TestApp, name: &str, mock: &MockUpstream, extra: Value) -> String {
    let mut body = json!({"name": name, "provider": "openai", "base_url": mock.base_url,
                          "api_key": UPSTREAM_KEY, "timeout_ms": 1000});
    for (k, v) in extra.as_object().unwrap() {
        body[k] = v.clone();
    }
    app.upstream(body).await
}

async fn put_settings(app: &TestApp, body: Value) -> (u16, Value) {
    app.admin_json(Method::PUT, "/api/admin/settings", body)
        .await
}

async fn admin(app: &TestApp, method: Method, path: &str) -> (u16, Value) {
    app.admin_json(method, path, json!({})).await
}

/// Polls `check` every 100 ms until it holds; panics with `what` after `limit`.
async fn eventually<F, Fut>(limit: Duration, what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + limit;
    while !check().await {
        assert!(Instant::now() < deadline, "timed out waiting for: {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn request_id(res: &reqwest::Response) -> String {
    res.headers()["x-request-id"].to_str().unwrap().to_string()
}

async fn strategy_and_attempt_limit_are_run_time_settings(app: &TestApp) {
    let (s, defaults) = admin(app, Method::GET, "/api/admin/settings").await;
    assert_eq!(s, 200);
    assert_eq!(
        defaults,
        json!({"lb_strategy": "weighted", "max_attempts": 3, "health_check_interval_seconds": 30})
    );
    for (bad, field) in [
        (json!({"lb_strategy": "random"}), "lb_strategy"),
        (json!({"max_attempts": 0}), "max_attempts"),
        (json!({"max_attempts": 11}), "max_attempts"),
        (
            json!({"health_check_interval_seconds": 86401}),
            "health_check_interval_seconds",
        ),
        (json!({"colour": "blue"}), "colour"),
    ] {
        let (s, e) = put_settings(app, bad.clone()).await;
        assert_eq!(s, 400, "{bad}");
        assert_eq!(e["error"]["type"], "invalid_request");
        assert!(
            e["error"]["message"].as_str().unwrap().contains(field),
            "{e}"
        );
    }

    let light = MockUpstream::start().await;
    let heavy = MockUpstream::start().await;
    let light_id = openai_upstream(app, "light", &light, json!({"weight": 1})).await;
    let heavy_id = openai_upstream(app, "heavy", &heavy, json!({"weight": 3})).await;
    let (_, key) = app.key(&[&light_id, &heavy_id]).await;

    let mut sent = 0;
    for (strategy, light_share) in [("round_robin", 4), ("weighted", 2)] {
        let (s, now) = put_settings(app, json!({"lb_strategy": strategy})).await;
        assert_eq!(s, 200);
        assert_eq!(now["lb_strategy"], strategy);
        assert_eq!(now["max_attempts"], 3, "a partial update keeps the rest");
        light.clear_received();
        heavy.clear_received();
        for _ in 0..8 {
            assert_eq!(chat(app, &key).await.status(), 200);
        }
        sent += 8;
        assert_eq!(
            (light.hits(), heavy.hits()),
            (light_share, 8 - light_share),
            "{strategy} over weights 1:3"
        );
    }
    put_settings(app, json!({"lb_strategy": "least_connections"})).await;
    assert_eq!(chat(app, &key).await.status(), 200);
    sent += 1;
    let logs = app.logs(sent).await;
    let mut by_strategy: HashMap<String, usize> = HashMap::new();
    for row in &logs {
        *by_strategy
            .entry(row["lb_strategy"].as_str().unwrap().to_string())
            .or_default() += 1;
    }
    assert_eq!(by_strategy["round_robin"], 8);
    assert_eq!(by_strategy["weighted"], 8);
    assert_eq!(by_strategy["least_connections"], 1);

    // One attempt only: a failing first choice is returned as the final error.
    let (_, now) = put_settings(
        app,
        json!({"max_attempts": 1, "lb_strategy": "round_robin"}),
    )
    .await;
    assert_eq!(now["max_attempts"], 1);
    light.update(|k| k.status = Some(500));
    heavy.update(|k| k.status = Some(500));
    light.clear_received();
    heavy.clear_received();
    let res = chat(app, &key).await;
    assert_eq!(res.status(), 502);
    assert_eq!(light.hits() + heavy.hits(), 1, "never a second attempt");
    put_settings(app, json!({"max_attempts": 2})).await;
    let res = chat(app, &key).await;
    assert_eq!(res.status(), 502);
    assert_eq!(
        light.hits() + heavy.hits(),
        3,
        "two attempts, on two upstreams"
    );
}

async fn breaker_overrides_apply_on_the_next_request_and_survive_a_restart(app: &TestApp) {
    let a = MockUpstream::start().await;
    let b = MockUpstream::start().await;
    let a_id = openai_upstream(app, "a", &a, json!({"priority": 0})).await;
    let b_id = openai_upstream(app, "b", &b, json!({"priority": 1})).await;
    let (_, key) = app.key(&[&a_id, &b_id]).await;

    let (s, list) = admin(app, Method::GET, "/api/admin/circuit-breakers").await;
    assert_eq!(s, 200);
    let names: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["upstream_name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["a", "b"]);
    assert_eq!(list[0]["state"], "closed");
    assert_eq!(list[0]["forced"], Value::Null);
    assert_eq!(list[0]["config"]["failure_threshold"], 5);

    assert_eq!(chat(app, &key).await.status(), 200);
    assert_eq!(a.hits(), 1);

    let (s, opened) = admin(
        app,
        Method::POST,
        &format!("/api/admin/circuit-breakers/{a_id}/force-open"),
    )
    .await;
    assert_eq!(s, 200, "{opened}");
    assert_eq!(opened["state"], "open");
    assert_eq!(opened["forced"], "open");
    let res = chat(app, &key).await;
    assert_eq!(res.status(), 200);
    let skipped = request_id(&res);
    assert_eq!(a.hits(), 1, "a forced-open upstream is not contacted");
    assert_eq!(b.hits(), 1);
    let logs = app.logs(2).await;
    let row = logs.iter().find(|l| l["request_id"] == skipped).unwrap();
    assert_eq!(row["failover_history"][0]["error_type"], "breaker_open");
    assert_eq!(row["upstream_id"], b_id.as_str());

    // The override is persisted: a restarted gateway still holds it.
    let restarted = app
        .another_instance(&[("ALLOW_PRIVATE_UPSTREAMS", "true")])
        .await;
    let (_, seen) = admin(
        &restarted,
        Method::GET,
        &format!("/api/admin/circuit-breakers/{a_id}"),
    )
    .await;
    assert_eq!(
        (seen["state"].as_str(), seen["forced"].as_str()),
        (Some("open"), Some("open"))
    );
    assert_eq!(chat(&restarted, &key).await.status(), 200);
    assert_eq!(a.hits(), 1);

    let (s, closed) = admin(
        app,
        Method::POST,
        &format!("/api/admin/circuit-breakers/{a_id}/force-close"),
    )
    .await;
    assert_eq!(s, 200);
    assert_eq!(closed["state"], "closed");
    assert_eq!(closed["forced"], Value::Null);
    assert_eq!(chat(app, &key).await.status(), 200);
    assert_eq!(a.hits(), 2, "back in rotation on the next request");

    // Errors are JSON with the right status.
    let (s, e) = admin(app, Method::GET, "/api/admin/circuit-breakers/nope").await;
    assert_eq!((s, e["error"]["type"].as_str()), (404, Some("not_found")));
    let (s, _) = admin(
        app,
        Method::POST,
        "/api/admin/circuit-breakers/nope/force-open",
    )
    .await;
    assert_eq!(s, 404);
    let (s, e) = admin(
        app,
        Method::DELETE,
        &format!("/api/admin/circuit-breakers/{a_id}"),
    )
    .await;
    assert_eq!(
        (s, e["error"]["type"].as_str()),
        (405, Some("method_not_allowed"))
    );
    let res = app
        .client
        .get(app.url("/api/admin/circuit-breakers"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
}

async fn breaker_changes_reach_other_instances_within_seconds(app: &TestApp) {
    let other = app
        .another_instance(&[("ALLOW_PRIVATE_UPSTREAMS", "true")])
        .await;
    let a = MockUpstream::start().await;
    let b = MockUpstream::start().await;
    let a_id = openai_upstream(
        app,
        "a",
        &a,
        json!({"priority": 0, "circuit_breaker": {"failure_threshold": 2, "open_duration_ms": 60000}}),
    )
    .await;
    let b_id = openai_upstream(app, "b", &b, json!({"priority": 1})).await;
    let (_, key) = app.key(&[&a_id, &b_id]).await;
    // The other instance learns about the new upstream and key through its routing refresh.
    eventually(
        Duration::from_secs(10),
        "the other instance routes the new key",
        || async { chat(&other, &key).await.status() == 200 },
    )
    .await;

    // `a` fails on the first instance until its breaker opens; the open state is persisted and
    // the other instance stops contacting `a` without having seen a single failure itself.
    a.update(|k| k.status = Some(500));
    for _ in 0..2 {
        assert_eq!(chat(app, &key).await.status(), 200);
    }
    let (_, here) = admin(
        app,
        Method::GET,
        &format!("/api/admin/circuit-breakers/{a_id}"),
    )
    .await;
    assert_eq!(here["state"], "open");
    let started = Instant::now();
    eventually(
        Duration::from_secs(5),
        "the other instance adopts the open breaker",
        || async {
            let (_, seen) = admin(
                &other,
                Method::GET,
                &format!("/api/admin/circuit-breakers/{a_id}"),
            )
            .await;
            seen["state"] == "open"
        },
    )
    .await;
    let adopted_in = started.elapsed();
    a.clear_received();
    assert_eq!(chat(&other, &key).await.status(), 200);
    assert_eq!(a.hits(), 0, "the other instance skips the open upstream");

    // A force-close on the other instance reaches the first one.
    a.reset();
    let (s, _) = admin(
        &other,
        Method::POST,
        &format!("/api/admin/circuit-breakers/{a_id}/force-close"),
    )
    .await;
    assert_eq!(s, 200);
    eventually(
        Duration::from_secs(5),
        "the first instance adopts the force-close",
        || async {
            let (_, seen) = admin(
                app,
                Method::GET,
                &format!("/api/admin/circuit-breakers/{a_id}"),
            )
            .await;
            seen["state"] == "closed"
        },
    )
    .await;
    assert_eq!(chat(app, &key).await.status(), 200);
    assert_eq!(a.hits(), 1, "back in rotation on the first instance");
    eprintln!("open breaker adopted by the other instance in {adopted_in:?}");
}

async fn health_checks_mark_an_upstream_down_and_back_up(app: &TestApp) {
    let a = MockUpstream::start().await;
    let b = MockUpstream::start().await;
    let a_id = openai_upstream(
        app,
        "a",
        &a,
        json!({"circuit_breaker": {"failure_threshold": 100}}),
    )
    .await;
    let b_id = openai_upstream(app, "b", &b, json!({})).await;
    let (_, key) = app.key(&[&a_id, &b_id]).await;
    let health_of = |name: &'static str| async move {
        let (s, list) = admin(app, Method::GET, "/api/admin/upstreams/health").await;
        assert_eq!(s, 200, "{list}");
        list.as_array()
            .unwrap()
            .iter()
            .find(|h| h["upstream_name"] == name)
            .cloned()
            .unwrap()
    };
    assert_eq!(
        health_of("a").await["healthy"],
        Value::Null,
        "nothing known yet"
    );

    // On demand: every active upstream is probed once.
    let (s, results) = admin(app, Method::POST, "/api/admin/upstreams/health/check").await;
    assert_eq!(s, 200);
    assert_eq!(results.as_array().unwrap().len(), 2);
    assert_eq!(results[0]["healthy"], true, "{results}");
    assert_eq!(a.health_checks(), 1);
    assert_eq!(a.hits(), 0, "probes are not client traffic");
    let h = health_of("a").await;
    assert_eq!(h["healthy"], true);
    assert!(
        h["latency_ms"].is_u64() && h["last_check_at"].is_string(),
        "{h}"
    );

    // In the background, every second.
    let (s, _) = put_settings(app, json!({"health_check_interval_seconds": 1})).await;
    assert_eq!(s, 200);
    let addr = a.addr;
    a.stop().await;
    eventually(
        Duration::from_secs(8),
        "the checker marks the dead upstream down",
        || async { health_of("a").await["healthy"] == false },
    )
    .await;
    let h = health_of("a").await;
    assert!(h["consecutive_failures"].as_u64().unwrap() >= 2);
    assert!(h["last_error"].is_string());

    // Unhealthy upstreams are tried after healthy ones: no request even tries `a` first.
    put_settings(app, json!({"lb_strategy": "round_robin"})).await;
    for _ in 0..4 {
        let res = chat(app, &key).await;
        assert_eq!(res.status(), 200);
    }
    let logs = app.logs(4).await;
    for row in &logs {
        assert_eq!(row["failover_attempts"], 1, "{row}");
        assert_eq!(row["upstream_id"], b_id.as_str());
    }

    let a = MockUpstream::start_at(addr, mock::Knobs::default()).await;
    eventually(
        Duration::from_secs(8),
        "the checker marks the restarted upstream up",
        || async { health_of("a").await["healthy"] == true },
    )
    .await;
    assert!(a.health_checks() >= 1);
    let before = a.hits();
    for _ in 0..4 {
        assert_eq!(chat(app, &key).await.status(), 200);
    }
    assert!(a.hits() > before, "back in rotation");

    // The log window: availability and percentiles of what each upstream handled.
    let b_health = health_of("b").await;
    let w = &b_health["window"];
    assert_eq!(w["hours"], 24);
    assert!(w["requests"].as_u64().unwrap() >= 4, "{w}");
    assert_eq!(w["availability_percent"], 100.0);
    let (p50, p95, p99) = (
        w["p50_ms"].as_u64().unwrap(),
        w["p95_ms"].as_u64().unwrap(),
        w["p99_ms"].as_u64().unwrap(),
    );
    assert!(p50 <= p95 && p95 <= p99, "{w}");
    let (s, e) = admin(
        app,
        Method::GET,
        "/api/admin/upstreams/health?window_hours=0",
    )
    .await;
    assert_eq!(
        (s, e["error"]["type"].as_str()),
        (400, Some("invalid_request"))
    );
}

/// A connection pool of the app's own database, for seeding and reading rows directly.
async fn database_of(app: &TestApp) -> Database {
    let kind = match app.backend {
        Backend::Sqlite => DatabaseKind::Sqlite,
        Backend::Postgres => DatabaseKind::Postgres,
    };
    Database::connect_url_without_migrations(&app.database_url, kind)
        .await
        .unwrap()
}

async fn retention_deletes_only_old_rows(app: &TestApp) {
    let db = database_of(app).await;
    let now = now_ms();
    let day = 24 * 3600 * 1000;
    let record = |id: String, created_at: i64| LogRecord {
        request_id: id,
        method: "POST".into(),
        path: "/v1/chat/completions".into(),
        created_at,
        ..LogRecord::default()
    };
    // More old rows than one delete batch, a row just inside the window, and recent rows.
    let mut rows: Vec<LogRecord> = (0..2_500)
        .map(|i| record(format!("old-{i}"), now - 40 * day - i))
        .collect();
    rows.push(record("edge".into(), now - 29 * day));
    rows.extend((0..3).map(|i| record(format!("new-{i}"), now - i)));
    insert_batch(&db, &rows).await.unwrap();

    // A gateway started with a 30-day retention purges at start, then daily.
    let _gateway = app.another_instance(&[("LOG_RETENTION_DAYS", "30")]).await;
    let count = |sql: &'static str| {
        let pool = db.pool.clone();
        async move {
            sqlx::query_scalar::<_, i64>(sql)
                .fetch_one(&pool)
                .await
                .unwrap()
        }
    };
    eventually(Duration::from_secs(15), "old rows are purged", || async {
        count("SELECT COUNT(*) FROM request_logs WHERE request_id LIKE 'old-%'").await == 0
    })
    .await;
    assert_eq!(
        count("SELECT COUNT(*) FROM request_logs WHERE request_id NOT LIKE 'old-%'").await,
        4,
        "rows inside the retention window stay"
    );
    db.pool.close().await;
}

/// A batch is cut into statements of a few fixed sizes; whatever its length, every row lands
/// once, with its own values.
async fn log_batches_of_any_length_are_stored_whole(app: &TestApp) {
    let db = database_of(app).await;
    // Recent rows: the app's own start-up retention pass may run while they are inserted, and
    // must find nothing of theirs to purge.
    let base = now_ms() - 3_600_000;
    let mut expected = Vec::new();
    for (b, len) in [1usize, 7, 9, 48, 249].into_iter().enumerate() {
        let rows: Vec<LogRecord> = (0..len)
            .map(|i| LogRecord {
                request_id: format!("batch-{b}-row-{i}"),
                method: "POST".into(),
                path: "/v1/chat/completions".into(),
                model_requested: Some(format!("model-{}", i % 3)),
                status_code: Some(200 + (i % 2) as i64),
                usage: Usage {
                    prompt_tokens: i as i64,
                    completion_tokens: 2 * i as i64,
                    ..Usage::default()
                },
                duration_ms: Some(b as i64 * 1_000 + i as i64),
                created_at: base + (b * 1_000 + i) as i64,
                ..LogRecord::default()
            })
            .collect();
        insert_batch(&db, &rows).await.unwrap();
        expected.extend(rows.into_iter().map(|r| {
            (
                r.request_id,
                r.model_requested.unwrap(),
                r.status_code.unwrap(),
                r.usage.prompt_tokens,
                r.usage.completion_tokens,
                r.duration_ms.unwrap(),
                r.created_at,
            )
        }));
    }
    let stored: Vec<(String, String, i64, i64, i64, i64, i64)> = sqlx::query_as(
        "SELECT request_id, model_requested, status_code, prompt_tokens, completion_tokens, \
         duration_ms, created_at FROM request_logs WHERE request_id LIKE 'batch-%' ORDER BY created_at",
    )
    .fetch_all(&db.pool)
    .await
    .unwrap();
    assert_eq!(stored.len(), 1 + 7 + 9 + 48 + 249);
    assert_eq!(stored, expected);
    db.pool.close().await;
}

/// The "done when" run: three upstreams under steady load; one is killed and one slowed past
/// its timeout. Clients see no failure (three attempts cover two bad upstreams), the logs show
/// the failovers, the dead one's breaker opens, and once restarted it is back in rotation by
/// itself.
async fn chaos_one_dead_one_slow_then_recovery(app: &TestApp) {
    // Breakers alone here (active checks off): a check that marked the dead upstream down first
    // would keep traffic away from it before its breaker could open. Checks and breakers
    // together are covered by `health_checks_mark_an_upstream_down_and_back_up`.
    put_settings(app, json!({"health_check_interval_seconds": 0})).await;
    let breaker = json!({"failure_threshold": 3, "success_threshold": 2, "open_duration_ms": 1000, "half_open_max_probes": 1});
    let mocks = [
        MockUpstream::start().await,
        MockUpstream::start().await,
        MockUpstream::start().await,
    ];
    let mut ids = Vec::new();
    for (name, m) in ["dead", "slow", "steady"].iter().zip(&mocks) {
        ids.push(openai_upstream(app, name, m, json!({"circuit_breaker": breaker})).await);
    }
    let [dead, slow, steady] = mocks;
    let (_, key) = app
        .key(&ids.iter().map(String::as_str).collect::<Vec<_>>())
        .await;
    let dead_addr = dead.addr;

    let stop = Arc::new(AtomicBool::new(false));
    let ok = Arc::new(AtomicUsize::new(0));
    let failed = Arc::new(Mutex::new(Vec::<String>::new()));
    let mut clients = Vec::new();
    for _ in 0..4 {
        let (stop, ok, failed) = (stop.clone(), ok.clone(), failed.clone());
        let (client, url, key) = (
            app.client.clone(),
            app.url("/v1/chat/completions"),
            key.clone(),
        );
        clients.push(tokio::spawn(async move {
            while !stop.load(Ordering::SeqCst) {
                let res = client
                    .post(&url)
                    .bearer_auth(&key)
                    .json(&json!({"model": "gpt-4o-mini", "messages": []}))
                    .send()
                    .await;
                match res {
                    Ok(r) if r.status() == 200 => match r.text().await {
                        Ok(_) => {
                            ok.fetch_add(1, Ordering::SeqCst);
                        }
                        Err(e) => failed.lock().unwrap().push(format!("body: {e}")),
                    },
                    Ok(r) => failed.lock().unwrap().push(format!("HTTP {}", r.status())),
                    Err(e) => failed.lock().unwrap().push(e.to_string()),
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }));
    }
    let breaker_state = |id: String| async move {
        let (_, b) = admin(
            app,
            Method::GET,
            &format!("/api/admin/circuit-breakers/{id}"),
        )
        .await;
        b["state"].as_str().unwrap().to_string()
    };

    eventually(Duration::from_secs(5), "all three in rotation", || async {
        dead.hits() > 0 && slow.hits() > 0 && steady.hits() > 0
    })
    .await;
    dead.stop().await;
    slow.update(|k| k.latency_ms = 1_500);
    eventually(
        Duration::from_secs(10),
        "the dead upstream's breaker opens",
        || {
            let state = breaker_state(ids[0].clone());
            async move { state.await == "open" }
        },
    )
    .await;
    // Until the log shows both: a request that timed out on the slow upstream and one that
    // skipped the dead upstream's open breaker.
    eventually(
        Duration::from_secs(10),
        "a timeout on the slow upstream and a skip of the open breaker are logged",
        || async {
            let (_, page) = admin(app, Method::GET, "/api/admin/logs?page_size=100").await;
            let seen = |name: &str, kind: &str| {
                page["items"].as_array().into_iter().flatten().any(|row| {
                    row["failover_history"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .any(|h| h["upstream_name"] == name && h["error_type"] == kind)
                })
            };
            seen("slow", "timeout") && seen("dead", "breaker_open")
        },
    )
    .await;

    // Restart the dead one and heal the slow one; nobody touches the gateway.
    let dead = MockUpstream::start_at(dead_addr, mock::Knobs::default()).await;
    slow.update(|k| k.latency_ms = 0);
    eventually(
        Duration::from_secs(15),
        "the restarted upstream takes traffic again",
        || async { dead.hits() >= 5 },
    )
    .await;
    eventually(Duration::from_secs(10), "its breaker closes", || {
        let state = breaker_state(ids[0].clone());
        async move { state.await == "closed" }
    })
    .await;
    stop.store(true, Ordering::SeqCst);
    for c in clients {
        c.await.unwrap();
    }

    let failed = failed.lock().unwrap().clone();
    let served = ok.load(Ordering::SeqCst);
    assert!(failed.is_empty(), "client-visible failures: {failed:?}");
    // The run lasts as long as the events take (no fixed sleeps): tens of requests, not hundreds.
    assert!(served >= 20, "steady load: {served} requests");

    // The logs show failovers away from both bad upstreams.
    let (_, page) = admin(app, Method::GET, "/api/admin/logs?page_size=100&status=200").await;
    let total = page["total"].as_u64().unwrap() as usize;
    let mut kinds: HashMap<String, usize> = HashMap::new();
    for p in 1..=total.div_ceil(100) {
        let (_, page) = admin(
            app,
            Method::GET,
            &format!("/api/admin/logs?page_size=100&page={p}"),
        )
        .await;
        for row in page["items"].as_array().unwrap() {
            for h in row["failover_history"].as_array().into_iter().flatten() {
                let key = format!(
                    "{}:{}",
                    h["upstream_name"].as_str().unwrap(),
                    h["error_type"].as_str().unwrap()
                );
                *kinds.entry(key).or_default() += 1;
            }
        }
    }
    assert!(
        kinds.get("dead:connect").copied().unwrap_or(0) >= 3,
        "{kinds:?}"
    );
    assert!(
        kinds.get("slow:timeout").copied().unwrap_or(0) >= 1,
        "{kinds:?}"
    );
    assert!(
        kinds.get("dead:breaker_open").copied().unwrap_or(0) >= 1,
        "{kinds:?}"
    );
    eprintln!("chaos: {served} requests served, failover history: {kinds:?}");
}

private_both_backends!(
    strategy_and_attempt_limit_are_run_time_settings,
    breaker_overrides_apply_on_the_next_request_and_survive_a_restart,
    breaker_changes_reach_other_instances_within_seconds,
    health_checks_mark_an_upstream_down_and_back_up,
    retention_deletes_only_old_rows,
    log_batches_of_any_length_are_stored_whole,
    chaos_one_dead_one_slow_then_recovery,
);

/// The log writer keeps one connection of its own; when the database drops it (a restart, an
/// idle timeout, an operator's `pg_terminate_backend`), the next attempt takes a new one and no
/// row is lost.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn log_writer_replaces_a_connection_postgres_dropped() {
    let app = TestApp::spawn(Backend::Postgres).await;
    let name = format!("ar_writer_{}", std::process::id());
    let url = format!("{}&application_name={name}", app.database_url);
    let db = Database::connect_url_without_migrations(&url, DatabaseKind::Postgres)
        .await
        .unwrap();
    let writer = autorouter::server::proxy::log_writer::LogWriter::spawn(db.clone());
    let record = |id: &str| LogRecord {
        request_id: id.into(),
        method: "POST".into(),
        path: "/v1/chat/completions".into(),
        // Recent, so the app's start-up retention pass cannot purge it mid-test.
        created_at: now_ms(),
        ..LogRecord::default()
    };
    writer.submit(record("before"));
    writer.flush().await;
    assert_eq!(writer.written(), 1);

    let admin = Database::connect_url_without_migrations(
        &common::postgres_base_url(),
        DatabaseKind::Postgres,
    )
    .await
    .unwrap();
    let killed: Vec<bool> = sqlx::query_scalar(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1",
    )
    .bind(&name)
    .fetch_all(&admin.pool)
    .await
    .unwrap();
    assert!(
        !killed.is_empty() && killed.iter().all(|k| *k),
        "the writer's connection was terminated: {killed:?}"
    );

    writer.submit(record("after"));
    writer.flush().await;
    assert_eq!(writer.written(), 2, "the row after the drop is stored");
    let ids: Vec<String> =
        sqlx::query_scalar("SELECT request_id FROM request_logs ORDER BY request_id")
            .fetch_all(&db.pool)
            .await
            .unwrap();
    assert_eq!(ids, ["after", "before"]);
    admin.pool.close().await;
    db.pool.close().await;
    app.cleanup().await;
}
