//! A rate-limited key on Redis: a second gateway, started with `REDIS_URL`, serving a key whose
//! requests-per-minute limit is the largest the admin API allows, so every request costs the
//! one script call in Redis (`src/server/limits/shared.rs`) and none is refused. Measured in the
//! same rotations as the unlimited key, beside it. Without Redis the row says why it is missing;
//! a gateway that fell back to its local counters during a run gives no figure either.
use std::path::Path;
use std::time::Duration;

use serde::Serialize;
use serde_json::{json, Value};

use crate::procs::{free_port, wait_ready, Proc};
use crate::report::Latency;
use crate::stats::{summarize, Summary};
use crate::throughput::WrkResult;

/// The admin API's largest `limits.rpm` (`MAX_RPM` in `src/server/service/limits.rs`). The
/// sliding-window log keeps every admission of the last minute; the runs here stay far below it
/// (c=64 at 5 s blocks in a rotation of four paths: at most about 400,000 in a minute).
pub(crate) const RPM: u32 = 1_000_000;
const DEFAULT_REDIS_URL: &str = "redis://127.0.0.1:6379";

/// The gateway started with `REDIS_URL`, its key, and a connection to the same Redis for reading
/// how many script calls it served.
pub(crate) struct Gateway {
    _proc: Proc,
    pub(crate) base: String,
    pub(crate) key: String,
    pub(crate) redis: String,
    conn: redis::aio::MultiplexedConnection,
}

/// `BENCH_REDIS_URL`, or Redis on its default port; `off` skips the row.
fn redis_url() -> String {
    std::env::var("BENCH_REDIS_URL")
        .ok()
        .filter(|u| !u.trim().is_empty())
        .unwrap_or_else(|| DEFAULT_REDIS_URL.into())
}

/// The URL with any password hidden, as the report shows it.
pub(crate) fn shown(url: &str) -> String {
    match reqwest::Url::parse(url) {
        Ok(mut u) if u.password().is_some() => {
            let _ = u.set_password(Some("…"));
            u.to_string()
        }
        Ok(u) => u.to_string().trim_end_matches('/').to_string(),
        Err(_) => "(an unparsable URL)".into(),
    }
}

async fn connect(url: &str) -> Result<redis::aio::MultiplexedConnection, String> {
    let attempt = async {
        let client = redis::Client::open(url)?;
        let mut conn = client.get_multiplexed_async_connection().await?;
        redis::cmd("PING")
            .query_async::<String>(&mut conn)
            .await
            .map(|_| conn)
    };
    match tokio::time::timeout(Duration::from_secs(2), attempt).await {
        Ok(Ok(conn)) => Ok(conn),
        Ok(Err(e)) => Err(format!("Redis not reachable at {}: {e}", shown(url))),
        Err(_) => Err(format!(
            "Redis not reachable at {}: no answer in 2 s",
            shown(url)
        )),
    }
}

async fn limits_mode(client: &reqwest::Client, base: &str) -> String {
    let health: Value = match client.get(format!("{base}/api/health")).send().await {
        Ok(r) => r.json().await.unwrap_or_default(),
        Err(_) => Value::Null,
    };
    health["limits"].as_str().unwrap_or("unknown").to_string()
}

impl Gateway {
    /// Starts the gateway as the benchmark starts the other, plus `REDIS_URL`, in a data
    /// directory of its own, with an upstream to the mock and the limited key; `Err` says why
    /// the row is skipped.
    pub(crate) async fn start(
        client: &reqwest::Client,
        root: &Path,
        data_dir: &Path,
        mock: &str,
    ) -> Result<Gateway, String> {
        let url = redis_url();
        if url.trim() == "off" {
            return Err("BENCH_REDIS_URL=off".into());
        }
        let conn = connect(&url).await?;
        let port = free_port();
        let dir = data_dir.join("redis-gateway");
        std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        let proc = Proc::spawn(
            "gateway with REDIS_URL",
            crate::gateway_command(root, port, &dir).env("REDIS_URL", &url),
        );
        let base = format!("http://127.0.0.1:{port}");
        wait_ready(client, &format!("{base}/api/health")).await;
        let mode = limits_mode(client, &base).await;
        if mode != "shared" {
            return Err(format!(
                "the gateway started with REDIS_URL={} counts limits {mode}, not in Redis",
                shown(&url)
            ));
        }
        let upstream = crate::admin_post(
            client,
            format!("{base}/api/admin/upstreams"),
            json!({
            "name": "bench-openai", "provider": "openai", "base_url": format!("{mock}/v1"),
            "api_key": "sk-bench-upstream", "allowed_models": ["bench-model"]}),
        )
        .await;
        let key = crate::admin_post(
            client,
            format!("{base}/api/admin/keys"),
            json!({
            "name": "bench-limited", "upstream_ids": [upstream["id"]],
            "limits": {"rpm": RPM}}),
        )
        .await;
        Ok(Gateway {
            _proc: proc,
            base,
            key: key["key_value"].as_str().expect("a key").to_string(),
            redis: shown(&url),
            conn,
        })
    }

