//! Sticky sessions: the turns of an agent's session go to the upstream that served it last.
use crate::common;

use common::mock_upstream::MockUpstream;
use common::TestApp;
use reqwest::Method;
use serde_json::{json, Value};

const UPSTREAM_KEY: &str = "sk-upstream-secret-0123456789";

async fn turn(app: &TestApp, key: &str, session: &str) -> u16 {
    // Claude Code names its session inside metadata.user_id.
    let res = app
        .client
        .post(app.url("/v1/messages"))
        .header("x-api-key", key)
        .header("anthropic-version", "2023-06-01")
        .json(&json!({
            "model": "claude-sonnet-4", "max_tokens": 5,
            "metadata": {"user_id": format!("user_1a_account_2b_session_{session}")},
            "messages": [{"role": "user", "content": "hi"}]
        }))
        .send()
        .await
        .unwrap();
    let status = res.status().as_u16();
    res.bytes().await.unwrap();
    status
}

async fn pair(app: &TestApp) -> (MockUpstream, MockUpstream, String) {
    let (a, b) = (MockUpstream::start().await, MockUpstream::start().await);
    let mut ids = Vec::new();
    for (name, mock) in [("a", &a), ("b", &b)] {
        ids.push(
            app.upstream(json!({
                "name": name, "provider": "anthropic", "base_url": mock.base_url,
                "api_key": UPSTREAM_KEY,
                "circuit_breaker": {"failure_threshold": 1, "open_duration_ms": 600000}
            }))
            .await,
        );
    }
    let (s, _) = app
        .admin_json(
            Method::PUT,
            "/api/admin/settings",
            json!({"lb_strategy": "round_robin"}),
        )
        .await;
    assert_eq!(s, 200);
    let (_, key) = app.key(&[&ids[0], &ids[1]]).await;
    (a, b, key)
}

/// Twenty turns of a session over two equal upstreams (round robin) reach one upstream only;
/// when that one fails, the session moves once and stays where it moved, even after the first
/// recovers. The log rows carry the session's
/// digest, whether each stuck, and the logs list filters by it.
async fn a_session_stays_on_one_upstream_and_moves_once(app: &TestApp) {
    let (a, b, key) = pair(app).await;
    for _ in 0..20 {
        assert_eq!(turn(app, &key, "6a1e0c2f").await, 200);
    }
    let (first, second) = if a.hits() == 20 { (&a, &b) } else { (&b, &a) };
    assert_eq!((first.hits(), second.hits()), (20, 0));

    first.update(|k| k.status = Some(500));
    for _ in 0..10 {
        assert_eq!(turn(app, &key, "6a1e0c2f").await, 200);
    }
    assert_eq!(first.hits(), 21, "tried once, then its breaker opened");
    assert_eq!(second.hits(), 10);
    first.update(|k| k.status = None);
    for _ in 0..5 {
        assert_eq!(turn(app, &key, "6a1e0c2f").await, 200);
    }
    assert_eq!(
        (first.hits(), second.hits()),
        (21, 15),
        "it stays where it moved"
    );

    let logs = app.logs(35).await;
    let session = logs[0]["session_id"].as_str().unwrap().to_string();
    assert_eq!(session.len(), 16);
    assert!(logs.iter().all(|l| l["session_id"] == session.as_str()));
    let stuck = logs.iter().filter(|l| l["sticky"] == true).count();
    // The first turn and the one that moved chose anew.
    assert_eq!(stuck, 33, "{logs:?}");
    let (_, page) = app
        .admin_json(
            Method::GET,
            &format!("/api/admin/logs?session={session}&page_size=5"),
            Value::Null,
        )
        .await;
    assert_eq!(page["total"], 35, "{page}");
    let (_, none) = app
        .admin_json(
            Method::GET,
            "/api/admin/logs?session=0000000000000000",
            Value::Null,
        )
        .await;
    assert_eq!(none["total"], 0);
    let (_, overview) = app
        .admin_json(Method::GET, "/api/admin/stats/overview", Value::Null)
        .await;
    assert_eq!(overview["session_requests"], 35, "{overview}");
    let share = overview["sticky_share_percent"].as_f64().unwrap();
    assert!((share - 33.0 * 100.0 / 35.0).abs() < 1e-9, "{overview}");

    // A request without a session carries none, and no sticky flag.
    let res = app
        .client
        .post(app.url("/v1/messages"))
        .header("x-api-key", &key)
        .header("anthropic-version", "2023-06-01")
        .json(&json!({"model": "claude-sonnet-4", "max_tokens": 5,
                      "messages": [{"role": "user", "content": "hi"}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    res.bytes().await.unwrap();
    let logs = app.logs(36).await;
    assert_eq!(
        (&logs[0]["session_id"], &logs[0]["sticky"]),
        (&Value::Null, &Value::Null)
    );
}

private_both_backends!(a_session_stays_on_one_upstream_and_moves_once);

/// Two instances sharing PostgreSQL and Redis keep one session on one upstream, whichever
/// instance each turn reaches.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_keep_a_session_on_one_upstream_postgres() {
    let url = common::redis::redis_url();
    let env = [
        ("ALLOW_PRIVATE_UPSTREAMS", "true"),
        ("REDIS_URL", url.as_str()),
    ];
    let one = TestApp::spawn_with(common::Backend::Postgres, &env).await;
    let two = one.another_instance(&env).await;
    let (a, b, key) = pair(&one).await;
    two.state.plane.reload().await;
    for i in 0..20 {
        let app = if i % 2 == 0 { &one } else { &two };
        assert_eq!(turn(app, &key, "019a77c3").await, 200);
    }
    assert!(
        (a.hits(), b.hits()) == (20, 0) || (a.hits(), b.hits()) == (0, 20),
        "{} / {}",
        a.hits(),
        b.hits()
    );
    two.cleanup().await;
    one.cleanup().await;
}
