//! Sequential requests (concurrency 1): the latency of each, start to last body byte.
use std::time::{Duration, Instant};

pub struct Target<'a> {
    pub url: &'a str,
    pub key: Option<&'a str>,
    pub body: &'static str,
}

pub async fn sequential(client: &reqwest::Client, t: &Target<'_>, n: usize) -> Vec<Duration> {
    let mut out = Vec::with_capacity(n);
    for _ in 0..n {
        let started = Instant::now();
        let mut req = client
            .post(t.url)
            .header("content-type", "application/json")
            .body(t.body);
        if let Some(k) = t.key {
            req = req.bearer_auth(k);
        }
        let res = req.send().await.expect("request");
        assert!(res.status().is_success(), "HTTP {}", res.status());
        let body = res.bytes().await.expect("body");
        assert!(body.len() > 500, "a full answer");
        out.push(started.elapsed());
    }
    out
}
