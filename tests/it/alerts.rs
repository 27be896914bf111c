//! Alerts by webhook over real HTTP on SQLite and PostgreSQL: a receiver on 127.0.0.1 gets the
//! alerts a failing mock upstream causes (once per breaker opening, however many requests fail
//! fast, and however many instances saw it), the chat services' bodies and signatures, retries
//! with the delivery recorded, the test button, budget and error-rate alerts, and the SSRF check
//! that refuses a loopback webhook unless private addresses are allowed.
use crate::common;

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::{Request, State};
use axum::http::StatusCode;
use base64::Engine;
use common::mock_upstream::{Knobs, MockUpstream};
use common::TestApp;
use hmac::{Hmac, Mac};
use reqwest::Method;
use serde_json::{json, Value};
use sha2::Sha256;

const UPSTREAM_KEY: &str = "sk-upstream-secret-0123456789";
const TOKEN: &str = "tok-SECRET-in-the-url-42";

/// Gateways that may reach loopback (the mock and the receiver) and check budgets and the error
/// rate every 200 ms.
macro_rules! alert_backends {
    ($($name:ident),+ $(,)?) => {
        $(
            mod $name {
                use super::*;

                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn sqlite() {
                    let app = common::TestApp::spawn_with(common::Backend::Sqlite, ENV).await;
                    super::$name(&app).await;
                    app.cleanup().await;
                }

                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn postgres() {
                    let app = common::TestApp::spawn_with(common::Backend::Postgres, ENV).await;
                    super::$name(&app).await;
                    app.cleanup().await;
                }
            }
        )+
    };
}

const ENV: &[(&str, &str)] = &[
    ("ALLOW_PRIVATE_UPSTREAMS", "true"),
    ("ALERT_CHECK_MS", "200"),
];

#[derive(Debug, Clone)]
struct Hit {
    path: String,
    query: String,
    headers: Vec<(String, String)>,
    raw: Bytes,
    body: Value,
}

impl Hit {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

#[derive(Default)]
struct Book {
    hits: Vec<Hit>,
    /// Per path, the statuses to answer next (then 200).
    script: HashMap<String, VecDeque<u16>>,
}

/// A webhook receiver on 127.0.0.1: records every request, answers as scripted.
#[derive(Clone)]
struct Receiver {
    base: String,
    book: Arc<Mutex<Book>>,
}

async fn receive(State(book): State<Arc<Mutex<Book>>>, req: Request) -> StatusCode {
    let (parts, body) = req.into_parts();
    let raw = axum::body::to_bytes(body, 1 << 20).await.unwrap();
    let hit = Hit {
        path: parts.uri.path().to_string(),
        query: parts.uri.query().unwrap_or("").to_string(),
        headers: parts
            .headers
            .iter()
            .map(|(k, v)| (k.as_str().to_string(), v.to_str().unwrap_or("").to_string()))
            .collect(),
        body: serde_json::from_slice(&raw).unwrap_or(Value::Null),
        raw,
    };
    let mut book = book.lock().unwrap();
    let status = book
        .script
        .get_mut(&hit.path)
        .and_then(|q| q.pop_front())
        .unwrap_or(200);
    book.hits.push(hit);
    StatusCode::from_u16(status).unwrap()
}

impl Receiver {
    async fn start() -> Receiver {
        let book = Arc::new(Mutex::new(Book::default()));
        let app = axum::Router::new()
            .fallback(receive)
            .with_state(Arc::clone(&book));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Receiver {
            base: format!("http://{addr}"),
            book,
        }
    }

    fn script(&self, path: &str, statuses: &[u16]) {
        self.book
            .lock()
            .unwrap()
            .script
            .insert(path.to_string(), statuses.iter().copied().collect());
    }

    fn hits(&self, path: &str) -> Vec<Hit> {
        self.book
            .lock()
            .unwrap()
            .hits
            .iter()
            .filter(|h| h.path == path)
            .cloned()
            .collect()
    }

