//! The data plane over real HTTP: client -> gateway -> mock upstream speaking the providers' wire
//! formats, on SQLite and PostgreSQL. Bodies pass byte for byte, streams arrive chunk by chunk,
//! credentials are swapped, usage and timings land in the log.
use crate::common;

use std::time::{Duration, Instant};

use common::mock_upstream::{self as mock, MockUpstream};
use common::TestApp;
use futures_util::StreamExt;
use serde_json::{json, Value};

const UPSTREAM_KEY: &str = "sk-upstream-real-secret-0123456789";

/// A gateway allowed to reach the mock on 127.0.0.1, one OpenAI and one Anthropic upstream, one key.
struct World {
    openai: MockUpstream,
    anthropic: MockUpstream,
    openai_id: String,
    anthropic_id: String,
    key_id: String,
    key: String,
}

async fn world(app: &TestApp) -> World {
    let openai = MockUpstream::start().await;
    let anthropic = MockUpstream::start().await;
    let openai_id = app
        .upstream(json!({
            "name": "mock-openai", "provider": "openai", "base_url": openai.base_url, "api_key": UPSTREAM_KEY,
            "model_redirects": {"gpt-4": "gpt-4o-mini"}
        }))
        .await;
    let anthropic_id = app
        .upstream(json!({
            "name": "mock-anthropic", "provider": "anthropic", "base_url": anthropic.base_url, "api_key": UPSTREAM_KEY
        }))
        .await;
    let (key_id, key) = app.key(&[&openai_id, &anthropic_id]).await;
    World {
        openai,
        anthropic,
        openai_id,
        anthropic_id,
        key_id,
        key,
    }
}

fn log_for<'a>(logs: &'a [Value], request_id: &str) -> &'a Value {
    logs.iter()
        .find(|l| l["request_id"] == request_id)
        .unwrap_or_else(|| panic!("no log row for {request_id}: {logs:?}"))
}

fn request_id(res: &reqwest::Response) -> String {
    res.headers()["x-request-id"].to_str().unwrap().to_string()
}

