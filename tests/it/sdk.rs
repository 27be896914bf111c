//! The official OpenAI, Anthropic and Google (google-genai) Python SDKs, unchanged, against the
//! gateway and mock upstreams, including the limits' refusals, which each SDK raises as its own
//! RateLimitError. They need a Python with those SDKs in `AUTOROUTER_SDK_PYTHON`, so they are
//! ignored by a plain `cargo test`; scripts/test.sh provides the interpreter (a venv with pinned
//! SDK versions) and runs them with `--ignored`.
use crate::common;

use common::mock_upstream::MockUpstream;
use common::TestApp;
use serde_json::json;

async fn run_sdks(backend: common::Backend) {
    let python = std::env::var("AUTOROUTER_SDK_PYTHON")
        .expect("AUTOROUTER_SDK_PYTHON: a python with the openai, anthropic and google-genai SDKs (scripts/test.sh sets it)");
    let app = TestApp::spawn_with(backend, &[("ALLOW_PRIVATE_UPSTREAMS", "true")]).await;
    let openai = MockUpstream::start().await;
    let anthropic = MockUpstream::start().await;
    let a = app
        .upstream(json!({"name": "oa", "provider": "openai", "base_url": openai.base_url, "api_key": "sk-up-openai-1234567890"}))
        .await;
    let b = app
        .upstream(json!({"name": "an", "provider": "anthropic", "base_url": anthropic.base_url, "api_key": "sk-up-anthropic-1234567890"}))
        .await;
    let google = MockUpstream::start().await;
    google.update(|k| k.require_auth = Some("AIza-up-google-1234567890".into()));
    let g = app
        .upstream(json!({"name": "go", "provider": "google", "base_url": format!("{}/v1beta", google.root_url()),
                         "api_key": "AIza-up-google-1234567890", "allowed_models": ["gemini-*", "text-embedding-004"]}))
        .await;
    // Its model list, for `models.list`, fetched now rather than in the background.
    let (status, found) = app
        .admin_json(
            reqwest::Method::POST,
            &format!("/api/admin/upstreams/{g}/models/refresh"),
            json!(null),
        )
        .await;
    assert_eq!(status, 200, "{found}");
    let (_, key) = app.key(&[&a, &b, &g]).await;
    let limited = |limits: serde_json::Value| {
        let (a, b) = (a.clone(), b.clone());
        let app = &app;
        async move {
            let (status, created) = app
                .admin_json(
                    reqwest::Method::POST,
                    "/api/admin/keys",
                    json!({"name": "limited", "upstream_ids": [a, b], "limits": limits}),
                )
                .await;
            assert_eq!(status, 201, "{created}");
            created["key_value"].as_str().unwrap().to_string()
        }
    };
    let limited_key = limited(json!({"rpm": 1})).await;
    let spent_key = limited(json!({"daily_budget_usd": 0})).await;
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/sdk/check_sdks.py");
    let base = app.base.clone();
    let out = tokio::task::spawn_blocking(move || {
        std::process::Command::new(python)
            .arg(script)
            .env("GATEWAY_BASE", base)
            .env("GATEWAY_KEY", key)
            .env("GATEWAY_LIMITED_KEY", limited_key)
            .env("GATEWAY_SPENT_KEY", spent_key)
            .env("NO_PROXY", "127.0.0.1,localhost")
            .env("no_proxy", "127.0.0.1,localhost")
            .output()
            .expect("python runs")
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "SDK checks failed:\n{stdout}\n{stderr}"
    );
    assert!(stdout.contains("sdk checks ok"), "{stdout}");
    // Every SDK call with a valid key was logged (the limits' four refusals among them); the
    // three wrong keys were counted instead.
    let logs = app.logs(21).await;
    assert_eq!(logs.len(), 21);
    assert_eq!(
        logs.iter().filter(|l| !l["refused_by"].is_null()).count(),
        4
    );
    assert_eq!(app.state.plane.keys.refusals(), 3);
    // Google's calls were metered from its `usageMetadata`: generate_content twice and the
    // stream, 36 tokens each.
    let gemini: Vec<_> = logs
        .iter()
        .filter(|l| {
            l["path"].as_str().unwrap().contains(":generateContent")
                || l["path"]
                    .as_str()
                    .unwrap()
                    .contains(":streamGenerateContent")
        })
        .filter(|l| l["status_code"] == 200)
        .collect();
    assert_eq!(gemini.len(), 3, "{logs:?}");
    assert!(gemini.iter().all(|l| l["total_tokens"] == 36), "{gemini:?}");
    assert!(google
        .received()
        .iter()
        .all(|r| r.header("x-goog-api-key") == Some("AIza-up-google-1234567890")));
    app.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs AUTOROUTER_SDK_PYTHON; scripts/test.sh runs it"]
async fn openai_anthropic_and_google_sdks_work_unchanged_on_sqlite() {
    run_sdks(common::Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs AUTOROUTER_SDK_PYTHON; scripts/test.sh runs it"]
async fn openai_anthropic_and_google_sdks_work_unchanged_on_postgres() {
    run_sdks(common::Backend::Postgres).await;
}
