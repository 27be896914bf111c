//! Model prices over real HTTP on SQLite and PostgreSQL: the merged list and its search, setting,
//! overriding and resetting prices, the checks on what is set, the models seen without a price,
//! and that a price set reaches the proxy's routing snapshot at once.
use crate::common;

use autorouter::model::prices::Price;
use autorouter::model::usage::Usage;
use autorouter::server::db::request_logs::{insert_batch, LogRecord};
use common::{now_ms, TestApp, ADMIN_TOKEN};
use reqwest::Method;
use serde_json::{json, Value};

async fn send(app: &TestApp, method: Method, path: &str, body: Option<Value>) -> (u16, Value) {
    let mut req = app
        .client
        .request(method, app.url(path))
        .bearer_auth(ADMIN_TOKEN);
    if let Some(b) = body {
        req = req.json(&b);
    }
    let res = req.send().await.unwrap();
    let status = res.status().as_u16();
    let text = res.text().await.unwrap();
    let value = serde_json::from_str(&text).unwrap_or(Value::String(text));
    (status, value)
}

async fn get(app: &TestApp, path: &str) -> (u16, Value) {
    send(app, Method::GET, path, None).await
}

async fn put(app: &TestApp, model: &str, body: Value) -> (u16, Value) {
    send(
        app,
        Method::PUT,
        &format!("/api/admin/prices/{model}"),
        Some(body),
    )
    .await
}

async fn delete(app: &TestApp, model: &str) -> (u16, Value) {
    send(
        app,
        Method::DELETE,
        &format!("/api/admin/prices/{model}"),
        None,
    )
    .await
}

