//! Two gateways on one mock upstream, measured in alternating blocks: sustained concurrency-1
//! latency, then wrk throughput at concurrency 64, each gateway going first in half the rounds.
//! What `scripts/bench.sh metrics` (metrics on against `METRICS=off`) and `scripts/bench.sh
//! compare BINARY` (this build against another) report.
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use serde::Serialize;
use serde_json::json;

use crate::latency::{sequential, Target};
use crate::procs::{free_port, wait_ready, Proc};
use crate::stats::{summarize, Summary};
use crate::throughput::{self, WrkResult};
use crate::{admin_post, sustained_latency, OPENAI_BODY, WRK_BLOCKS};

/// A gateway serving the headline's chat request with an unlimited key.
pub(crate) struct Gateway {
    proc: Proc,
    pub(crate) base: String,
    key: String,
}

impl Gateway {
    /// Starts `command(port)` (data in `dir`), then sets it up through the admin API as the
    /// headline's gateway is: one OpenAI upstream on `mock`, one key.
    pub(crate) async fn start(
        client: &reqwest::Client,
        dir: PathBuf,
        mock: &str,
        command: impl FnOnce(u16, &Path) -> Command,
    ) -> Gateway {
        std::fs::create_dir_all(&dir).unwrap();
        let port = free_port();
        let proc = Proc::spawn("gateway", &mut command(port, &dir));
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
            proc,
            base,
            key: key["key_value"].as_str().unwrap().to_string(),
        }
    }

    fn chat_url(&self) -> String {
        format!("{}/v1/chat/completions", self.base)
    }
}

/// Two gateways' figures, `a` beside `b`.
#[derive(Debug, Serialize)]
pub(crate) struct SideBySide {
    pub(crate) latency_seconds_per_path: f64,
    pub(crate) latency_a: Summary,
    pub(crate) latency_b: Summary,
    /// `a`'s p50 minus `b`'s, in microseconds.
    pub(crate) added_p50_us: f64,
    pub(crate) throughput_a: WrkResult,
    pub(crate) throughput_b: WrkResult,
    /// Each block pair's `a` requests/s over its `b` requests/s.
    pub(crate) pair_shares: Vec<f64>,
    /// `a`'s requests/s over `b`'s, over all blocks.
    pub(crate) throughput_share: f64,
    /// CPU time (user and system) each gateway used per request in its throughput blocks: on
    /// a machine whose cores the load saturates, what its throughput is made of, and steadier
    /// than requests/s where neighbours come and go.
    pub(crate) cpu_us_per_request_a: f64,
    pub(crate) cpu_us_per_request_b: f64,
}

pub(crate) async fn measure(
    client: &reqwest::Client,
    root: &Path,
    (a, b): (&Gateway, &Gateway),
    what: &str,
    c1_seconds: u32,
    wrk_seconds: u32,
) -> SideBySide {
    let (url_a, url_b) = (a.chat_url(), b.chat_url());
    let target = |url, key| Target {
        url,
        key: Some(key),
        body: OPENAI_BODY,
    };
    let (target_a, target_b) = (target(&url_a, &a.key), target(&url_b, &b.key));
    sequential(client, &target_a, 2_000).await;
    sequential(client, &target_b, 2_000).await;

    eprintln!("{what}: latency, concurrency 1, sustained ({c1_seconds} s per path)");
    let paths = [&target_a, &target_b];
    sustained_latency(&paths, Duration::from_millis(250)).await;
    let block = Duration::from_secs_f64(f64::from(c1_seconds) / f64::from(WRK_BLOCKS));
    let mut runs = sustained_latency(&paths, block).await;
    let (latency_b, latency_a) = (
        summarize(runs.pop().unwrap()),
        summarize(runs.pop().unwrap()),
    );

    eprintln!("{what}: throughput, concurrency 64, {wrk_seconds} s per path");
    let wrk = |g: &Gateway, url: &str, seconds| throughput::wrk(root, url, Some(&g.key), seconds);
    wrk(a, &url_a, 3);
    wrk(b, &url_b, 3);
    // A block, and the CPU time the gateway used for it: read before, and 300 ms after so that
    // the log writer's last batch counts.
    let block =
        |g: &Gateway, url: &str, seconds, blocks: &mut Vec<WrkResult>, cpu: &mut Duration| {
            let before = g.proc.cpu_time();
            blocks.push(wrk(g, url, seconds));
            std::thread::sleep(Duration::from_millis(300));
            *cpu += g.proc.cpu_time().saturating_sub(before);
        };
    let block_seconds = (wrk_seconds / WRK_BLOCKS).max(1);
    let (mut blocks_a, mut blocks_b) = (Vec::new(), Vec::new());
    let (mut cpu_a, mut cpu_b) = (Duration::ZERO, Duration::ZERO);
    for round in 0..WRK_BLOCKS {
        // Each goes first in half the rounds, so neither always runs on a machine the other
        // just warmed or left busy.
        if round % 2 == 0 {
            block(a, &url_a, block_seconds, &mut blocks_a, &mut cpu_a);
            block(b, &url_b, block_seconds, &mut blocks_b, &mut cpu_b);
        } else {
            block(b, &url_b, block_seconds, &mut blocks_b, &mut cpu_b);
            block(a, &url_a, block_seconds, &mut blocks_a, &mut cpu_a);
        }
    }
    let pair_shares = throughput::pair_shares(&blocks_a, &blocks_b);
    let (throughput_a, throughput_b) = (
        throughput::combine(&blocks_a),
        throughput::combine(&blocks_b),
    );
    let per_request = |cpu: Duration, t: &WrkResult| cpu.as_secs_f64() * 1e6 / t.requests as f64;
    SideBySide {
        cpu_us_per_request_a: per_request(cpu_a, &throughput_a),
        cpu_us_per_request_b: per_request(cpu_b, &throughput_b),
        latency_seconds_per_path: f64::from(c1_seconds),
        added_p50_us: (latency_a.p50_ms - latency_b.p50_ms) * 1_000.0,
        throughput_share: throughput_a.requests_per_second / throughput_b.requests_per_second,
        latency_a,
        latency_b,
        throughput_a,
        throughput_b,
        pair_shares,
    }
}

