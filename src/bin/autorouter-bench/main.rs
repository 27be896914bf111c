//! The benchmark: the same load sent straight to a fast mock upstream and through the gateway,
//! in one run, on this machine. Run it with `scripts/bench.sh`, which builds the release
//! binaries first; it writes `docs/benchmarks.json` and `docs/benchmarks.md`.
mod chunked;
mod closed_loop;
mod latency;
mod limited;
mod log_writer;
mod metrics_cost;
mod nginx;
mod procs;
mod report;
mod side_by_side;
mod stats;
mod sticky;
mod streams;
mod throughput;
mod timed_socket;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use autorouter::server::config::DatabaseKind;
use autorouter::server::db::Database;
use latency::{sequential, Target};
use procs::{free_port, release_binary, wait_ready, Proc};
use serde_json::{json, Value};
use stats::summarize;

const ADMIN_TOKEN: &str = "bench-admin-token-0123456789";
/// Unmeasured load before each throughput run.
const WRK_WARM_UP_SECONDS: u32 = 3;
/// The throughput time per path is measured in this many blocks, alternating the paths.
const WRK_BLOCKS: u32 = 4;
/// Rounds of the log writer's latency blocks (quiet, control, while writing), a multiple of 3 so
/// that each condition takes each place equally often.
const WRITER_ROUNDS: usize = 9;
const _: () = assert!(WRITER_ROUNDS.is_multiple_of(3));
/// The writer's latency blocks, by condition.
const WRITING: usize = 2;
const OPENAI_BODY: &str = r#"{"model":"bench-model","messages":[{"role":"user","content":"hi"}]}"#;
const ANTHROPIC_BODY: &str =
    r#"{"model":"claude-bench","max_tokens":256,"messages":[{"role":"user","content":"hi"}]}"#;

