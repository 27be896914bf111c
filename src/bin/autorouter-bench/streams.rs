//! SSE measurements: time to first byte, and how long each event took from the moment the mock
//! wrote it (stamped `t=<unix ns>;` in the event) to the moment the client read it.
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use futures_util::StreamExt;

pub const STREAM_BODY: &str =
    r#"{"model":"bench-model","stream":true,"messages":[{"role":"user","content":"hi"}]}"#;

fn now_ns() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0)
}

fn stamps(text: &str) -> impl Iterator<Item = u128> + '_ {
    text.split("t=")
        .skip(1)
        .filter_map(|s| s.split(';').next())
        .filter_map(|n| n.parse().ok())
}

#[derive(Default)]
pub struct StreamTimes {
    pub ttfb: Vec<Duration>,
    pub event_delays: Vec<Duration>,
    pub events: usize,
}

/// `n` streams one after the other, each of `events` events `interval_ms` apart.
pub async fn sequential(
    client: &reqwest::Client,
    url: &str,
    key: Option<&str>,
    n: usize,
    events: usize,
    interval_ms: u64,
) -> StreamTimes {
    let mut out = StreamTimes::default();
    for _ in 0..n {
        let started = Instant::now();
        let mut req = client
            .post(url)
            .header("content-type", "application/json")
            .header("x-bench-events", events.to_string())
            .header("x-bench-interval-ms", interval_ms.to_string())
            .body(STREAM_BODY);
        if let Some(k) = key {
            req = req.bearer_auth(k);
        }
        let res = req.send().await.expect("stream request");
        assert!(res.status().is_success(), "HTTP {}", res.status());
        let mut body = res.bytes_stream();
        let mut first = true;
        let mut carry = String::new();
        let mut seen = 0;
        while let Some(chunk) = body.next().await {
            let chunk = chunk.expect("stream chunk");
            let arrived = now_ns();
            if first {
                out.ttfb.push(started.elapsed());
                first = false;
            }
            carry.push_str(&String::from_utf8_lossy(&chunk));
            // Only complete events count; a stamp split across chunks waits for its end.
            let complete = carry.rfind("\n\n").map_or(0, |i| i + 2);
            for sent in stamps(&carry[..complete]) {
                out.event_delays
                    .push(Duration::from_nanos(arrived.saturating_sub(sent) as u64));
                seen += 1;
            }
            carry.drain(..complete);
        }
        assert_eq!(seen, events, "every event arrived");
        out.events += seen;
    }
    out
}

/// Opens `n` streams at once and keeps them open until the returned guard is dropped; resolves
/// once every stream has delivered its first byte.
pub async fn hold(
    client: &reqwest::Client,
    url: &str,
    key: &str,
    n: usize,
) -> Vec<tokio::task::JoinHandle<()>> {
    let (tx, mut rx) = tokio::sync::mpsc::channel::<()>(n);
    let mut tasks = Vec::with_capacity(n);
    for _ in 0..n {
        let (client, url, key, tx) = (client.clone(), url.to_string(), key.to_string(), tx.clone());
        tasks.push(tokio::spawn(async move {
            let res = client
                .post(&url)
                .bearer_auth(&key)
                .header("content-type", "application/json")
                .header("x-bench-events", "120")
                .header("x-bench-interval-ms", "1000")
                .body(STREAM_BODY)
                .send()
                .await
                .expect("held stream");
            let mut body = res.bytes_stream();
            let mut told = false;
            while let Some(Ok(_)) = body.next().await {
                if !told {
                    let _ = tx.send(()).await;
                    told = true;
                }
            }
        }));
    }
    drop(tx);
    for _ in 0..n {
        rx.recv().await.expect("every held stream started");
    }
    tasks
}

#[cfg(test)]
mod tests {
    use super::stamps;

    #[test]
    fn reads_every_stamp() {
        let text = "data: {\"c\":\"t=12;\"}\n\ndata: {\"c\":\"t=34;\"}\n\n";
        assert_eq!(stamps(text).collect::<Vec<_>>(), vec![12, 34]);
    }
}
