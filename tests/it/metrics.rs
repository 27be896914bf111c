//! `GET /metrics`: a known sequence of requests through two mock upstreams, then the scrape,
//! read by a strict OpenMetrics parser (and the plain Prometheus text by its Prometheus parser),
//! with every counter checked exactly; the metrics token; `METRICS=off`; and every metric the
//! Grafana dashboard (`docs/grafana-dashboard.json`) reads exists.
use std::collections::{BTreeMap, BTreeSet};

use crate::common;

use common::mock_upstream::MockUpstream;
use common::{Backend, TestApp};
use openmetrics_parser::{MetricNumber, OpenMetricsValue, PrometheusValue};
use reqwest::Method;
use serde_json::{json, Value};

const UPSTREAM_KEY: &str = "sk-upstream-secret-0123456789";
const METRICS_TOKEN: &str = "metrics-token-0123456789";
const OPENMETRICS: &str = "application/openmetrics-text; version=1.0.0";

/// One sample: its labels and its value (a histogram's: its count).
#[derive(Debug, Clone)]
struct Point {
    labels: BTreeMap<String, String>,
    value: f64,
    /// A histogram's sum and buckets (upper bound, cumulative count).
    sum: f64,
    buckets: Vec<(f64, f64)>,
}

/// The scrape as the parser read it: family name to samples.
struct Scrape {
    families: BTreeMap<String, Vec<Point>>,
    /// Every sample name as it stands in the text (`…_total`, `…_bucket`, gauges as named).
    sample_names: BTreeSet<String>,
}

fn number(n: &MetricNumber) -> f64 {
    n.as_f64()
}

fn labels_of(set: openmetrics_parser::LabelSet<'_>) -> BTreeMap<String, String> {
    set.iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn sample_names(text: &str) -> BTreeSet<String> {
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .map(|l| l.split(['{', ' ']).next().unwrap().to_string())
        .collect()
}

fn parse_openmetrics(text: &str) -> Scrape {
    let parsed = openmetrics_parser::openmetrics::parse_openmetrics(text)
        .unwrap_or_else(|e| panic!("/metrics is not valid OpenMetrics: {e:?}\n{text}"));
    let mut families = BTreeMap::new();
    for (name, family) in parsed.families {
        let points = family
            .iter_samples()
            .map(|s| {
                let labels = labels_of(s.get_labelset().unwrap());
                let (value, sum, buckets) = match &s.value {
                    OpenMetricsValue::Counter(c) => (number(&c.value), 0.0, vec![]),
                    OpenMetricsValue::Gauge(n) | OpenMetricsValue::Unknown(n) => {
                        (number(n), 0.0, vec![])
                    }
                    OpenMetricsValue::Histogram(h) => (
                        h.count.unwrap_or(0) as f64,
                        h.sum.as_ref().map_or(0.0, number),
                        h.buckets
                            .iter()
                            .map(|b| (b.upper_bound, number(&b.count)))
                            .collect(),
                    ),
                    other => panic!("{name}: unexpected {other:?}"),
                };
                Point {
                    labels,
                    value,
                    sum,
                    buckets,
                }
            })
            .collect();
        families.insert(name, points);
    }
    Scrape {
        families,
        sample_names: sample_names(text),
    }
}

/// The plain text (what curl gets): parsed by the Prometheus text parser, counters only.
fn prometheus_counters(text: &str) -> BTreeMap<String, Vec<Point>> {
    let parsed = openmetrics_parser::prometheus::parse_prometheus(text)
        .unwrap_or_else(|e| panic!("/metrics is not valid Prometheus text: {e:?}\n{text}"));
    let mut out = BTreeMap::new();
    for (name, family) in parsed.families {
        let points = family
            .iter_samples()
            .filter_map(|s| match &s.value {
                PrometheusValue::Counter(c) => Some(Point {
                    labels: labels_of(s.get_labelset().unwrap()),
                    value: number(&c.value),
                    sum: 0.0,
                    buckets: vec![],
                }),
                _ => None,
            })
            .collect::<Vec<_>>();
        if !points.is_empty() {
            out.insert(name, points);
        }
    }
    out
}

impl Scrape {
    /// The one sample of `family` whose labels include `labels`; 0 when none has them.
    fn point(&self, family: &str, labels: &[(&str, &str)]) -> Option<&Point> {
        let points = self
            .families
            .get(family)
            .unwrap_or_else(|| panic!("no family {family} in {:?}", self.families.keys()));
        let mut found = points.iter().filter(|p| {
            labels
                .iter()
                .all(|(k, v)| p.labels.get(*k).map(String::as_str) == Some(*v))
        });
        let one = found.next();
        assert!(found.next().is_none(), "{family} {labels:?} is ambiguous");
        one
    }

    fn value(&self, family: &str, labels: &[(&str, &str)]) -> f64 {
        self.point(family, labels).map_or(0.0, |p| p.value)
    }

    /// The sum over every sample of `family`.
    fn total(&self, family: &str) -> f64 {
        self.families
            .get(family)
            .map_or(0.0, |points| points.iter().map(|p| p.value).sum())
    }
}

async fn scrape_text(app: &TestApp, accept: Option<&str>, token: Option<&str>) -> (u16, String) {
    let mut request = app.client.get(app.url("/metrics"));
    if let Some(accept) = accept {
        request = request.header("accept", accept);
    }
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let res = request.send().await.unwrap();
    let status = res.status().as_u16();
    let content_type = res
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_string());
    let text = res.text().await.unwrap();
    if status == 200 {
        let want = if accept.is_some() {
            "application/openmetrics-text"
        } else {
            "text/plain; version=0.0.4"
        };
        assert!(
            content_type.as_deref().unwrap_or("").starts_with(want),
            "{content_type:?}"
        );
    }
    (status, text)
}