impl SideBySide {
    pub(crate) fn markdown(&self, name_a: &str, name_b: &str) -> String {
        table(&[
            (name_a, &self.latency_a, &self.throughput_a),
            (name_b, &self.latency_b, &self.throughput_b),
        ]) + "\n"
            + &differences(self.added_p50_us, self.throughput_share, &self.pair_shares)
            + " "
            + &cpu(self.cpu_us_per_request_a, self.cpu_us_per_request_b)
            + "\n"
    }
}

/// A markdown table of gateways' latency and throughput, a row per gateway.
pub(crate) fn table(rows: &[(&str, &Summary, &WrkResult)]) -> String {
    let mut md = String::from(
        "| gateway | p50 ms | p99 ms | p99.9 ms | requests/s |\n| --- | --- | --- | --- | --- |\n",
    );
    for (name, l, t) in rows {
        md += &format!(
            "| {name} | {:.3} | {:.3} | {:.3} | {:.0} |\n",
            l.p50_ms, l.p99_ms, l.p999_ms, t.requests_per_second
        );
    }
    md
}

/// The first gateway against the second, in a sentence.
pub(crate) fn differences(added_p50_us: f64, throughput_share: f64, pair_shares: &[f64]) -> String {
    format!(
        "Added median: {added_p50_us:.2} µs. Throughput kept: {:.1}% (block pairs: {}).",
        throughput_share * 100.0,
        pair_shares
            .iter()
            .map(|s| format!("{:.1}%", s * 100.0))
            .collect::<Vec<_>>()
            .join(", "),
    )
}

/// The gateways' CPU time per request, in a sentence.
pub(crate) fn cpu(a: f64, b: f64) -> String {
    format!(
        "CPU per request (throughput blocks): {a:.1} against {b:.1} µs ({:+.1}%).",
        (a / b - 1.0) * 100.0
    )
}

/// `scripts/bench.sh compare BINARY`: this build's gateway (`a`) beside another build's (`b`),
/// the same environment, printed (nothing is written).
pub(crate) async fn compare(
    root: &Path,
    data_dir: &Path,
    mock: &str,
    other: &Path,
    c1_seconds: u32,
    wrk_seconds: u32,
) -> String {
    let client = bench_client();
    let this = Gateway::start(&client, data_dir.join("this"), mock, |port, dir| {
        crate::gateway_command(root, port, dir)
    })
    .await;
    let that = Gateway::start(&client, data_dir.join("other"), mock, |port, dir| {
        crate::gateway_command_of(other, root, port, dir)
    })
    .await;
    let result = measure(
        &client,
        root,
        (&this, &that),
        "this build / the other",
        c1_seconds,
        wrk_seconds,
    )
    .await;
    format!(
        "# This build beside {}\n\n{}",
        other.display(),
        result.markdown("this build", "the other")
    )
}

pub(crate) fn bench_client() -> reqwest::Client {
    reqwest::Client::builder()
        .pool_max_idle_per_host(64)
        .tcp_nodelay(true)
        .build()
        .unwrap()
}
