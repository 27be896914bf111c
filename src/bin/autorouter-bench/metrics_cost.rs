//! What the Prometheus metrics cost: two gateways, the same in all but `METRICS=off`, on the
//! same mock upstream, measured side by side in alternating blocks (sustained concurrency-1
//! latency, then wrk throughput at concurrency 64). `BENCH_ONLY=metrics` (`scripts/bench.sh
//! metrics`) runs this alone and writes `docs/benchmarks-metrics.{json,md}`. The targets: at
//! most 2 µs added to the median and 3% of throughput.
use std::path::Path;
use std::time::Duration;

use serde::Serialize;
use serde_json::json;

use crate::latency::{sequential, Target};
use crate::procs::{free_port, wait_ready, Proc};
use crate::report::Check;
use crate::stats::{summarize, Summary};
use crate::throughput::{self, WrkResult};
use crate::{admin_post, gateway_command, sustained_latency, OPENAI_BODY, WRK_BLOCKS};

/// Added median latency allowed, in microseconds, and the throughput share kept.
const MAX_ADDED_P50_US: f64 = 2.0;
const MIN_THROUGHPUT_SHARE: f64 = 0.97;

#[derive(Debug, Serialize)]
pub(crate) struct MetricsCost {
    pub command: String,
    pub started_at: String,
    pub latency_seconds_per_path: f64,
    pub latency_on: Summary,
    pub latency_off: Summary,
    pub added_p50_us: f64,
    pub throughput_on: WrkResult,
    pub throughput_off: WrkResult,
    /// Each block pair's metrics-on requests/s over its metrics-off requests/s.
    pub pair_shares: Vec<f64>,
    pub throughput_share: f64,
    /// `autorouter_requests_total` summed over the metrics-on gateway's scrape after the runs:
    /// shows it counted.
    pub requests_counted: f64,
    pub checks: Vec<Check>,
}

struct Gateway {
    _proc: Proc,
    base: String,
    key: String,
}

async fn start(
    client: &reqwest::Client,
    root: &Path,
    dir: &Path,
    mock: &str,
    metrics: &str,
) -> Gateway {
    std::fs::create_dir_all(dir).unwrap();
    let port = free_port();
    let proc = Proc::spawn(
        "gateway",
        gateway_command(root, port, dir).env("METRICS", metrics),
    );
    let base = format!("http://127.0.0.1:{port}");
    wait_ready(client, &format!("{base}/api/health")).await;
    let upstream = admin_post(
        client,
        format!("{base}/api/admin/upstreams"),
        json!({
        "name": "bench-openai", "provider": "openai", "base_url": format!("{mock}/v1"),
        "api_key": "sk-bench-upstream", "allowed_models": ["bench-model"]}),
    )
    .await;
    let key = admin_post(
        client,
        format!("{base}/api/admin/keys"),
        json!({"name": "bench", "upstream_ids": [upstream["id"]]}),
    )
    .await;
    Gateway {
        _proc: proc,
        base,
        key: key["key_value"].as_str().unwrap().to_string(),
    }
}

