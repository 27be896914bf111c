//! Spend control from the admin's side: limits on keys and upstreams are stored, checked and
//! shown; the allow-list of models refuses the way providers refuse; spend is read from the
//! counters the log writer keeps.
use crate::common;

use autorouter::server::db::request_logs::{insert_batch, LogRecord};
use common::mock_upstream::MockUpstream;
use common::{now_ms, TestApp};
use reqwest::Method;
use serde_json::{json, Value};

const UPSTREAM_KEY: &str = "sk-upstream-secret-0123456789";

async fn two_upstreams(app: &TestApp) -> (MockUpstream, String, String) {
    let mock = MockUpstream::start().await;
    let openai = app
        .upstream(json!({
            "name": "oa", "provider": "openai", "base_url": mock.base_url, "api_key": UPSTREAM_KEY,
            "allowed_models": ["gpt-4o-mini", "gpt-*"]
        }))
        .await;
    let anthropic = app
        .upstream(json!({
            "name": "an", "provider": "anthropic", "base_url": mock.base_url, "api_key": UPSTREAM_KEY,
            "allowed_models": ["claude-sonnet-4", "claude-*"]
        }))
        .await;
    (mock, openai, anthropic)
}

/// Limits round-trip through create, read and edit; an edit replaces them whole; bad values are
/// refused naming their field.
async fn key_and_upstream_limits_are_stored_and_checked(app: &TestApp) {
    let (_mock, openai, _) = two_upstreams(app).await;
    let limits = json!({
        "allowed_models": ["claude-*", " gpt-4o-mini "], "rpm": 10, "tpm": 5000,
        "max_concurrent": 2, "daily_budget_usd": 1.25, "monthly_budget_usd": 30
    });
    let (s, key) = app
        .admin_json(
            Method::POST,
            "/api/admin/keys",
            json!({"name": "limited", "upstream_ids": [openai], "limits": limits}),
        )
        .await;
    assert_eq!(s, 201, "{key}");
    let id = key["id"].as_str().unwrap();
    assert_eq!(
        key["limits"],
        json!({
            "allowed_models": ["claude-*", "gpt-4o-mini"], "rpm": 10, "tpm": 5000,
            "max_concurrent": 2, "daily_budget_usd": 1.25, "monthly_budget_usd": 30.0
        })
    );
    assert_eq!(key["spend"], json!({"today_usd": 0.0, "month_usd": 0.0}));

    let (s, edited) = app
        .admin_json(
            Method::PUT,
            &format!("/api/admin/keys/{id}"),
            json!({"limits": {"rpm": 3}}),
        )
        .await;
    assert_eq!(s, 200, "{edited}");
    assert_eq!(
        edited["limits"],
        json!({"allowed_models": [], "rpm": 3, "tpm": null, "max_concurrent": null,
               "daily_budget_usd": null, "monthly_budget_usd": null})
    );
    let (_, name_only) = app
        .admin_json(
            Method::PUT,
            &format!("/api/admin/keys/{id}"),
            json!({"name": "renamed"}),
        )
        .await;
    assert_eq!(name_only["limits"]["rpm"], 3, "a left-out `limits` is kept");

    for (bad, field) in [
        (json!({"rpm": 0}), "limits.rpm"),
        (json!({"max_concurrent": 100001}), "limits.max_concurrent"),
        (json!({"daily_budget_usd": -1}), "limits.daily_budget_usd"),
        (
            json!({"allowed_models": ["has space"]}),
            "limits.allowed_models",
        ),
    ] {
        let (s, e) = app
            .admin_json(
                Method::PUT,
                &format!("/api/admin/keys/{id}"),
                json!({ "limits": bad }),
            )
            .await;
        assert_eq!(s, 400, "{e}");
        assert_eq!(e["error"]["type"], "invalid_request");
        let message = e["error"]["message"].as_str().unwrap();
        assert!(message.starts_with(&format!("{field}:")), "{message}");
    }
    let (s, e) = app
        .admin_json(
            Method::PUT,
            &format!("/api/admin/keys/{id}"),
            json!({"limits": {"rpm": 5, "burst": 9}}),
        )
        .await;
    assert_eq!(s, 400, "unknown limit fields are refused: {e}");

    let (s, up) = app
        .admin_json(
            Method::PUT,
            &format!("/api/admin/upstreams/{openai}"),
            json!({"limits": {"max_concurrent": 4, "rpm": 600, "monthly_quota_usd": 99.5},
                   "price_multiplier": 0.8}),
        )
        .await;
    assert_eq!(s, 200, "{up}");
    assert_eq!(
        up["limits"],
        json!({"max_concurrent": 4, "rpm": 600, "monthly_quota_usd": 99.5})
    );
    assert_eq!(up["price_multiplier"], 0.8);
    assert_eq!(up["spend_month_usd"], 0.0);
    let (s, e) = app
        .admin_json(
            Method::PUT,
            &format!("/api/admin/upstreams/{openai}"),
            json!({"price_multiplier": 101}),
        )
        .await;
    assert_eq!(s, 400, "{e}");
    assert!(e["error"]["message"]
        .as_str()
        .unwrap()
        .starts_with("price_multiplier:"));
}