/// The listed price of exactly `model`, searched for by name.
async fn listed(app: &TestApp, model: &str) -> Option<Value> {
    let (status, page) = get(app, &format!("/api/admin/prices?q={model}&page_size=100")).await;
    assert_eq!(status, 200, "{page}");
    page["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["model"] == model)
        .cloned()
}

const M: i64 = 1_000_000;

async fn prices_list_set_override_reset_and_custom(app: &TestApp) {
    // The shipped list, by model, paged.
    let (status, page) = get(app, "/api/admin/prices?page_size=5").await;
    assert_eq!(status, 200, "{page}");
    assert!(page["total"].as_u64().unwrap() > 50, "{page}");
    let models: Vec<&str> = page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["model"].as_str().unwrap())
        .collect();
    assert_eq!(models.len(), 5);
    assert!(models.windows(2).all(|w| w[0] < w[1]), "{models:?}");

    let sonnet = listed(app, "claude-sonnet-4-5").await.expect("shipped");
    assert_eq!(sonnet["source"], "default");
    assert_eq!(
        sonnet["price"],
        json!({"input": 3.0, "output": 15.0, "cached_input": 0.3, "cache_write_5m": 3.75, "cache_write_1h": 6.0})
    );
    assert_eq!(sonnet["default"], Value::Null);
    assert_eq!(sonnet["updated_at"], Value::Null);
    let (_, none) = get(app, "/api/admin/prices?q=no-such-model-anywhere").await;
    assert_eq!((&none["total"], &none["items"]), (&json!(0), &json!([])));

    // An override: in the list in the shipped price's place, and in the proxy's snapshot.
    let shipped = app
        .state
        .plane
        .price_of("gpt-4o")
        .expect("gpt-4o is shipped");
    assert_eq!(shipped.input, 2_500_000);
    let (status, set) = put(
        app,
        "GPT-4o",
        json!({"input": 2, "output": 8, "cached_input": 0.5}),
    )
    .await;
    assert_eq!(status, 200, "{set}");
    assert_eq!(set["model"], "gpt-4o", "stored in lower case");
    assert_eq!(set["source"], "override");
    assert_eq!(set["price"]["input"], 2.0);
    assert_eq!(set["price"]["cache_write_5m"], Value::Null);
    assert_eq!(set["default"]["input"], 2.5);
    assert!(set["updated_at"].as_str().unwrap().ends_with('Z'), "{set}");
    assert_eq!(listed(app, "gpt-4o").await.unwrap(), set);
    let (_, upper) = get(app, "/api/admin/prices?q=GPT-4O&page_size=100").await;
    assert!(upper["items"]
        .as_array()
        .unwrap()
        .iter()
        .any(|p| p["model"] == "gpt-4o"));
    assert_eq!(
        app.state.plane.price_of("gpt-4o"),
        Some(Price {
            input: 2 * M,
            output: 8 * M,
            cached_input: Some(500_000),
            cache_write_5m: None,
            cache_write_1h: None,
        })
    );
    // Names as aggregators spell them find the same price.
    assert_eq!(
        app.state.plane.price_of("openai/gpt-4o").map(|p| p.input),
        Some(2 * M)
    );

    // Setting it again replaces it; the count of prices does not change.
    let total = page["total"].clone();
    let (status, again) = put(
        app,
        "gpt-4o",
        json!({"input": 2.25, "output": 9, "cache_write_1h": null}),
    )
    .await;
    assert_eq!(status, 200, "{again}");
    assert_eq!(app.state.plane.price_of("gpt-4o").unwrap().input, 2_250_000);
    let (_, page) = get(app, "/api/admin/prices?page_size=5").await;
    assert_eq!(page["total"], total);

    // Reset: the shipped price applies again; a second reset finds nothing to reset.
    let (status, _) = delete(app, "gpt-4o").await;
    assert_eq!(status, 204);
    assert_eq!(app.state.plane.price_of("gpt-4o"), Some(shipped));
    assert_eq!(listed(app, "gpt-4o").await.unwrap()["source"], "default");
    let (status, err) = delete(app, "gpt-4o").await;
    assert_eq!(status, 404, "{err}");
    assert_eq!(err["error"]["type"], "not_found");
    // A shipped price has nothing to reset to.
    let (status, _) = delete(app, "claude-sonnet-4-5").await;
    assert_eq!(status, 404);

    // A custom pattern prices the models it matches; the most specific one wins.
    assert_eq!(app.state.plane.price_of("acme-llama-70b"), None);
    let (status, custom) = put(app, "acme-*", json!({"input": 0.2, "output": 0.6})).await;
    assert_eq!(status, 200, "{custom}");
    assert_eq!(custom["source"], "custom");
    assert_eq!(custom["default"], Value::Null);
    let (status, _) = put(app, "acme-llama-*", json!({"input": 0.9, "output": 0.9})).await;
    assert_eq!(status, 200);
    assert_eq!(
        app.state.plane.price_of("acme-llama-70b").unwrap().input,
        900_000
    );
    assert_eq!(
        app.state.plane.price_of("acme-qwen").unwrap().input,
        200_000
    );
    assert_eq!(
        (get(app, "/api/admin/prices?page_size=5").await.1)["total"],
        total.as_u64().unwrap() + 2
    );

    // A model with a slash is sent as %2F.
    let (status, slashed) = put(
        app,
        "openrouter%2Facme-max",
        json!({"input": 1, "output": 1}),
    )
    .await;
    assert_eq!(status, 200, "{slashed}");
    assert_eq!(slashed["model"], "openrouter/acme-max");
    assert_eq!(
        app.state
            .plane
            .price_of("openrouter/acme-max")
            .unwrap()
            .input,
        M
    );
    let (status, _) = delete(app, "openrouter%2Facme-max").await;
    assert_eq!(status, 204);

    // Deleting a custom price leaves the models it priced without one (or to a broader one).
    for pattern in ["acme-llama-*", "acme-*"] {
        let (status, _) = delete(app, pattern).await;
        assert_eq!(status, 204);
    }
    assert_eq!(app.state.plane.price_of("acme-llama-70b"), None);
    assert!(listed(app, "acme-*").await.is_none());
}