async fn chat(app: &TestApp, key: &str, model: &str, stream: bool, session: Option<&str>) -> u16 {
    let mut request = app
        .client
        .post(app.url("/v1/chat/completions"))
        .bearer_auth(key)
        .json(&json!({"model": model, "stream": stream,
                      "messages": [{"role": "user", "content": "hi"}]}));
    if let Some(session) = session {
        request = request.header("x-session-id", session);
    }
    let res = request.send().await.unwrap();
    let status = res.status().as_u16();
    res.bytes().await.unwrap();
    status
}

/// What one answered chat request costs at the shipped price of gpt-4o-mini ($0.15 input,
/// $0.075 cached input, $0.60 output per million tokens) for the mock's usage (11 prompt
/// tokens of which 2 cached, 7 completion tokens), in USD.
const CHAT_COST_USD: f64 = (9.0 * 0.15 + 2.0 * 0.075 + 7.0 * 0.60) / 1e6;

/// The sequence, on key `k1` (two upstreams, `a` first by priority) and `k2` (one request a
/// minute): three answered chats, one answered stream, one answered by `b` after `a` answered
/// 500, two turns of an agent session, one request for a model nobody serves; on `k2` one
/// answered chat and one refused by its rate limit; and one request with a wrong key.
async fn the_counters_match_a_known_sequence(app: &TestApp) {
    let (a, b) = (MockUpstream::start().await, MockUpstream::start().await);
    let mut ids = Vec::new();
    for (name, mock, priority) in [("a", &a, 1), ("b", &b, 2)] {
        ids.push(
            app.upstream(json!({
                "name": name, "provider": "openai", "base_url": mock.base_url,
                "api_key": UPSTREAM_KEY, "priority": priority
            }))
            .await,
        );
    }
    let (ua, ub) = (ids[0].as_str(), ids[1].as_str());
    let (k1, key1) = app.key(&[ua, ub]).await;
    let (status, created) = app
        .admin_json(
            Method::POST,
            "/api/admin/keys",
            json!({"name": "limited", "upstream_ids": [ua], "limits": {"rpm": 1}}),
        )
        .await;
    assert_eq!(status, 201, "{created}");
    let k2 = created["id"].as_str().unwrap().to_string();
    let key2 = created["key_value"].as_str().unwrap().to_string();

    for _ in 0..3 {
        assert_eq!(chat(app, &key1, "gpt-4o-mini", false, None).await, 200);
    }
    assert_eq!(chat(app, &key1, "gpt-4o-mini", true, None).await, 200);
    a.update(|k| k.status = Some(500));
    assert_eq!(chat(app, &key1, "gpt-4o-mini", false, None).await, 200);
    a.update(|k| k.status = None);
    assert_eq!((a.hits(), b.hits()), (5, 1), "a failed once, b answered");
    for _ in 0..2 {
        assert_eq!(
            chat(app, &key1, "gpt-4o-mini", false, Some("agent-session-1")).await,
            200
        );
    }
    assert_eq!(chat(app, &key1, "no-such-model", false, None).await, 404);
    assert_eq!(chat(app, &key2, "gpt-4o-mini", false, None).await, 200);
    assert_eq!(chat(app, &key2, "gpt-4o-mini", false, None).await, 429);
    assert_eq!(
        chat(
            app,
            "sk-auto-not-a-key-0123456789",
            "gpt-4o-mini",
            false,
            None
        )
        .await,
        401
    );
    // Every record the sequence submitted has been counted once this returns.
    app.state.plane.logs.flush().await;

    let (status, text) = scrape_text(app, Some(OPENMETRICS), None).await;
    assert_eq!(status, 200, "{text}");
    let s = parse_openmetrics(&text);

    // Requests by key, upstream, model, format and status class: ten in all (the wrong key's
    // is counted apart).
    let chat_f = ("format", "chat_completions");
    let requests = |key: &str, upstream: &str, model: &str, class: &str| {
        s.value(
            "autorouter_requests",
            &[
                ("key", key),
                ("upstream", upstream),
                ("model", model),
                chat_f,
                ("status_class", class),
            ],
        )
    };
    assert_eq!(requests(&k1, ua, "gpt-4o-mini", "2xx"), 6.0);
    assert_eq!(requests(&k1, ub, "gpt-4o-mini", "2xx"), 1.0);
    assert_eq!(requests(&k1, "none", "other", "4xx"), 1.0);
    assert_eq!(requests(&k2, ua, "gpt-4o-mini", "2xx"), 1.0);
    assert_eq!(requests(&k2, "none", "gpt-4o-mini", "4xx"), 1.0);
    assert_eq!(s.total("autorouter_requests"), 10.0);

    // Tokens: 11 in (2 of them cached), 7 out (3 of them reasoning) per answered request.
    for (key, upstream, answered) in [(&k1, ua, 6.0), (&k1, ub, 1.0), (&k2, ua, 1.0)] {
        for (kind, per) in [
            ("input", 11.0),
            ("output", 7.0),
            ("cached", 2.0),
            ("reasoning", 3.0),
        ] {
            assert_eq!(
                s.value(
                    "autorouter_tokens",
                    &[("key", key), ("upstream", upstream), ("kind", kind)]
                ),
                per * answered,
                "{kind} tokens of {key} on {upstream}"
            );
        }
        let cost = s.value(
            "autorouter_cost_usd",
            &[
                ("key", key),
                ("upstream", upstream),
                ("model", "gpt-4o-mini"),
            ],
        );
        assert!(
            (cost - CHAT_COST_USD * answered).abs() < 1e-12,
            "cost of {key} on {upstream}: {cost}"
        );
    }
    assert_eq!(s.total("autorouter_tokens"), 8.0 * (11.0 + 7.0 + 2.0 + 3.0));

    // Failover, refusals, sessions.
    assert_eq!(
        s.value(
            "autorouter_failover_attempts",
            &[("upstream", ua), ("reason", "http_5xx")]
        ),
        1.0
    );
    assert_eq!(s.total("autorouter_failover_attempts"), 1.0);
    assert_eq!(
        s.value("autorouter_limit_refusals", &[("reason", "key_rpm")]),
        1.0
    );
    assert_eq!(s.total("autorouter_limit_refusals"), 1.0);
    assert_eq!(
        s.value("autorouter_auth_refusals", &[("reason", "invalid")]),
        1.0
    );
    assert_eq!(s.total("autorouter_auth_refusals"), 1.0);
    assert_eq!(
        s.value("autorouter_session_requests", &[("sticky", "false")]),
        1.0
    );
    assert_eq!(
        s.value("autorouter_session_requests", &[("sticky", "true")]),
        1.0
    );

    // Histograms: every request has a duration; a first byte only when an upstream answered;
    // a first token only for the stream.
    let at = |upstream| [("upstream", upstream), chat_f];
    let count = |family: &str, upstream| s.value(family, &at(upstream));
    assert_eq!(count("autorouter_request_duration_seconds", ua), 7.0);
    assert_eq!(count("autorouter_request_duration_seconds", ub), 1.0);
    assert_eq!(count("autorouter_request_duration_seconds", "none"), 2.0);
    assert_eq!(count("autorouter_time_to_first_byte_seconds", ua), 7.0);
    assert_eq!(count("autorouter_time_to_first_byte_seconds", ub), 1.0);
    assert_eq!(count("autorouter_time_to_first_byte_seconds", "none"), 0.0);
    assert_eq!(count("autorouter_time_to_first_token_seconds", ua), 1.0);
    assert_eq!(s.total("autorouter_time_to_first_token_seconds"), 1.0);
    let duration = s
        .point("autorouter_request_duration_seconds", &at(ua))
        .unwrap();
    assert_eq!(duration.buckets.len(), 18, "17 bounds and +Inf");
    assert_eq!(duration.buckets.last().unwrap(), &(f64::INFINITY, 7.0));
    // Whole milliseconds, as the log row keeps them: a fast run may sum to 0.
    assert!(duration.sum < 7.0 * 10.0, "{duration:?}");
    assert!(s.total("autorouter_log_batch_seconds") >= 1.0);

    // Gauges, read from the running gateway.
    for id in [ua, ub] {
        assert_eq!(
            s.value("autorouter_in_flight_requests", &[("upstream", id)]),
            0.0
        );
        assert_eq!(
            s.value("autorouter_upstream_healthy", &[("upstream", id)]),
            1.0
        );
        assert_eq!(
            s.value(
                "autorouter_breaker_state",
                &[("upstream", id), ("state", "closed")]
            ),
            1.0
        );
        assert_eq!(
            s.value(
                "autorouter_breaker_state",
                &[("upstream", id), ("state", "open")]
            ),
            0.0
        );
    }
    assert_eq!(
        s.value(
            "autorouter_upstream_info",
            &[("upstream", ua), ("name", "a"), ("provider", "openai")]
        ),
        1.0
    );
    assert_eq!(s.value("autorouter_log_queue_depth", &[]), 0.0);
    assert_eq!(s.value("autorouter_log_queue_capacity", &[]), 65_536.0);
    assert_eq!(s.value("autorouter_log_dropped_rows", &[]), 0.0);
    assert!(s.value("autorouter_log_written_rows", &[]) >= 10.0);
    assert_eq!(s.value("autorouter_sticky_sessions", &[]), 1.0);
    assert!(
        !s.families.contains_key("autorouter_limits_shared"),
        "only with REDIS_URL"
    );

    // The plain text format (curl, older scrapers) carries the same counters.
    let (status, plain) = scrape_text(app, None, None).await;
    assert_eq!(status, 200);
    let counters = prometheus_counters(&plain);
    let plain_total: f64 = counters["autorouter_requests_total"]
        .iter()
        .map(|p| p.value)
        .sum();
    assert_eq!(plain_total, 10.0);

    // No secret reaches the scrape: not the client keys, not the upstreams' key.
    for secret in [key1.as_str(), key2.as_str(), UPSTREAM_KEY] {
        assert!(!text.contains(secret) && !plain.contains(secret));
    }

    dashboard_reads_only_metrics_that_exist(&s);
}

