//! The live view: `GET /api/admin/logs/stream` shows a request in flight while it streams, then
//! its row when it ends; across instances on PostgreSQL.
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use serde_json::{json, Value};

use crate::common::mock_upstream::{Knobs, MockUpstream};
use crate::common::{self, TestApp, ADMIN_TOKEN};

const PRIVATE: [(&str, &str); 1] = [("ALLOW_PRIVATE_UPSTREAMS", "true")];

/// An open event stream, read event by event.
struct Events {
    body: std::pin::Pin<Box<dyn futures_util::Stream<Item = reqwest::Result<bytes::Bytes>> + Send>>,
    buf: String,
}

impl Events {
    async fn open(app: &TestApp, query: &str) -> Events {
        let res = app
            .client
            .get(app.url(&format!("/api/admin/logs/stream{query}")))
            .bearer_auth(ADMIN_TOKEN)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200);
        assert_eq!(
            res.headers()["content-type"].to_str().unwrap(),
            "text/event-stream"
        );
        Events {
            body: Box::pin(res.bytes_stream()),
            buf: String::new(),
        }
    }

    /// The next event (name, data), or `None` when `timeout` passes first.
    async fn next(&mut self, timeout: Duration) -> Option<(String, Value)> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            if let Some(end) = self.buf.find("\n\n") {
                let block: String = self.buf.drain(..end + 2).collect();
                let mut name = String::new();
                let mut data = String::new();
                for line in block.lines() {
                    if let Some(v) = line.strip_prefix("event:") {
                        name = v.trim().to_string();
                    } else if let Some(v) = line.strip_prefix("data:") {
                        data.push_str(v.trim_start());
                    }
                }
                if name.is_empty() {
                    continue; // a keep-alive comment
                }
                return Some((name, serde_json::from_str(&data).unwrap()));
            }
            match tokio::time::timeout_at(deadline, self.body.next()).await {
                Ok(Some(chunk)) => self
                    .buf
                    .push_str(std::str::from_utf8(&chunk.unwrap()).unwrap()),
                Ok(None) => panic!("the event stream ended"),
                Err(_) => return None,
            }
        }
    }

    /// The first event named `name` whose data passes `pred`, within `timeout`.
    async fn wait_for(
        &mut self,
        name: &str,
        timeout: Duration,
        mut pred: impl FnMut(&Value) -> bool,
    ) -> Value {
        let deadline = Instant::now() + timeout;
        while let Some(left) = deadline.checked_duration_since(Instant::now()) {
            match self.next(left).await {
                Some((n, data)) if n == name && pred(&data) => return data,
                Some(_) => continue,
                None => break,
            }
        }
        panic!("no `{name}` event as expected within {timeout:?}");
    }
}

/// An upstream whose stream takes about 2.4 s (8 events, 300 ms apart), and a key for it.
async fn slow_upstream(app: &TestApp) -> (MockUpstream, String, String, String) {
    let mock = MockUpstream::start_with(Knobs {
        chunk_delay_ms: 300,
        events: Some(8),
        ..Knobs::default()
    })
    .await;
    let upstream = app
        .upstream(json!({"name": "slow one", "provider": "openai", "base_url": mock.base_url, "api_key": "sk-up"}))
        .await;
    let (key_id, key) = app.key(&[&upstream]).await;
    (mock, upstream, key_id, key)
}