    /// Generic bodies at `path` with this `event`.
    fn events(&self, path: &str, event: &str) -> Vec<Hit> {
        self.hits(path)
            .into_iter()
            .filter(|h| h.body["event"] == event)
            .collect()
    }
}

/// Polls `check` every 50 ms until it holds; panics with `what` after `limit`.
async fn eventually(limit: Duration, what: &str, mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + limit;
    while !check() {
        assert!(Instant::now() < deadline, "timed out waiting for: {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn webhook(app: &TestApp, body: Value) -> String {
    let (s, w) = app
        .admin_json(Method::POST, "/api/admin/alerts/webhooks", body)
        .await;
    assert_eq!(s, 201, "{w}");
    w["id"].as_str().unwrap().to_string()
}

async fn deliveries(app: &TestApp) -> Vec<Value> {
    let (s, list) = app
        .admin_json(
            Method::GET,
            "/api/admin/alerts/deliveries?limit=200",
            json!({}),
        )
        .await;
    assert_eq!(s, 200, "{list}");
    list.as_array().unwrap().clone()
}

async fn chat(app: &TestApp, key: &str, model: &str) -> u16 {
    app.client
        .post(app.url("/v1/chat/completions"))
        .bearer_auth(key)
        .json(&json!({"model": model, "messages": [{"role": "user", "content": "hi"}]}))
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

/// The acceptance test: N failures open the breaker, 50 more requests fail fast, and the
/// receiver gets exactly one "opened" alert; a second instance failing on the same upstream at
/// the same time adds none. The probe that closes it sends exactly one "closed" alert.
async fn one_alert_per_breaker_opening(app: &TestApp) {
    let receiver = Receiver::start().await;
    let mock = MockUpstream::start_with(Knobs {
        status: Some(500),
        ..Knobs::default()
    })
    .await;
    let upstream = app
        .upstream(json!({
            "name": "flaky", "provider": "openai", "base_url": mock.base_url,
            "api_key": UPSTREAM_KEY, "timeout_ms": 2000,
            "circuit_breaker": {"failure_threshold": 3, "success_threshold": 1,
                                "open_duration_ms": 1000, "half_open_max_probes": 1}
        }))
        .await;
    let (_, key) = app.key(&[&upstream]).await;
    webhook(
        app,
        json!({"name": "ops", "url": format!("{}/hook?token={TOKEN}", receiver.base),
               "format": "generic", "events": ["breaker_opened", "breaker_closed"]}),
    )
    .await;
    let other = app
        .another_instance(&[ENV, &[("INSTANCE_ID", "gw-b")]].concat())
        .await;

    // Both instances see the upstream fail; either may open its breaker first.
    for _ in 0..3 {
        assert_eq!(chat(app, &key, "gpt-4o-mini").await, 502);
        let s = chat(&other, &key, "gpt-4o-mini").await;
        assert!(s == 502 || s == 503, "{s}");
    }
    for _ in 0..50 {
        assert_eq!(chat(app, &key, "gpt-4o-mini").await, 503, "fails fast");
    }
    eventually(Duration::from_secs(10), "the opened alert", || {
        !receiver.events("/hook", "breaker_opened").is_empty()
    })
    .await;
    // Time for any duplicate (another instance, a retry) to show up.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let opened = receiver.events("/hook", "breaker_opened");
    assert_eq!(opened.len(), 1, "one alert per opening: {opened:?}");
    let body = &opened[0].body;
    assert_eq!(body["severity"], "critical");
    assert_eq!(body["upstream"], json!({"id": upstream, "name": "flaky"}));
    assert!(
        body["message"].as_str().unwrap().contains("flaky"),
        "{body}"
    );
    assert!(
        body["dedupe_key"]
            .as_str()
            .unwrap()
            .starts_with(&format!("breaker_open:{upstream}:")),
        "{body}"
    );
    assert!(body["at"].as_str().unwrap().ends_with('Z'));
    // The instance that announced it, by its INSTANCE_ID (the live view's name for it).
    let by = body["instance"].as_str().unwrap();
    assert!(by == "gw-b" || by == app.state.config.instance_id, "{body}");
    assert_eq!(
        opened[0].query,
        format!("token={TOKEN}"),
        "the URL is kept whole"
    );

    // Recovery: the open duration passes, the probe succeeds, the breaker closes.
    mock.set(Knobs::default());
    app.clock.advance(Duration::from_secs(2));
    assert_eq!(chat(app, &key, "gpt-4o-mini").await, 200);
    eventually(Duration::from_secs(10), "the closed alert", || {
        !receiver.events("/hook", "breaker_closed").is_empty()
    })
    .await;
    for _ in 0..5 {
        assert_eq!(chat(app, &key, "gpt-4o-mini").await, 200);
    }
    tokio::time::sleep(Duration::from_millis(1000)).await;
    assert_eq!(receiver.events("/hook", "breaker_closed").len(), 1);
    assert_eq!(receiver.events("/hook", "breaker_opened").len(), 1);

    let recorded = deliveries(app).await;
    assert_eq!(recorded.len(), 2, "{recorded:?}");
    for d in &recorded {
        assert_eq!(d["status"], "delivered", "{d}");
        assert_eq!(d["attempts"], 1);
        assert_eq!(d["webhook_name"], "ops");
        assert!(d["delivered_at"].is_string());
    }
    assert_eq!(recorded[0]["kind"], "breaker_closed", "newest first");
    assert!(!recorded[0].to_string().contains(TOKEN));
    other.cleanup().await;
}

fn sign_hmac(key: &[u8], message: &[u8]) -> Vec<u8> {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).unwrap();
    mac.update(message);
    mac.finalize().into_bytes().to_vec()
}

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

async fn press_test(app: &TestApp, id: &str) -> (u16, Value) {
    app.admin_json(
        Method::POST,
        &format!("/api/admin/alerts/webhooks/{id}/test"),
        json!({}),
    )
    .await
}

/// The test button reaches each format with its service's body and signature, and reports a
/// failing receiver as failed after one attempt, without the URL's token.
async fn test_button_and_chat_formats(app: &TestApp) {
    let r = Receiver::start().await;
    let slack = webhook(
        app,
        json!({"name": "slack", "url": format!("{}/slack/{TOKEN}", r.base), "format": "slack"}),
    )
    .await;
    let feishu = webhook(app, json!({"name": "feishu", "url": format!("{}/feishu", r.base), "format": "feishu", "secret": "fs-secret"})).await;
    let ding = webhook(app, json!({"name": "ding", "url": format!("{}/ding?access_token={TOKEN}", r.base), "format": "dingtalk", "secret": "SEC-ding"})).await;
    let generic = webhook(app, json!({"name": "generic", "url": format!("{}/generic", r.base), "format": "generic", "secret": "gen-secret"})).await;

    for id in [&slack, &feishu, &ding, &generic] {
        let (s, d) = press_test(app, id).await;
        assert_eq!(s, 200, "{d}");
        assert_eq!(d["status"], "delivered", "{d}");
        assert_eq!(d["attempts"], 1);
        assert_eq!(d["kind"], "test");
    }
    let text = |h: &Hit, v: &Value| {
        let t = v.as_str().unwrap_or_default().to_string();
        assert!(t.starts_with("[AutoRouter] "), "{:?}", h.body);
        t
    };
    let s = &r.hits(&format!("/slack/{TOKEN}"))[0];
    assert_eq!(s.body.as_object().unwrap().len(), 1, "{}", s.body);
    text(s, &s.body["text"]);

    let f = &r.hits("/feishu")[0];
    assert_eq!(f.body["msg_type"], "text");
    text(f, &f.body["content"]["text"]);
    let ts = f.body["timestamp"].as_str().unwrap();
    let expected = b64(&sign_hmac(format!("{ts}\nfs-secret").as_bytes(), b""));
    assert_eq!(f.body["sign"], expected, "Feishu's signature");

    let d = &r.hits("/ding")[0];
    assert_eq!(d.body["msgtype"], "text");
    text(d, &d.body["text"]["content"]);
    let q: HashMap<String, String> = url::form_urlencoded::parse(d.query.as_bytes())
        .into_owned()
        .collect();
    assert_eq!(q["access_token"], TOKEN);
    let expected = b64(&sign_hmac(
        b"SEC-ding",
        format!("{}\nSEC-ding", q["timestamp"]).as_bytes(),
    ));
    assert_eq!(q["sign"], expected, "DingTalk's signature");

    let g = &r.hits("/generic")[0];
    assert_eq!(g.body["event"], "test");
    assert_eq!(g.body["severity"], "info");
    let ts = g.header("x-autorouter-timestamp").unwrap();
    let mut signed = format!("{ts}.").into_bytes();
    signed.extend_from_slice(&g.raw);
    assert_eq!(
        g.header("x-autorouter-signature").unwrap(),
        format!("sha256={}", hex(&sign_hmac(b"gen-secret", &signed)))
    );

    // A receiver that fails: one attempt, reported, nothing secret in the answer.
    let failing = webhook(
        app,
        json!({"name": "down", "url": format!("{}/down?token={TOKEN}", r.base), "format": "slack"}),
    )
    .await;
    r.script("/down", &[500]);
    let (s, d) = press_test(app, &failing).await;
    assert_eq!(s, 200, "{d}");
    assert_eq!(d["status"], "failed");
    assert_eq!(d["attempts"], 1);
    assert_eq!(d["last_error"], "answered HTTP 500");
    assert!(!d.to_string().contains(TOKEN));
    assert_eq!(r.hits("/down").len(), 1, "the test button does not retry");

    let (s, e) = press_test(app, "no-such-id").await;
    assert_eq!(s, 404, "{e}");
    assert_eq!(deliveries(app).await.len(), 5);
}

/// The error rate over 5 minutes above the threshold raises one alert; a receiver answering 500
/// twice gets it on the third attempt, and the delivery says so.
async fn error_rate_alert_fires_once_and_is_retried(app: &TestApp) {
    let r = Receiver::start().await;
    let mock = MockUpstream::start_with(Knobs {
        status: Some(500),
        ..Knobs::default()
    })
    .await;
    let upstream = app
        .upstream(json!({
            "name": "bad", "provider": "openai", "base_url": mock.base_url,
            "api_key": UPSTREAM_KEY, "circuit_breaker": {"failure_threshold": 100}
        }))
        .await;
    let (_, key) = app.key(&[&upstream]).await;
    let (s, settings) = app
        .admin_json(
            Method::PUT,
            "/api/admin/alerts/settings",
            json!({"error_rate_percent": 50, "error_rate_min_requests": 4}),
        )
        .await;
    assert_eq!(s, 200, "{settings}");
    assert_eq!(
        settings,
        json!({"error_rate_percent": 50, "error_rate_min_requests": 4, "language": "en"})
    );
    r.script("/rate", &[500, 500]);
    webhook(
        app,
        json!({"name": "rate", "url": format!("{}/rate", r.base), "format": "generic",
               "events": ["error_rate_high"]}),
    )
    .await;
    // Under the minimum count: no alert however bad.
    for _ in 0..3 {
        assert_eq!(chat(app, &key, "gpt-4o-mini").await, 502);
    }
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert!(
        r.hits("/rate").is_empty(),
        "3 requests are under the minimum of 4"
    );
    for _ in 0..3 {
        assert_eq!(chat(app, &key, "gpt-4o-mini").await, 502);
    }
    // Attempts at once, after 1 s and after 5 s more.
    eventually(Duration::from_secs(15), "the third attempt", || {
        r.hits("/rate").len() >= 3
    })
    .await;
    let rate = r.hits("/rate");
    assert!(rate.iter().all(|h| h.body["event"] == "error_rate_high"));
    assert!(
        rate[0].body["message"].as_str().unwrap().contains("100%"),
        "{}",
        rate[0].body
    );
    let deadline = Instant::now() + Duration::from_secs(5);
    let delivery = loop {
        let list = deliveries(app).await;
        if list.len() == 1 && list[0]["status"] == "delivered" {
            break list[0].clone();
        }
        assert!(Instant::now() < deadline, "{list:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(delivery["attempts"], 3, "{delivery}");
    assert_eq!(delivery["kind"], "error_rate_high");
    assert_eq!(
        delivery["last_error"], "answered HTTP 500",
        "the last failure is kept"
    );

    // Still above the threshold: no second alert.
    for _ in 0..4 {
        chat(app, &key, "gpt-4o-mini").await;
    }
    tokio::time::sleep(Duration::from_millis(1000)).await;
    assert_eq!(r.hits("/rate").len(), 3);
    assert_eq!(deliveries(app).await.len(), 1);
}

/// A key with a small daily budget: one alert at 80%, one at 100%, never repeated.
async fn budget_alerts_fire_once_per_threshold(app: &TestApp) {
    let r = Receiver::start().await;
    let mock = MockUpstream::start().await;
    // 18 tokens a request (the mock's usage) at 1000 USD per million: 0.018 USD.
    let (s, p) = app
        .admin_json(
            Method::PUT,
            "/api/admin/prices/alert-model",
            json!({"input": 1000, "output": 1000, "cached_input": 1000}),
        )
        .await;
    assert_eq!(s, 200, "{p}");
    let upstream = app
        .upstream(json!({
            "name": "priced", "provider": "openai", "base_url": mock.base_url,
            "api_key": UPSTREAM_KEY, "allowed_models": ["alert-model"]
        }))
        .await;
    let (s, k) = app
        .admin_json(
            Method::POST,
            "/api/admin/keys",
            json!({"name": "ci-bot", "upstream_ids": [upstream],
                   "limits": {"daily_budget_usd": 0.04}}),
        )
        .await;
    assert_eq!(s, 201, "{k}");
    let key = k["key_value"].as_str().unwrap().to_string();
    webhook(
        app,
        json!({"name": "budget", "url": format!("{}/budget", r.base), "format": "generic",
               "events": ["budget_warning", "budget_exhausted"]}),
    )
    .await;
    assert_eq!(chat(app, &key, "alert-model").await, 200); // 45%
    tokio::time::sleep(Duration::from_millis(1000)).await;
    assert!(r.hits("/budget").is_empty(), "45% is under 80%");
    assert_eq!(chat(app, &key, "alert-model").await, 200); // 90%
    eventually(Duration::from_secs(10), "the 80% alert", || {
        !r.events("/budget", "budget_warning").is_empty()
    })
    .await;
    assert_eq!(chat(app, &key, "alert-model").await, 200); // 135%
    eventually(Duration::from_secs(10), "the 100% alert", || {
        !r.events("/budget", "budget_exhausted").is_empty()
    })
    .await;
    assert_eq!(chat(app, &key, "alert-model").await, 429, "over budget");
    tokio::time::sleep(Duration::from_millis(1000)).await;
    let warning = r.events("/budget", "budget_warning");
    let exhausted = r.events("/budget", "budget_exhausted");
    assert_eq!((warning.len(), exhausted.len()), (1, 1));
    assert_eq!(r.hits("/budget").len(), 2);
    assert_eq!(warning[0].body["severity"], "warning");
    assert_eq!(warning[0].body["key"]["name"], "ci-bot");
    let message = warning[0].body["message"].as_str().unwrap();
    assert!(
        message.contains("ci-bot") && message.contains("daily budget"),
        "{message}"
    );
    assert!(exhausted[0].body["dedupe_key"]
        .as_str()
        .unwrap()
        .ends_with(":100"));
}

/// Webhooks are managed like upstreams: checked, the URL masked after saving and never shown
/// again, the secret never shown; bad input is refused naming the field.
async fn webhooks_are_managed_and_never_shown_whole(app: &TestApp) {
    let url = format!("https://hooks.slack.com/services/T000/B000/{TOKEN}");
    let (s, w) = app
        .admin_json(
            Method::POST,
            "/api/admin/alerts/webhooks",
            json!({"name": "team", "url": url, "format": "slack", "secret": "shh-secret"}),
        )
        .await;
    assert_eq!(s, 201, "{w}");
    assert_eq!(w["url_masked"], "https://hooks.slack.com/***");
    assert_eq!(w["has_secret"], true);
    assert_eq!(w["enabled"], true);
    assert_eq!(w["events"], json!([]));
    let id = w["id"].as_str().unwrap();
    let (_, list) = app
        .admin_json(Method::GET, "/api/admin/alerts/webhooks", json!({}))
        .await;
    let text = list.to_string();
    assert!(
        !text.contains(TOKEN) && !text.contains("shh-secret"),
        "{text}"
    );

    let (s, w) = app
        .admin_json(
            Method::PUT,
            &format!("/api/admin/alerts/webhooks/{id}"),
            json!({"events": ["breaker_opened", "budget_warning"], "enabled": false, "secret": ""}),
        )
        .await;
    assert_eq!(s, 200, "{w}");
    assert_eq!(w["events"], json!(["breaker_opened", "budget_warning"]));
    assert_eq!(w["enabled"], false);
    assert_eq!(w["has_secret"], false);
    assert_eq!(
        w["url_masked"], "https://hooks.slack.com/***",
        "the URL is kept"
    );

    for (body, field, code) in [
        (
            json!({"name": "a", "url": "ftp://x/y", "format": "slack"}),
            "url",
            "url_scheme",
        ),
        (
            json!({"name": "a", "url": "https://x/y", "format": "teams"}),
            "format",
            "invalid",
        ),
        (
            json!({"name": "a", "url": "https://x/y", "format": "slack", "events": ["nope"]}),
            "events",
            "invalid",
        ),
        (
            json!({"name": "", "url": "https://x/y", "format": "slack"}),
            "name",
            "required",
        ),
        (
            json!({"name": "team", "url": "https://x/y", "format": "slack"}),
            "name",
            "taken",
        ),
    ] {
        let (s, e) = app
            .admin_json(Method::POST, "/api/admin/alerts/webhooks", body)
            .await;
        assert!(s == 400 || s == 409, "{e}");
        assert_eq!(e["error"]["param"], field, "{e}");
        assert_eq!(e["error"]["code"], code, "{e}");
    }
    let (s, e) = app
        .admin_json(
            Method::POST,
            "/api/admin/alerts/webhooks",
            json!({"name": "x", "url": "https://x/y", "format": "slack", "colour": 1}),
        )
        .await;
    assert_eq!(s, 400, "unknown fields are refused: {e}");
    let (s, e) = app
        .admin_json(
            Method::PUT,
            "/api/admin/alerts/settings",
            json!({"error_rate_percent": 101}),
        )
        .await;
    assert_eq!(s, 400, "{e}");

    // Private and loopback addresses are refused like upstreams (no ALLOW_PRIVATE_UPSTREAMS).
    for url in [
        "http://127.0.0.1:9/hook",
        "http://localhost:8080/hook",
        "http://10.0.0.5/x",
        "http://169.254.169.254/latest",
    ] {
        let (s, e) = app
            .admin_json(
                Method::POST,
                "/api/admin/alerts/webhooks",
                json!({"name": "internal", "url": url, "format": "generic"}),
            )
            .await;
        assert_eq!(s, 400, "{url}: {e}");
        assert_eq!(e["error"]["code"], "ssrf_blocked", "{e}");
    }

    let (s, _) = app
        .admin_json(
            Method::DELETE,
            &format!("/api/admin/alerts/webhooks/{id}"),
            json!({}),
        )
        .await;
    assert_eq!(s, 204);
    let (s, _) = app
        .admin_json(
            Method::GET,
            &format!("/api/admin/alerts/webhooks/{id}"),
            json!({}),
        )
        .await;
    assert_eq!(s, 404);
    let res = app
        .client
        .get(app.url("/api/admin/alerts/webhooks"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401, "admin only");
}

alert_backends!(
    one_alert_per_breaker_opening,
    test_button_and_chat_formats,
    error_rate_alert_fires_once_and_is_retried,
    budget_alerts_fire_once_per_threshold,
);
both_backends!(webhooks_are_managed_and_never_shown_whole);
