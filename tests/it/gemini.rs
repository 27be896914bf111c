//! Google's native Gemini API through the gateway, against the mock's Gemini wire format on
//! SQLite and PostgreSQL: the calls, both stream forms, usage and cost on the log row, the
//! model list, the key in the query never logged or forwarded, errors in Google's shape,
//! failover, and that a Gemini call reaches only upstreams that speak Gemini.
use crate::common;

use common::mock_upstream::{
    gemini_answer_json, gemini_array_chunks, gemini_sse_events, MockUpstream, DEFAULT_EVENTS,
};
use common::TestApp;
use reqwest::Method;
use serde_json::{json, Value};

const UPSTREAM_KEY: &str = "AIza-upstream-secret-0123456789";
const FLASH: &str = "gemini-2.5-flash";

/// A Google upstream on a mock, configured as Google's OpenAI-compatible base URL, so the
/// native calls must find their way from `…/v1beta/openai` to `…/v1beta/models/…`.
async fn google(app: &TestApp, name: &str, priority: i64) -> (MockUpstream, String) {
    let mock = MockUpstream::start().await;
    mock.update(|k| k.require_auth = Some(UPSTREAM_KEY.into()));
    let id = app
        .upstream(json!({
            "name": name, "provider": "google", "base_url": format!("{}/v1beta/openai", mock.root_url()),
            "api_key": UPSTREAM_KEY, "priority": priority,
            "allowed_models": ["gemini-*", "text-embedding-*"]
        }))
        .await;
    (mock, id)
}

async fn post(app: &TestApp, path: &str, key: Option<&str>, body: Value) -> reqwest::Response {
    let mut req = app.client.post(app.url(path)).json(&body);
    if let Some(key) = key {
        req = req.header("x-goog-api-key", key);
    }
    req.send().await.unwrap()
}

fn contents() -> Value {
    json!({"contents": [{"role": "user", "parts": [{"text": "hi"}]}]})
}

/// The Google error a refusal carries: `{"error":{"code","message","status"}}` and nothing else.
async fn google_error(res: reqwest::Response, code: u16, status: &str) -> String {
    assert_eq!(res.status(), code);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["error"]["code"], code, "{body}");
    assert_eq!(body["error"]["status"], status, "{body}");
    assert_eq!(body.as_object().unwrap().len(), 1, "{body}");
    body["error"]["message"].as_str().unwrap().to_string()
}