/// The sum of `autorouter_requests_total` in a gateway's scrape (0 when it has none).
async fn counted_requests(client: &reqwest::Client, base: &str) -> f64 {
    let text = match client.get(format!("{base}/metrics")).send().await {
        Ok(r) if r.status().is_success() => r.text().await.unwrap_or_default(),
        _ => return 0.0,
    };
    text.lines()
        .filter(|l| l.starts_with("autorouter_requests_total"))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

pub(crate) async fn run(
    root: &Path,
    data_dir: &Path,
    mock: &str,
    c1_seconds: u32,
    wrk_seconds: u32,
    started_at: String,
) -> MetricsCost {
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(64)
        .tcp_nodelay(true)
        .build()
        .unwrap();
    let on = start(&client, root, &data_dir.join("metrics-on"), mock, "on").await;
    let off = start(&client, root, &data_dir.join("metrics-off"), mock, "off").await;
    let (url_on, url_off) = (
        format!("{}/v1/chat/completions", on.base),
        format!("{}/v1/chat/completions", off.base),
    );
    let target_on = Target {
        url: &url_on,
        key: Some(&on.key),
        body: OPENAI_BODY,
    };
    let target_off = Target {
        url: &url_off,
        key: Some(&off.key),
        body: OPENAI_BODY,
    };
    sequential(&client, &target_on, 2_000).await;
    sequential(&client, &target_off, 2_000).await;

    eprintln!("metrics on / off: latency, concurrency 1, sustained ({c1_seconds} s per path)");
    let paths = [&target_on, &target_off];
    sustained_latency(&paths, Duration::from_millis(250)).await;
    let block = Duration::from_secs_f64(f64::from(c1_seconds) / f64::from(WRK_BLOCKS));
    let mut runs = sustained_latency(&paths, block).await;
    let (latency_off, latency_on) = (
        summarize(runs.pop().unwrap()),
        summarize(runs.pop().unwrap()),
    );

    eprintln!("metrics on / off: throughput, concurrency 64, {wrk_seconds} s per path");
    throughput::wrk(root, &url_on, Some(&on.key), 3);
    throughput::wrk(root, &url_off, Some(&off.key), 3);
    let block_seconds = (wrk_seconds / WRK_BLOCKS).max(1);
    let (mut blocks_on, mut blocks_off) = (Vec::new(), Vec::new());
    for round in 0..WRK_BLOCKS {
        // Each goes first in half the rounds, so neither always runs on a machine the other
        // just warmed or left busy.
        if round % 2 == 0 {
            blocks_on.push(throughput::wrk(root, &url_on, Some(&on.key), block_seconds));
            blocks_off.push(throughput::wrk(
                root,
                &url_off,
                Some(&off.key),
                block_seconds,
            ));
        } else {
            blocks_off.push(throughput::wrk(
                root,
                &url_off,
                Some(&off.key),
                block_seconds,
            ));
            blocks_on.push(throughput::wrk(root, &url_on, Some(&on.key), block_seconds));
        }
    }
    let pair_shares: Vec<f64> = blocks_on
        .iter()
        .zip(&blocks_off)
        .map(|(a, b)| a.requests_per_second / b.requests_per_second)
        .collect();
    let (throughput_on, throughput_off) = (
        throughput::combine(&blocks_on),
        throughput::combine(&blocks_off),
    );
    // The writer counts within its 50 ms gathering window.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let requests_counted = counted_requests(&client, &on.base).await;
    assert_eq!(
        counted_requests(&client, &off.base).await,
        0.0,
        "the METRICS=off gateway serves no metrics"
    );

    let added_p50_us = (latency_on.p50_ms - latency_off.p50_ms) * 1_000.0;
    let throughput_share = throughput_on.requests_per_second / throughput_off.requests_per_second;
    let checks = vec![
        Check {
            what: "Metrics on: added median latency (sustained, concurrency 1)".into(),
            target: format!("≤ {MAX_ADDED_P50_US} µs"),
            measured: format!("{added_p50_us:.2} µs"),
            met: added_p50_us <= MAX_ADDED_P50_US,
            skipped: false,
        },
        Check {
            what: "Metrics on: throughput kept (concurrency 64)".into(),
            target: format!("≥ {:.0}%", MIN_THROUGHPUT_SHARE * 100.0),
            measured: format!("{:.1}%", throughput_share * 100.0),
            met: throughput_share >= MIN_THROUGHPUT_SHARE,
            skipped: false,
        },
    ];
    MetricsCost {
        command: "scripts/bench.sh metrics".into(),
        started_at,
        latency_seconds_per_path: f64::from(c1_seconds),
        latency_on,
        latency_off,
        added_p50_us,
        throughput_on,
        throughput_off,
        pair_shares,
        throughput_share,
        requests_counted,
        checks,
    }
}

impl MetricsCost {
    pub(crate) fn markdown(&self) -> String {
        let row = |name: &str, l: &Summary, t: &WrkResult| {
            format!(
                "| {name} | {:.3} | {:.3} | {:.3} | {:.0} |\n",
                l.p50_ms, l.p99_ms, l.p999_ms, t.requests_per_second
            )
        };
        let mut md = format!(
            "# Metrics on and off\n\nWritten by `{}` ({}): two gateways that differ only in \
             `METRICS=off`, on one mock upstream, measured in alternating blocks. Latency: \
             sustained concurrency 1, {} s per gateway; throughput: wrk at concurrency 64.\n\n\
             | gateway | p50 ms | p99 ms | p99.9 ms | requests/s |\n| --- | --- | --- | --- | --- |\n",
            self.command, self.started_at, self.latency_seconds_per_path
        );
        md += &row(
            "metrics on (default)",
            &self.latency_on,
            &self.throughput_on,
        );
        md += &row("METRICS=off", &self.latency_off, &self.throughput_off);
        md += &format!(
            "\nAdded median: {:.2} µs. Throughput kept: {:.1}% (block pairs: {}). Requests the \
             metrics-on gateway counted: {:.0}.\n\n| check | target | measured | met |\n| --- | --- | --- | --- |\n",
            self.added_p50_us,
            self.throughput_share * 100.0,
            self.pair_shares
                .iter()
                .map(|s| format!("{:.1}%", s * 100.0))
                .collect::<Vec<_>>()
                .join(", "),
            self.requests_counted
        );
        for c in &self.checks {
            md += &format!(
                "| {} | {} | {} | {} |\n",
                c.what,
                c.target,
                c.measured,
                if c.met { "yes" } else { "no" }
            );
        }
        md
    }
}
