//! Sustained load at concurrency 1: one kept-alive connection, each request sent as soon as the
//! last answer is in, for a given time, and every request's latency kept as measured. The client
//! is plain blocking HTTP/1.1 on its own thread, about as light as wrk, so the load is as
//! sustained as `wrk -t1 -c1`'s; unlike wrk's, its percentiles hold no synthetic samples (wrk
//! adds some for every slow request, its correction for coordinated omission).
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use crate::chunked::{head_end, Dechunker};

/// Back-to-back requests to `url` for `length`; each one's time from the start of its write to
/// the last byte of its answer.
pub(crate) async fn run(
    url: &str,
    key: Option<&str>,
    body: &'static str,
    length: Duration,
) -> Vec<Duration> {
    let url = reqwest::Url::parse(url).expect("closed-loop URL");
    let key = key.map(str::to_string);
    tokio::task::spawn_blocking(move || requests(&url, key.as_deref(), body, length))
        .await
        .expect("the closed-loop client")
}

fn requests(url: &reqwest::Url, key: Option<&str>, body: &str, length: Duration) -> Vec<Duration> {
    let host = url.host_str().expect("closed-loop URL host");
    let addr = format!("{host}:{}", url.port_or_known_default().unwrap_or(80));
    let mut request = format!(
        "POST {} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n",
        url.path(),
        body.len()
    );
    if let Some(k) = key {
        request.push_str(&format!("Authorization: Bearer {k}\r\n"));
    }
    request.push_str("\r\n");
    request.push_str(body);

    let mut socket = TcpStream::connect(&addr).expect("connect for the closed loop");
    socket.set_nodelay(true).expect("TCP_NODELAY");
    let mut buf = vec![0u8; 64 * 1024];
    // Bytes read past the end of one answer (none expected: one request is in flight at a time).
    let mut pending = Vec::new();
    let mut out = Vec::with_capacity(length.as_secs() as usize * 20_000);
    let started = Instant::now();
    while started.elapsed() < length {
        let sent = Instant::now();
        socket
            .write_all(request.as_bytes())
            .expect("send a request");
        read_answer(&mut socket, &mut buf, &mut pending);
        out.push(sent.elapsed());
    }
    out
}

/// Reads one whole answer (a `Content-Length` or a chunked body), which must be a 200.
fn read_answer(socket: &mut TcpStream, buf: &mut [u8], pending: &mut Vec<u8>) {
    let mut fill = |pending: &mut Vec<u8>| {
        let n = socket.read(buf).expect("read an answer");
        assert!(n > 0, "the server closed the connection");
        pending.extend_from_slice(&buf[..n]);
    };
    let end = loop {
        if let Some(end) = head_end(pending) {
            break end;
        }
        fill(pending);
    };
    let head = String::from_utf8_lossy(&pending[..end]).to_ascii_lowercase();
    assert!(head.starts_with("http/1.1 200"), "answered {head}");
    let length = head.lines().find_map(|l| {
        l.strip_prefix("content-length:")
            .and_then(|v| v.trim().parse::<usize>().ok())
    });
    pending.drain(..end);
    match length {
        Some(length) => {
            while pending.len() < length {
                fill(pending);
            }
            assert!(length > 500, "a full answer");
            pending.drain(..length);
        }
        None => {
            assert!(
                head.contains("transfer-encoding: chunked"),
                "no length: {head}"
            );
            let mut body = Dechunker::default();
            let mut data = body.feed(pending).expect("a chunked answer");
            pending.clear();
            while !body.finished() {
                fill(pending);
                data.extend(body.feed(pending).expect("a chunked answer"));
                pending.clear();
            }
            assert!(data.len() > 500, "a full answer");
        }
    }
}

#[cfg(test)]
mod tests {
    use std::io::{Read, Write};
    use std::net::TcpListener;
    use std::time::Duration;

    #[tokio::test]
    async fn keeps_one_connection_and_a_latency_for_every_answer() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!(
            "http://{}/v1/chat/completions",
            listener.local_addr().unwrap()
        );
        let server = std::thread::spawn(move || {
            let (mut conn, _) = listener.accept().unwrap();
            conn.set_nodelay(true).unwrap();
            let body = "x".repeat(600);
            let mut buf = [0u8; 4096];
            let mut answered = 0;
            // Answers alternate between a length and chunks, each written in two pieces.
            while conn.read(&mut buf).unwrap_or(0) > 0 {
                let answer = if answered % 2 == 0 {
                    format!("HTTP/1.1 200 OK\r\ncontent-length: 600\r\n\r\n{body}")
                } else {
                    format!("HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n258\r\n{body}\r\n0\r\n\r\n")
                };
                let (a, b) = answer.split_at(answer.len() / 2);
                conn.write_all(a.as_bytes()).unwrap();
                conn.write_all(b.as_bytes()).unwrap();
                answered += 1;
            }
            answered
        });
        let latencies = super::run(&url, Some("k"), "{}", Duration::from_millis(200)).await;
        let answered = server.join().unwrap();
        assert!(latencies.len() >= 2, "both kinds of answer were read");
        assert_eq!(latencies.len(), answered);
    }
}