private_both_backends!(key_and_upstream_limits_are_stored_and_checked);

/// A key allowed `claude-*` only is refused `gpt-4o-mini` as the provider refuses a model the
/// caller may not use (404 `model_not_found`), the refusal is logged with its reason, and its
/// model list names no GPT model.
async fn the_model_allow_list_refuses_and_hides(app: &TestApp) {
    let (mock, openai, anthropic) = two_upstreams(app).await;
    let (s, key) = app
        .admin_json(
            Method::POST,
            "/api/admin/keys",
            json!({"name": "claude only", "upstream_ids": [openai, anthropic],
                   "limits": {"allowed_models": ["claude-*"]}}),
        )
        .await;
    assert_eq!(s, 201, "{key}");
    let secret = key["key_value"].as_str().unwrap();

    let res = app
        .client
        .post(app.url("/v1/chat/completions"))
        .bearer_auth(secret)
        .json(&json!({"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 404);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["error"]["code"], "model_not_found", "{body}");
    assert_eq!(mock.hits(), 0, "nothing reached an upstream");

    let res = app
        .client
        .post(app.url("/v1/messages"))
        .header("x-api-key", secret)
        .header("anthropic-version", "2023-06-01")
        .json(&json!({"model": "gpt-4o", "max_tokens": 5, "messages": [{"role": "user", "content": "hi"}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 404);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["error"]["type"], "not_found_error", "{body}");

    let res = app
        .client
        .post(app.url("/v1/messages"))
        .header("x-api-key", secret)
        .header("anthropic-version", "2023-06-01")
        .json(&json!({"model": "claude-sonnet-4", "max_tokens": 5, "messages": [{"role": "user", "content": "hi"}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200, "an allowed model passes");

    let logs = app.logs(3).await;
    let refused: Vec<&Value> = logs
        .iter()
        .filter(|l| l["refused_by"] == "model_not_allowed")
        .collect();
    assert_eq!(refused.len(), 2, "{logs:?}");

    // What the upstreams list (model discovery) counts too, less what the allow-list excludes.
    for id in [&openai, &anthropic] {
        let (s, found) = app
            .admin_json(
                Method::POST,
                &format!("/api/admin/upstreams/{id}/models/refresh"),
                Value::Null,
            )
            .await;
        assert_eq!(s, 200, "{found}");
    }
    assert_eq!(
        app.model_ids(secret).await,
        ["claude-3-5-sonnet-20241022", "claude-sonnet-4"]
    );
    let res = app
        .client
        .get(app.url("/v1/models/gpt-4o-mini"))
        .bearer_auth(secret)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 404);

    let (_, overview) = app
        .admin_json(Method::GET, "/api/admin/stats/overview", Value::Null)
        .await;
    assert_eq!(overview["refused_requests"], 2, "{overview}");
}

private_both_backends!(the_model_allow_list_refuses_and_hides);

/// What keys and upstreams spent is read from the counters: today, this month and day by day
/// for a key, this month for an upstream; the dashboard sums cost by range and ranks by it.
async fn spend_is_read_from_the_counters(app: &TestApp) {
    let (_mock, openai, _) = two_upstreams(app).await;
    let (key_id, _) = app.key(&[&openai]).await;
    const DAY: i64 = 86_400_000;
    let now = now_ms();
    let today = now.div_euclid(DAY) * DAY;
    let row = |i: i64, at: i64, cost: Option<i64>| LogRecord {
        request_id: format!("s{i}"),
        api_key_id: Some(key_id.clone()),
        upstream_id: Some(openai.clone()),
        method: "POST".into(),
        path: "/v1/chat/completions".into(),
        model_requested: Some("gpt-4o-mini".into()),
        status_code: Some(200),
        usage: autorouter::model::usage::Usage {
            total_tokens: 10,
            ..Default::default()
        },
        cost_nanos: cost,
        created_at: at,
        ..LogRecord::default()
    };
    let yesterday = today - DAY + 3_600_000;
    let rows = vec![
        row(1, now - 1_000, Some(1_500_000_000)),
        row(2, now - 2_000, Some(250_000_000)),
        row(3, yesterday, Some(1_000_000_000)),
        row(4, now - 3_000, None),
    ];
    insert_batch(&app.state.db, &rows).await.unwrap();
    let (s, days) = app
        .admin_json(
            Method::GET,
            &format!("/api/admin/keys/{key_id}/spend?days=3"),
            Value::Null,
        )
        .await;
    assert_eq!(s, 200, "{days}");
    let days = days.as_array().unwrap().clone();
    // Yesterday is this month unless today is the 1st (UTC, the default budget zone).
    let month = |d: &Value| d["day"].as_str().unwrap()[..7].to_string();
    let same_month = month(&days[1]) == month(&days[2]);
    let (_, key) = app
        .admin_json(
            Method::GET,
            &format!("/api/admin/keys/{key_id}"),
            Value::Null,
        )
        .await;
    assert_eq!(key["spend"]["today_usd"], 1.75, "{key}");
    assert_eq!(
        key["spend"]["month_usd"],
        if same_month { 2.75 } else { 1.75 },
        "{key}"
    );
    let (_, page) = app
        .admin_json(Method::GET, "/api/admin/keys", Value::Null)
        .await;
    assert_eq!(page["items"][0]["spend"]["today_usd"], 1.75);

    assert_eq!(days.len(), 3);
    assert_eq!(days[2]["cost_usd"], 1.75);
    assert_eq!(days[2]["requests"], 3);
    assert_eq!(days[1]["cost_usd"], 1.0);
    assert_eq!(days[0]["cost_usd"], 0.0);
    let (s, _) = app
        .admin_json(
            Method::GET,
            "/api/admin/keys/no-such-key/spend",
            Value::Null,
        )
        .await;
    assert_eq!(s, 404);
    let (s, e) = app
        .admin_json(
            Method::GET,
            &format!("/api/admin/keys/{key_id}/spend?days=0"),
            Value::Null,
        )
        .await;
    assert_eq!(s, 400, "{e}");

    let (_, up) = app
        .admin_json(
            Method::GET,
            &format!("/api/admin/upstreams/{openai}"),
            Value::Null,
        )
        .await;
    assert_eq!(
        up["spend_month_usd"],
        if same_month { 2.75 } else { 1.75 },
        "{up}"
    );

    let (_, overview) = app
        .admin_json(
            Method::GET,
            "/api/admin/stats/overview?range=7d",
            Value::Null,
        )
        .await;
    assert_eq!(overview["cost_usd"], 2.75, "{overview}");
    assert_eq!(overview["unpriced_requests"], 1, "{overview}");
    let (_, board) = app
        .admin_json(
            Method::GET,
            "/api/admin/stats/leaderboard?range=7d&sort=cost",
            Value::Null,
        )
        .await;
    assert_eq!(board["keys"][0]["cost_usd"], 2.75, "{board}");
    let (s, _) = app
        .admin_json(
            Method::GET,
            "/api/admin/stats/leaderboard?sort=price",
            Value::Null,
        )
        .await;
    assert_eq!(s, 400);
    let (_, series) = app
        .admin_json(
            Method::GET,
            "/api/admin/stats/timeseries?range=7d",
            Value::Null,
        )
        .await;
    let costs = series["series"][0]["cost_usd"].as_array().unwrap();
    assert_eq!(costs[costs.len() - 1], 1.75, "{series}");
    assert_eq!(costs[costs.len() - 2], 1.0, "{series}");
}

private_both_backends!(spend_is_read_from_the_counters);

/// Every row is costed from its usage at the model's price and the upstream's multiplier: the
/// same answer costs the same streamed or not, Anthropic's cache writes and reads are priced
/// apart, and a model with no price is logged with no cost (and counted as unpriced).
async fn rows_are_costed_the_same_streamed_or_not(app: &TestApp) {
    let mock = MockUpstream::start().await;
    let openai = app
        .upstream(json!({
            "name": "half", "provider": "openai", "base_url": mock.base_url, "api_key": UPSTREAM_KEY,
            "allowed_models": ["gpt-4o-mini", "mystery-model"], "price_multiplier": 0.5
        }))
        .await;
    let anthropic = app
        .upstream(json!({
            "name": "an", "provider": "anthropic", "base_url": mock.base_url, "api_key": UPSTREAM_KEY
        }))
        .await;
    let rates = json!({"input": 2.5, "output": 10, "cached_input": 1.25});
    let (s, e) = app
        .admin_json(Method::PUT, "/api/admin/prices/gpt-4o-mini", rates)
        .await;
    assert_eq!(s, 200, "{e}");
    let rates = json!({"input": 3, "output": 15, "cached_input": 0.3, "cache_write_5m": 3.75, "cache_write_1h": 6});
    let (s, e) = app
        .admin_json(Method::PUT, "/api/admin/prices/claude-test-*", rates)
        .await;
    assert_eq!(s, 200, "{e}");
    let (_, key) = app.key(&[&openai, &anthropic]).await;

    let chat = |model: &'static str, stream: bool| {
        let key = key.clone();
        async move {
            let res = app
                .client
                .post(app.url("/v1/chat/completions"))
                .bearer_auth(key)
                .json(&json!({"model": model, "stream": stream,
                              "messages": [{"role": "user", "content": "hi"}]}))
                .send()
                .await
                .unwrap();
            assert_eq!(res.status(), 200);
            res.text().await.unwrap();
        }
    };
    chat("gpt-4o-mini", false).await;
    chat("gpt-4o-mini", true).await;
    chat("mystery-model", false).await;
    for stream in [false, true] {
        let res = app
            .client
            .post(app.url("/v1/messages"))
            .header("x-api-key", &key)
            .header("anthropic-version", "2023-06-01")
            .json(
                &json!({"model": "claude-test-1", "max_tokens": 20, "stream": stream,
                          "messages": [{"role": "user", "content": "hi"}]}),
            )
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200);
        res.text().await.unwrap();
    }
    let logs = app.logs(5).await;
    let cost_of = |model: &str| -> Vec<Value> {
        logs.iter()
            .filter(|l| l["model_requested"] == model)
            .map(|l| l["cost_usd"].clone())
            .collect()
    };
    // 11 prompt tokens of which 2 cached, 7 completion: (9 x 2.5 + 2 x 1.25 + 7 x 10) micro-USD
    // = 95 micro-USD, at half price 47.5 micro-USD.
    assert_eq!(cost_of("gpt-4o-mini"), [json!(0.0000475), json!(0.0000475)]);
    assert_eq!(cost_of("mystery-model"), [Value::Null]);
    // 25 uncached input, 7 cache reads, 3 five-minute writes, 15 output:
    // 25 x 3 + 7 x 0.3 + 3 x 3.75 + 15 x 15 = 313.35 micro-USD.
    assert_eq!(
        cost_of("claude-test-1"),
        [json!(0.00031335), json!(0.00031335)]
    );

    let (_, overview) = app
        .admin_json(Method::GET, "/api/admin/stats/overview", Value::Null)
        .await;
    assert_eq!(overview["unpriced_requests"], 1, "{overview}");
    let total = overview["cost_usd"].as_f64().unwrap();
    assert!(
        (total - (2.0 * 0.0000475 + 2.0 * 0.00031335)).abs() < 1e-12,
        "{overview}"
    );
}

private_both_backends!(rows_are_costed_the_same_streamed_or_not);

// ---- Limits on the data plane ----

async fn chat_as(app: &TestApp, key: &str, extra: &[(&str, &str)]) -> reqwest::Response {
    let mut req = app
        .client
        .post(app.url("/v1/chat/completions"))
        .bearer_auth(key)
        .json(&json!({"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]}));
    for (k, v) in extra {
        req = req.header(*k, *v);
    }
    req.send().await.unwrap()
}

async fn limited_key(app: &TestApp, upstreams: &[&str], limits: Value) -> (String, String) {
    let (s, key) = app
        .admin_json(
            Method::POST,
            "/api/admin/keys",
            json!({"name": "limited", "upstream_ids": upstreams, "limits": limits}),
        )
        .await;
    assert_eq!(s, 201, "{key}");
    (
        key["id"].as_str().unwrap().to_string(),
        key["key_value"].as_str().unwrap().to_string(),
    )
}

async fn one_upstream(app: &TestApp, mock: &MockUpstream, name: &str, extra: Value) -> String {
    let mut body = json!({
        "name": name, "provider": "openai", "base_url": mock.base_url, "api_key": UPSTREAM_KEY
    });
    body.as_object_mut()
        .unwrap()
        .extend(extra.as_object().cloned().unwrap_or_default());
    app.upstream(body).await
}

/// A key limited to 10 requests a minute: of 30, exactly 10 pass and 20 get 429 with
/// `Retry-After` and OpenAI's `rate_limit_exceeded`; every answer carries the
/// `x-ratelimit-*-requests` headers; each refusal is logged with its reason and counted.
async fn a_rate_limited_key_gets_exactly_its_limit(app: &TestApp) {
    let mock = MockUpstream::start().await;
    let up = one_upstream(app, &mock, "rl", json!({})).await;
    let (_, key) = limited_key(app, &[&up], json!({"rpm": 10})).await;
    let (mut ok, mut refused) = (0, 0);
    for i in 0..30 {
        let res = chat_as(app, &key, &[]).await;
        let headers = res.headers().clone();
        assert_eq!(headers["x-ratelimit-limit-requests"], "10");
        match res.status().as_u16() {
            200 => {
                ok += 1;
                assert_eq!(
                    headers["x-ratelimit-remaining-requests"],
                    (9 - i).to_string().as_str()
                );
            }
            429 => {
                refused += 1;
                let retry: u64 = headers["retry-after"].to_str().unwrap().parse().unwrap();
                assert!((1..=60).contains(&retry), "{retry}");
                assert_eq!(headers["x-ratelimit-remaining-requests"], "0");
                let body: Value = res.json().await.unwrap();
                assert_eq!(body["error"]["code"], "rate_limit_exceeded", "{body}");
            }
            s => panic!("unexpected status {s}"),
        }
    }
    assert_eq!((ok, refused), (10, 20));
    assert_eq!(mock.hits(), 10);
    let logs = app.logs(30).await;
    assert_eq!(
        logs.iter().filter(|l| l["refused_by"] == "key_rpm").count(),
        20
    );
    let (_, overview) = app
        .admin_json(Method::GET, "/api/admin/stats/overview", Value::Null)
        .await;
    assert_eq!(overview["refused_requests"], 20, "{overview}");

    // Anthropic's callers get Anthropic's header names and error type.
    let anthropic = app
        .upstream(json!({"name": "an", "provider": "anthropic", "base_url": mock.base_url, "api_key": UPSTREAM_KEY}))
        .await;
    let (_, key) = limited_key(app, &[&anthropic], json!({"rpm": 1})).await;
    let send = || {
        app.client
            .post(app.url("/v1/messages"))
            .header("x-api-key", &key)
            .header("anthropic-version", "2023-06-01")
            .json(&json!({"model": "claude-sonnet-4", "max_tokens": 5, "messages": [{"role": "user", "content": "hi"}]}))
            .send()
    };
    let first = send().await.unwrap();
    assert_eq!(first.status(), 200);
    assert_eq!(first.headers()["anthropic-ratelimit-requests-limit"], "1");
    assert_eq!(
        first.headers()["anthropic-ratelimit-requests-remaining"],
        "0"
    );
    let second = send().await.unwrap();
    assert_eq!(second.status(), 429);
    assert!(second.headers().contains_key("retry-after"));
    let body: Value = second.json().await.unwrap();
    assert_eq!(body["error"]["type"], "rate_limit_error", "{body}");
}

private_both_backends!(a_rate_limited_key_gets_exactly_its_limit);

/// A key capped at 2 concurrent requests: of 5 slow ones at once, exactly 2 run and 3 get 429.
/// An upstream capped at 2: of 5 slow ones, 2 go to it and 3 fail over to the next upstream.
async fn concurrency_caps_hold_for_keys_and_upstreams(app: &TestApp) {
    let slow = MockUpstream::start().await;
    slow.update(|k| k.latency_ms = 400);
    let up = one_upstream(app, &slow, "slow", json!({})).await;
    let (_, key) = limited_key(app, &[&up], json!({"max_concurrent": 2})).await;
    let statuses = futures_util::future::join_all(
        (0..5).map(|_| async { chat_as(app, &key, &[]).await.status().as_u16() }),
    )
    .await;
    assert_eq!(
        statuses.iter().filter(|&&s| s == 200).count(),
        2,
        "{statuses:?}"
    );
    assert_eq!(
        statuses.iter().filter(|&&s| s == 429).count(),
        3,
        "{statuses:?}"
    );
    // The slots are free again once the answers ended.
    assert_eq!(chat_as(app, &key, &[]).await.status(), 200);

    let capped_mock = MockUpstream::start().await;
    capped_mock.update(|k| k.latency_ms = 400);
    let spare_mock = MockUpstream::start().await;
    spare_mock.update(|k| k.latency_ms = 400);
    let capped = one_upstream(
        app,
        &capped_mock,
        "capped",
        json!({"priority": 0, "limits": {"max_concurrent": 2}}),
    )
    .await;
    let spare = one_upstream(app, &spare_mock, "spare", json!({"priority": 1})).await;
    let (_, key) = app.key(&[&capped, &spare]).await;
    let statuses = futures_util::future::join_all(
        (0..5).map(|_| async { chat_as(app, &key, &[]).await.status().as_u16() }),
    )
    .await;
    assert_eq!(statuses, [200; 5]);
    assert_eq!((capped_mock.hits(), spare_mock.hits()), (2, 3));

    // With no upstream left under its cap the caller gets 429, logged as upstream_limits.
    let alone_mock = MockUpstream::start().await;
    alone_mock.update(|k| k.latency_ms = 400);
    let alone = one_upstream(
        app,
        &alone_mock,
        "alone",
        json!({"limits": {"max_concurrent": 1}}),
    )
    .await;
    let (_, key) = app.key(&[&alone]).await;
    let statuses = futures_util::future::join_all(
        (0..3).map(|_| async { chat_as(app, &key, &[]).await.status().as_u16() }),
    )
    .await;
    assert_eq!(
        statuses.iter().filter(|&&s| s == 429).count(),
        2,
        "{statuses:?}"
    );
    let logs = app.logs(14).await;
    assert_eq!(
        logs.iter()
            .filter(|l| l["refused_by"] == "upstream_limits")
            .count(),
        2
    );
}

private_both_backends!(concurrency_caps_hold_for_keys_and_upstreams);

/// A key whose daily budget is just above one request's cost: the request after the one that
/// crosses it is refused with 429 `insufficient_quota`; an upstream whose monthly quota is
/// spent is skipped for the next.
async fn budgets_and_quotas_refuse_once_crossed(app: &TestApp) {
    let mock = MockUpstream::start().await;
    let rates = json!({"input": 2.5, "output": 10, "cached_input": 1.25});
    let (s, e) = app
        .admin_json(Method::PUT, "/api/admin/prices/gpt-4o-mini", rates)
        .await;
    assert_eq!(s, 200, "{e}");
    // One answer costs 95 micro-USD (see rows_are_costed_the_same_streamed_or_not).
    let up = one_upstream(app, &mock, "budgeted", json!({})).await;
    let (key_id, key) = limited_key(app, &[&up], json!({"daily_budget_usd": 0.0001})).await;
    assert_eq!(chat_as(app, &key, &[]).await.status(), 200);
    assert_eq!(
        chat_as(app, &key, &[]).await.status(),
        200,
        "95 of 100 spent"
    );
    let res = chat_as(app, &key, &[]).await;
    assert_eq!(res.status(), 429, "190 of 100 spent");
    assert!(res.headers().contains_key("retry-after"));
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["error"]["code"], "insufficient_quota", "{body}");
    assert_eq!(body["error"]["type"], "insufficient_quota", "{body}");
    let logs = app.logs(3).await;
    assert!(logs.iter().any(|l| l["refused_by"] == "key_daily_budget"));
    let (_, shown) = app
        .admin_json(
            Method::GET,
            &format!("/api/admin/keys/{key_id}"),
            Value::Null,
        )
        .await;
    assert_eq!(shown["spend"]["today_usd"], 0.00019, "{shown}");

    let spare_mock = MockUpstream::start().await;
    let quota = one_upstream(
        app,
        &mock,
        "quota",
        json!({"priority": 0, "limits": {"monthly_quota_usd": 0.00005}}),
    )
    .await;
    let spare = one_upstream(app, &spare_mock, "spare2", json!({"priority": 1})).await;
    let (_, key) = app.key(&[&quota, &spare]).await;
    let before = mock.hits();
    assert_eq!(chat_as(app, &key, &[]).await.status(), 200);
    assert_eq!(
        mock.hits(),
        before + 1,
        "the first goes to the quota'd upstream"
    );
    assert_eq!(chat_as(app, &key, &[]).await.status(), 200);
    assert_eq!(
        (mock.hits(), spare_mock.hits()),
        (before + 1, 1),
        "its quota spent, the next goes to the spare"
    );
}

private_both_backends!(budgets_and_quotas_refuse_once_crossed);

/// A key limited to 10 requests a minute on two gateway instances that share one database and
/// one Redis: of 30 requests split across both, exactly 10 pass; a concurrency cap of 2 holds
/// across them too.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_share_the_limits_through_redis_postgres() {
    let url = common::redis::redis_url();
    let env = [
        ("ALLOW_PRIVATE_UPSTREAMS", "true"),
        ("REDIS_URL", url.as_str()),
    ];
    let a = TestApp::spawn_with(common::Backend::Postgres, &env).await;
    let b = a.another_instance(&env).await;
    let (_, health) = a.admin_json(Method::GET, "/api/health", Value::Null).await;
    assert_eq!(health["limits"], "shared", "{health}");

    let mock = MockUpstream::start().await;
    let up = one_upstream(&a, &mock, "shared", json!({})).await;
    let (_, key) = limited_key(&a, &[&up], json!({"rpm": 10})).await;
    b.state.plane.reload().await;
    let mut statuses = Vec::new();
    for i in 0..30 {
        let app = if i % 2 == 0 { &a } else { &b };
        let res = chat_as(app, &key, &[]).await;
        if res.status() == 429 {
            assert!(res.headers().contains_key("retry-after"));
        }
        statuses.push(res.status().as_u16());
    }
    assert_eq!(
        statuses.iter().filter(|&&s| s == 200).count(),
        10,
        "{statuses:?}"
    );
    assert_eq!(
        statuses.iter().filter(|&&s| s == 429).count(),
        20,
        "{statuses:?}"
    );

    let slow = MockUpstream::start().await;
    slow.update(|k| k.latency_ms = 400);
    let up = one_upstream(&a, &slow, "slow-shared", json!({})).await;
    let (_, key) = limited_key(&a, &[&up], json!({"max_concurrent": 2})).await;
    b.state.plane.reload().await;
    let statuses = futures_util::future::join_all((0..6).map(|i| {
        let app = if i % 2 == 0 { &a } else { &b };
        let key = key.clone();
        async move { chat_as(app, &key, &[]).await.status().as_u16() }
    }))
    .await;
    assert_eq!(
        statuses.iter().filter(|&&s| s == 200).count(),
        2,
        "{statuses:?}"
    );
    b.cleanup().await;
    a.cleanup().await;
}

/// Redis stops answering mid-test: requests keep succeeding on local counters, health says
/// `local`; when it answers again the shared counts apply again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redis_outage_falls_back_to_local_counters_postgres() {
    let forwarder =
        common::redis::Forwarder::start(common::redis::redis_addr(&common::redis::redis_url()))
            .await;
    let via = format!("redis://{}", forwarder.addr);
    let env = [
        ("ALLOW_PRIVATE_UPSTREAMS", "true"),
        ("REDIS_URL", via.as_str()),
    ];
    let app = TestApp::spawn_with(common::Backend::Postgres, &env).await;
    let mock = MockUpstream::start().await;
    let up = one_upstream(&app, &mock, "o", json!({})).await;
    let (_, key) = limited_key(&app, &[&up], json!({"rpm": 5})).await;
    for _ in 0..3 {
        assert_eq!(chat_as(&app, &key, &[]).await.status(), 200);
    }
    forwarder.cut();
    for _ in 0..3 {
        let started = std::time::Instant::now();
        assert_eq!(
            chat_as(&app, &key, &[]).await.status(),
            200,
            "served while Redis is down"
        );
        assert!(started.elapsed() < std::time::Duration::from_millis(500));
    }
    let (_, health) = app
        .admin_json(Method::GET, "/api/health", Value::Null)
        .await;
    assert_eq!(health["limits"], "local", "{health}");
    assert_eq!(health["status"], "healthy", "{health}");

    forwarder.restore();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    loop {
        let (_, health) = app
            .admin_json(Method::GET, "/api/health", Value::Null)
            .await;
        if health["limits"] == "shared" {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "Redis never came back: {health}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    // Redis counted 3 in this minute: 2 more pass, then the limit holds again.
    let statuses: Vec<u16> = {
        let mut v = Vec::new();
        for _ in 0..4 {
            v.push(chat_as(&app, &key, &[]).await.status().as_u16());
        }
        v
    };
    assert_eq!(statuses, [200, 200, 429, 429]);
    app.cleanup().await;
}
