//! SSE measurements: time to first byte, and how long each event took from the moment the mock
//! wrote it (stamped `t=<unix ns>;` in the event) to the moment it reached the client's socket
//! (the kernel's receive timestamp) and to the moment the client read it. The first is what the
//! path held the bytes for; the second adds the client's own wait for a core, which on these
//! shared machines is sometimes a millisecond behind another process (seen with
//! `perf record -e sched:sched_switch`).
use std::time::Duration;

use futures_util::StreamExt;

use crate::chunked::{head_end, Dechunker};
use crate::timed_socket::{now_ns, TimedSocket};

pub const STREAM_BODY: &str =
    r#"{"model":"bench-model","stream":true,"messages":[{"role":"user","content":"hi"}]}"#;

fn stamps(text: &str) -> impl Iterator<Item = u128> + '_ {
    text.split("t=")
        .skip(1)
        .filter_map(|s| s.split(';').next())
        .filter_map(|n| n.parse().ok())
}

fn since(start_ns: u128, end_ns: u128) -> Duration {
    Duration::from_nanos(end_ns.saturating_sub(start_ns) as u64)
}

/// Each figure twice: when the bytes reached the client's socket, and when the client read them.
#[derive(Default)]
pub struct StreamTimes {
    pub ttfb_at_socket: Vec<Duration>,
    pub ttfb_as_read: Vec<Duration>,
    pub delays_at_socket: Vec<Duration>,
    pub delays_as_read: Vec<Duration>,
    pub events: usize,
}

/// `n` streams one after the other on one keep-alive connection, each of `events` events
/// `interval_ms` apart, read by a plain HTTP/1.1 client on its own thread.
pub async fn sequential(
    url: &str,
    key: Option<&str>,
    n: usize,
    events: usize,
    interval_ms: u64,
) -> StreamTimes {
    let url = reqwest::Url::parse(url).expect("stream URL");
    let key = key.map(str::to_string);
    tokio::task::spawn_blocking(move || read_streams(&url, key.as_deref(), n, events, interval_ms))
        .await
        .expect("the stream client")
}

fn read_streams(
    url: &reqwest::Url,
    key: Option<&str>,
    n: usize,
    events: usize,
    interval_ms: u64,
) -> StreamTimes {
    let host = url.host_str().expect("stream URL host");
    let addr = format!("{host}:{}", url.port_or_known_default().unwrap_or(80));
    let mut request = format!(
        // The mock's knobs ride in the query: the gateway forwards only providers' headers.
        "POST {}?x-bench-events={events}&x-bench-interval-ms={interval_ms} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n",
        url.path(),
        STREAM_BODY.len()
    );
    if let Some(k) = key {
        request.push_str(&format!("Authorization: Bearer {k}\r\n"));
    }
    request.push_str("\r\n");
    request.push_str(STREAM_BODY);

    let mut socket = TimedSocket::connect(&addr).expect("connect for streams");
    let mut buf = vec![0u8; 64 * 1024];
    let mut out = StreamTimes::default();
    for _ in 0..n {
        let sent_ns = now_ns();
        socket
            .write_all(request.as_bytes())
            .expect("send stream request");
        let mut head = Vec::new();
        let mut body: Option<Dechunker> = None;
        let mut carry = String::new();
        let mut seen = 0;
        // Time to first byte counts to the first byte of the body (the first event), not the head.
        let mut first = true;
        while !body.as_ref().is_some_and(Dechunker::finished) {
            let read = socket.read(&mut buf).expect("stream read");
            assert!(read.len > 0, "the server closed the connection mid-stream");
            let bytes = &buf[..read.len];
            let data = match &mut body {
                Some(body) => body.feed(bytes),
                None => {
                    head.extend_from_slice(bytes);
                    let Some(end) = head_end(&head) else {
                        continue;
                    };
                    let text = String::from_utf8_lossy(&head[..end]).to_ascii_lowercase();
                    assert!(text.starts_with("http/1.1 200"), "stream answered {text}");
                    assert!(
                        text.contains("transfer-encoding: chunked"),
                        "stream is not chunked: {text}"
                    );
                    body.insert(Dechunker::default()).feed(&head[end..])
                }
            }
            .expect("a chunked stream");
            if data.is_empty() {
                continue;
            }
            if first {
                first = false;
                out.ttfb_at_socket.push(since(sent_ns, read.arrived_ns));
                out.ttfb_as_read.push(since(sent_ns, read.read_ns));
            }
            carry.push_str(&String::from_utf8_lossy(&data));
            // Only complete events count; a stamp split across reads waits for its end.
            let complete = carry.rfind("\n\n").map_or(0, |i| i + 2);
            for sent in stamps(&carry[..complete]) {
                out.delays_at_socket.push(since(sent, read.arrived_ns));
                out.delays_as_read.push(since(sent, read.read_ns));
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
                .query(&[("x-bench-events", "120"), ("x-bench-interval-ms", "1000")])
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
