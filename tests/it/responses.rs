//! Stored Responses objects: `previous_response_id` and `/v1/responses/{id}` (GET, DELETE,
//! `/input_items`, `/cancel`) reach the upstream that made the response, for the key that made
//! it only.
use crate::common;

use common::mock_upstream::{Knobs, MockUpstream};
use common::TestApp;
use reqwest::Method;
use serde_json::{json, Value};

const UPSTREAM_KEY: &str = "sk-upstream-secret-0123456789";

/// Two equal OpenAI upstreams, balanced round robin, each giving its responses its own ids,
/// and two keys that may use both.
async fn pair(app: &TestApp) -> (MockUpstream, MockUpstream, String, String) {
    let knobs = || Knobs {
        unique_response_ids: true,
        ..Knobs::default()
    };
    let (a, b) = (
        MockUpstream::start_with(knobs()).await,
        MockUpstream::start_with(knobs()).await,
    );
    let mut ids = Vec::new();
    for (name, mock) in [("a", &a), ("b", &b)] {
        ids.push(
            app.upstream(json!({
                "name": name, "provider": "openai", "base_url": mock.base_url,
                "api_key": UPSTREAM_KEY,
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
    let (_, other) = app.key(&[&ids[0], &ids[1]]).await;
    (a, b, key, other)
}

/// Makes a response, streamed or not, and returns its id as the client saw it.
async fn create(app: &TestApp, key: &str, stream: bool, previous: Option<&str>) -> String {
    let mut body = json!({"model": "gpt-4o-mini", "input": "hi", "stream": stream});
    if let Some(previous) = previous {
        body["previous_response_id"] = json!(previous);
    }
    let res = app
        .client
        .post(app.url("/v1/responses"))
        .bearer_auth(key)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let text = res.text().await.unwrap();
    if !stream {
        let v: Value = serde_json::from_str(&text).unwrap();
        return v["id"].as_str().unwrap().to_string();
    }
    let created = text
        .lines()
        .filter_map(|l| l.strip_prefix("data: "))
        .filter_map(|d| serde_json::from_str::<Value>(d).ok())
        .find(|e| e["type"] == "response.created")
        .expect("a response.created event");
    created["response"]["id"].as_str().unwrap().to_string()
}

async fn call(app: &TestApp, key: &str, method: Method, path: &str) -> (u16, Value) {
    let res = app
        .client
        .request(method, app.url(path))
        .bearer_auth(key)
        .send()
        .await
        .unwrap();
    let status = res.status().as_u16();
    (status, res.json().await.unwrap_or(Value::Null))
}

/// Which of the two mocks made `id`.
fn maker<'a>(id: &str, a: &'a MockUpstream, b: &'a MockUpstream) -> &'a MockUpstream {
    match (
        a.responses_made().iter().any(|m| m == id),
        b.responses_made().iter().any(|m| m == id),
    ) {
        (true, false) => a,
        (false, true) => b,
        other => panic!("{id} made by {other:?}"),
    }
}

async fn stored_responses_reach_the_upstream_that_made_them(app: &TestApp) {
    let (a, b, key, other) = pair(app).await;
    // Round robin spreads four creations over both upstreams.
    let mut made = Vec::new();
    for stream in [false, true, false, true] {
        made.push(create(app, &key, stream, None).await);
    }
    assert_eq!((a.hits(), b.hits()), (2, 2));
    for id in &made {
        let owner = maker(id, &a, &b);
        let before = owner.hits();
        let total = a.hits() + b.hits();
        for _ in 0..3 {
            let (status, got) = call(app, &key, Method::GET, &format!("/v1/responses/{id}")).await;
            assert_eq!((status, got["id"].as_str()), (200, Some(id.as_str())));
        }
        let (status, items) = call(
            app,
            &key,
            Method::GET,
            &format!("/v1/responses/{id}/input_items"),
        )
        .await;
        assert_eq!((status, &items["object"]), (200, &json!("list")));
        let (status, cancelled) = call(
            app,
            &key,
            Method::POST,
            &format!("/v1/responses/{id}/cancel"),
        )
        .await;
        assert_eq!((status, &cancelled["status"]), (200, &json!("cancelled")));
        let (status, deleted) =
            call(app, &key, Method::DELETE, &format!("/v1/responses/{id}")).await;
        assert_eq!((status, &deleted["deleted"]), (200, &json!(true)));
        assert_eq!(owner.hits(), before + 6, "every call reached the maker");
        assert_eq!(a.hits() + b.hits(), total + 6, "and no other upstream");
        let seen = owner.received();
        let last = &seen[seen.len() - 6..];
        assert_eq!(
            last.iter()
                .map(|r| format!("{} {}", r.method, r.path))
                .collect::<Vec<_>>()[3..],
            [
                format!("GET /v1/responses/{id}/input_items"),
                format!("POST /v1/responses/{id}/cancel"),
                format!("DELETE /v1/responses/{id}"),
            ]
        );
        assert_eq!(
            last[0].header("authorization"),
            Some(format!("Bearer {UPSTREAM_KEY}").as_str()),
            "the upstream gets its own key"
        );
    }

    // Another key, an unknown id and a malformed one: 404 in OpenAI's shape, no upstream asked.
    let hits = a.hits() + b.hits();
    let (status, error) = call(
        app,
        &other,
        Method::GET,
        &format!("/v1/responses/{}", made[0]),
    )
    .await;
    assert_eq!(status, 404, "{error}");
    assert_eq!(error["error"]["type"], "invalid_request_error");
    assert!(error["error"]["message"]
        .as_str()
        .unwrap()
        .contains(made[0].as_str()));
    let (status, _) = call(app, &key, Method::GET, "/v1/responses/resp_never_made").await;
    assert_eq!(status, 404);
    let (status, _) = call(app, &key, Method::GET, "/v1/responses/resp%2e%2e").await;
    assert_eq!(status, 404);
    assert_eq!(a.hits() + b.hits(), hits);

    // Continuing a response goes to its maker, turn after turn, though round robin alternates.
    let mut previous = made[0].clone();
    let owner = maker(&previous, &a, &b);
    let before = owner.hits();
    for turn in 0..10 {
        previous = create(app, &key, turn % 2 == 1, Some(&previous)).await;
        assert!(owner.responses_made().contains(&previous));
    }
    assert_eq!(owner.hits(), before + 10);
    let logs = app.logs(4 + 24 + 3 + 10).await;
    let turns = &logs[..10];
    assert!(
        turns.iter().all(|l| l["sticky"] == true
            && l["session_id"].as_str().is_some_and(|s| s.len() == 16)),
        "{turns:?}"
    );
    // A stored object's usage was counted when it was made: reading it costs nothing.
    let reads: Vec<&Value> = logs
        .iter()
        .filter(|l| {
            l["method"] == "GET"
                && l["status_code"] == 200
                && l["path"].as_str().unwrap().starts_with("/v1/responses/")
        })
        .collect();
    assert_eq!(reads.len(), 16, "12 GETs and 4 input_items lists");
    assert!(reads
        .iter()
        .all(|l| l["prompt_tokens"].as_i64().unwrap_or(0) == 0
            && l["cost_usd"].is_null()
            && l["model_requested"].is_null()));
}

private_both_backends!(stored_responses_reach_the_upstream_that_made_them);

/// Two instances sharing PostgreSQL and Redis: a response made through one is found through
/// the other.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_response_made_on_one_instance_is_found_on_another_postgres() {
    let url = common::redis::redis_url();
    let env = [
        ("ALLOW_PRIVATE_UPSTREAMS", "true"),
        ("REDIS_URL", url.as_str()),
    ];
    let one = TestApp::spawn_with(common::Backend::Postgres, &env).await;
    let two = one.another_instance(&env).await;
    let (a, b, key, _) = pair(&one).await;
    two.state.plane.reload().await;
    for stream in [false, true] {
        let id = create(&one, &key, stream, None).await;
        let owner_hits = maker(&id, &a, &b).hits();
        // The maker is shared in the background: allow it a moment to land.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(3);
        loop {
            let (status, got) = call(&two, &key, Method::GET, &format!("/v1/responses/{id}")).await;
            if status == 200 {
                assert_eq!(got["id"], id.as_str());
                break;
            }
            assert!(std::time::Instant::now() < deadline, "{status} {got}");
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        assert_eq!(maker(&id, &a, &b).hits(), owner_hits + 1);
        let next = create(&two, &key, false, Some(&id)).await;
        assert!(maker(&id, &a, &b).responses_made().contains(&next));
    }
    two.cleanup().await;
    one.cleanup().await;
}
