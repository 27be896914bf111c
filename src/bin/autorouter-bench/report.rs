//! The benchmark's results: JSON for machines, a Markdown table for people.
use std::time::Duration;

use serde::Serialize;

use crate::limited::LimitedKey;
use crate::log_writer::WriterResult;
use crate::nginx::Nginx;
use crate::stats::{summarize, Summary};
use crate::throughput::WrkResult;

#[derive(Debug, Serialize)]
pub struct Machine {
    pub cores: usize,
    pub memory_gib: f64,
    pub cpu: String,
    pub kernel: String,
}

impl Machine {
    pub fn read() -> Machine {
        let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
        let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
        let mem_kb: f64 = meminfo
            .lines()
            .find_map(|l| l.strip_prefix("MemTotal:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap_or(0.0);
        Machine {
            cores: std::thread::available_parallelism().map_or(0, |n| n.get()),
            memory_gib: (mem_kb / 1024.0 / 1024.0 * 10.0).round() / 10.0,
            cpu: cpuinfo
                .lines()
                .find_map(|l| l.strip_prefix("model name"))
                .map(|v| v.trim_start_matches([' ', '\t', ':']).to_string())
                .unwrap_or_default(),
            kernel: std::fs::read_to_string("/proc/sys/kernel/osrelease")
                .unwrap_or_default()
                .trim()
                .to_string(),
        }
    }
}

/// The floor the gateway is compared with: nginx as a bare reverse proxy to the same mock.
#[derive(Debug, Serialize)]
pub(crate) struct Floor {
    /// What `nginx -v` says; absent when the floor was skipped.
    pub(crate) nginx: Option<String>,
    pub(crate) workers: usize,
    /// Why there is no floor, e.g. "nginx not installed, floor skipped".
    pub(crate) skipped: Option<String>,
}

impl Floor {
    pub(crate) fn of(started: &Result<Nginx, String>) -> Floor {
        match started {
            Ok(n) => Floor {
                nginx: Some(n.version.clone()),
                workers: n.workers,
                skipped: None,
            },
            Err(why) => Floor {
                nginx: None,
                workers: 0,
                skipped: Some(why.clone()),
            },
        }
    }
}

/// `a / b`, when `b` is above zero (an added latency that noise made zero or less has no ratio).
fn ratio(a: f64, b: f64) -> Option<f64> {
    (b > 0.0).then(|| a / b)
}

fn times(r: Option<f64>) -> String {
    r.map_or("n/a".into(), |r| format!("{r:.2}×"))
}

/// nginx's figures at concurrency 1 beside the gateway's.
#[derive(Debug, Serialize)]
pub(crate) struct FloorLatency {
    pub(crate) nginx: Summary,
    pub(crate) nginx_added_p50_ms: f64,
    pub(crate) nginx_added_p99_ms: f64,
    /// The gateway's added latency over nginx's (2.0: the gateway adds twice what nginx adds).
    pub(crate) added_p50_over_nginx: Option<f64>,
    pub(crate) added_p99_over_nginx: Option<f64>,
}

#[derive(Debug, Serialize)]
pub struct Latency {
    pub format: &'static str,
    pub direct: Summary,
    pub gateway: Summary,
    pub added_p50_ms: f64,
    pub added_p99_ms: f64,
    pub added_p999_ms: f64,
    /// Absent when the floor was skipped.
    pub(crate) floor: Option<FloorLatency>,
}

impl Latency {
    /// From each path's latencies: direct, nginx when the floor runs, and the gateway.
    pub(crate) fn from_runs(format: &'static str, runs: Vec<Vec<Duration>>) -> Self {
        let mut runs: Vec<Summary> = runs.into_iter().map(summarize).collect();
        let gateway = runs.pop().expect("the gateway's latencies");
        let nginx = (runs.len() == 2).then(|| runs.pop().expect("nginx's latencies"));
        let direct = runs.pop().expect("direct latencies");
        let added_p50_ms = gateway.p50_ms - direct.p50_ms;
        let added_p99_ms = gateway.p99_ms - direct.p99_ms;
        let floor = nginx.map(|nginx| {
            let nginx_added_p50_ms = nginx.p50_ms - direct.p50_ms;
            let nginx_added_p99_ms = nginx.p99_ms - direct.p99_ms;
            FloorLatency {
                nginx,
                nginx_added_p50_ms,
                nginx_added_p99_ms,
                added_p50_over_nginx: ratio(added_p50_ms, nginx_added_p50_ms),
                added_p99_over_nginx: ratio(added_p99_ms, nginx_added_p99_ms),
            }
        });
        Latency {
            format,
            added_p50_ms,
            added_p99_ms,
            added_p999_ms: gateway.p999_ms - direct.p999_ms,
            direct,
            gateway,
            floor,
        }
    }
}

/// Concurrency 1 under sustained load: back-to-back requests on one connection, every latency
/// kept.
#[derive(Debug, Serialize)]
pub(crate) struct Sustained {
    pub(crate) blocks: u32,
    pub(crate) seconds_per_path: f64,
    pub(crate) direct_requests_per_second: f64,
    pub(crate) nginx_requests_per_second: Option<f64>,
    pub(crate) gateway_requests_per_second: f64,
    pub(crate) latency: Latency,
}

impl Sustained {
    /// From each path's latencies: direct, nginx when the floor runs, and the gateway.
    pub(crate) fn new(runs: Vec<Vec<Duration>>, blocks: u32, per_path: Duration) -> Sustained {
        let seconds = per_path.as_secs_f64();
        let rate = |r: &Vec<Duration>| r.len() as f64 / seconds;
        Sustained {
            blocks,
            seconds_per_path: seconds,
            direct_requests_per_second: rate(&runs[0]),
            nginx_requests_per_second: (runs.len() == 3).then(|| rate(&runs[1])),
            gateway_requests_per_second: rate(&runs[runs.len() - 1]),
            latency: Latency::from_runs("OpenAI chat", runs),
        }
    }
}

#[derive(Debug, Serialize)]
pub struct Throughput {
    pub direct: WrkResult,
    /// Absent when the floor was skipped.
    pub(crate) nginx: Option<WrkResult>,
    pub gateway: WrkResult,
    /// Over all blocks: the gateway's requests per second over direct's.
    pub gateway_share_of_direct: f64,
    pub(crate) nginx_share_of_direct: Option<f64>,
    /// The gateway's requests per second over nginx's.
    pub(crate) gateway_share_of_nginx: Option<f64>,
    /// Each gateway block's over the direct block just before it.
    pub pair_shares: Vec<f64>,
    pub blocks: u32,
    pub gateway_cpu_seconds: f64,
    pub gateway_cpu_us_per_request: f64,
    pub log_rows_written: u64,
    pub log_rows_per_second: f64,
}

#[derive(Debug, Serialize)]
pub struct Streaming {
    pub streams_per_path: usize,
    pub events_per_stream: usize,
    pub interval_ms: u64,
    /// Time to first byte and event delays up to the moment the bytes reached the client's
    /// socket (kernel receive timestamp): what the targets are checked against.
    pub direct_ttfb: Summary,
    pub gateway_ttfb: Summary,
    pub added_ttfb_p50_ms: f64,
    pub direct_event_delay: Summary,
    pub gateway_event_delay: Summary,
    /// The same, up to the moment the client's read returned: adds the client's wait for a core.
    pub direct_ttfb_as_read: Summary,
    pub gateway_ttfb_as_read: Summary,
    pub direct_event_delay_as_read: Summary,
    pub gateway_event_delay_as_read: Summary,
}

#[derive(Debug, Serialize)]
pub struct Memory {
    /// Just after start-up and set-up, before any traffic.
    pub start_mb: f64,
    /// Idle after the latency, throughput and log writer runs, just before the streams.
    pub idle_mb: f64,
    pub streams: usize,
    pub with_streams_mb: f64,
    pub after_30s_mb: f64,
}

#[derive(Debug, Serialize)]
pub struct LogWriter {
    pub sqlite: WriterResult,
    pub postgres: Option<WriterResult>,
    pub paced_rows_per_second: u64,
    pub rounds: u32,
    pub latency_quiet: Summary,
    /// A second quiet block in every round: how far two blocks of one condition differ.
    pub latency_control: Summary,
    pub latency_while_writing: Summary,
}

#[derive(Debug, Serialize)]
pub struct Check {
    pub what: String,
    pub target: String,
    pub measured: String,
    pub met: bool,
    /// Not measured (`measured` says why); `met` is then false.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub skipped: bool,
}

#[derive(Debug, Serialize)]
pub struct Report {
    pub command: String,
    pub started_at: String,
    pub machine: Machine,
    pub(crate) floor: Floor,
    /// The concurrency-1 headline: sustained closed-loop load.
    pub(crate) latency_sustained: Sustained,
    /// A rate-limited key on a gateway with `REDIS_URL`, beside the headline's unlimited key.
    pub(crate) limited_key: LimitedKey,
    /// The headline's request naming a sticky session, beside the plain one.
    pub(crate) sticky_session: crate::sticky::StickySession,
    /// Concurrency 1 in blocks of 1,000 requests alternating the paths.
    pub latency: Vec<Latency>,
    pub throughput: Throughput,
    pub streaming: Streaming,
    pub memory: Memory,
    pub log_writer: LogWriter,
    pub checks: Vec<Check>,
}

fn check(what: &str, target: &str, measured: String, met: bool) -> Check {
    Check {
        what: what.into(),
        target: target.into(),
        measured,
        met,
        skipped: false,
    }
}

impl Report {
    /// The issue's targets, each with what was measured.
    pub fn checks(&self) -> Vec<Check> {
        let l = &self.latency_sustained.latency;
        let t = &self.throughput;
        let s = &self.streaming;
        let m = &self.memory;
        let w = &self.log_writer;
        let limited_what =
            "added p50, rate-limited key on Redis, over the unlimited key's (c=1, sustained)";
        let limited = match (
            &self.limited_key.sustained,
            self.limited_key.why_no_sustained(),
        ) {
            (Some(s), _) => check(
                limited_what,
                "≤ 0.1 ms",
                format!(
                    "{:+.3} ms ({:.3} against {:.3} ms)",
                    s.p50_over_unlimited_ms, s.added_p50_ms, s.unlimited_added_p50_ms
                ),
                s.p50_over_unlimited_ms <= 0.1,
            ),
            (None, why) => Check {
                skipped: true,
                ..check(
                    limited_what,
                    "≤ 0.1 ms",
                    format!("skipped: {}", why.unwrap_or("not measured")),
                    false,
                )
            },
        };
        let st = &self.sticky_session;
        vec![
            check(
                "added p50, sticky session, over the plain request (c=1, sustained)",
                "≤ 0.02 ms",
                format!(
                    "{:+.3} ms ({:.3} against {:.3} ms; {:.1}% sticky)",
                    st.p50_over_plain_ms,
                    st.added_p50_ms,
                    st.plain_added_p50_ms,
                    st.sticky_share_percent
                ),
                st.p50_over_plain_ms <= 0.02 && st.sticky_share_percent > 99.0,
            ),
            check(
                "added latency p50 (c=1, sustained)",
                "≤ 0.1 ms",
                format!("{:.3} ms", l.added_p50_ms),
                l.added_p50_ms <= 0.1,
            ),
            check(
                "added latency p99 (c=1, sustained)",
                "≤ 0.3 ms",
                format!("{:.3} ms", l.added_p99_ms),
                l.added_p99_ms <= 0.3,
            ),
            check(
                "throughput vs direct (c=64)",
                "≥ 35%",
                format!("{:.1}%", t.gateway_share_of_direct * 100.0),
                t.gateway_share_of_direct >= 0.35,
            ),
            check(
                "added time to first byte (p50, at the socket)",
                "≤ 1 ms",
                format!("{:.3} ms", s.added_ttfb_p50_ms),
                s.added_ttfb_p50_ms <= 1.0,
            ),
            check(
                "worst SSE event delay through the gateway (at the socket)",
                "≤ 1 ms",
                format!("{:.3} ms", s.gateway_event_delay.max_ms),
                s.gateway_event_delay.max_ms <= 1.0,
            ),
            check(
                "RSS idle (after start-up; after the load runs)",
                "≤ 50 MB",
                format!("{:.1} MB; {:.1} MB", m.start_mb, m.idle_mb),
                m.start_mb.max(m.idle_mb) <= 50.0,
            ),
            check(
                "RSS with 1,000 open streams",
                "≤ 200 MB",
                format!("{:.1} MB", m.with_streams_mb),
                m.with_streams_mb <= 200.0,
            ),
            check(
                "RSS 30 s after the streams",
                "within 20% of idle before the streams",
                format!(
                    "{:.1} MB ({:+.0}%)",
                    m.after_30s_mb,
                    (m.after_30s_mb / m.idle_mb - 1.0) * 100.0
                ),
                m.after_30s_mb <= m.idle_mb * 1.2,
            ),
            check(
                "log writer on SQLite",
                "≥ 5,000 rows/s",
                format!("{:.0} rows/s", w.sqlite.rows_per_second),
                w.sqlite.rows_per_second >= 5000.0,
            ),
            check(
                "p99 latency while the writer writes",
                "no rise",
                format!(
                    "{:.3} → {:.3} ms",
                    w.latency_quiet.p99_ms, w.latency_while_writing.p99_ms
                ),
                w.latency_while_writing.p99_ms <= w.latency_quiet.p99_ms * 1.1 + 0.02,
            ),
            limited,
        ]
    }

    pub fn markdown(&self) -> String {
        let mut md = String::new();
        let m = &self.machine;
        md.push_str("# Benchmarks\n\n");
        md.push_str("Generated by the benchmark; do not edit by hand. Rerun with:\n\n");
        md.push_str(&format!("```sh\n{}\n```\n\n", self.command));
        md.push_str(&format!(
            "Run at {} on {} cores ({}), {} GiB, Linux {}. The mock upstream, the load generator and the gateway share these cores. The gateway runs on SQLite with request logging on.\n\n",
            self.started_at, m.cores, m.cpu, m.memory_gib, m.kernel
        ));
        md.push_str(&self.floor_markdown());
        md.push_str("## Targets\n\n| What | Target | Measured | Met |\n|---|---|---|---|\n");
        for c in &self.checks {
            md.push_str(&format!(
                "| {} | {} | {} | {} |\n",
                c.what,
                c.target,
                c.measured,
                match (c.skipped, c.met) {
                    (true, _) => "**skipped**",
                    (false, true) => "yes",
                    (false, false) => "**no**",
                }
            ));
        }
        let c1 = &self.latency_sustained;
        md.push_str("\n## Added latency, concurrency 1, sustained (the headline)\n\n");
        md.push_str(&format!(
            "One kept-alive connection per path, each request sent as soon as the last answer is in, as `wrk -t1 -c1` does, by a plain blocking HTTP/1.1 client on its own thread (`src/bin/autorouter-bench/closed_loop.rs`), for {:.1} s per path in {} blocks alternating direct, nginx and the gateway (after 0.25 s of each, not counted). Every request's latency is recorded, from the start of its write to the last byte of its answer; unlike wrk's, the percentiles hold no synthetic samples. Requests/s: direct {:.0}, nginx {}, gateway {:.0}.\n\n",
            c1.seconds_per_path,
            c1.blocks,
            c1.direct_requests_per_second,
            c1.nginx_requests_per_second
                .map_or("not run".into(), |r| format!("{r:.0}")),
            c1.gateway_requests_per_second
        ));
        md.push_str("| Format | Path | Samples | p50 ms | p99 ms | p99.9 ms | max ms |\n|---|---|---|---|---|---|---|\n");
        latency_rows(&mut md, &c1.latency);
        md.push_str(&self.sticky_session.markdown(&c1.latency.gateway));
        md.push_str(
            &self
                .limited_key
                .markdown(&c1.latency.gateway, c1.gateway_requests_per_second),
        );
        md.push_str(
            "\n## Added latency, concurrency 1, paced blocks, non-streaming (~1 KB answers)\n\n",
        );
        md.push_str("Sequential requests from one Rust client (reqwest on a single-threaded runtime, keep-alive), start to last body byte, in blocks of 1,000 alternating direct, nginx and the gateway: each path is loaded for a fraction of a second at a time, and the gateway's log writer stores a block's rows partly while the next path's block runs. Kept to compare with earlier runs; the sustained figures above are the headline.\n\n");
        md.push_str("| Format | Path | Samples | p50 ms | p99 ms | p99.9 ms | max ms |\n|---|---|---|---|---|---|---|\n");
        for l in &self.latency {
            latency_rows(&mut md, l);
        }
        let t = &self.throughput;
        md.push_str("\n## Throughput, concurrency 64\n\n");
        md.push_str(&format!(
            "Direct: `{}`\n\nGateway: `{}`\n\nEach path first gets {} s of the same load, not counted. Then each command runs {} times, alternating direct, nginx (when the floor runs) and the gateway, so that a stretch where the shared machine runs slower hits every path alike; the table sums the blocks.\n\n",
            t.direct.command,
            t.gateway.command,
            crate::WRK_WARM_UP_SECONDS,
            t.blocks
        ));
        if let Some(n) = &t.nginx {
            md.push_str(&format!(
                "nginx (the floor, in the same rotation): `{}`\n\n",
                n.command
            ));
        }
        md.push_str(
            "| Path | Requests | Seconds | Requests/s | Non-2xx |\n|---|---|---|---|---|\n",
        );
        for (path, w) in [
            ("direct", Some(&t.direct)),
            ("nginx", t.nginx.as_ref()),
            ("gateway", Some(&t.gateway)),
        ] {
            let Some(w) = w else { continue };
            md.push_str(&format!(
                "| {} | {} | {:.2} | {:.0} | {} |\n",
                path, w.requests, w.seconds, w.requests_per_second, w.non_2xx
            ));
        }
        let pairs = t
            .pair_shares
            .iter()
            .map(|s| format!("{:.1}%", s * 100.0))
            .collect::<Vec<_>>()
            .join(", ");
        md.push_str(&format!(
            "\nThe gateway served {:.1}% of direct throughput (block by block: {}), using {:.2} s of CPU ({:.1} µs per request; its CPU time is read before each gateway block and 300 ms after it, so the log writer's last batch counts). Its log writer stored {} rows during the runs ({:.0} rows/s).\n",
            t.gateway_share_of_direct * 100.0, pairs, t.gateway_cpu_seconds, t.gateway_cpu_us_per_request, t.log_rows_written, t.log_rows_per_second
        ));
        if let (Some(n), Some(share)) = (t.nginx_share_of_direct, t.gateway_share_of_nginx) {
            md.push_str(&format!(
                "\nnginx served {:.1}% of direct throughput; the gateway served {:.1}% of nginx's.\n",
                n * 100.0,
                share * 100.0
            ));
        }
        let s = &self.streaming;
        md.push_str(&format!(
            "\n## Streaming\n\n{} streams per path, one at a time on one keep-alive connection, each {} events {} ms apart, read by a plain HTTP/1.1 client (`src/bin/autorouter-bench/streams.rs`). Each event carries the time the mock wrote it. Every figure is taken twice: **at the socket**, when the bytes reached the client's socket (the kernel's receive timestamp, `SO_TIMESTAMPNS`), which is how long the path held them; and **as read**, when the client's read returned them, which adds the client's own wait to be scheduled. The targets use the first.\n\n",
            s.streams_per_path, s.events_per_stream, s.interval_ms
        ));
        md.push_str(
            "| Measure | Path | Taken | p50 ms | p99 ms | max ms |\n|---|---|---|---|---|---|\n",
        );
        let mut row = |what: &str, path: &str, taken: &str, x: &Summary| {
            md.push_str(&format!(
                "| {} | {} | {} | {:.3} | {:.3} | {:.3} |\n",
                what, path, taken, x.p50_ms, x.p99_ms, x.max_ms
            ))
        };
        let ttfb = "time to first byte";
        row(ttfb, "direct", "at the socket", &s.direct_ttfb);
        row(ttfb, "gateway", "at the socket", &s.gateway_ttfb);
        row(ttfb, "direct", "as read", &s.direct_ttfb_as_read);
        row(ttfb, "gateway", "as read", &s.gateway_ttfb_as_read);
        let delay = "event delay";
        row(delay, "direct", "at the socket", &s.direct_event_delay);
        row(delay, "gateway", "at the socket", &s.gateway_event_delay);
        row(delay, "direct", "as read", &s.direct_event_delay_as_read);
        row(delay, "gateway", "as read", &s.gateway_event_delay_as_read);
        let mem = &self.memory;
        md.push_str(&format!(
            "\n## Memory (gateway RSS)\n\nIdle is measured twice: after start-up, and again 12 s after the load runs above, just before the streams open; the 20% check compares with the second.\n\n| After start-up | Idle before the streams | {} open streams | 30 s after they end |\n|---|---|---|---|\n| {:.1} MB | {:.1} MB | {:.1} MB | {:.1} MB |\n",
            mem.streams, mem.start_mb, mem.idle_mb, mem.with_streams_mb, mem.after_30s_mb
        ));
        let w = &self.log_writer;
        md.push_str("\n## Log writer\n\nThe gateway's `LogWriter` (bounded queue, batches of up to 1,000 rows) fed as fast as it accepts rows:\n\n| Backend | Rows | Seconds | Rows/s | Dropped |\n|---|---|---|---|---|\n");
        for r in std::iter::once(&w.sqlite).chain(w.postgres.as_ref()) {
            md.push_str(&format!(
                "| {} | {} | {:.2} | {:.0} | {} |\n",
                r.backend, r.rows, r.seconds, r.rows_per_second, r.dropped
            ));
        }
        if w.postgres.is_none() {
            md.push_str("| postgres | not measured: no server at TEST_DATABASE_URL | | | |\n");
        }
        md.push_str(&format!(
            "\nLatency through the gateway at concurrency 1 with its own logging only, and while a second writer process adds {} rows/s to the same SQLite database. {} rounds of three blocks, each after the same 500 ms pause: quiet, quiet again (a control: the difference between the two quiet rows is the method's own noise), and while writing, their order turned by one each round. The check compares the first and last rows.\n\n| Condition | Samples | p50 ms | p99 ms | p99.9 ms |\n|---|---|---|---|---|\n",
            w.paced_rows_per_second, w.rounds
        ));
        for (name, s) in [
            ("quiet", &w.latency_quiet),
            ("quiet again (control)", &w.latency_control),
            ("while writing", &w.latency_while_writing),
        ] {
            md.push_str(&format!(
                "| {name} | {} | {:.3} | {:.3} | {:.3} |\n",
                s.samples, s.p50_ms, s.p99_ms, s.p999_ms
            ));
        }
        md
    }

    /// The gateway beside the floor, or the reason there is none, in plain sight.
    fn floor_markdown(&self) -> String {
        let (t, c1) = (&self.throughput, &self.latency_sustained.latency);
        let paced = &self.latency[0];
        let Some(version) = &self.floor.nginx else {
            return format!(
                "## The floor: nginx\n\n**{}**\n\n",
                self.floor.skipped.as_deref().unwrap_or("floor skipped")
            );
        };
        let mut md = format!(
            "## The floor: nginx\n\nA bare reverse proxy doing the same two hops ({version}, {} worker processes, upstream keep-alive, access log off, configured by the benchmark in a temporary directory). The gateway's figures as ratios to nginx's and to direct:\n\n",
            self.floor.workers
        );
        md.push_str("| Measure | Direct | nginx | Gateway | Gateway vs nginx | Gateway vs direct |\n|---|---|---|---|---|---|\n");
        if let (Some(n), Some(share)) = (&t.nginx, t.gateway_share_of_nginx) {
            md.push_str(&format!(
                "| throughput, c=64 (requests/s) | {:.0} | {:.0} | {:.0} | {:.1}% | {:.1}% |\n",
                t.direct.requests_per_second,
                n.requests_per_second,
                t.gateway.requests_per_second,
                share * 100.0,
                t.gateway_share_of_direct * 100.0
            ));
        }
        for (name, l) in [("sustained", c1), ("paced blocks", paced)] {
            let Some(f) = &l.floor else { continue };
            md.push_str(&format!(
                "| added p50, c=1, {name} (ms) | — | {:.3} | {:.3} | {} | {:+.3} ms |\n",
                f.nginx_added_p50_ms,
                l.added_p50_ms,
                times(f.added_p50_over_nginx),
                l.added_p50_ms
            ));
            md.push_str(&format!(
                "| added p99, c=1, {name} (ms) | — | {:.3} | {:.3} | {} | {:+.3} ms |\n",
                f.nginx_added_p99_ms,
                l.added_p99_ms,
                times(f.added_p99_over_nginx),
                l.added_p99_ms
            ));
        }
        md.push('\n');
        md
    }
}

/// One format's rows: each path, then what nginx and the gateway add to direct.
fn latency_rows(md: &mut String, l: &Latency) {
    let nginx = l.floor.as_ref().map(|f| &f.nginx);
    for (path, s) in [
        ("direct", Some(&l.direct)),
        ("nginx", nginx),
        ("gateway", Some(&l.gateway)),
    ] {
        let Some(s) = s else { continue };
        md.push_str(&format!(
            "| {} | {} | {} | {:.3} | {:.3} | {:.3} | {:.3} |\n",
            l.format, path, s.samples, s.p50_ms, s.p99_ms, s.p999_ms, s.max_ms
        ));
    }
    if let Some(f) = &l.floor {
        md.push_str(&format!(
            "| {} | added by nginx | | {:.3} | {:.3} | {:.3} | |\n",
            l.format,
            f.nginx_added_p50_ms,
            f.nginx_added_p99_ms,
            f.nginx.p999_ms - l.direct.p999_ms
        ));
    }
    md.push_str(&format!(
        "| {} | **added by the gateway** | | **{:.3}** | **{:.3}** | **{:.3}** | |\n",
        l.format, l.added_p50_ms, l.added_p99_ms, l.added_p999_ms
    ));
}