fn env_num(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

pub(crate) async fn admin_post(client: &reqwest::Client, url: String, body: Value) -> Value {
    let res = client
        .post(url)
        .bearer_auth(ADMIN_TOKEN)
        .json(&body)
        .send()
        .await
        .expect("admin request");
    let status = res.status();
    let v: Value = res.json().await.expect("admin JSON");
    assert!(status.is_success(), "admin call failed: {v}");
    v
}

async fn reqwest_admin_get(client: &reqwest::Client, url: String) -> Value {
    let res = client
        .get(url)
        .bearer_auth(ADMIN_TOKEN)
        .send()
        .await
        .expect("admin request");
    assert!(
        res.status().is_success(),
        "admin call failed: {}",
        res.status()
    );
    res.json().await.expect("admin JSON")
}

/// The release gateway as the benchmark runs it: on 127.0.0.1:`port`, SQLite in `data_dir`,
/// warnings only, and no other environment.
pub(crate) fn gateway_command(root: &Path, port: u16, data_dir: &Path) -> Command {
    gateway_command_of(&release_binary(root, "autorouter"), root, port, data_dir)
}

/// The same, running the gateway `binary` (another build's, to compare).
pub(crate) fn gateway_command_of(
    binary: &Path,
    root: &Path,
    port: u16,
    data_dir: &Path,
) -> Command {
    let mut cmd = Command::new(binary);
    cmd.env_clear();
    // The one threading knob passed through, to compare serving-thread counts.
    if let Ok(n) = std::env::var("SERVER_THREADS") {
        cmd.env("SERVER_THREADS", n);
    }
    cmd.env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("HOST", "127.0.0.1")
        .env("PORT", port.to_string())
        .env("DATA_DIR", data_dir)
        .env("ADMIN_TOKEN", ADMIN_TOKEN)
        .env("ALLOW_PRIVATE_UPSTREAMS", "true")
        .env("LOG_LEVEL", "warn")
        .env("LEPTOS_SITE_ROOT", root.join("target/site"));
    cmd
}

/// Alternating blocks of 1,000 requests, so drift on a shared machine hits every path alike.
async fn alternating_latency(
    client: &reqwest::Client,
    paths: &[&Target<'_>],
    total: usize,
) -> Vec<Vec<Duration>> {
    let block = 1_000.min(total);
    let mut out = vec![Vec::new(); paths.len()];
    while out[0].len() < total {
        for (path, samples) in paths.iter().zip(&mut out) {
            samples.extend(sequential(client, path, block).await);
        }
    }
    out
}

/// The sustained concurrency-1 load: each path in turn for `block`, `WRK_BLOCKS` times, one
/// connection each, every latency kept.
async fn sustained_latency(paths: &[&Target<'_>], block: Duration) -> Vec<Vec<Duration>> {
    let mut out = vec![Vec::new(); paths.len()];
    for _ in 0..WRK_BLOCKS {
        for (path, samples) in paths.iter().zip(&mut out) {
            samples.extend(closed_loop::run(path.url, path.key, path.body, block).await);
        }
    }
    out
}

async fn count_rows(db: &Database) -> u64 {
    sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM request_logs")
        .fetch_one(&db.pool)
        .await
        .unwrap_or(0) as u64
}

fn mb(bytes: u64) -> f64 {
    bytes as f64 / 1024.0 / 1024.0
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let started_at = autorouter::server::timefmt::to_rfc3339(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_millis() as i64,
    );
    let samples = env_num("BENCH_LATENCY_SAMPLES", 20_000) as usize;
    let wrk_seconds = env_num("BENCH_WRK_SECONDS", 20) as u32;
    let held_streams = env_num("BENCH_STREAMS", 1_000) as usize;
    let after_wait = Duration::from_secs(env_num("BENCH_AFTER_SECONDS", 30));
    let c1_seconds = env_num("BENCH_C1_SECONDS", 20) as u32;
    let args: Vec<String> = std::env::args().collect();
    if let [_, mode, url, seconds, key @ ..] = args.as_slice() {
        if mode == "closed-loop" {
            // One path's sustained concurrency-1 latency, e.g. to compare two builds or settings.
            let length = Duration::from_secs(seconds.parse().expect("seconds"));
            let latencies =
                closed_loop::run(url, key.first().map(String::as_str), OPENAI_BODY, length).await;
            let slow = latencies.iter().filter(|d| d.as_micros() > 500).count();
            let s = summarize(latencies);
            println!(
                "{} requests ({:.0}/s), p50 {:.3} ms, p99 {:.3} ms, p99.9 {:.3} ms, max {:.3} ms, over 0.5 ms: {slow}",
                s.samples,
                s.samples as f64 / length.as_secs_f64(),
                s.p50_ms,
                s.p99_ms,
                s.p999_ms,
                s.max_ms
            );
            return;
        }
    }
    let data_dir = std::env::temp_dir().join(format!("autorouter-bench-{}", std::process::id()));
    std::fs::create_dir_all(&data_dir).unwrap();
    let pg_url = std::env::var("TEST_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into());
    if let [_, mode, url, rate] = args.as_slice() {
        if mode == "paced-writer" {
            log_writer::paced_forever(url, rate.parse().expect("rows per second")).await;
            return;
        }
    }
    if std::env::var("BENCH_ONLY").as_deref() == Ok("log_writer") {
        // A quick look at the writer alone, e.g. while tuning it.
        println!("{:?}", log_writer::sqlite(&data_dir, 200_000).await);
        println!("{:?}", log_writer::postgres(&pg_url, 200_000).await);
        let _ = std::fs::remove_dir_all(&data_dir);
        return;
    }

    let mock_port = free_port();
    let _mock = Proc::spawn(
        "mock",
        Command::new(release_binary(&root, "autorouter-mock"))
            .arg(format!("127.0.0.1:{mock_port}")),
    );
    if std::env::var("BENCH_ONLY").as_deref() == Ok("metrics") {
        // Metrics on against METRICS=off, side by side, and nothing else.
        let mock = format!("http://127.0.0.1:{mock_port}");
        wait_ready(&reqwest::Client::new(), &format!("{mock}/v1/models")).await;
        let cost =
            metrics_cost::run(&root, &data_dir, &mock, c1_seconds, wrk_seconds, started_at).await;
        let out = root.join("docs");
        std::fs::write(
            out.join("benchmarks-metrics.json"),
            serde_json::to_string_pretty(&cost).unwrap() + "\n",
        )
        .unwrap();
        let md = cost.markdown();
        std::fs::write(out.join("benchmarks-metrics.md"), &md).unwrap();
        println!("{md}");
        let _ = std::fs::remove_dir_all(&data_dir);
        return;
    }
    if let Some(other) = std::env::var_os("BENCH_OTHER") {
        // This build beside another, printed.
        let mock = format!("http://127.0.0.1:{mock_port}");
        wait_ready(&reqwest::Client::new(), &format!("{mock}/v1/models")).await;
        let md = side_by_side::compare(
            &root,
            &data_dir,
            &mock,
            Path::new(&other),
            c1_seconds,
            wrk_seconds,
        )
        .await;
        println!("{md}");
        let _ = std::fs::remove_dir_all(&data_dir);
        return;
    }
    let gw_port = free_port();
    let gateway = Proc::spawn("gateway", &mut gateway_command(&root, gw_port, &data_dir));
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(2_000)
        .tcp_nodelay(true)
        .build()
        .unwrap();
    let mock = format!("http://127.0.0.1:{mock_port}");
    let gw = format!("http://127.0.0.1:{gw_port}");
    wait_ready(&client, &format!("{mock}/v1/models")).await;
    wait_ready(&client, &format!("{gw}/api/health")).await;
    // The floor: a bare reverse proxy doing the same two hops.
    let floor = nginx::start(&client, &data_dir.join("nginx"), mock_port).await;
    if let Err(why) = &floor {
        eprintln!("{why}");
    }
    let nginx_base = floor
        .as_ref()
        .ok()
        .map(|n| format!("http://127.0.0.1:{}", n.port));

    // Set-up through the admin REST API, as an operator would.
    let openai = admin_post(
        &client,
        format!("{gw}/api/admin/upstreams"),
        json!({
        "name": "bench-openai", "provider": "openai", "base_url": format!("{mock}/v1"),
        "api_key": "sk-bench-upstream", "allowed_models": ["bench-model"]}),
    )
    .await;
    let anthropic = admin_post(
        &client,
        format!("{gw}/api/admin/upstreams"),
        json!({
        "name": "bench-anthropic", "provider": "anthropic", "base_url": format!("{mock}/v1"),
        "api_key": "sk-bench-upstream", "allowed_models": ["claude-bench"]}),
    )
    .await;
    let key = admin_post(
        &client,
        format!("{gw}/api/admin/keys"),
        json!({
        "name": "bench", "upstream_ids": [openai["id"], anthropic["id"]]}),
    )
    .await;
    let key = key["key_value"].as_str().unwrap().to_string();
    // The same gateway with REDIS_URL and a rate-limited key, beside the unlimited one.
    let mut limited_gw = limited::Gateway::start(&client, &root, &data_dir, &mock).await;
    if let Err(why) = &limited_gw {
        eprintln!("rate-limited key on Redis skipped: {why}");
    }
    let chat_limited = limited_gw
        .as_ref()
        .ok()
        .map(|g| (format!("{}/v1/chat/completions", g.base), g.key.clone()));
    let chat_sticky = format!("{gw}/v1/chat/completions");
    let via_sticky = Target {
        url: &chat_sticky,
        key: Some(&key),
        body: sticky::SESSION_BODY,
    };
    let via_limited = chat_limited.as_ref().map(|(url, key)| Target {
        url,
        key: Some(key),
        body: OPENAI_BODY,
    });

    tokio::time::sleep(Duration::from_secs(2)).await;
    let start_rss = gateway.rss_bytes();

    let chat_direct = format!("{mock}/v1/chat/completions");
    let chat_gw = format!("{gw}/v1/chat/completions");
    let direct = Target {
        url: &chat_direct,
        key: None,
        body: OPENAI_BODY,
    };
    let through = Target {
        url: &chat_gw,
        key: Some(&key),
        body: OPENAI_BODY,
    };
    let chat_nginx = nginx_base
        .as_ref()
        .map(|n| format!("{n}/v1/chat/completions"));
    let msg_nginx = nginx_base.as_ref().map(|n| format!("{n}/v1/messages"));
    let via_nginx = chat_nginx.as_deref().map(|url| Target {
        url,
        key: None,
        body: OPENAI_BODY,
    });
    // Warm-up: connections, caches (the key's bcrypt check happens once here), allocator.
    sequential(&client, &direct, 2_000).await;
    if let Some(n) = &via_nginx {
        sequential(&client, n, 2_000).await;
    }
    sequential(&client, &through, 2_000).await;
    sequential(&client, &via_sticky, 2_000).await;
    if let Some(l) = &via_limited {
        sequential(&client, l, 2_000).await;
    }

    eprintln!("latency, concurrency 1, paced blocks ({samples} requests per path)");
    let paths: Vec<&Target> = std::iter::once(&direct)
        .chain(&via_nginx)
        .chain([&through])
        .collect();
    let openai_latency = report::Latency::from_runs(
        "OpenAI chat",
        alternating_latency(&client, &paths, samples).await,
    );
    let msg_direct = format!("{mock}/v1/messages");
    let msg_gw = format!("{gw}/v1/messages");
    let msg_paths: Vec<Target> = std::iter::once((msg_direct.as_str(), None))
        .chain(msg_nginx.as_deref().map(|u| (u, None)))
        .chain([(msg_gw.as_str(), Some(key.as_str()))])
        .map(|(url, key)| Target {
            url,
            key,
            body: ANTHROPIC_BODY,
        })
        .collect();
    let anthropic_latency = report::Latency::from_runs(
        "Anthropic messages",
        alternating_latency(&client, &msg_paths.iter().collect::<Vec<_>>(), samples / 4).await,
    );

    eprintln!("latency, concurrency 1, sustained ({c1_seconds} s per path)");
    // The sticky session's and the limited key's blocks follow the gateway's in the same
    // rotation.
    let c1_paths: Vec<&Target> = paths
        .iter()
        .copied()
        .chain([&via_sticky])
        .chain(&via_limited)
        .collect();
    // The same load unmeasured first, as for throughput.
    sustained_latency(&c1_paths, Duration::from_millis(250)).await;
    let block = Duration::from_secs_f64(f64::from(c1_seconds) / f64::from(WRK_BLOCKS));
    let calls_before = match &mut limited_gw {
        Ok(g) => g.script_calls().await,
        Err(_) => 0,
    };
    let mut runs = sustained_latency(&c1_paths, block).await;
    let limited_runs = via_limited.as_ref().and_then(|_| runs.pop());
    let sticky_runs = runs.pop().expect("the sticky session's runs");
    let sustained = report::Sustained::new(runs, WRK_BLOCKS, block * WRK_BLOCKS);
    let overview = reqwest_admin_get(&client, format!("{gw}/api/admin/stats/overview")).await;
    let sticky_session = sticky::StickySession::new(
        sticky_runs,
        block * WRK_BLOCKS,
        &sustained.latency,
        overview["session_requests"].as_u64().unwrap_or(0),
        overview["sticky_share_percent"].as_f64().unwrap_or(0.0),
    );
    let mut limited_key = match &limited_gw {
        Ok(g) => limited::LimitedKey::measured(g.redis.clone()),
        Err(why) => limited::LimitedKey::skipped(why.clone()),
    };
    if let (Ok(g), Some(runs)) = (&mut limited_gw, limited_runs) {
        match g.verify(&client, runs.len() as u64, calls_before).await {
            Ok(calls) => {
                limited_key.sustained = Some(limited::LimitedSustained::new(
                    runs,
                    block * WRK_BLOCKS,
                    &sustained.latency,
                    calls,
                ))
            }
            Err(why) => limited_key.sustained_skipped = Some(why),
        }
    }

    eprintln!("streaming");
    let (events, interval) = (50, 20);
    let sd = streams::sequential(&chat_direct, None, 10, events, interval).await;
    let sg = streams::sequential(&chat_gw, Some(&key), 10, events, interval).await;
    let (direct_ttfb, gateway_ttfb) = (summarize(sd.ttfb_at_socket), summarize(sg.ttfb_at_socket));
    let streaming = report::Streaming {
        streams_per_path: 10,
        events_per_stream: events,
        interval_ms: interval,
        added_ttfb_p50_ms: gateway_ttfb.p50_ms - direct_ttfb.p50_ms,
        direct_ttfb,
        gateway_ttfb,
        direct_event_delay: summarize(sd.delays_at_socket),
        gateway_event_delay: summarize(sg.delays_at_socket),
        direct_ttfb_as_read: summarize(sd.ttfb_as_read),
        gateway_ttfb_as_read: summarize(sg.ttfb_as_read),
        direct_event_delay_as_read: summarize(sd.delays_as_read),
        gateway_event_delay_as_read: summarize(sg.delays_as_read),
    };

    eprintln!("throughput, concurrency 64, {wrk_seconds} s per path");
    let gw_db = Database::connect_url_without_migrations(
        &format!("sqlite://{}/autorouter.db", data_dir.display()),
        DatabaseKind::Sqlite,
    )
    .await
    .expect("the gateway's SQLite file");
    // Each path gets the same load for a few seconds first, unmeasured, so both runs are in
    // their steady state (connections open, pools and caches filled), as the latency runs are.
    throughput::wrk(&root, &chat_direct, None, WRK_WARM_UP_SECONDS);
    if let Some(url) = &chat_nginx {
        throughput::wrk(&root, url, None, WRK_WARM_UP_SECONDS);
    }
    throughput::wrk(&root, &chat_gw, Some(&key), WRK_WARM_UP_SECONDS);
    if let Some((url, key)) = &chat_limited {
        throughput::wrk(&root, url, Some(key), WRK_WARM_UP_SECONDS);
    }
    // The warm-up's last rows reach the database within the writer's 50 ms gathering window.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let rows_before = count_rows(&gw_db).await;
    // Alternating blocks, as for the added latency: a machine whose speed drifts (other tenants,
    // kernel threads) slows both paths alike instead of whichever ran in the slow stretch.
    let block_seconds = (wrk_seconds / WRK_BLOCKS).max(1);
    let (mut direct_blocks, mut nginx_blocks, mut gateway_blocks, mut limited_blocks) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let mut cpu = Duration::ZERO;
    let calls_before = match &mut limited_gw {
        Ok(g) => g.script_calls().await,
        Err(_) => 0,
    };
    for _ in 0..WRK_BLOCKS {
        direct_blocks.push(throughput::wrk(&root, &chat_direct, None, block_seconds));
        if let Some(url) = &chat_nginx {
            nginx_blocks.push(throughput::wrk(&root, url, None, block_seconds));
        }
        let cpu_before = gateway.cpu_time();
        gateway_blocks.push(throughput::wrk(&root, &chat_gw, Some(&key), block_seconds));
        // The writer stores the block's last rows within its 50 ms window: their CPU counts.
        tokio::time::sleep(Duration::from_millis(300)).await;
        cpu += gateway.cpu_time().saturating_sub(cpu_before);
        if let Some((url, key)) = &chat_limited {
            limited_blocks.push(throughput::wrk(&root, url, Some(key), block_seconds));
        }
    }
    let pair_shares = throughput::pair_shares(&gateway_blocks, &direct_blocks);
    let (direct_wrk, gateway_wrk) = (
        throughput::combine(&direct_blocks),
        throughput::combine(&gateway_blocks),
    );
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut rows_after = count_rows(&gw_db).await;
    while rows_after - rows_before < gateway_wrk.requests && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(200)).await;
        rows_after = count_rows(&gw_db).await;
    }
    let logged = rows_after - rows_before;
    if let Ok(g) = &mut limited_gw {
        let limited_wrk = throughput::combine(&limited_blocks);
        match g.verify(&client, limited_wrk.requests, calls_before).await {
            Ok(calls) => {
                limited_key.throughput = Some(limited::LimitedThroughput {
                    share_of_unlimited: limited_wrk.requests_per_second
                        / gateway_wrk.requests_per_second,
                    share_of_direct: limited_wrk.requests_per_second
                        / direct_wrk.requests_per_second,
                    limited: limited_wrk,
                    redis_script_calls: calls,
                })
            }
            Err(why) => limited_key.throughput_skipped = Some(why),
        }
    }
    // Its runs are over: the rest measures the gateway alone.
    drop(limited_gw);
    let nginx_wrk = (!nginx_blocks.is_empty()).then(|| throughput::combine(&nginx_blocks));
    let throughput = report::Throughput {
        gateway_share_of_direct: gateway_wrk.requests_per_second / direct_wrk.requests_per_second,
        nginx_share_of_direct: nginx_wrk
            .as_ref()
            .map(|n| n.requests_per_second / direct_wrk.requests_per_second),
        gateway_share_of_nginx: nginx_wrk
            .as_ref()
            .map(|n| gateway_wrk.requests_per_second / n.requests_per_second),
        nginx: nginx_wrk,
        pair_shares,
        blocks: WRK_BLOCKS,
        gateway_cpu_seconds: cpu.as_secs_f64(),
        gateway_cpu_us_per_request: cpu.as_secs_f64() * 1e6 / gateway_wrk.requests.max(1) as f64,
        log_rows_written: logged,
        log_rows_per_second: logged as f64 / gateway_wrk.seconds,
        direct: direct_wrk,
        gateway: gateway_wrk,
    };

    eprintln!("log writer");
    // Rounds of three blocks: quiet; quiet again, a control that shows how far two blocks of the
    // same condition differ; and with a second writer process adding `paced_rate` rows/s to the
    // gateway's database. Each block follows the same 500 ms pause (the writer's start-up falls
    // in its pause), so none measures the gateway's own writer storing the last block's rows.
    // The order turns by one each round, so each condition is first, second and third in a round
    // equally often, and neither quiet block is always the one after the writer's exit.
    let paced_rate = 5_000;
    let gw_db_url = format!("sqlite://{}/autorouter.db", data_dir.display());
    let bench = std::env::current_exe().expect("the benchmark's own path");
    let mut blocks: [Vec<Duration>; 3] = Default::default();
    for round in 0..WRITER_ROUNDS {
        for slot in 0..3 {
            let condition = (slot + round) % 3;
            let writer = (condition == WRITING).then(|| {
                Proc::spawn(
                    "paced writer",
                    Command::new(&bench)
                        .arg("paced-writer")
                        .arg(&gw_db_url)
                        .arg(paced_rate.to_string()),
                )
            });
            tokio::time::sleep(Duration::from_millis(500)).await;
            blocks[condition].extend(sequential(&client, &through, samples / 10).await);
            drop(writer);
        }
    }
    let [quiet, control, busy] = blocks.map(summarize);
    let sqlite_writer = log_writer::sqlite(&data_dir, 200_000).await;
    let pg_writer = log_writer::postgres(&pg_url, 200_000).await;

    // Idle again: the load above has filled the caches a running gateway keeps (SQLite pages,
    // connection pools), so this is the baseline the streams are compared with.
    tokio::time::sleep(Duration::from_secs(12)).await;
    let idle_rss = gateway.rss_bytes();
    eprintln!("memory with {held_streams} open streams");
    let held = streams::hold(&client, &chat_gw, &key, held_streams).await;
    let mut with_streams = 0;
    for _ in 0..10 {
        with_streams = with_streams.max(gateway.rss_bytes());
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    for t in &held {
        t.abort();
    }
    drop(held);
    drop(client);
    tokio::time::sleep(after_wait).await;
    let after = gateway.rss_bytes();

    let mut report = report::Report {
        command: "scripts/bench.sh".into(),
        started_at,
        machine: report::Machine::read(),
        floor: report::Floor::of(&floor),
        latency_sustained: sustained,
        limited_key,
        sticky_session,
        latency: vec![openai_latency, anthropic_latency],
        throughput,
        streaming,
        memory: report::Memory {
            start_mb: mb(start_rss),
            idle_mb: mb(idle_rss),
            streams: held_streams,
            with_streams_mb: mb(with_streams),
            after_30s_mb: mb(after),
        },
        log_writer: report::LogWriter {
            sqlite: sqlite_writer,
            postgres: pg_writer,
            paced_rows_per_second: paced_rate,
            rounds: WRITER_ROUNDS as u32,
            latency_quiet: quiet,
            latency_control: control,
            latency_while_writing: busy,
        },
        checks: vec![],
    };
    report.checks = report.checks();
    let out = root.join("docs");
    std::fs::create_dir_all(&out).unwrap();
    std::fs::write(
        out.join("benchmarks.json"),
        serde_json::to_string_pretty(&report).unwrap() + "\n",
    )
    .unwrap();
    let md = report.markdown();
    std::fs::write(out.join("benchmarks.md"), &md).unwrap();
    println!("{md}");
    drop(floor);
    let _ = std::fs::remove_dir_all(&data_dir);
}