/// Every metric a panel of `docs/grafana-dashboard.json` queries is in the scrape after the
/// sequence; and the dashboard is one Grafana imports (a datasource input, schema version).
fn dashboard_reads_only_metrics_that_exist(s: &Scrape) {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/grafana-dashboard.json");
    let dashboard: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    assert_eq!(dashboard["__inputs"][0]["name"], "DS_PROMETHEUS");
    assert!(dashboard["schemaVersion"].as_u64().unwrap() >= 36);
    let mut exprs = Vec::new();
    fn collect(v: &Value, out: &mut Vec<String>) {
        match v {
            Value::Object(map) => {
                for (k, v) in map {
                    match (k.as_str(), v) {
                        ("expr", Value::String(e)) => out.push(e.clone()),
                        _ => collect(v, out),
                    }
                }
            }
            Value::Array(items) => items.iter().for_each(|i| collect(i, out)),
            _ => {}
        }
    }
    collect(&dashboard, &mut exprs);
    assert!(exprs.len() >= 15, "{exprs:?}");
    let mut read = BTreeSet::new();
    for e in &exprs {
        let mut rest = e.as_str();
        while let Some(at) = rest.find("autorouter_") {
            let name: String = rest[at..]
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            rest = &rest[at + name.len()..];
            read.insert(name);
        }
    }
    assert!(read.len() >= 15, "{read:?}");
    let missing: Vec<_> = read.difference(&s.sample_names).collect();
    assert!(
        missing.is_empty(),
        "the dashboard reads {missing:?}, which /metrics lacks"
    );
    for panel in dashboard["panels"].as_array().unwrap() {
        if panel["type"] != "row" {
            assert_eq!(panel["datasource"]["uid"], "${DS_PROMETHEUS}", "{panel}");
        }
    }
}