async fn openai_json_passes_through_with_swapped_auth(app: &TestApp) {
    let w = world(app).await;
    let res = app
        .client
        .post(app.url("/v1/chat/completions"))
        .bearer_auth(&w.key)
        .header("openai-organization", "org-test")
        .header("cookie", "ar_session=should-not-travel")
        .json(&json!({"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let rid = request_id(&res);
    assert_eq!(
        res.text().await.unwrap(),
        mock::chat_completion_json("gpt-4o-mini"),
        "byte for byte"
    );

    let seen = w.openai.last().unwrap();
    assert_eq!(seen.path, "/v1/chat/completions");
    assert_eq!(
        seen.header("authorization"),
        Some(format!("Bearer {UPSTREAM_KEY}").as_str())
    );
    // The upstream account's organization is the gateway's to choose, not the client's.
    assert_eq!(seen.header("openai-organization"), None);
    assert_eq!(seen.header("cookie"), None);
    assert!(
        !seen.headers.iter().any(|(_, v)| v.contains(&w.key)),
        "client key reached the upstream"
    );

    let logs = app.logs(1).await;
    let row = log_for(&logs, &rid);
    assert_eq!(row["status_code"], 200);
    assert_eq!(row["api_key_id"], w.key_id.as_str());
    assert_eq!(row["upstream_id"], w.openai_id.as_str());
    assert_eq!(row["model_requested"], "gpt-4o-mini");
    assert_eq!(row["model_sent"], "gpt-4o-mini");
    assert_eq!(row["is_stream"], false);
    assert_eq!(row["prompt_tokens"], 11);
    assert_eq!(row["completion_tokens"], 7);
    assert_eq!(row["total_tokens"], 18);
    assert_eq!(row["cached_tokens"], 2);
    assert_eq!(row["reasoning_tokens"], 3);
    assert_eq!(
        row["error_message"],
        Value::Null,
        "a fully read JSON body is complete, not abandoned"
    );
    assert_eq!(row["failover_attempts"], 1);
    assert!(row["duration_ms"].as_i64().unwrap() >= row["ttfb_ms"].as_i64().unwrap());
    assert_eq!(
        row["ttft_ms"],
        Value::Null,
        "a JSON answer has no first token"
    );
    assert!(!logs
        .iter()
        .any(|l| l.to_string().contains(UPSTREAM_KEY) || l.to_string().contains(&w.key)));
}

/// Reads a streamed response, noting when each chunk arrived.
async fn timed_chunks(res: reqwest::Response) -> (Vec<(Instant, bytes::Bytes)>, String) {
    let mut chunks = Vec::new();
    let mut stream = res.bytes_stream();
    while let Some(c) = stream.next().await {
        chunks.push((Instant::now(), c.unwrap()));
    }
    let text = chunks
        .iter()
        .map(|(_, c)| String::from_utf8_lossy(c).to_string())
        .collect();
    (chunks, text)
}

async fn openai_stream_arrives_chunk_by_chunk_and_is_accounted(app: &TestApp) {
    let w = world(app).await;
    let sent = Instant::now();
    let res = app
        .client
        .post(app.url("/api/proxy/v1/chat/completions"))
        .bearer_auth(&w.key)
        .query(&[("x-mock-chunk-delay-ms", "60")])
        .query(&[("x-mock-events", "5")])
        .json(&json!({"model": "gpt-4o-mini", "stream": true, "messages": []}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert!(res.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/event-stream"));
    let rid = request_id(&res);
    let (chunks, text) = timed_chunks(res).await;

    // The gateway asked for usage on the client's behalf and removed the extra chunk.
    let upstream_body = w.openai.last().unwrap().json().unwrap();
    assert_eq!(upstream_body["stream_options"]["include_usage"], true);
    let expected: String = mock::chat_stream_events("gpt-4o-mini", 5, true)
        .into_iter()
        .filter(|e| !e.contains("\"choices\":[]"))
        .collect();
    assert_eq!(text, expected);
    // Arrival times: the first event long before the last (8 events, 60 ms apart upstream).
    assert!(chunks.len() >= 5, "chunks were merged: {}", chunks.len());
    let first = chunks.first().unwrap().0.duration_since(sent);
    let last = chunks.last().unwrap().0.duration_since(sent);
    assert!(
        last - first >= Duration::from_millis(300),
        "first {first:?} last {last:?}"
    );

    let logs = app.logs(1).await;
    let row = log_for(&logs, &rid);
    assert_eq!(row["is_stream"], true);
    assert_eq!(row["prompt_tokens"], 11);
    assert_eq!(row["completion_tokens"], 7);
    assert!(row["ttft_ms"].as_i64().unwrap() < row["duration_ms"].as_i64().unwrap());
    assert!(row["ttfb_ms"].as_i64().unwrap() < row["ttft_ms"].as_i64().unwrap());
    assert_eq!(row["error_message"], Value::Null);
}

/// Time to first byte and time to first token, on the three stream formats: the mock sends its
/// opening events (a role-only chunk, `response.created`, `message_start`...) at once and its
/// first content delta one or more delays later, so the two times differ by at least the delay.
async fn first_byte_and_first_token_are_timed_apart(app: &TestApp) {
    let w = world(app).await;
    const DELAY_MS: i64 = 150;
    let delay = DELAY_MS.to_string();
    let calls = [
        (
            "/v1/chat/completions",
            json!({"model": "gpt-4o-mini", "stream": true, "messages": []}),
            false,
        ),
        (
            "/v1/responses",
            json!({"model": "gpt-4o-mini", "stream": true, "input": "hi"}),
            false,
        ),
        (
            "/v1/messages",
            json!({"model": "claude-3-5-sonnet-20241022", "stream": true, "max_tokens": 8, "messages": []}),
            true,
        ),
    ];
    let mut ids = Vec::new();
    for (path, body, anthropic) in calls {
        let request = app
            .client
            .post(app.url(path))
            .query(&[
                ("x-mock-chunk-delay-ms", delay.as_str()),
                ("x-mock-events", "2"),
            ])
            .json(&body);
        let request = if anthropic {
            request
                .header("x-api-key", &w.key)
                .header("anthropic-version", "2023-06-01")
        } else {
            request.bearer_auth(&w.key)
        };
        let res = request.send().await.unwrap();
        assert_eq!(res.status(), 200, "{path}");
        ids.push((path, request_id(&res)));
        res.bytes().await.unwrap();
    }
    let logs = app.logs(3).await;
    for (path, rid) in ids {
        let row = log_for(&logs, &rid);
        let ttfb = row["ttfb_ms"]
            .as_i64()
            .unwrap_or_else(|| panic!("{path}: {row}"));
        let ttft = row["ttft_ms"]
            .as_i64()
            .unwrap_or_else(|| panic!("{path}: {row}"));
        assert!(
            ttfb < DELAY_MS,
            "{path}: the opening event comes at once ({row})"
        );
        assert!(
            ttft - ttfb >= DELAY_MS - 2,
            "{path}: content comes a delay later ({row})"
        );
        assert!(ttft <= row["duration_ms"].as_i64().unwrap(), "{path}");
    }
}

async fn openai_stream_keeps_usage_chunk_the_client_asked_for(app: &TestApp) {
    let w = world(app).await;
    let res = app
        .client
        .post(app.url("/v1/chat/completions"))
        .bearer_auth(&w.key)
        .json(&json!({"model": "gpt-4o-mini", "stream": true, "stream_options": {"include_usage": true}, "messages": []}))
        .send()
        .await
        .unwrap();
    let body = res.text().await.unwrap();
    assert_eq!(
        body,
        mock::chat_stream_events("gpt-4o-mini", mock::DEFAULT_EVENTS, true).concat()
    );
}

async fn anthropic_messages_json_and_stream(app: &TestApp) {
    let w = world(app).await;
    let model = "claude-3-5-sonnet-20241022";
    let res = app
        .client
        .post(app.url("/v1/messages"))
        .header("x-api-key", &w.key)
        .header("anthropic-beta", "prompt-caching-2024-07-31")
        .json(&json!({"model": model, "max_tokens": 64, "messages": [{"role": "user", "content": "hi"}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let rid_json = request_id(&res);
    assert_eq!(res.text().await.unwrap(), mock::messages_json(model));
    let seen = w.anthropic.last().unwrap();
    assert_eq!(seen.header("x-api-key"), Some(UPSTREAM_KEY));
    assert_eq!(seen.header("anthropic-version"), Some("2023-06-01"));
    assert_eq!(
        seen.header("anthropic-beta"),
        Some("prompt-caching-2024-07-31")
    );
    assert_eq!(seen.header("authorization"), None);

    let res = app
        .client
        .post(app.url("/v1/messages"))
        .header("x-api-key", &w.key)
        .header("anthropic-version", "2023-01-01")
        .json(&json!({"model": model, "max_tokens": 64, "stream": true, "messages": []}))
        .send()
        .await
        .unwrap();
    let rid_stream = request_id(&res);
    let body = res.text().await.unwrap();
    assert_eq!(
        body,
        mock::messages_stream_events(model, mock::DEFAULT_EVENTS).concat()
    );
    assert_eq!(
        w.anthropic.last().unwrap().header("anthropic-version"),
        Some("2023-01-01"),
        "client's version kept"
    );

    let logs = app.logs(2).await;
    for rid in [&rid_json, &rid_stream] {
        let row = log_for(&logs, rid);
        assert_eq!(row["upstream_id"], w.anthropic_id.as_str());
        assert_eq!(
            row["prompt_tokens"], 35,
            "input 25 + cache creation 3 + cache read 7"
        );
        assert_eq!(row["completion_tokens"], 15);
        assert_eq!(row["total_tokens"], 50);
        assert_eq!(row["cache_creation_tokens"], 3);
        assert_eq!(row["cache_read_tokens"], 7);
    }
    assert_eq!(log_for(&logs, &rid_stream)["is_stream"], true);
}

async fn responses_and_embeddings_are_accounted(app: &TestApp) {
    let w = world(app).await;
    let res = app
        .client
        .post(app.url("/v1/responses?trace=1"))
        .bearer_auth(&w.key)
        .json(&json!({"model": "gpt-4o-mini", "input": "hi", "stream": true}))
        .send()
        .await
        .unwrap();
    let rid_resp = request_id(&res);
    assert_eq!(
        res.text().await.unwrap(),
        mock::responses_stream_events("gpt-4o-mini", mock::DEFAULT_EVENTS).concat()
    );
    assert_eq!(
        w.openai.last().unwrap().path,
        "/v1/responses?trace=1",
        "query string kept"
    );
    let res = app
        .client
        .post(app.url("/v1/embeddings"))
        .bearer_auth(&w.key)
        .json(&json!({"model": "text-embedding-3-small", "input": "hi"}))
        .send()
        .await
        .unwrap();
    let rid_emb = request_id(&res);
    assert_eq!(
        res.text().await.unwrap(),
        mock::embeddings_json("text-embedding-3-small")
    );
    let logs = app.logs(2).await;
    let r = log_for(&logs, &rid_resp);
    assert_eq!(
        (
            r["prompt_tokens"].as_i64(),
            r["completion_tokens"].as_i64(),
            r["cached_tokens"].as_i64()
        ),
        (Some(13), Some(5), Some(4))
    );
    let e = log_for(&logs, &rid_emb);
    assert_eq!(
        (e["prompt_tokens"].as_i64(), e["total_tokens"].as_i64()),
        (Some(8), Some(8))
    );
}

async fn redirects_rewrite_the_model_sent(app: &TestApp) {
    let w = world(app).await;
    let res = app
        .client
        .post(app.url("/v1/chat/completions"))
        .bearer_auth(&w.key)
        .json(&json!({"model": "gpt-4", "messages": []}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let rid = request_id(&res);
    assert_eq!(
        w.openai.last().unwrap().json().unwrap()["model"],
        "gpt-4o-mini"
    );
    let logs = app.logs(1).await;
    let row = log_for(&logs, &rid);
    assert_eq!(row["model_requested"], "gpt-4");
    assert_eq!(row["model_sent"], "gpt-4o-mini");
}

async fn bad_keys_get_401_in_the_callers_format_and_are_counted(app: &TestApp) {
    let w = world(app).await;
    let chat = json!({"model": "gpt-4o-mini", "messages": []});
    let res = app
        .client
        .post(app.url("/v1/chat/completions"))
        .json(&chat)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["error"]["code"], "invalid_api_key");
    let res = app
        .client
        .post(app.url("/v1/chat/completions"))
        .bearer_auth(format!("{}x", &w.key[..w.key.len() - 1]))
        .json(&chat)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
    let res = app
        .client
        .post(app.url("/v1/messages"))
        .header("x-api-key", "sk-auto-nope")
        .json(&json!({"model": "claude-3-5-sonnet-20241022", "messages": []}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["type"], "error");
    assert_eq!(body["error"]["type"], "authentication_error");
    assert_eq!(
        w.openai.hits() + w.anthropic.hits(),
        0,
        "refused requests never reach an upstream"
    );
    // Anyone can send these: they are counted, not stored row by row.
    assert_eq!(app.state.plane.keys.refusals(), 3);
    app.state.plane.logs.flush().await;
    let (status, page) = app
        .admin_json(reqwest::Method::GET, "/api/admin/logs", Value::Null)
        .await;
    assert_eq!(status, 200);
    assert_eq!(page["total"], 0, "{page}");
    // One answer whatever the reason: a disabled key reads like a wrong one.
    app.admin_json(
        reqwest::Method::PUT,
        &format!("/api/admin/keys/{}", w.key_id),
        json!({"is_active": false}),
    )
    .await;
    let res = app
        .client
        .post(app.url("/v1/chat/completions"))
        .bearer_auth(&w.key)
        .json(&chat)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["error"]["message"], "invalid API key");
}

async fn disabled_deleted_and_expired_keys_are_refused_on_the_next_request(app: &TestApp) {
    let w = world(app).await;
    let chat = json!({"model": "gpt-4o-mini", "messages": []});
    let call = |key: String| {
        let chat = chat.clone();
        async move {
            app.client
                .post(app.url("/v1/chat/completions"))
                .bearer_auth(key)
                .json(&chat)
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }
    };
    assert_eq!(
        call(w.key.clone()).await,
        200,
        "warm the verification cache"
    );
    let (s, _) = app
        .admin_json(
            reqwest::Method::PUT,
            &format!("/api/admin/keys/{}", w.key_id),
            json!({"is_active": false}),
        )
        .await;
    assert_eq!(s, 200);
    assert_eq!(call(w.key.clone()).await, 401, "disabled");
    app.admin_json(
        reqwest::Method::PUT,
        &format!("/api/admin/keys/{}", w.key_id),
        json!({"is_active": true}),
    )
    .await;
    assert_eq!(call(w.key.clone()).await, 200, "re-enabled");
    // Permissions edited: the key loses its OpenAI upstream.
    app.admin_json(
        reqwest::Method::PUT,
        &format!("/api/admin/keys/{}", w.key_id),
        json!({"upstream_ids": [w.anthropic_id]}),
    )
    .await;
    assert_eq!(
        call(w.key.clone()).await,
        404,
        "no permitted upstream serves the model"
    );
    let res = app
        .client
        .delete(app.url(&format!("/api/admin/keys/{}", w.key_id)))
        .bearer_auth(common::ADMIN_TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 204);
    assert_eq!(call(w.key.clone()).await, 401, "deleted");

    let expires = time_in(Duration::from_secs(2));
    let (s, created) = app
        .admin_json(
            reqwest::Method::POST,
            "/api/admin/keys",
            json!({"name": "short-lived", "upstream_ids": [w.openai_id], "expires_at": expires}),
        )
        .await;
    assert_eq!(s, 201, "{created}");
    let short = created["key_value"].as_str().unwrap().to_string();
    assert_eq!(call(short.clone()).await, 200);
    app.clock.advance(Duration::from_millis(2300));
    assert_eq!(call(short).await, 401, "expired");
}

fn time_in(d: Duration) -> String {
    let at = std::time::SystemTime::now() + d;
    let secs = at
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    // RFC 3339 via the server's own formatter keeps the test free of a date crate.
    autorouter::server::timefmt::to_rfc3339(secs)
}

async fn routing_errors_and_bad_bodies(app: &TestApp) {
    let w = world(app).await;
    let post = |path: &'static str, body: reqwest::Body| {
        let key = w.key.clone();
        async move {
            let res = app
                .client
                .post(app.url(path))
                .bearer_auth(key)
                .header("content-type", "application/json")
                .body(body)
                .send()
                .await
                .unwrap();
            let status = res.status().as_u16();
            (status, res.json::<Value>().await.unwrap())
        }
    };
    let (s, b) = post("/v1/chat/completions", "{\"model\": ".into()).await;
    assert_eq!(s, 400);
    assert!(b["error"]["message"]
        .as_str()
        .unwrap()
        .contains("malformed JSON"));
    let (s, b) = post("/v1/chat/completions", "{\"messages\": []}".into()).await;
    assert_eq!(s, 400);
    assert!(b["error"]["message"].as_str().unwrap().contains("model"));
    let (s, b) = post(
        "/v1/chat/completions",
        "{\"model\": \"mistral-large\"}".into(),
    )
    .await;
    assert_eq!(s, 404);
    assert_eq!(b["error"]["code"], "model_not_found");
    assert!(b["error"]["message"]
        .as_str()
        .unwrap()
        .contains("mistral-large"));
    let (s, b) = post("/v1/messages", "{\"model\": \"llama-9\"}".into()).await;
    assert_eq!(s, 404);
    assert_eq!(b["error"]["type"], "not_found_error");
    assert_eq!(w.openai.hits() + w.anthropic.hits(), 0);
}

async fn oversized_bodies_get_413() {
    let app = TestApp::spawn_with(
        common::Backend::Sqlite,
        &[
            ("ALLOW_PRIVATE_UPSTREAMS", "true"),
            ("MAX_REQUEST_BODY_BYTES", "2048"),
        ],
    )
    .await;
    let w = world(&app).await;
    let big = json!({"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "x".repeat(5000)}]});
    let res = app
        .client
        .post(app.url("/v1/chat/completions"))
        .bearer_auth(&w.key)
        .json(&big)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 413);
    // Without a Content-Length the limit is found while reading.
    let chunks = futures_util::stream::iter(
        (0..10).map(|_| Ok::<_, std::io::Error>(bytes::Bytes::from(vec![b' '; 1024]))),
    );
    let res = app
        .client
        .post(app.url("/v1/chat/completions"))
        .bearer_auth(&w.key)
        .body(reqwest::Body::wrap_stream(chunks))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 413);
    assert_eq!(w.openai.hits(), 0);
    // A body within the limit that arrives in many frames is gathered whole.
    let body = json!({"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "y".repeat(1500)}]}).to_string();
    let pieces: Vec<Result<bytes::Bytes, std::io::Error>> = body
        .as_bytes()
        .chunks(100)
        .map(|c| Ok(bytes::Bytes::copy_from_slice(c)))
        .collect();
    let res = app
        .client
        .post(app.url("/v1/chat/completions"))
        .bearer_auth(&w.key)
        .body(reqwest::Body::wrap_stream(futures_util::stream::iter(
            pieces,
        )))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(w.openai.last().unwrap().body, body.as_bytes());
    app.cleanup().await;
}

async fn models_endpoint_lists_what_the_key_reaches(app: &TestApp) {
    let mock = MockUpstream::start().await;
    let id = app
        .upstream(json!({
            "name": "compat", "provider": "openai_compatible", "base_url": mock.base_url, "api_key": UPSTREAM_KEY,
            "allowed_models": ["deepseek-chat", "deepseek-*"], "model_redirects": {"ds": "deepseek-chat"}
        }))
        .await;
    let (_, key) = app.key(&[&id]).await;
    assert_eq!(
        app.model_ids(&key).await,
        vec!["deepseek-chat"],
        "globs are not listed; redirect keys only when served"
    );
    // openai_compatible serves only what it lists.
    let res = app
        .client
        .post(app.url("/v1/chat/completions"))
        .bearer_auth(&key)
        .json(&json!({"model": "gpt-4o", "messages": []}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 404);
}

async fn client_disconnect_is_logged_with_what_was_counted(app: &TestApp) {
    let w = world(app).await;
    // The upstream's model list is fetched once it is created, on a connection closed after it:
    // let that pass, so the only connection counted below is the proxied request's.
    let deadline = Instant::now() + Duration::from_secs(3);
    while w.anthropic.model_fetches() == 0 || w.anthropic.open_connections() > 0 {
        assert!(Instant::now() < deadline, "model discovery never finished");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let res = app
        .client
        .post(app.url("/v1/messages"))
        .header("x-api-key", &w.key)
        .query(&[("x-mock-chunk-delay-ms", "100")])
        .query(&[("x-mock-events", "20")])
        .json(&json!({"model": "claude-3-5-sonnet-20241022", "stream": true, "messages": []}))
        .send()
        .await
        .unwrap();
    let rid = request_id(&res);
    let mut stream = res.bytes_stream();
    let first = stream.next().await.unwrap().unwrap();
    assert!(String::from_utf8_lossy(&first).contains("message_start"));
    assert_eq!(w.anthropic.open_connections(), 1);
    drop(stream);
    // The gateway cancels its upstream request: the upstream sees its connection close.
    let deadline = Instant::now() + Duration::from_secs(3);
    while w.anthropic.open_connections() > 0 {
        assert!(
            Instant::now() < deadline,
            "the upstream request was not cancelled"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let logs = app.logs(1).await;
    let row = log_for(&logs, &rid);
    assert!(
        row["error_message"]
            .as_str()
            .unwrap_or("")
            .contains("client disconnected"),
        "{row}"
    );
    assert_eq!(
        row["prompt_tokens"], 35,
        "input counted from message_start before the client left"
    );
}

async fn connection_tests_report_their_outcome(app: &TestApp) {
    let mock = MockUpstream::start().await;
    mock.update(|k| k.require_auth = Some(UPSTREAM_KEY.to_string()));
    let id = app
        .upstream(json!({"name": "probe", "provider": "openai", "base_url": mock.base_url, "api_key": UPSTREAM_KEY}))
        .await;
    let (s, r) = app
        .admin_json(
            reqwest::Method::POST,
            &format!("/api/admin/upstreams/{id}/test"),
            json!({}),
        )
        .await;
    assert_eq!(s, 200);
    assert_eq!(r["success"], true, "{r}");
    assert_eq!(r["status_code"], 200);
    assert!(r["latency_ms"].as_u64().is_some());
    assert_eq!(mock.last().unwrap().path, "/v1/models");

    let (_, r) = app
        .admin_json(
            reqwest::Method::POST,
            "/api/admin/upstreams/test",
            json!({"provider": "openai", "base_url": mock.base_url, "api_key": "wrong-key"}),
        )
        .await;
    assert_eq!(
        (r["success"].as_bool(), r["error_type"].as_str()),
        (Some(false), Some("auth")),
        "{r}"
    );
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let (_, r) = app
        .admin_json(
            reqwest::Method::POST,
            "/api/admin/upstreams/test",
            json!({"provider": "openai", "base_url": format!("http://127.0.0.1:{closed}/v1"), "api_key": "k"}),
        )
        .await;
    assert_eq!(r["error_type"], "network", "{r}");
    let (_, r) = app
        .admin_json(
            reqwest::Method::POST,
            "/api/admin/upstreams/test",
            json!({"provider": "openai", "base_url": "http://169.254.169.254/v1", "api_key": "k"}),
        )
        .await;
    assert_eq!(r["error_type"], "ssrf_blocked", "{r}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ssrf_is_refused_at_save_test_and_connect_without_the_private_switch() {
    let app = TestApp::spawn(common::Backend::Sqlite).await;
    let mock = MockUpstream::start().await;
    let (s, e) = app
        .admin_json(
            reqwest::Method::POST,
            "/api/admin/upstreams",
            json!({"name": "loop", "provider": "openai", "base_url": mock.base_url, "api_key": "k"}),
        )
        .await;
    assert_eq!(s, 400, "{e}");
    assert!(e["error"]["message"]
        .as_str()
        .unwrap()
        .starts_with("base_url"));
    // A name that resolves to loopback is refused by the guarded resolver when connecting.
    let (_, r) = app
        .admin_json(
            reqwest::Method::POST,
            "/api/admin/upstreams/test",
            json!({"provider": "openai", "base_url": format!("http://localhost:{}/v1", mock.addr.port()), "api_key": "k"}),
        )
        .await;
    assert_eq!(r["error_type"], "ssrf_blocked", "{r}");
    assert_eq!(mock.hits(), 0);
    app.cleanup().await;
}

async fn timeouts_are_idle_not_total_and_upstream_errors_are_mapped(app: &TestApp) {
    let mock = MockUpstream::start().await;
    let id = app
        .upstream(json!({"name": "slow", "provider": "openai", "base_url": mock.base_url, "api_key": UPSTREAM_KEY, "timeout_ms": 1000}))
        .await;
    let (_, key) = app.key(&[&id]).await;
    let send = |headers: Vec<(&'static str, &'static str)>, stream: bool| {
        let key = key.clone();
        async move {
            let mut req = app
                .client
                .post(app.url("/v1/chat/completions"))
                .bearer_auth(key)
                .json(&json!({"model": "gpt-4o-mini", "stream": stream, "messages": []}));
            // The mock's knobs ride in the query, which reaches it as sent.
            for (k, v) in headers {
                req = req.query(&[(k, v)]);
            }
            req.send().await.unwrap()
        }
    };
    // No answer within the upstream's timeout: 504 in OpenAI's format.
    let res = send(vec![("x-mock-latency-ms", "1600")], false).await;
    assert_eq!(res.status(), 504);
    let rid_timeout = request_id(&res);
    assert_eq!(
        res.json::<Value>().await.unwrap()["error"]["type"],
        "server_error"
    );
    // A client error from the upstream is returned as the upstream sent it.
    let res = send(vec![("x-mock-status", "400")], false).await;
    assert_eq!(res.status(), 400);
    let rid_400 = request_id(&res);
    assert_eq!(
        res.text().await.unwrap(),
        mock::openai_error_json(400, "mock upstream error (status 400)"),
        "byte for byte"
    );
    // A server error with nowhere to fail over to becomes the gateway's 502, in OpenAI's format.
    let res = send(vec![("x-mock-status", "500")], false).await;
    assert_eq!(res.status(), 502);
    assert_eq!(
        res.json::<Value>().await.unwrap()["error"]["type"],
        "server_error"
    );
    // A stream lasting 2.4 s through a 1 s timeout completes: the timeout is between chunks.
    let res = send(
        vec![("x-mock-chunk-delay-ms", "400"), ("x-mock-events", "4")],
        true,
    )
    .await;
    let rid_long = request_id(&res);
    let started = Instant::now();
    let body = res.text().await.unwrap();
    assert!(started.elapsed() >= Duration::from_millis(1500));
    assert!(body.ends_with("data: [DONE]\n\n"), "{body}");
    // A stream that goes quiet for longer than the timeout is cut.
    let res = send(
        vec![("x-mock-chunk-delay-ms", "1600"), ("x-mock-events", "3")],
        true,
    )
    .await;
    let rid_idle = request_id(&res);
    let (_, text) = timed_chunks_lossy(res).await;
    assert!(!text.contains("[DONE]"));

    let logs = app.logs(5).await;
    assert_eq!(log_for(&logs, &rid_timeout)["status_code"], 504);
    assert_eq!(log_for(&logs, &rid_long)["error_message"], Value::Null);
    assert_eq!(log_for(&logs, &rid_long)["completion_tokens"], 7);
    let client_error = log_for(&logs, &rid_400);
    assert_eq!(client_error["status_code"], 400);
    assert_eq!(
        client_error["error_message"], "upstream answered HTTP 400",
        "a fully read body is not a disconnect"
    );
    let idle = log_for(&logs, &rid_idle);
    assert!(
        idle["error_message"]
            .as_str()
            .unwrap()
            .contains("sent nothing for 1000 ms"),
        "{idle}"
    );
}

/// Reads until the stream ends or breaks.
async fn timed_chunks_lossy(res: reqwest::Response) -> (usize, String) {
    let mut stream = res.bytes_stream();
    let mut text = String::new();
    let mut n = 0;
    while let Some(c) = stream.next().await {
        match c {
            Ok(c) => {
                n += 1;
                text.push_str(&String::from_utf8_lossy(&c));
            }
            Err(_) => break,
        }
    }
    (n, text)
}

async fn private_upstreams_are_refused_at_connect_once_the_switch_is_off(app: &TestApp) {
    let w = world(app).await;
    let chat = json!({"model": "gpt-4o-mini", "messages": []});
    let ok = app
        .client
        .post(app.url("/v1/chat/completions"))
        .bearer_auth(&w.key)
        .json(&chat)
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), 200);
    let hits = w.openai.hits();
    // The same database served by a gateway without ALLOW_PRIVATE_UPSTREAMS: the saved
    // loopback upstream is refused when connecting, and the upstream never hears of it.
    let strict = app.another_instance(&[]).await;
    let res = strict
        .client
        .post(strict.url("/v1/chat/completions"))
        .bearer_auth(&w.key)
        .json(&chat)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 502);
    let rid = request_id(&res);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["error"]["message"], "upstream unavailable", "{body}");
    assert!(
        !body.to_string().contains("127.0.0.1") && !body.to_string().contains("loopback"),
        "internal addresses and the gateway's policy stay out of client errors"
    );
    assert_eq!(w.openai.hits(), hits);
    let logs = strict.logs(2).await;
    assert!(log_for(&logs, &rid)["error_message"]
        .as_str()
        .unwrap()
        .contains("loopback"));
}

async fn named_hosts_resolve_and_queries_pass_byte_for_byte(app: &TestApp) {
    let mock = MockUpstream::start().await;
    let base = format!("http://localhost:{}/v1", mock.addr.port());
    let id = app
        .upstream(json!({"name": "named", "provider": "openai", "base_url": base, "api_key": UPSTREAM_KEY}))
        .await;
    let (_, key) = app.key(&[&id]).await;
    // The proxy's client resolves the name (through the guard, which allows loopback here; the
    // refusal is tested on the same client in src/server/proxy/ssrf.rs). The endpoint reaches
    // the upstream as the gateway's table spells it, however the client encoded it; the query
    // passes as it was sent, percent-encoding and all.
    let res = app
        .client
        .post(app.url("/v1/ch%61t/completions?trace=a%20b%2Fc"))
        .bearer_auth(&key)
        .json(&json!({"model": "gpt-4o-mini", "messages": []}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let received = mock.last().unwrap();
    assert_eq!(received.path, "/v1/chat/completions?trace=a%20b%2Fc");
    // Virtual-hosted upstreams route by Host: it names the upstream, not the gateway.
    let host = format!("localhost:{}", mock.addr.port());
    assert_eq!(received.header("host"), Some(host.as_str()));
    assert_eq!(chat(app, &key, false).await.status(), 200);
}

async fn upstream_redirects_are_never_followed(app: &TestApp) {
    // An "upstream" that answers every request with a redirect to the mock.
    let target = MockUpstream::start().await;
    let location = format!("{}/chat/completions", target.base_url);
    let redirector = axum::Router::new().fallback(move || {
        let location = location.clone();
        async move {
            (
                axum::http::StatusCode::TEMPORARY_REDIRECT,
                [(axum::http::header::LOCATION, location)],
            )
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move { axum::serve(listener, redirector).await.unwrap() });
    let id = app
        .upstream(json!({"name": "redirector", "provider": "openai", "base_url": format!("http://127.0.0.1:{port}/v1"), "api_key": UPSTREAM_KEY}))
        .await;
    let (_, key) = app.key(&[&id]).await;
    let res = app
        .client
        .post(app.url("/v1/chat/completions"))
        .bearer_auth(&key)
        .json(&json!({"model": "gpt-4o-mini", "messages": []}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 307, "the redirect is returned, not followed");
    assert_eq!(target.hits(), 0, "the redirect target was never contacted");
}

/// Two OpenAI upstreams: `a` is tried first (priority 0), `b` is the fallback (priority 1).
async fn pair(app: &TestApp, breaker: Value) -> (MockUpstream, MockUpstream, String) {
    let a = MockUpstream::start().await;
    let b = MockUpstream::start().await;
    let a_id = app
        .upstream(json!({"name": "a", "provider": "openai", "base_url": a.base_url, "api_key": UPSTREAM_KEY,
                         "priority": 0, "timeout_ms": 1000, "circuit_breaker": breaker}))
        .await;
    let b_id = app
        .upstream(json!({"name": "b", "provider": "openai", "base_url": b.base_url, "api_key": UPSTREAM_KEY, "priority": 1}))
        .await;
    let (_, key) = app.key(&[&a_id, &b_id]).await;
    (a, b, key)
}

async fn chat(app: &TestApp, key: &str, stream: bool) -> reqwest::Response {
    app.client
        .post(app.url("/v1/chat/completions"))
        .bearer_auth(key)
        .json(&json!({"model": "gpt-4o-mini", "stream": stream, "messages": []}))
        .send()
        .await
        .unwrap()
}

async fn failover_moves_to_the_next_upstream_and_logs_why(app: &TestApp) {
    let (a, b, key) = pair(app, json!({"failure_threshold": 50})).await;
    let mut expected = Vec::new();
    for (break_a, kind) in [
        (
            Box::new(|k: &mut mock::Knobs| k.status = Some(500)) as Box<dyn Fn(&mut mock::Knobs)>,
            "http_5xx",
        ),
        (
            Box::new(|k: &mut mock::Knobs| k.status = Some(429)),
            "http_429",
        ),
        (
            Box::new(|k: &mut mock::Knobs| k.latency_ms = 1500),
            "timeout",
        ),
    ] {
        a.reset();
        a.update(|k| break_a(k));
        let res = chat(app, &key, false).await;
        assert_eq!(res.status(), 200, "{kind}");
        expected.push((request_id(&res), kind));
        assert_eq!(
            res.text().await.unwrap(),
            mock::chat_completion_json("gpt-4o-mini")
        );
    }
    assert_eq!(b.hits(), 3);
    // A dead upstream (connection refused) fails over too.
    a.stop().await;
    let res = chat(app, &key, false).await;
    assert_eq!(res.status(), 200);
    expected.push((request_id(&res), "connect"));
    // When every upstream fails, the client gets one error in its own format, with the history logged.
    b.set(mock::Knobs {
        status: Some(503),
        ..Default::default()
    });
    let res = chat(app, &key, false).await;
    assert_eq!(res.status(), 502);
    let all_failed = request_id(&res);
    assert_eq!(
        res.json::<Value>().await.unwrap()["error"]["code"],
        "upstream_error"
    );

    let logs = app.logs(5).await;
    for (rid, kind) in &expected {
        let row = log_for(&logs, rid);
        assert_eq!(row["status_code"], 200);
        assert_eq!(row["failover_attempts"], 2, "{kind}");
        let history = row["failover_history"].as_array().unwrap();
        assert_eq!(history.len(), 1, "{kind}");
        assert_eq!(history[0]["upstream_name"], "a");
        assert_eq!(history[0]["error_type"], *kind);
        assert!(history[0]["attempted_at"].is_string());
    }
    let row = log_for(&logs, &all_failed);
    assert_eq!(row["status_code"], 502);
    let kinds: Vec<&str> = row["failover_history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["error_type"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, vec!["connect", "http_5xx"]);
    assert_eq!(row["failover_history"][1]["status_code"], 503);
}

async fn no_retry_once_bytes_reached_the_client(app: &TestApp) {
    let (a, b, key) = pair(app, json!({})).await;
    a.update(|k| k.drop_after_events = Some(2));
    let res = chat(app, &key, true).await;
    assert_eq!(res.status(), 200);
    let mut stream = res.bytes_stream();
    let mut got = String::new();
    let mut broke = false;
    while let Some(c) = stream.next().await {
        match c {
            Ok(c) => got.push_str(&String::from_utf8_lossy(&c)),
            Err(_) => {
                broke = true;
                break;
            }
        }
    }
    assert!(
        broke || !got.contains("[DONE]"),
        "the stream was cut: {got}"
    );
    assert!(got.contains("chat.completion.chunk"));
    assert_eq!(b.hits(), 0, "never retried after the first byte");
}

async fn breaker_opens_skips_half_opens_and_closes(app: &TestApp) {
    let (a, b, key) = pair(
        app,
        json!({"failure_threshold": 2, "success_threshold": 1, "open_duration_ms": 1000, "half_open_max_probes": 1}),
    )
    .await;
    a.update(|k| k.status = Some(500));
    for _ in 0..2 {
        assert_eq!(chat(app, &key, false).await.status(), 200);
    }
    assert_eq!(a.hits(), 2);
    // Open: `a` is skipped without being contacted.
    let res = chat(app, &key, false).await;
    assert_eq!(res.status(), 200);
    let skipped = request_id(&res);
    assert_eq!(a.hits(), 2);
    assert_eq!(b.hits(), 3);
    // After the open duration one probe goes through; its success closes the breaker.
    a.reset();
    app.clock.advance(Duration::from_millis(1100));
    assert_eq!(chat(app, &key, false).await.status(), 200);
    assert_eq!(a.hits(), 1, "half-open probe");
    assert_eq!(chat(app, &key, false).await.status(), 200);
    assert_eq!(
        a.hits(),
        2,
        "closed again: back in rotation without anyone touching it"
    );
    assert_eq!(b.hits(), 3);
    let logs = app.logs(5).await;
    let row = log_for(&logs, &skipped);
    assert_eq!(row["failover_history"][0]["error_type"], "breaker_open");
}

private_both_backends!(
    openai_json_passes_through_with_swapped_auth,
    openai_stream_arrives_chunk_by_chunk_and_is_accounted,
    openai_stream_keeps_usage_chunk_the_client_asked_for,
    first_byte_and_first_token_are_timed_apart,
    anthropic_messages_json_and_stream,
    responses_and_embeddings_are_accounted,
    redirects_rewrite_the_model_sent,
    bad_keys_get_401_in_the_callers_format_and_are_counted,
    disabled_deleted_and_expired_keys_are_refused_on_the_next_request,
    routing_errors_and_bad_bodies,
    models_endpoint_lists_what_the_key_reaches,
    client_disconnect_is_logged_with_what_was_counted,
    connection_tests_report_their_outcome,
    timeouts_are_idle_not_total_and_upstream_errors_are_mapped,
    private_upstreams_are_refused_at_connect_once_the_switch_is_off,
    named_hosts_resolve_and_queries_pass_byte_for_byte,
    upstream_redirects_are_never_followed,
    failover_moves_to_the_next_upstream_and_logs_why,
    no_retry_once_bytes_reached_the_client,
    breaker_opens_skips_half_opens_and_closes,
);

/// The proxy's client speaks TLS to `https` upstreams and checks the certificate against the
/// public roots: a self-signed one (`tests/fixtures`, made for this test and trusted nowhere) is
/// refused during the handshake, before any request is sent.
#[tokio::test]
async fn https_upstreams_must_present_a_trusted_certificate() {
    use tokio_rustls::rustls::pki_types::pem::PemObject;
    use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let cert =
        CertificateDer::from_pem_slice(include_bytes!("fixtures/untrusted-localhost.cert.pem"))
            .unwrap();
    let key = PrivateKeyDer::from_pem_slice(include_bytes!("fixtures/untrusted-localhost.key.pem"))
        .unwrap();
    let config = tokio_rustls::rustls::ServerConfig::builder()
        .with_no_client_auth()
        .with_single_cert(vec![cert], key)
        .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(std::sync::Arc::new(config));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let server = tokio::spawn(async move {
        let (tcp, _) = listener.accept().await.unwrap();
        acceptor.accept(tcp).await.is_ok()
    });
    let client = autorouter::server::http::upstream_client::build_proxy(
        autorouter::server::http::ssrf::SsrfPolicy {
            allow_private: true,
        },
    );
    let target = autorouter::server::proxy::upstream_target::UpstreamTarget::parse(&format!(
        "https://localhost:{port}/v1"
    ))
    .unwrap();
    let request = hyper::Request::post(target.uri("chat/completions", None).unwrap())
        .body(http_body_util::Full::new(bytes::Bytes::from_static(b"{}")))
        .unwrap();
    let Err(err) = client.send(target.origin(), request).await else {
        panic!("an untrusted certificate is refused");
    };
    let chain = autorouter::server::text::error_chain(&err);
    assert!(
        chain.contains("invalid peer certificate: UnknownIssuer"),
        "{chain}"
    );
    assert!(!server.await.unwrap(), "the handshake never completed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_bodies_are_refused() {
    oversized_bodies_get_413().await;
}

/// With CORS on, proxied requests go through the router's layers (see `http::front`): a browser
/// app's preflight is answered and the proxied answer carries the CORS header, an id and a log.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cors_covers_the_proxy_when_configured() {
    let origin = "https://app.example.com";
    let app = TestApp::spawn_with(
        common::Backend::Sqlite,
        &[
            ("ALLOW_PRIVATE_UPSTREAMS", "true"),
            ("CORS_ORIGINS", origin),
        ],
    )
    .await;
    let w = world(&app).await;
    let preflight = app
        .client
        .request(reqwest::Method::OPTIONS, app.url("/v1/chat/completions"))
        .header("origin", origin)
        .header("access-control-request-method", "POST")
        .header(
            "access-control-request-headers",
            "authorization, content-type",
        )
        .send()
        .await
        .unwrap();
    assert!(preflight.status().is_success(), "{}", preflight.status());
    assert_eq!(
        preflight.headers()["access-control-allow-origin"],
        origin,
        "preflight answered by the CORS layer"
    );
    assert_eq!(w.openai.hits(), 0, "a preflight never reaches an upstream");
    let res = app
        .client
        .post(app.url("/v1/chat/completions"))
        .header("origin", origin)
        .bearer_auth(&w.key)
        .json(&json!({"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["access-control-allow-origin"], origin);
    let rid = request_id(&res);
    assert_eq!(
        res.text().await.unwrap(),
        mock::chat_completion_json("gpt-4o-mini")
    );
    assert_eq!(log_for(&app.logs(1).await, &rid)["status_code"], 200);
    app.cleanup().await;
}