/// Starts a chat stream through `app` and reads it to its end in the background; gives the
/// request id the client received.
async fn start_stream(app: &TestApp, key: &str) -> (String, tokio::task::JoinHandle<String>) {
    let res = app
        .client
        .post(app.url("/v1/chat/completions"))
        .bearer_auth(key)
        .json(&json!({"model": "gpt-4o-mini", "stream": true, "messages": [{"role": "user", "content": "hi"}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let id = res.headers()["x-request-id"].to_str().unwrap().to_string();
    (id, tokio::spawn(async move { res.text().await.unwrap() }))
}

fn listed<'a>(event: &'a Value, request_id: &str) -> Option<&'a Value> {
    event["requests"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["request_id"] == request_id)
}

async fn shows_a_stream_in_flight_then_its_row(app: &TestApp) {
    let (_mock, upstream, key_id, key) = slow_upstream(app).await;
    let mut events = Events::open(app, "").await;
    let opening = events
        .wait_for("in_flight", Duration::from_secs(2), |_| true)
        .await;
    assert_eq!(opening["requests"], json!([]), "{opening}");
    let instance = opening["instance"].as_str().unwrap().to_string();
    assert!(!instance.is_empty());

    let (request_id, body) = start_stream(app, &key).await;
    let first = events
        .wait_for("in_flight", Duration::from_secs(3), |e| {
            listed(e, &request_id).is_some()
        })
        .await;
    let entry = listed(&first, &request_id).unwrap().clone();
    assert_eq!(entry["api_key_id"], key_id, "{entry}");
    assert_eq!(entry["api_key_name"], "test key", "{entry}");
    assert_eq!(entry["upstream_id"], upstream, "{entry}");
    assert_eq!(entry["upstream_name"], "slow one", "{entry}");
    assert_eq!(entry["model"], "gpt-4o-mini", "{entry}");
    assert_eq!(entry["is_stream"], true, "{entry}");
    assert_eq!(entry["instance"], instance.as_str(), "{entry}");
    assert!(
        entry["started_at"].as_str().unwrap().ends_with('Z'),
        "{entry}"
    );
    let elapsed = entry["elapsed_ms"].as_i64().unwrap();
    assert!(
        first["instances"]
            .as_array()
            .unwrap()
            .iter()
            .any(|i| i["instance"] == instance.as_str() && i["in_flight"] == 1),
        "{first}"
    );
    // A second later it is still there, longer and further along: what a stuck stream would
    // show without the bytes growing.
    let later = events
        .wait_for("in_flight", Duration::from_secs(3), |e| {
            listed(e, &request_id)
                .is_some_and(|r| r["elapsed_ms"].as_i64().unwrap() >= elapsed + 500)
        })
        .await;
    assert!(
        listed(&later, &request_id).unwrap()["bytes_out"]
            .as_u64()
            .unwrap()
            > 0
    );

    let row = events
        .wait_for("row", Duration::from_secs(10), |r| {
            r["request_id"] == request_id.as_str()
        })
        .await;
    assert!(body.await.unwrap().contains("[DONE]"));
    assert_eq!(row["status_code"], 200, "{row}");
    assert_eq!(row["is_stream"], true, "{row}");
    assert_eq!(row["api_key_id"], key_id, "{row}");
    assert_eq!(row["upstream_id"], upstream, "{row}");
    assert!(row["duration_ms"].as_i64().unwrap() >= 2_000, "{row}");
    // The same JSON as the list's item for that row.
    let listed_rows = app.logs(1).await;
    let same = listed_rows
        .iter()
        .find(|r| r["request_id"] == request_id.as_str())
        .expect("the row is in the list");
    assert_eq!(&row, same);
    let after = events
        .wait_for("in_flight", Duration::from_secs(3), |_| true)
        .await;
    assert!(listed(&after, &request_id).is_none(), "{after}");
}

async fn filters_apply_and_bad_ones_are_refused(app: &TestApp) {
    let (_mock, upstream, _key_id, key) = slow_upstream(app).await;
    let mut other_model = Events::open(app, "?model=not-this-one").await;
    let mut same_upstream = Events::open(app, &format!("?upstream_id={upstream}&status=2xx")).await;
    let (request_id, body) = start_stream(app, &key).await;
    let seen = same_upstream
        .wait_for("in_flight", Duration::from_secs(3), |e| {
            listed(e, &request_id).is_some()
        })
        .await;
    assert_eq!(seen["requests"].as_array().unwrap().len(), 1);
    same_upstream
        .wait_for("row", Duration::from_secs(10), |r| {
            r["request_id"] == request_id.as_str()
        })
        .await;
    body.await.unwrap();
    // The other stream saw neither the request nor its row in all that time.
    let until = Instant::now() + Duration::from_millis(1_500);
    while let Some(left) = until.checked_duration_since(Instant::now()) {
        let Some((name, data)) = other_model.next(left).await else {
            break;
        };
        assert_ne!(name, "row", "{data}");
        assert_eq!(data["requests"], json!([]), "{data}");
    }

    let res = app.admin_get("/api/admin/logs/stream?status=9xx").await;
    assert_eq!(res.status(), 400);
    let err: Value = res.json().await.unwrap();
    assert!(
        err["error"]["message"]
            .as_str()
            .unwrap()
            .starts_with("status"),
        "{err}"
    );
}

private_both_backends!(
    shows_a_stream_in_flight_then_its_row,
    filters_apply_and_bad_ones_are_refused
);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_stream_needs_the_admin_and_takes_the_session_cookie() {
    let app = TestApp::spawn(common::Backend::Sqlite).await;
    let res = app.get("/api/admin/logs/stream").await;
    assert_eq!(res.status(), 401);
    let err: Value = res.json().await.unwrap();
    assert_eq!(err["error"]["type"], "unauthorized", "{err}");
    let res = app
        .client
        .get(app.url("/api/admin/logs/stream"))
        .bearer_auth("not-the-admin-token-at-all")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);

    let cookie = app.login_cookie().await;
    let res = app
        .client
        .get(app.url("/api/admin/logs/stream"))
        .header("cookie", cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let mut body = res.bytes_stream();
    let first = tokio::time::timeout(Duration::from_secs(2), body.next())
        .await
        .expect("an event at once")
        .unwrap()
        .unwrap();
    assert!(
        std::str::from_utf8(&first)
            .unwrap()
            .starts_with("event: in_flight"),
        "{first:?}"
    );
    app.cleanup().await;
}

/// Two instances on one PostgreSQL database: a stream on instance one shows instance two's
/// request in flight, named by its instance, and then its row.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_instance_is_seen_live_on_postgres() {
    let one = TestApp::spawn_with(
        common::Backend::Postgres,
        &[PRIVATE[0], ("INSTANCE_ID", "one")],
    )
    .await;
    let two = one
        .another_instance(&[PRIVATE[0], ("INSTANCE_ID", "two")])
        .await;
    let (_mock, upstream, key_id, key) = slow_upstream(&one).await;
    two.state.plane.reload().await;
    let mut events = Events::open(&one, "").await;
    // Instance two hears the watch and reports (nothing in flight yet).
    let heard = events
        .wait_for("in_flight", Duration::from_secs(5), |e| {
            e["instances"]
                .as_array()
                .unwrap()
                .iter()
                .any(|i| i["instance"] == "two")
        })
        .await;
    assert_eq!(heard["instance"], "one");

    let (request_id, body) = start_stream(&two, &key).await;
    let seen = events
        .wait_for("in_flight", Duration::from_secs(4), |e| {
            listed(e, &request_id).is_some()
        })
        .await;
    let entry = listed(&seen, &request_id).unwrap();
    assert_eq!(entry["instance"], "two", "{entry}");
    assert_eq!(entry["api_key_id"], key_id, "{entry}");
    assert_eq!(entry["api_key_name"], "test key", "{entry}");
    assert_eq!(entry["upstream_id"], upstream, "{entry}");
    assert_eq!(entry["model"], "gpt-4o-mini", "{entry}");

    let row = events
        .wait_for("row", Duration::from_secs(10), |r| {
            r["request_id"] == request_id.as_str()
        })
        .await;
    body.await.unwrap();
    assert_eq!(row["status_code"], 200, "{row}");
    assert!(row["id"].as_i64().unwrap() > 0);
    let gone = events
        .wait_for("in_flight", Duration::from_secs(4), |e| {
            listed(e, &request_id).is_none()
        })
        .await;
    assert!(listed(&gone, &request_id).is_none());
    two.cleanup().await;
    one.cleanup().await;
}
