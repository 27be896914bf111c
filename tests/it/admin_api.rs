//! Admin REST API for keys and upstreams over real HTTP, on SQLite and PostgreSQL.
use crate::common;

use common::{TestApp, ADMIN_TOKEN};
use serde_json::{json, Value};

const UPSTREAM_KEY: &str = "sk-upstream-secret-0123456789abcdef";

async fn send(
    app: &TestApp,
    method: reqwest::Method,
    path: &str,
    body: Option<Value>,
) -> (u16, Value) {
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
    assert!(
        !text.contains(UPSTREAM_KEY),
        "upstream key leaked in {path}: {text}"
    );
    let value = if text.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&text).unwrap_or(Value::String(text))
    };
    (status, value)
}

async fn get(app: &TestApp, path: &str) -> (u16, Value) {
    send(app, reqwest::Method::GET, path, None).await
}

async fn delete(app: &TestApp, path: &str) -> (u16, Value) {
    send(app, reqwest::Method::DELETE, path, None).await
}

async fn create_upstream(app: &TestApp, name: &str) -> Value {
    let (status, body) = send(
        app,
        reqwest::Method::POST,
        "/api/admin/upstreams",
        Some(json!({
            "name": name,
            "provider": "openai",
            "base_url": "https://api.openai.com/v1/",
            "api_key": UPSTREAM_KEY,
        })),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    body
}

fn error_type(body: &Value) -> &str {
    body["error"]["type"].as_str().unwrap_or("")
}

fn error_message(body: &Value) -> &str {
    body["error"]["message"].as_str().unwrap_or("")
}

async fn upstreams_crud_and_validation(app: &TestApp) {
    let created = create_upstream(app, "openai-main").await;
    let id = created["id"].as_str().unwrap().to_string();
    assert_eq!(created["base_url"], "https://api.openai.com/v1");
    assert_eq!(created["api_key_masked"], "sk-***cdef");
    assert_eq!(created["weight"], 1);
    assert_eq!(created["priority"], 0);
    assert_eq!(created["timeout_ms"], 60000);
    assert_eq!(created["is_active"], true);
    assert_eq!(created["circuit_breaker"]["failure_threshold"], 5);

    let (status, list) = get(app, "/api/admin/upstreams").await;
    assert_eq!(status, 200);
    assert_eq!(list["total"], 1);
    assert_eq!(list["page"], 1);
    assert_eq!(list["total_pages"], 1);
    assert_eq!(list["items"][0]["id"], id.as_str());

    let (status, err) = send(
        app,
        reqwest::Method::POST,
        "/api/admin/upstreams",
        Some(json!({"name": "openai-main", "provider": "openai", "base_url": "https://api.openai.com/v1", "api_key": "k"})),
    )
    .await;
    assert_eq!(status, 409, "duplicate names conflict");
    assert_eq!(error_type(&err), "conflict");
    assert_eq!(err["error"]["param"], "name");
    assert_eq!(err["error"]["code"], "taken");

    let (status, updated) = send(
        app,
        reqwest::Method::PUT,
        &format!("/api/admin/upstreams/{id}"),
        Some(json!({"weight": 7, "priority": 2, "allowed_models": ["gpt-4o*"], "model_redirects": {"gpt-4": "gpt-4o"}})),
    )
    .await;
    assert_eq!(status, 200, "{updated}");
    assert_eq!(updated["weight"], 7);
    assert_eq!(updated["priority"], 2);
    assert_eq!(updated["allowed_models"], json!(["gpt-4o*"]));
    assert_eq!(updated["model_redirects"], json!({"gpt-4": "gpt-4o"}));
    assert_eq!(
        updated["api_key_masked"], "sk-***cdef",
        "absent api_key keeps the stored one"
    );

    for (body, field, code) in [
        (
            json!({"name": "x", "provider": "azure", "base_url": "https://a.example/v1", "api_key": "k"}),
            "provider",
            "invalid",
        ),
        (
            json!({"name": "x", "provider": "openai", "base_url": "ftp://a.example/v1", "api_key": "k"}),
            "base_url",
            "url_scheme",
        ),
        (
            json!({"name": "x", "provider": "openai", "base_url": "http://10.0.0.8/v1", "api_key": "k"}),
            "base_url",
            "ssrf_blocked",
        ),
        (
            json!({"name": "x", "provider": "openai", "base_url": "http://169.254.169.254/latest", "api_key": "k"}),
            "base_url",
            "ssrf_blocked",
        ),
        (
            json!({"name": "x", "provider": "openai", "base_url": "https://a.example/v1", "api_key": ""}),
            "api_key",
            "required",
        ),
        (
            json!({"name": "", "provider": "openai", "base_url": "https://a.example/v1", "api_key": "k"}),
            "name",
            "required",
        ),
        (
            json!({"name": "x", "provider": "openai", "base_url": "https://a.example/v1", "api_key": "k", "weight": 0}),
            "weight",
            "out_of_range",
        ),
        (
            json!({"name": "x", "provider": "openai", "base_url": "https://a.example/v1", "api_key": "k", "weight": 101}),
            "weight",
            "out_of_range",
        ),
        (
            json!({"name": "x", "provider": "openai", "base_url": "https://a.example/v1", "api_key": "k", "model_redirects": {"a": "b", "b": "a"}}),
            "model_redirects",
            "redirect_cycle",
        ),
        (
            json!({"name": "x", "provider": "openai", "base_url": "https://a.example/v1", "api_key": "k", "circuit_breaker": {"failure_threshold": 0}}),
            "circuit_breaker.failure_threshold",
            "out_of_range",
        ),
    ] {
        let (status, err) = send(
            app,
            reqwest::Method::POST,
            "/api/admin/upstreams",
            Some(body.clone()),
        )
        .await;
        assert_eq!(status, 400, "{body}: {err}");
        assert_eq!(error_type(&err), "invalid_request");
        assert!(error_message(&err).starts_with(field), "{field}: {err}");
        assert_eq!(err["error"]["param"], field, "{err}");
        assert_eq!(err["error"]["code"], code, "{err}");
    }
    let (_, err) = send(
        app,
        reqwest::Method::POST,
        "/api/admin/upstreams",
        Some(json!({"name": "x", "provider": "openai", "base_url": "https://a.example/v1", "api_key": "k", "model_redirects": {"a": "b", "b": "a"}})),
    )
    .await;
    assert!(error_message(&err).contains("a -> b -> a"), "{err}");

    let (status, _) = get(app, "/api/admin/upstreams/no-such-id").await;
    assert_eq!(status, 404);
    let (status, _) = delete(app, &format!("/api/admin/upstreams/{id}")).await;
    assert_eq!(status, 204);
    let (status, _) = delete(app, &format!("/api/admin/upstreams/{id}")).await;
    assert_eq!(status, 404);
}

async fn malformed_bodies_get_json_errors(app: &TestApp) {
    let res = app
        .client
        .post(app.url("/api/admin/upstreams"))
        .bearer_auth(ADMIN_TOKEN)
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
    let body: Value = res.json().await.unwrap();
    assert_eq!(error_type(&body), "invalid_request");
    assert!(error_message(&body).contains("malformed JSON"), "{body}");

    let (status, body) = send(
        app,
        reqwest::Method::POST,
        "/api/admin/keys",
        Some(json!({"name": "k", "upstream_ids": [], "colour": "blue"})),
    )
    .await;
    assert_eq!(status, 400, "unknown fields are refused: {body}");
    let (status, _) = get(app, "/api/admin/keys?page_size=101").await;
    assert_eq!(status, 400);
}

async fn keys_crud_reveal_refused_by_default(app: &TestApp) {
    let upstream = create_upstream(app, "for-keys").await;
    let upstream_id = upstream["id"].as_str().unwrap();

    let (status, err) = send(
        app,
        reqwest::Method::POST,
        "/api/admin/keys",
        Some(json!({"name": "ci", "upstream_ids": []})),
    )
    .await;
    assert_eq!(status, 400);
    assert!(error_message(&err).starts_with("upstream_ids"));
    let (status, err) = send(
        app,
        reqwest::Method::POST,
        "/api/admin/keys",
        Some(json!({"name": "ci", "upstream_ids": ["missing"]})),
    )
    .await;
    assert_eq!(status, 400);
    assert!(error_message(&err).contains("missing"));
    let (status, err) = send(
        app,
        reqwest::Method::POST,
        "/api/admin/keys",
        Some(json!({"name": "ci", "upstream_ids": [upstream_id], "expires_at": "2001-01-01T00:00:00Z"})),
    )
    .await;
    assert_eq!(status, 400);
    assert!(error_message(&err).starts_with("expires_at"));

    let (status, created) = send(
        app,
        reqwest::Method::POST,
        "/api/admin/keys",
        Some(json!({"name": "ci-bot", "description": "for CI", "upstream_ids": [upstream_id], "expires_at": "2099-01-01T00:00:00Z"})),
    )
    .await;
    assert_eq!(status, 201, "{created}");
    let key = created["key_value"].as_str().unwrap().to_string();
    assert!(key.starts_with("sk-auto-") && key.len() == 51, "{key}");
    assert_eq!(created["key_prefix"], &key[..12]);
    assert_eq!(created["upstream_ids"], json!([upstream_id]));
    assert_eq!(created["expires_at"], "2099-01-01T00:00:00Z");
    assert_eq!(created["is_active"], true);
    let id = created["id"].as_str().unwrap().to_string();

    // After creation the full key is never listed again.
    let (status, list) = get(app, "/api/admin/keys?search=CI-B").await;
    assert_eq!(status, 200);
    assert_eq!(list["total"], 1);
    assert!(!list.to_string().contains(&key));
    assert!(list["items"][0].get("key_value").is_none());
    let (_, list) = get(app, "/api/admin/keys?search=nomatch").await;
    assert_eq!(list["total"], 0);
    let (_, got) = get(app, &format!("/api/admin/keys/{id}")).await;
    assert!(!got.to_string().contains(&key));

    let (status, updated) = send(
        app,
        reqwest::Method::PUT,
        &format!("/api/admin/keys/{id}"),
        Some(json!({"name": "ci-bot-2", "is_active": false, "description": null, "expires_at": null})),
    )
    .await;
    assert_eq!(status, 200, "{updated}");
    assert_eq!(updated["name"], "ci-bot-2");
    assert_eq!(updated["is_active"], false);
    assert_eq!(updated["description"], Value::Null);
    assert_eq!(updated["expires_at"], Value::Null);

    let (status, err) = get(app, &format!("/api/admin/keys/{id}/reveal")).await;
    assert_eq!(status, 403);
    assert_eq!(error_type(&err), "forbidden");
    assert!(!err.to_string().contains(&key));

    // Deleting an upstream removes it from the key's permissions.
    let (status, _) = delete(app, &format!("/api/admin/upstreams/{upstream_id}")).await;
    assert_eq!(status, 204);
    let (_, got) = get(app, &format!("/api/admin/keys/{id}")).await;
    assert_eq!(got["upstream_ids"], json!([]));

    let (status, _) = delete(app, &format!("/api/admin/keys/{id}")).await;
    assert_eq!(status, 204);
    let (status, _) = get(app, &format!("/api/admin/keys/{id}")).await;
    assert_eq!(status, 404);
}

async fn pagination_pages_through_keys(app: &TestApp) {
    let upstream = create_upstream(app, "paging").await;
    let upstream_id = upstream["id"].as_str().unwrap();
    for i in 0..5 {
        let (status, _) = send(
            app,
            reqwest::Method::POST,
            "/api/admin/keys",
            Some(json!({"name": format!("key-{i}"), "upstream_ids": [upstream_id]})),
        )
        .await;
        assert_eq!(status, 201);
    }
    let (_, p1) = get(app, "/api/admin/keys?page=1&page_size=2").await;
    let (_, p3) = get(app, "/api/admin/keys?page=3&page_size=2").await;
    assert_eq!(p1["total"], 5);
    assert_eq!(p1["total_pages"], 3);
    assert_eq!(p1["items"].as_array().unwrap().len(), 2);
    assert_eq!(p3["items"].as_array().unwrap().len(), 1);
}

both_backends!(
    upstreams_crud_and_validation,
    malformed_bodies_get_json_errors,
    keys_crud_reveal_refused_by_default,
    pagination_pages_through_keys,
);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reveal_returns_the_key_when_allowed() {
    let app = TestApp::spawn_with(common::Backend::Sqlite, &[("ALLOW_KEY_REVEAL", "true")]).await;
    let upstream = create_upstream(&app, "reveal").await;
    let (_, created) = send(
        &app,
        reqwest::Method::POST,
        "/api/admin/keys",
        Some(json!({"name": "r", "upstream_ids": [upstream["id"]]})),
    )
    .await;
    let (status, revealed) = get(
        &app,
        &format!("/api/admin/keys/{}/reveal", created["id"].as_str().unwrap()),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(revealed["key_value"], created["key_value"]);
    app.cleanup().await;
}