    /// Script calls Redis has served so far (`EVALSHA`, and `EVAL` when a script was reloaded),
    /// from `INFO commandstats`: counts every client of that Redis, so it only bounds ours from
    /// above.
    pub(crate) async fn script_calls(&mut self) -> u64 {
        let info: String = redis::cmd("INFO")
            .arg("commandstats")
            .query_async(&mut self.conn)
            .await
            .unwrap_or_default();
        info.lines()
            .filter(|l| l.starts_with("cmdstat_evalsha:") || l.starts_with("cmdstat_eval:"))
            .filter_map(|l| l.split("calls=").nth(1))
            .filter_map(|v| v.split(',').next()?.parse::<u64>().ok())
            .sum()
    }

    /// `Err` when the figures of a run that sent `requests` cannot be Redis': the gateway counts
    /// locally now, or Redis served fewer script calls than the run's requests meanwhile.
    pub(crate) async fn verify(
        &mut self,
        client: &reqwest::Client,
        requests: u64,
        calls_before: u64,
    ) -> Result<u64, String> {
        let calls = self.script_calls().await.saturating_sub(calls_before);
        let mode = limits_mode(client, &self.base).await;
        if mode != "shared" {
            return Err(format!(
                "the gateway counted limits {mode} at the end of the run (it fell back from Redis)"
            ));
        }
        if calls < requests {
            return Err(format!(
                "Redis served {calls} script calls for {requests} requests: the gateway fell back to local counters during the run"
            ));
        }
        Ok(calls)
    }
}

/// Concurrency 1, sustained: the limited key beside the unlimited key, from the same rotation.
#[derive(Debug, Serialize)]
pub(crate) struct LimitedSustained {
    pub(crate) requests_per_second: f64,
    pub(crate) limited: Summary,
    pub(crate) added_p50_ms: f64,
    pub(crate) added_p99_ms: f64,
    /// The unlimited key's (the headline's gateway row), repeated for the comparison.
    pub(crate) unlimited_added_p50_ms: f64,
    pub(crate) unlimited_added_p99_ms: f64,
    /// The limited key's added latency minus the unlimited key's.
    pub(crate) p50_over_unlimited_ms: f64,
    pub(crate) p99_over_unlimited_ms: f64,
    /// Script calls Redis served during the measured blocks (all its clients).
    pub(crate) redis_script_calls: u64,
}

/// Concurrency 64: the limited key's blocks, in the same rotation as the other paths.
#[derive(Debug, Serialize)]
pub(crate) struct LimitedThroughput {
    pub(crate) limited: WrkResult,
    pub(crate) share_of_unlimited: f64,
    pub(crate) share_of_direct: f64,
    pub(crate) redis_script_calls: u64,
}

#[derive(Debug, Serialize)]
pub(crate) struct LimitedKey {
    /// Redis, as `REDIS_URL` named it (a password hidden).
    pub(crate) redis: Option<String>,
    pub(crate) limits: Value,
    /// Why there are no figures at all, e.g. "Redis not reachable at …".
    pub(crate) skipped: Option<String>,
    pub(crate) sustained: Option<LimitedSustained>,
    pub(crate) sustained_skipped: Option<String>,
    pub(crate) throughput: Option<LimitedThroughput>,
    pub(crate) throughput_skipped: Option<String>,
}

impl LimitedSustained {
    /// From the limited key's latencies over `length` and the headline's (same rotation).
    pub(crate) fn new(
        runs: Vec<Duration>,
        length: Duration,
        unlimited: &Latency,
        redis_script_calls: u64,
    ) -> LimitedSustained {
        let requests_per_second = runs.len() as f64 / length.as_secs_f64();
        let limited = summarize(runs);
        let added_p50_ms = limited.p50_ms - unlimited.direct.p50_ms;
        let added_p99_ms = limited.p99_ms - unlimited.direct.p99_ms;
        LimitedSustained {
            requests_per_second,
            limited,
            added_p50_ms,
            added_p99_ms,
            unlimited_added_p50_ms: unlimited.added_p50_ms,
            unlimited_added_p99_ms: unlimited.added_p99_ms,
            p50_over_unlimited_ms: added_p50_ms - unlimited.added_p50_ms,
            p99_over_unlimited_ms: added_p99_ms - unlimited.added_p99_ms,
            redis_script_calls,
        }
    }
}

