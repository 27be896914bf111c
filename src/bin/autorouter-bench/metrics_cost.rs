//! What the Prometheus metrics cost: two gateways, the same in all but `METRICS=off`, on the
//! same mock upstream, measured side by side (`side_by_side`). `BENCH_ONLY=metrics`
//! (`scripts/bench.sh metrics`) runs this alone and writes `docs/benchmarks-metrics.{json,md}`.
//! The targets: at most 2 µs added to the median and 3% of throughput.
use std::path::Path;
use std::time::Duration;

use serde::Serialize;

use crate::gateway_command;
use crate::report::Check;
use crate::side_by_side::{self, Gateway};
use crate::stats::Summary;
use crate::throughput::WrkResult;

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
    /// CPU time per request in the throughput blocks, metrics on and off.
    pub cpu_us_per_request_on: f64,
    pub cpu_us_per_request_off: f64,
    /// `autorouter_requests_total` summed over the metrics-on gateway's scrape after the runs:
    /// shows it counted.
    pub requests_counted: f64,
    pub checks: Vec<Check>,
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
    let client = side_by_side::bench_client();
    let start = |name: &'static str, metrics: &'static str| {
        Gateway::start(&client, data_dir.join(name), mock, move |port, dir| {
            let mut cmd = gateway_command(root, port, dir);
            cmd.env("METRICS", metrics);
            cmd
        })
    };
    let on = start("metrics-on", "on").await;
    let off = start("metrics-off", "off").await;
    let figures = side_by_side::measure(
        &client,
        root,
        (&on, &off),
        "metrics on / off",
        c1_seconds,
        wrk_seconds,
    )
    .await;
    // The writer counts within its 50 ms gathering window.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let requests_counted = counted_requests(&client, &on.base).await;
    assert_eq!(
        counted_requests(&client, &off.base).await,
        0.0,
        "the METRICS=off gateway serves no metrics"
    );

    let checks = vec![
        Check {
            what: "Metrics on: added median latency (sustained, concurrency 1)".into(),
            target: format!("≤ {MAX_ADDED_P50_US} µs"),
            measured: format!("{:.2} µs", figures.added_p50_us),
            met: figures.added_p50_us <= MAX_ADDED_P50_US,
            skipped: false,
        },
        Check {
            what: "Metrics on: throughput kept (concurrency 64)".into(),
            target: format!("≥ {:.0}%", MIN_THROUGHPUT_SHARE * 100.0),
            measured: format!("{:.1}%", figures.throughput_share * 100.0),
            met: figures.throughput_share >= MIN_THROUGHPUT_SHARE,
            skipped: false,
        },
    ];
    MetricsCost {
        command: "scripts/bench.sh metrics".into(),
        started_at,
        latency_seconds_per_path: figures.latency_seconds_per_path,
        latency_on: figures.latency_a,
        latency_off: figures.latency_b,
        added_p50_us: figures.added_p50_us,
        throughput_on: figures.throughput_a,
        throughput_off: figures.throughput_b,
        pair_shares: figures.pair_shares,
        throughput_share: figures.throughput_share,
        cpu_us_per_request_on: figures.cpu_us_per_request_a,
        cpu_us_per_request_off: figures.cpu_us_per_request_b,
        requests_counted,
        checks,
    }
}

impl MetricsCost {
    pub(crate) fn markdown(&self) -> String {
        let mut md = format!(
            "# Metrics on and off\n\nWritten by `{}` ({}): two gateways that differ only in \
             `METRICS=off`, on one mock upstream, measured in alternating blocks. Latency: \
             sustained concurrency 1, {} s per gateway; throughput: wrk at concurrency 64.\n\n",
            self.command, self.started_at, self.latency_seconds_per_path
        );
        md += &side_by_side::table(&[
            (
                "metrics on (default)",
                &self.latency_on,
                &self.throughput_on,
            ),
            ("METRICS=off", &self.latency_off, &self.throughput_off),
        ]);
        md += &format!(
            "\n{} {} Requests the metrics-on gateway counted: {:.0}.\n\n| check | target | measured | met |\n| --- | --- | --- | --- |\n",
            side_by_side::differences(self.added_p50_us, self.throughput_share, &self.pair_shares),
            side_by_side::cpu(self.cpu_us_per_request_on, self.cpu_us_per_request_off),
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
