//! Protocol-aware routing: a request goes only to upstreams that speak its path's API format.
use crate::common;

use common::mock_upstream::MockUpstream;
use common::TestApp;
use reqwest::Method;
use serde_json::{json, Value};

const UPSTREAM_KEY: &str = "sk-upstream-secret-0123456789";

/// One model served by an OpenAI-style relay and by an Anthropic upstream: every
/// `/v1/messages` request reaches the Anthropic one and every chat request the relay, whatever
/// the balancer would have chosen.
async fn each_format_reaches_only_upstreams_that_speak_it(app: &TestApp) {
    let relay = MockUpstream::start().await;
    let anthropic = MockUpstream::start().await;
    let relay_id = app
        .upstream(json!({
            "name": "relay", "provider": "openai_compatible", "base_url": relay.base_url,
            "api_key": UPSTREAM_KEY, "allowed_models": ["claude-sonnet-4"]
        }))
        .await;
    let anthropic_id = app
        .upstream(json!({
            "name": "anthropic", "provider": "anthropic", "base_url": anthropic.base_url,
            "api_key": UPSTREAM_KEY, "allowed_models": ["claude-sonnet-4"]
        }))
        .await;
    let (_, key) = app.key(&[&relay_id, &anthropic_id]).await;
    let body = json!({"model": "claude-sonnet-4", "max_tokens": 5,
                      "messages": [{"role": "user", "content": "hi"}]});
    for _ in 0..100 {
        let res = app
            .client
            .post(app.url("/v1/messages"))
            .header("x-api-key", &key)
            .header("anthropic-version", "2023-06-01")
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200);
        res.bytes().await.unwrap();
        let res = app
            .client
            .post(app.url("/v1/chat/completions"))
            .bearer_auth(&key)
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200);
        res.bytes().await.unwrap();
    }
    let paths = |m: &MockUpstream| -> Vec<String> {
        m.received()
            .iter()
            .map(|r| r.path_only().to_string())
            .collect()
    };
    let (to_anthropic, to_relay) = (paths(&anthropic), paths(&relay));
    assert_eq!(to_anthropic.len(), 100);
    assert!(
        to_anthropic.iter().all(|p| p == "/v1/messages"),
        "{to_anthropic:?}"
    );
    assert_eq!(to_relay.len(), 100);
    assert!(
        to_relay.iter().all(|p| p == "/v1/chat/completions"),
        "{to_relay:?}"
    );

    // A relay narrowed to chat completions gets no Responses request: the caller is told,
    // in its own format, which format and model found no upstream.
    let (s, narrowed) = app
        .admin_json(
            Method::PUT,
            &format!("/api/admin/upstreams/{relay_id}"),
            json!({"api_formats": ["chat_completions"]}),
        )
        .await;
    assert_eq!(s, 200, "{narrowed}");
    assert_eq!(narrowed["api_formats"], json!(["chat_completions"]));
    assert_eq!(narrowed["speaks"], json!(["chat_completions"]));
    let res = app
        .client
        .post(app.url("/v1/responses"))
        .bearer_auth(&key)
        .json(&json!({"model": "claude-sonnet-4", "input": "hi"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 404);
    let error: Value = res.json().await.unwrap();
    assert_eq!(error["error"]["code"], "model_not_found", "{error}");
    let message = error["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("responses") && message.contains("claude-sonnet-4"),
        "{message}"
    );
    assert_eq!(
        relay.received().len(),
        100,
        "nothing more reached the relay"
    );

    // Back to the provider's defaults with an empty list; unknown formats are refused.
    let (_, reset) = app
        .admin_json(
            Method::PUT,
            &format!("/api/admin/upstreams/{relay_id}"),
            json!({"api_formats": []}),
        )
        .await;
    assert_eq!(reset["api_formats"], json!([]));
    assert!(reset["speaks"]
        .as_array()
        .unwrap()
        .contains(&json!("responses")));
    let (s, e) = app
        .admin_json(
            Method::PUT,
            &format!("/api/admin/upstreams/{relay_id}"),
            json!({"api_formats": ["smoke_signals"]}),
        )
        .await;
    assert_eq!(s, 400, "{e}");
    assert!(e["error"]["message"]
        .as_str()
        .unwrap()
        .starts_with("api_formats:"));
    let (_, anthropic_view) = app
        .admin_json(
            Method::GET,
            &format!("/api/admin/upstreams/{anthropic_id}"),
            Value::Null,
        )
        .await;
    assert_eq!(anthropic_view["speaks"], json!(["messages"]));
}

private_both_backends!(each_format_reaches_only_upstreams_that_speak_it);

/// Each upstream's own model list is fetched (after it is created, on an interval, on demand),
/// stored and shown; a key's `/v1/models` lists what its upstreams listed that their patterns
/// serve. A failed fetch is recorded and keeps the list it had.
async fn model_lists_come_from_the_upstreams(app: &TestApp) {
    let mock = MockUpstream::start().await;
    mock.update(|k| k.models = vec!["gpt-4.1".into(), "gpt-4o-mini".into(), "whisper-1".into()]);
    let id = app
        .upstream(json!({
            "name": "listed", "provider": "openai", "base_url": mock.base_url,
            "api_key": UPSTREAM_KEY, "allowed_models": ["gpt-*"]
        }))
        .await;
    // Created: its list is fetched in the background, without holding up the answer.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    let found = loop {
        let (_, found) = app
            .admin_json(
                Method::GET,
                &format!("/api/admin/upstreams/{id}/models"),
                Value::Null,
            )
            .await;
        if !found["fetched_at"].is_null() {
            break found;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "never fetched: {found}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    };
    assert_eq!(
        found["models"],
        json!(["gpt-4.1", "gpt-4o-mini", "whisper-1"])
    );
    assert_eq!(found["error"], Value::Null);
    assert_eq!(mock.model_fetches(), 1);
    assert_eq!(mock.hits(), 0, "discovery is not client traffic");

    let (_, key) = app.key(&[&id]).await;
    assert_eq!(
        app.model_ids(&key).await,
        ["gpt-4.1", "gpt-4o-mini"],
        "whisper-1 is outside gpt-*"
    );

    mock.update(|k| k.status = Some(500));
    let (s, failed) = app
        .admin_json(
            Method::POST,
            &format!("/api/admin/upstreams/{id}/models/refresh"),
            Value::Null,
        )
        .await;
    assert_eq!(s, 200, "{failed}");
    assert_eq!(failed["error"], "the upstream answered HTTP 500");
    assert_eq!(
        failed["models"].as_array().unwrap().len(),
        3,
        "the list is kept"
    );
    let (s, _) = app
        .admin_json(
            Method::GET,
            "/api/admin/upstreams/no-such-upstream/models",
            Value::Null,
        )
        .await;
    assert_eq!(s, 404);
}

private_both_backends!(model_lists_come_from_the_upstreams);