/// Every call, both stream forms, usage and cost exactly on the log row; the key sent in the
/// query reaches neither the upstream nor a log row; an OpenAI-style relay and an Anthropic
/// upstream that serve the same model name are never sent a Gemini call.
async fn gemini_calls_are_forwarded_and_metered(app: &TestApp) {
    let (mock, google_id) = google(app, "google", 1).await;
    let relay = MockUpstream::start().await;
    let anthropic = MockUpstream::start().await;
    let relay_id = app
        .upstream(json!({
            "name": "relay", "provider": "openai_compatible", "base_url": relay.base_url,
            "api_key": "sk-relay-0123456789", "allowed_models": [FLASH, "text-embedding-004"], "priority": 0
        }))
        .await;
    let anthropic_id = app
        .upstream(json!({
            "name": "anthropic", "provider": "anthropic", "base_url": anthropic.base_url,
            "api_key": "sk-ant-0123456789", "allowed_models": [FLASH], "priority": 0
        }))
        .await;
    let (_, key) = app.key(&[&relay_id, &anthropic_id, &google_id]).await;
    let (s, _) = app
        .admin_json(
            Method::PUT,
            &format!("/api/admin/prices/{FLASH}"),
            json!({"input": 1, "cached_input": 0.5, "output": 2}),
        )
        .await;
    assert_eq!(s, 200);

    let res = post(
        app,
        &format!("/v1beta/models/{FLASH}:generateContent"),
        Some(&key),
        contents(),
    )
    .await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.text().await.unwrap(), gemini_answer_json(FLASH));
    let got = mock.last().unwrap();
    assert_eq!(
        got.path,
        format!("/v1beta/models/{FLASH}:generateContent"),
        "no query, the native path"
    );
    assert_eq!(got.header("x-goog-api-key"), Some(UPSTREAM_KEY));
    assert_eq!(got.header("authorization"), None);
    assert_eq!(got.json().unwrap(), contents(), "the body goes as it came");

    // The key in the query, SSE asked for: only `alt=sse` goes on.
    let res = app
        .client
        .post(app.url(&format!(
            "/v1beta/models/{FLASH}:streamGenerateContent?key={key}&alt=sse&fields=candidates"
        )))
        .json(&contents())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert!(res.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/event-stream"));
    assert_eq!(
        res.text().await.unwrap(),
        gemini_sse_events(FLASH, DEFAULT_EVENTS).concat()
    );
    assert_eq!(
        mock.last().unwrap().path,
        format!("/v1beta/models/{FLASH}:streamGenerateContent?alt=sse")
    );

    // Without `alt=sse`: Google's JSON array, passed through as it arrives.
    let res = post(
        app,
        &format!("/v1beta/models/{FLASH}:streamGenerateContent"),
        Some(&key),
        contents(),
    )
    .await;
    assert_eq!(res.status(), 200);
    let text = res.text().await.unwrap();
    assert_eq!(text, gemini_array_chunks(FLASH, DEFAULT_EVENTS).concat());
    assert_eq!(
        serde_json::from_str::<Value>(&text)
            .unwrap()
            .as_array()
            .unwrap()
            .len(),
        DEFAULT_EVENTS
    );

    // The current google-genai SDK calls `/v1/models/…`: the same call, sent on as v1.
    let res = post(
        app,
        &format!("/v1/models/{FLASH}:countTokens"),
        Some(&key),
        contents(),
    )
    .await;
    assert_eq!(res.status(), 200);
    assert_eq!(
        res.json::<Value>().await.unwrap(),
        json!({"totalTokens": 21})
    );
    assert_eq!(
        mock.last().unwrap().path,
        format!("/v1/models/{FLASH}:countTokens")
    );

    let res = post(
        app,
        "/v1beta/models/text-embedding-004:embedContent",
        Some(&key),
        json!({"content": {"parts": [{"text": "hi"}]}}),
    )
    .await;
    assert_eq!(res.status(), 200);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["embedding"]["values"], json!([0.1, 0.2, 0.3]));
    let res = post(
        app,
        "/api/proxy/v1beta/models/text-embedding-004:batchEmbedContents",
        Some(&key),
        json!({"requests": [{"model": "models/text-embedding-004", "content": {"parts": [{"text": "a"}]}},
                            {"model": "models/text-embedding-004", "content": {"parts": [{"text": "b"}]}}]}),
    )
    .await;
    assert_eq!(res.status(), 200);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["embeddings"].as_array().unwrap().len(), 2);

    assert_eq!(mock.hits(), 6);
    assert_eq!(
        relay.hits(),
        0,
        "an OpenAI-style relay never gets a Gemini call"
    );
    assert_eq!(anthropic.hits(), 0, "nor does an Anthropic upstream");
    for r in mock.received() {
        assert!(!r.path.contains("key="), "{}", r.path);
        assert!(
            r.headers.iter().all(|(_, v)| !v.contains(&key)),
            "{:?}",
            r.headers
        );
    }

    let logs = app.logs(6).await;
    let all = serde_json::to_string(&logs).unwrap();
    assert!(!all.contains(&key), "the key reached a log row");
    let row = |path: &str| {
        logs.iter()
            .find(|l| l["path"] == path)
            .unwrap_or_else(|| panic!("no row for {path}: {all}"))
            .clone()
    };
    let expected_cost = (17.0 * 1.0 + 4.0 * 0.5 + 15.0 * 2.0) / 1e6;
    for (path, stream) in [
        (format!("/v1beta/models/{FLASH}:generateContent"), false),
        (
            format!("/v1beta/models/{FLASH}:streamGenerateContent"),
            true,
        ),
    ] {
        let streamed: Vec<Value> = logs
            .iter()
            .filter(|l| l["path"] == path.as_str())
            .cloned()
            .collect();
        assert!(!streamed.is_empty(), "{path}");
        for l in streamed {
            assert_eq!(l["status_code"], 200, "{l}");
            assert_eq!(l["is_stream"], stream, "{l}");
            assert_eq!(l["upstream_id"], google_id.as_str());
            assert_eq!(l["model_requested"], FLASH);
            assert_eq!(
                (
                    &l["prompt_tokens"],
                    &l["completion_tokens"],
                    &l["total_tokens"],
                    &l["cached_tokens"],
                    &l["reasoning_tokens"]
                ),
                (&json!(21), &json!(15), &json!(36), &json!(4), &json!(6)),
                "{l}"
            );
            let cost = l["cost_usd"].as_f64().unwrap();
            assert!((cost - expected_cost).abs() < 1e-12, "{cost} {l}");
        }
    }
    let counted = row(&format!("/v1/models/{FLASH}:countTokens"));
    assert_eq!(
        counted["total_tokens"], 0,
        "countTokens is not billed usage"
    );
    assert!(logs.iter().filter(|l| l["is_stream"] == true).count() == 2);
    assert!(
        row("/v1beta/models/text-embedding-004:embedContent")["upstream_id"] == google_id.as_str()
    );
}