async fn prices_refuse_bad_input(app: &TestApp) {
    for (model, body, field, code) in [
        (
            "gpt-4o",
            json!({"input": -1, "output": 1}),
            "input",
            "out_of_range",
        ),
        (
            "gpt-4o",
            json!({"input": 1, "output": 10000.5}),
            "output",
            "out_of_range",
        ),
        (
            "gpt-4o",
            json!({"input": 1.0000001, "output": 1}),
            "input",
            "too_precise",
        ),
        (
            "gpt-4o",
            json!({"input": 1, "output": 1, "cache_write_1h": 0.00000015}),
            "cache_write_1h",
            "too_precise",
        ),
        (
            "gpt%204o",
            json!({"input": 1, "output": 1}),
            "model",
            "invalid",
        ),
        ("%20", json!({"input": 1, "output": 1}), "model", "required"),
    ] {
        let (status, err) = put(app, model, body.clone()).await;
        assert_eq!(status, 400, "{model} {body}: {err}");
        assert_eq!(err["error"]["type"], "invalid_request", "{err}");
        assert_eq!(err["error"]["param"], field, "{err}");
        assert_eq!(err["error"]["code"], code, "{err}");
        assert!(
            err["error"]["message"].as_str().unwrap().starts_with(field),
            "{err}"
        );
    }
    let long = "a".repeat(201);
    let (status, err) = put(app, &long, json!({"input": 1, "output": 1})).await;
    assert_eq!(
        (status, &err["error"]["code"]),
        (400, &json!("too_long")),
        "{err}"
    );
    for body in [
        json!({"input": 1}),
        json!({"input": "1", "output": 1}),
        json!({"input": 1, "output": 1, "colour": "blue"}),
        json!({"input": 1, "output": null}),
        json!("2.5"),
    ] {
        let (status, err) = put(app, "gpt-4o", body.clone()).await;
        assert_eq!(status, 400, "{body}: {err}");
        assert_eq!(err["error"]["type"], "invalid_request", "{err}");
    }
    let (status, _) = get(app, "/api/admin/prices?page_size=101").await;
    assert_eq!(status, 400);
    // Nothing was stored by any of them.
    assert_eq!(app.state.plane.price_of("gpt-4o").unwrap().input, 2_500_000);
    assert_eq!(listed(app, "gpt-4o").await.unwrap()["source"], "default");

    // Without admin credentials nothing is read or changed.
    for (method, path) in [
        (Method::GET, "/api/admin/prices"),
        (Method::GET, "/api/admin/prices/unpriced"),
        (Method::PUT, "/api/admin/prices/gpt-4o"),
        (Method::DELETE, "/api/admin/prices/gpt-4o"),
    ] {
        let res = app
            .client
            .request(method.clone(), app.url(path))
            .json(&json!({"input": 0, "output": 0}))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 401, "{method} {path}");
        let body: Value = res.json().await.unwrap();
        assert_eq!(body["error"]["type"], "unauthorized");
    }
    for (name, body) in [
        ("prices/list", json!({"page": 1, "search": ""})),
        (
            "prices/set",
            json!({"model": "gpt-4o", "rates": {"input": 0, "output": 0}}),
        ),
        ("prices/reset", json!({"model": "gpt-4o"})),
    ] {
        let res = app
            .client
            .post(app.url(&format!("/api/ui/{name}")))
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 401, "{name}");
    }
    assert_eq!(app.state.plane.price_of("gpt-4o").unwrap().input, 2_500_000);
}

fn record(i: usize, model: Option<&str>, status: i64, created_at: i64) -> LogRecord {
    LogRecord {
        request_id: format!("price-{i}"),
        method: "POST".into(),
        path: "/v1/chat/completions".into(),
        model_requested: model.map(String::from),
        status_code: Some(status),
        duration_ms: Some(100),
        // An upstream error carries no usage.
        usage: if status < 500 {
            Usage {
                prompt_tokens: 10,
                completion_tokens: 5,
                total_tokens: 15,
                ..Usage::default()
            }
        } else {
            Usage::default()
        },
        created_at,
        ..LogRecord::default()
    }
}

