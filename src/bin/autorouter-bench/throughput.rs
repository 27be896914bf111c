//! Throughput with wrk (an established load generator): concurrency 64, POST with a JSON body.
use std::path::Path;
use std::process::Command;

use serde::Serialize;

#[derive(Debug, Clone, Serialize)]
pub struct WrkResult {
    pub command: String,
    pub requests: u64,
    pub seconds: f64,
    pub requests_per_second: f64,
    pub non_2xx: u64,
    pub socket_errors: String,
}

pub fn wrk(root: &Path, url: &str, key: Option<&str>, seconds: u32) -> WrkResult {
    let script = root.join("scripts/bench/post.lua");
    let mut args: Vec<String> = vec![
        "-t2".into(),
        "-c64".into(),
        format!("-d{seconds}s"),
        "--latency".into(),
        "-s".into(),
        script.display().to_string(),
    ];
    if let Some(k) = key {
        args.push("-H".into());
        args.push(format!("Authorization: Bearer {k}"));
    }
    args.push(url.into());
    let shown = args
        .iter()
        .map(|a| {
            if a.starts_with("Authorization") {
                "'Authorization: Bearer sk-auto-…'".to_string()
            } else if let Ok(relative) = Path::new(a).strip_prefix(root) {
                relative.display().to_string()
            } else {
                a.clone()
            }
        })
        .collect::<Vec<_>>()
        .join(" ");
    let out = Command::new("wrk")
        .args(&args)
        .output()
        .expect("wrk is installed (scripts/install-tools.sh --bench)");
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(out.status.success(), "wrk failed: {text}");
    let requests = text
        .lines()
        .find(|l| l.contains("requests in"))
        .and_then(|l| l.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("cannot read wrk output: {text}"));
    let seconds = text
        .lines()
        .find(|l| l.contains("requests in"))
        .and_then(|l| l.split("requests in").nth(1))
        .and_then(|r| r.split(',').next())
        .and_then(|s| s.trim().strip_suffix('s'))
        .and_then(|s| s.parse().ok())
        .unwrap_or(seconds as f64);
    let rps = text
        .lines()
        .find(|l| l.starts_with("Requests/sec:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|n| n.parse().ok())
        .unwrap_or(0.0);
    let non_2xx = text
        .lines()
        .find(|l| l.contains("Non-2xx or 3xx responses:"))
        .and_then(|l| l.split(':').nth(1))
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or(0);
    let socket_errors = text
        .lines()
        .find(|l| l.contains("Socket errors"))
        .map(|l| l.trim().to_string())
        .unwrap_or_default();
    WrkResult {
        command: format!("wrk {shown}"),
        requests,
        seconds,
        requests_per_second: rps,
        non_2xx,
        socket_errors,
    }
}

/// Each block of `these` over the block of `those` run beside it, in requests/s.
pub fn pair_shares(these: &[WrkResult], those: &[WrkResult]) -> Vec<f64> {
    these
        .iter()
        .zip(those)
        .map(|(a, b)| a.requests_per_second / b.requests_per_second)
        .collect()
}

/// Several runs of one path as one: their requests over their summed time.
pub fn combine(blocks: &[WrkResult]) -> WrkResult {
    let requests = blocks.iter().map(|b| b.requests).sum();
    let seconds: f64 = blocks.iter().map(|b| b.seconds).sum();
    let socket_errors = blocks
        .iter()
        .map(|b| b.socket_errors.as_str())
        .filter(|e| !e.is_empty())
        .collect::<Vec<_>>()
        .join("; ");
    WrkResult {
        command: blocks
            .first()
            .map(|b| b.command.clone())
            .unwrap_or_default(),
        requests,
        seconds,
        requests_per_second: requests as f64 / seconds.max(f64::EPSILON),
        non_2xx: blocks.iter().map(|b| b.non_2xx).sum(),
        socket_errors,
    }
}