private_both_backends!(gemini_calls_are_forwarded_and_metered);

/// Refusals in Google's shape with Google's statuses; paths outside the documented calls and
/// model names that would change the upstream's path are refused before any upstream is asked.
async fn gemini_refusals_speak_google_s_shape(app: &TestApp) {
    let (mock, google_id) = google(app, "google", 1).await;
    let relay = MockUpstream::start().await;
    let relay_id = app
        .upstream(json!({
            "name": "relay", "provider": "openai_compatible", "base_url": relay.base_url,
            "api_key": "sk-relay-0123456789", "allowed_models": ["relay-only-model"]
        }))
        .await;
    let (_, key) = app.key(&[&google_id, &relay_id]).await;
    let generate = format!("/v1beta/models/{FLASH}:generateContent");

    let message = google_error(
        post(app, &generate, None, contents()).await,
        403,
        "PERMISSION_DENIED",
    )
    .await;
    assert!(message.contains("x-goog-api-key"), "{message}");
    let wrong = "sk-auto-wrong-key-abcdef";
    google_error(
        post(app, &generate, Some(wrong), contents()).await,
        401,
        "UNAUTHENTICATED",
    )
    .await;
    let res = app
        .client
        .post(app.url(&format!("{generate}?key={wrong}")))
        .json(&contents())
        .send()
        .await
        .unwrap();
    let message = google_error(res, 401, "UNAUTHENTICATED").await;
    assert!(!message.contains(wrong));

    let message = google_error(
        post(
            app,
            "/v1beta/models/no-such-model:generateContent",
            Some(&key),
            contents(),
        )
        .await,
        404,
        "NOT_FOUND",
    )
    .await;
    assert!(message.contains("no-such-model"), "{message}");
    // Served, but only by an upstream that does not speak Gemini.
    let message = google_error(
        post(
            app,
            "/v1beta/models/relay-only-model:generateContent",
            Some(&key),
            contents(),
        )
        .await,
        404,
        "NOT_FOUND",
    )
    .await;
    assert!(
        message.contains("gemini API") && message.contains("relay-only-model"),
        "{message}"
    );

    for (method, path) in [
        (Method::POST, format!("/v1beta/models/{FLASH}:predict")),
        (
            Method::POST,
            format!("/v1beta/models/{FLASH}:predictLongRunning"),
        ),
        (Method::GET, "/v1beta/files".to_string()),
        (Method::POST, "/v1beta/files".to_string()),
        (Method::GET, "/v1beta/cachedContents".to_string()),
        (
            Method::POST,
            "/v1beta/tunedModels/mine:generateContent".to_string(),
        ),
        (Method::DELETE, format!("/v1beta/models/{FLASH}")),
        (
            Method::POST,
            "/v1beta/models/..%2Ffiles:generateContent".to_string(),
        ),
        (
            Method::POST,
            "/v1beta/models/a%5Cb:generateContent".to_string(),
        ),
    ] {
        let res = app
            .client
            .request(method.clone(), app.url(&path))
            .header("x-goog-api-key", &key)
            .json(&contents())
            .send()
            .await
            .unwrap();
        google_error(res, 404, "NOT_FOUND").await;
    }
    for path in [
        "/v1beta/models/..:generateContent",
        "/v1beta/models/gemini%3Fkey=x:generateContent",
        "/v1beta/models/a:b:generateContent",
    ] {
        let message = google_error(
            post(app, path, Some(&key), contents()).await,
            400,
            "INVALID_ARGUMENT",
        )
        .await;
        assert!(message.contains("model"), "{path}: {message}");
    }
    assert_eq!(
        mock.hits() + relay.hits(),
        0,
        "nothing refused reached an upstream: {:?} {:?}",
        mock.received()
            .iter()
            .map(|r| r.path.clone())
            .collect::<Vec<_>>(),
        relay
            .received()
            .iter()
            .map(|r| r.path.clone())
            .collect::<Vec<_>>()
    );

    // The upstream's own error passes through as Google wrote it.
    mock.update(|k| k.status = Some(400));
    let res = post(app, &generate, Some(&key), contents()).await;
    google_error(res, 400, "INVALID_ARGUMENT").await;
    assert_eq!(mock.hits(), 1);

    // Refusals with a valid key are logged (wrong keys are only counted), keys never.
    let logs = app.logs(15).await;
    assert_eq!(logs.len(), 15);
    assert_eq!(app.state.plane.keys.refusals(), 3);
    let all = serde_json::to_string(&logs).unwrap();
    assert!(!all.contains(wrong) && !all.contains(&key));
}

private_both_backends!(gemini_refusals_speak_google_s_shape);

