//! Server entry: config -> database -> state -> router -> serve.
use autorouter::server::{cli, clock, config::Config, startup, telemetry};

#[global_allocator]
static GLOBAL: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

/// jemalloc's options: a background thread returns pages freed for a second to the OS.
#[allow(non_upper_case_globals)]
#[export_name = "_rjem_malloc_conf"]
pub static malloc_conf: &[u8] = b"background_thread:true,dirty_decay_ms:1000,muzzy_decay_ms:0\0";

/// The main runtime runs the acceptor and the background jobs; requests are served on one
/// single-threaded runtime per core (`SERVER_THREADS`).
#[tokio::main(flavor = "current_thread")]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let command = match cli::parse(&args) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("autorouter: {e}\n\n{}", cli::USAGE);
            std::process::exit(2);
        }
    };
    if command == cli::Command::Help {
        println!("{}", cli::USAGE);
        return;
    }
    let config = match Config::from_env() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("autorouter: invalid configuration: {e}");
            std::process::exit(2);
        }
    };
    if command != cli::Command::Serve {
        // A one-off command: its output is the document or the plan, so no log lines.
        std::process::exit(cli::run(command, config).await);
    }
    telemetry::init(&config);

    let leptos_options = startup::leptos_options();
    let addr = config.listen.unwrap_or(leptos_options.site_addr);
    let grace = std::time::Duration::from_secs(config.shutdown_grace_secs);
    let threads = config.server_threads;

    let (state, notes) = match startup::build_state(config, leptos_options, clock::system()).await {
        Ok(s) => s,
        Err(e) => {
            eprintln!("autorouter: cannot start: {e}");
            std::process::exit(1);
        }
    };
    if notes.generated_encryption_key {
        tracing::info!(dir = %state.config.data_dir.display(), "generated a new encryption key in the data directory (mode 0600)");
    }
    if let Some(token) = notes.generated_admin_token {
        // Printed once, to the terminal only: only its hash is stored.
        eprintln!();
        eprintln!("  AutoRouter generated an admin token. It is shown only this once:");
        eprintln!();
        eprintln!("      {}", token.expose());
        eprintln!();
        eprintln!("  Sign in at http://{addr}/ with it. To choose your own, set ADMIN_TOKEN.");
        eprintln!();
    }
    autorouter::server::jobs::memory_trim::spawn();
    let logs = state.plane.logs.clone();
    let traces = state.plane.traces.clone();
    let live = state.live.clone();
    let app = match startup::Application::bind(state, addr).await {
        Ok(a) => a,
        Err(e) => {
            eprintln!("autorouter: cannot start: {e}");
            std::process::exit(1);
        }
    };
    let local = app.local_addr();
    let workers = match app.serve_per_core(threads) {
        Ok(w) => w,
        Err(e) => {
            eprintln!("autorouter: cannot start the HTTP workers: {e}");
            std::process::exit(1);
        }
    };
    tracing::info!(addr = %local, threads, "AutoRouter listening on http://{local}");
    startup::shutdown_signal().await;
    // Live-view streams never end by themselves: end them, so they do not hold the grace period.
    live.close();
    workers.shutdown();
    match tokio::time::timeout(grace, workers.finished()).await {
        Ok(_) => tracing::info!("all connections closed"),
        Err(_) => tracing::warn!(
            grace_secs = grace.as_secs(),
            "grace period over; stopping with requests still open"
        ),
    }
    // Open streams have ended (or been cut) and submitted their rows; write them all.
    if tokio::time::timeout(std::time::Duration::from_secs(15), logs.flush())
        .await
        .is_err()
    {
        tracing::error!("request log flush did not finish in 15 s");
    }
    // And the spans those requests ended.
    if let Some(traces) = traces {
        traces.shutdown(std::time::Duration::from_secs(10)).await;
    }
    tracing::info!(
        written = logs.written(),
        dropped = logs.dropped(),
        "stopped"
    );
}