async fn prices_unpriced_models_are_the_ones_seen_and_answered(app: &TestApp) {
    let now = now_ms();
    let rows = [
        (Some("Mystery-Model"), 200, now - 60_000),
        (Some("Mystery-Model"), 200, now - 3 * 86_400_000),
        (Some("Mystery-Model"), 502, now - 60_000),
        (Some("rare-model"), 200, now - 60_000),
        // Never answered (no tokens used): pricing it would change nothing.
        (Some("failing-model"), 502, now - 60_000),
        // Priced: shipped, through a provider prefix, or by no model at all.
        (Some("gpt-4o"), 200, now - 60_000),
        (Some("openai/gpt-4o-mini"), 200, now - 60_000),
        (None, 200, now - 60_000),
        // Older than the 30 days looked at.
        (Some("ancient-model"), 200, now - 40 * 86_400_000),
    ];
    let records: Vec<LogRecord> = rows
        .iter()
        .enumerate()
        .map(|(i, (m, s, t))| record(i, *m, *s, *t))
        .collect();
    insert_batch(&app.state.db, &records).await.unwrap();

    let (status, unpriced) = get(app, "/api/admin/prices/unpriced").await;
    assert_eq!(status, 200, "{unpriced}");
    assert_eq!(
        unpriced,
        json!([
            {"model": "Mystery-Model", "requests": 3, "tokens": 30},
            {"model": "rare-model", "requests": 1, "tokens": 15},
        ])
    );

    // The page's server function gives the same, with the list and the shipped list's source.
    let res = app
        .client
        .post(app.url("/api/ui/prices/list"))
        .bearer_auth(ADMIN_TOKEN)
        .form(&[("page", "1"), ("search", "claude-sonnet-4-5")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let screen: Value = res.json().await.unwrap();
    assert_eq!(screen["unpriced"], unpriced);
    assert!(screen["page"]["items"]
        .as_array()
        .unwrap()
        .iter()
        .any(|p| p["model"] == "claude-sonnet-4-5"));
    assert!(
        screen["defaults_source"]
            .as_str()
            .unwrap()
            .starts_with("litellm "),
        "{screen}"
    );

    // A price for one (by the page's server function), and a pattern for the other.
    let res = app
        .client
        .post(app.url("/api/ui/prices/set"))
        .bearer_auth(ADMIN_TOKEN)
        .json(&json!({"model": "Mystery-Model", "rates": {"input": 1.5, "output": 2}}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let set: Value = res.json().await.unwrap();
    assert_eq!(
        (&set["model"], &set["source"]),
        (&json!("mystery-model"), &json!("custom"))
    );
    let (_, unpriced) = get(app, "/api/admin/prices/unpriced").await;
    assert_eq!(
        unpriced,
        json!([{"model": "rare-model", "requests": 1, "tokens": 15}])
    );
    let (status, _) = put(app, "rare-*", json!({"input": 1, "output": 1})).await;
    assert_eq!(status, 200);
    let (_, unpriced) = get(app, "/api/admin/prices/unpriced").await;
    assert_eq!(unpriced, json!([]));

    // The page's reset takes it off again.
    let res = app
        .client
        .post(app.url("/api/ui/prices/reset"))
        .bearer_auth(ADMIN_TOKEN)
        .form(&[("model", "rare-*")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let (_, unpriced) = get(app, "/api/admin/prices/unpriced").await;
    assert_eq!(
        unpriced,
        json!([{"model": "rare-model", "requests": 1, "tokens": 15}])
    );
}

both_backends!(
    prices_list_set_override_reset_and_custom,
    prices_refuse_bad_input,
    prices_unpriced_models_are_the_ones_seen_and_answered,
);

/// Prices live in the database: another instance (or a restart) prices by them, once its
/// routing snapshot reloads.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prices_reach_another_instance() {
    let app = TestApp::spawn(common::Backend::Sqlite).await;
    let (status, _) = put(&app, "shared-model", json!({"input": 4, "output": 4})).await;
    assert_eq!(status, 200);
    let other = app.another_instance(&[]).await;
    assert_eq!(
        other.state.plane.price_of("shared-model").unwrap().input,
        4 * M
    );
    let (status, _) = delete(&app, "shared-model").await;
    assert_eq!(status, 204);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while other.state.plane.price_of("shared-model").is_some() {
        assert!(
            std::time::Instant::now() < deadline,
            "the other instance kept the price"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    app.cleanup().await;
}