/// A 5xx from the first Google upstream fails over to the second, for both stream forms too.
async fn gemini_fails_over_between_google_upstreams(app: &TestApp) {
    let (first, first_id) = google(app, "first", 0).await;
    let (second, second_id) = google(app, "second", 1).await;
    let (_, key) = app.key(&[&first_id, &second_id]).await;
    first.update(|k| k.status = Some(503));
    for path in [
        format!("/v1beta/models/{FLASH}:generateContent"),
        format!("/v1beta/models/{FLASH}:streamGenerateContent?alt=sse"),
        format!("/v1beta/models/{FLASH}:streamGenerateContent"),
    ] {
        let res = post(app, &path, Some(&key), contents()).await;
        assert_eq!(res.status(), 200, "{path}");
        res.bytes().await.unwrap();
    }
    assert_eq!(first.hits(), 3);
    assert_eq!(second.hits(), 3);
    let logs = app.logs(3).await;
    for l in &logs {
        assert_eq!(l["upstream_id"], second_id.as_str(), "{l}");
        assert_eq!(l["failover_attempts"], 2, "{l}");
        assert_eq!(l["total_tokens"], 36, "{l}");
    }

    // Both down: the caller gets Google's shape, not the upstream's last body.
    second.update(|k| k.status = Some(500));
    let res = post(
        app,
        &format!("/v1beta/models/{FLASH}:generateContent"),
        Some(&key),
        contents(),
    )
    .await;
    google_error(res, 502, "UNAVAILABLE").await;
}

private_both_backends!(gemini_fails_over_between_google_upstreams);

/// `GET /v1beta/models` lists, in Gemini's shape, what the key reaches over Gemini: the Google
/// upstream's own list (fetched from its native API, though its base URL is the OpenAI-compatible
/// one), not the models of an OpenAI upstream; `/v1/models` lists them all, in OpenAI's shape
/// unless the caller is a Google client.
async fn gemini_model_lists(app: &TestApp) {
    let (mock, google_id) = google(app, "google", 0).await;
    mock.update(|k| k.models = vec![FLASH.into(), "text-embedding-004".into(), "imagen-4".into()]);
    let openai = MockUpstream::start().await;
    openai.update(|k| k.models = vec!["gpt-4o-mini".into()]);
    let openai_id = app
        .upstream(json!({
            "name": "openai", "provider": "openai", "base_url": openai.base_url,
            "api_key": "sk-openai-0123456789"
        }))
        .await;
    // Discovery runs in the background after creation; refresh to have both lists now.
    for id in [&google_id, &openai_id] {
        let (s, found) = app
            .admin_json(
                Method::POST,
                &format!("/api/admin/upstreams/{id}/models/refresh"),
                Value::Null,
            )
            .await;
        assert_eq!(s, 200, "{found}");
        assert_eq!(found["error"], Value::Null, "{found}");
    }
    let (_, key) = app.key(&[&google_id, &openai_id]).await;

    let res = app
        .client
        .get(app.url("/v1beta/models"))
        .header("x-goog-api-key", &key)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let list: Value = res.json().await.unwrap();
    let names: Vec<&str> = list["models"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["name"].as_str().unwrap())
        .collect();
    // imagen-4 is outside the upstream's patterns.
    assert_eq!(
        names,
        [
            format!("models/{FLASH}"),
            "models/text-embedding-004".into()
        ],
        "{list}"
    );
    assert_eq!(
        list["models"][0]["supportedGenerationMethods"],
        json!(["generateContent", "streamGenerateContent", "countTokens"])
    );
    assert_eq!(
        list["models"][1]["supportedGenerationMethods"][0],
        "embedContent"
    );

    let res = app
        .client
        .get(app.url(&format!("/v1beta/models/{FLASH}?key={key}")))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let model: Value = res.json().await.unwrap();
    assert_eq!(model["name"], format!("models/{FLASH}"));
    let res = app
        .client
        .get(app.url("/v1beta/models/gpt-4o-mini"))
        .header("x-goog-api-key", &key)
        .send()
        .await
        .unwrap();
    google_error(res, 404, "NOT_FOUND").await;

    assert_eq!(
        app.model_ids(&key).await,
        [FLASH, "gpt-4o-mini", "text-embedding-004"]
    );
    // The google-genai SDK lists below `/v1/` with its own header: Gemini's shape.
    let res = app
        .client
        .get(app.url("/v1/models"))
        .header("x-goog-api-key", &key)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let list: Value = res.json().await.unwrap();
    assert_eq!(
        list["models"][0]["name"],
        format!("models/{FLASH}"),
        "{list}"
    );
    assert_eq!(
        mock.hits() + openai.hits(),
        0,
        "lists are answered by the gateway"
    );
}

private_both_backends!(gemini_model_lists);
