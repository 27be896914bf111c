//! The dashboard's server functions over real HTTP: the same services, auth and checks as the
//! REST API, and errors the page can translate (kind, field, reason), on SQLite and PostgreSQL.
use crate::common;

use common::{TestApp, ADMIN_TOKEN};
use serde_json::{json, Value};

async fn call(app: &TestApp, name: &str, body: Value, token: Option<&str>) -> (u16, Value) {
    let mut req = app
        .client
        .post(app.url(&format!("/api/ui/{name}")))
        .json(&body);
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    let res = req.send().await.unwrap();
    let status = res.status().as_u16();
    let text = res.text().await.unwrap();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

async fn call_form(app: &TestApp, name: &str, form: &[(&str, &str)]) -> (u16, Value) {
    let res = app
        .client
        .post(app.url(&format!("/api/ui/{name}")))
        .bearer_auth(ADMIN_TOKEN)
        .form(form)
        .send()
        .await
        .unwrap();
    let status = res.status().as_u16();
    (status, res.json().await.unwrap())
}

async fn functions_share_the_services_and_their_checks(app: &TestApp) {
    let upstream = json!({"input": {"name": "ui-fn", "provider": "openai", "base_url": "https://api.openai.com/v1", "api_key": "sk-ui-fn-upstream-0123456789"}});

    // No session, no token: refused before the function runs, and nothing is created.
    let (status, _) = call(app, "upstreams/create", upstream.clone(), None).await;
    assert_eq!(status, 401);
    let (_, names) = call(app, "logs/list", json!({"query": {}}), Some(ADMIN_TOKEN)).await;
    assert_eq!(names["upstreams"], json!([]), "{names}");

    // A refused field comes back with its name and a reason code the page translates.
    let mut blocked = upstream.clone();
    blocked["input"]["base_url"] = json!("http://169.254.169.254/latest");
    let (status, err) = call(app, "upstreams/create", blocked, Some(ADMIN_TOKEN)).await;
    assert!(status >= 400, "{status} {err}");
    assert_eq!(err["kind"], "invalid_request", "{err}");
    assert_eq!(err["field"]["field"], "base_url");
    assert_eq!(err["field"]["reason"], "ssrf_blocked");
    assert_eq!(err["field"]["arg"], "169.254.169.254");

    let (status, created) =
        call(app, "upstreams/create", upstream.clone(), Some(ADMIN_TOKEN)).await;
    assert_eq!(status, 200, "{created}");
    assert_eq!(created["api_key_masked"], "sk-***6789");
    let upstream_id = created["id"].as_str().unwrap().to_string();
    let (_, taken) = call(app, "upstreams/create", upstream, Some(ADMIN_TOKEN)).await;
    assert_eq!(taken["kind"], "conflict", "{taken}");
    assert_eq!(taken["field"]["reason"], "taken");

    // Keys: created once with the full key, listed without it, never revealed by default.
    let (status, key) = call(
        app,
        "keys/create",
        json!({"input": {"name": "ui key", "upstream_ids": [upstream_id]}}),
        Some(ADMIN_TOKEN),
    )
    .await;
    assert_eq!(status, 200, "{key}");
    let value = key["key_value"].as_str().unwrap().to_string();
    assert!(value.starts_with("sk-auto-"));
    let (status, screen) = call_form(app, "keys/list", &[("page", "1"), ("search", "ui")]).await;
    assert_eq!(status, 200, "{screen}");
    assert_eq!(screen["page"]["total"], 1);
    assert_eq!(screen["reveal_allowed"], false);
    assert_eq!(screen["upstreams"][0]["name"], "ui-fn");
    assert!(
        !screen.to_string().contains(&value),
        "the list never holds the key"
    );
    let key_id = key["id"].as_str().unwrap().to_string();
    let (_, refused) = call_form(app, "keys/reveal", &[("id", &key_id)]).await;
    assert_eq!(refused["kind"], "forbidden", "{refused}");

    let (_, updated) = call(
        app,
        "keys/update",
        json!({"id": key_id, "input": {"is_active": false}}),
        Some(ADMIN_TOKEN),
    )
    .await;
    assert_eq!(updated["is_active"], false, "{updated}");
    let rest: Value = app
        .admin_get(&format!("/api/admin/keys/{key_id}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        rest["is_active"], false,
        "the REST API sees the same change"
    );

    let (_, settings) = call(
        app,
        "settings/update",
        json!({"input": {"max_attempts": 11}}),
        Some(ADMIN_TOKEN),
    )
    .await;
    assert_eq!(settings["field"]["field"], "max_attempts", "{settings}");
    assert_eq!(settings["field"]["reason"], "out_of_range");
    assert_eq!(settings["field"]["arg"], "1–10");

    let (status, _) = call_form(app, "keys/delete", &[("id", &key_id)]).await;
    assert_eq!(status, 200);
    let (_, gone) = call_form(app, "keys/delete", &[("id", &key_id)]).await;
    assert_eq!(gone["kind"], "not_found", "{gone}");
}

/// Every server function the pages call, by its endpoint.
const FUNCTIONS: &[&str] = &[
    "dashboard",
    "breakers",
    "breakers/force",
    "keys/list",
    "keys/create",
    "keys/update",
    "keys/delete",
    "keys/reveal",
    "upstreams/list",
    "upstreams/create",
    "upstreams/update",
    "upstreams/delete",
    "upstreams/test",
    "settings/update",
    "logs/list",
];

async fn every_function_needs_a_session_or_the_token(app: &TestApp) {
    for name in FUNCTIONS {
        let res = app
            .client
            .post(app.url(&format!("/api/ui/{name}")))
            .header("content-type", "application/x-www-form-urlencoded")
            .body("")
            .send()
            .await
            .unwrap();
        assert_eq!(
            res.status(),
            401,
            "/api/ui/{name} answered without a session"
        );
        let body: Value = res.json().await.unwrap();
        assert_eq!(body["error"]["type"], "unauthorized");
    }
    let res = app
        .client
        .post(app.url("/api/ui/breakers/force"))
        .header("cookie", "ar_session=forged")
        .form(&[("upstream_id", "x"), ("open", "true")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401, "a forged session cookie is refused");
}

both_backends!(
    functions_share_the_services_and_their_checks,
    every_function_needs_a_session_or_the_token
);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_keys_page_may_reveal_a_key_when_the_server_allows_it() {
    let app = TestApp::spawn_with(common::Backend::Sqlite, &[("ALLOW_KEY_REVEAL", "true")]).await;
    let (_, upstream) = call(
        &app,
        "upstreams/create",
        json!({"input": {"name": "reveal-ui", "provider": "openai", "base_url": "https://api.openai.com/v1", "api_key": "sk-reveal-ui-0123456789"}}),
        Some(ADMIN_TOKEN),
    )
    .await;
    let (_, key) = call(
        &app,
        "keys/create",
        json!({"input": {"name": "shown again", "upstream_ids": [upstream["id"]]}}),
        Some(ADMIN_TOKEN),
    )
    .await;
    let (_, screen) = call_form(&app, "keys/list", &[("page", "1"), ("search", "")]).await;
    assert_eq!(
        screen["reveal_allowed"], true,
        "the page shows its reveal button"
    );
    let id = key["id"].as_str().unwrap();
    let (status, revealed) = call_form(&app, "keys/reveal", &[("id", id)]).await;
    assert_eq!(status, 200, "{revealed}");
    assert_eq!(revealed["key_value"], key["key_value"]);
    app.cleanup().await;
}