private_both_backends!(the_counters_match_a_known_sequence);

/// With `METRICS_TOKEN`, a scrape needs it as a bearer token: 401 without or with another.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_metrics_token_is_required_when_set() {
    let app = TestApp::spawn_with(Backend::Sqlite, &[("METRICS_TOKEN", METRICS_TOKEN)]).await;
    let (status, body) = scrape_text(&app, None, None).await;
    assert_eq!(status, 401, "{body}");
    assert!(!body.contains(METRICS_TOKEN));
    let (status, _) = scrape_text(&app, None, Some("metrics-token-wrong-0123")).await;
    assert_eq!(status, 401);
    let res = app.client.get(app.url("/metrics")).send().await.unwrap();
    assert_eq!(
        res.headers()["www-authenticate"],
        r#"Bearer realm="metrics""#
    );
    let (status, text) = scrape_text(&app, Some(OPENMETRICS), Some(METRICS_TOKEN)).await;
    assert_eq!(status, 200);
    parse_openmetrics(&text);
    // The admin token is not the metrics token.
    let (status, _) = scrape_text(&app, None, Some(common::ADMIN_TOKEN)).await;
    assert_eq!(status, 401);
    app.cleanup().await;
}

/// `METRICS=off`: nothing is counted and `/metrics` answers 404; the proxy works as ever.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_off_answers_404() {
    let app = TestApp::spawn_with(
        Backend::Sqlite,
        &[("METRICS", "off"), ("ALLOW_PRIVATE_UPSTREAMS", "true")],
    )
    .await;
    assert!(app.state.plane.render_metrics(true).is_none());
    let mock = MockUpstream::start().await;
    let up = app
        .upstream(
            json!({"name": "a", "provider": "openai", "base_url": mock.base_url,
                         "api_key": UPSTREAM_KEY}),
        )
        .await;
    let (_, key) = app.key(&[&up]).await;
    assert_eq!(chat(&app, &key, "gpt-4o-mini", false, None).await, 200);
    let (status, body) = scrape_text(&app, Some(OPENMETRICS), None).await;
    assert_eq!(status, 404, "{body}");
    app.cleanup().await;
}

/// With `REDIS_URL`, `autorouter_limits_shared` says whether limits are counted in Redis (needs
/// Redis at `TEST_REDIS_URL`, like the other Redis tests).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn limits_shared_shows_with_redis() {
    let url = common::redis::redis_url();
    let app = TestApp::spawn_with(Backend::Sqlite, &[("REDIS_URL", url.as_str())]).await;
    let (status, text) = scrape_text(&app, Some(OPENMETRICS), None).await;
    assert_eq!(status, 200);
    let s = parse_openmetrics(&text);
    assert_eq!(s.value("autorouter_limits_shared", &[]), 1.0, "{text}");
    app.cleanup().await;
}