impl LimitedKey {
    fn new(redis: Option<String>, skipped: Option<String>) -> LimitedKey {
        LimitedKey {
            redis,
            limits: json!({ "rpm": RPM }),
            skipped,
            sustained: None,
            sustained_skipped: None,
            throughput: None,
            throughput_skipped: None,
        }
    }

    /// Before its runs: the figures are filled in as each run is checked.
    pub(crate) fn measured(redis: String) -> LimitedKey {
        LimitedKey::new(Some(redis), None)
    }

    pub(crate) fn skipped(why: String) -> LimitedKey {
        LimitedKey::new(None, Some(why))
    }

    /// Why the concurrency-1 comparison has no figure, when it has none.
    pub(crate) fn why_no_sustained(&self) -> Option<&str> {
        self.skipped
            .as_deref()
            .or(self.sustained_skipped.as_deref())
            .filter(|_| self.sustained.is_none())
    }

    pub(crate) fn markdown(&self, unlimited: &Summary, unlimited_rps: f64) -> String {
        let mut md = String::from("\n## A rate-limited key on Redis\n\n");
        if let Some(why) = &self.skipped {
            md.push_str(&format!(
                "**Skipped: {why}.** No figure for the limited key.\n"
            ));
            return md;
        }
        md.push_str(&format!(
            "A second gateway, started with `REDIS_URL={}`, serves a key with the limits `{}` (the largest requests-per-minute limit the admin API allows; nothing is refused in these runs): every request is admitted by one script call in Redis. Its blocks run in the same rotations as the other paths, after the gateway's; the unlimited key is the headline's (the gateway without `REDIS_URL`). A run whose requests Redis did not all count (the gateway fell back to local counters) gives no figure.\n\n",
            self.redis.as_deref().unwrap_or("?"),
            self.limits
        ));
        match (&self.sustained, self.why_no_sustained()) {
            (Some(s), _) => {
                md.push_str(&format!(
                    "Concurrency 1, sustained (as in the headline; requests/s: unlimited {:.0}, limited {:.0}; Redis served {} script calls during the limited key's {} requests):\n\n",
                    unlimited_rps, s.requests_per_second, s.redis_script_calls, s.limited.samples
                ));
                md.push_str("| Key | Samples | p50 ms | p99 ms | p99.9 ms | added p50 ms | added p99 ms |\n|---|---|---|---|---|---|---|\n");
                md.push_str(&format!(
                    "| unlimited | {} | {:.3} | {:.3} | {:.3} | {:.3} | {:.3} |\n",
                    unlimited.samples,
                    unlimited.p50_ms,
                    unlimited.p99_ms,
                    unlimited.p999_ms,
                    s.unlimited_added_p50_ms,
                    s.unlimited_added_p99_ms
                ));
                md.push_str(&format!(
                    "| rpm {RPM}, Redis | {} | {:.3} | {:.3} | {:.3} | {:.3} | {:.3} |\n",
                    s.limited.samples,
                    s.limited.p50_ms,
                    s.limited.p99_ms,
                    s.limited.p999_ms,
                    s.added_p50_ms,
                    s.added_p99_ms
                ));
                md.push_str(&format!(
                    "| **limited minus unlimited** | | | | | **{:+.3}** | **{:+.3}** |\n",
                    s.p50_over_unlimited_ms, s.p99_over_unlimited_ms
                ));
            }
            (None, why) => md.push_str(&format!(
                "Concurrency 1: **skipped: {}.**\n",
                why.unwrap_or("not measured")
            )),
        }
        match (&self.throughput, &self.throughput_skipped) {
            (Some(t), _) => md.push_str(&format!(
                "\nConcurrency 64 (the same `wrk` command and rotation as above): {:.0} requests/s, {:.1}% of the unlimited key's and {:.1}% of direct; {} non-2xx; Redis served {} script calls for {} requests.\n",
                t.limited.requests_per_second,
                t.share_of_unlimited * 100.0,
                t.share_of_direct * 100.0,
                t.limited.non_2xx,
                t.redis_script_calls,
                t.limited.requests
            )),
            (None, why) => md.push_str(&format!(
                "\nConcurrency 64: **skipped: {}.**\n",
                why.as_deref().unwrap_or("not measured")
            )),
        }
        md
    }
}
