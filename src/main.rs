//! Server entry: config -> database -> state -> router -> serve.
use autorouter::server::{clock, config::Config, startup, telemetry};

#[tokio::main]
async fn main() {
    let config = match Config::from_env() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("autorouter: invalid configuration: {e}");
            std::process::exit(2);
        }
    };
    telemetry::init(&config);

    let leptos_options = startup::leptos_options();
    let addr = config.listen.unwrap_or(leptos_options.site_addr);
    let grace = std::time::Duration::from_secs(config.shutdown_grace_secs);

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
    let logs = state.logs.clone();
    let app = match startup::Application::bind(state, addr).await {
        Ok(a) => a,
        Err(e) => {
            eprintln!("autorouter: cannot start: {e}");
            std::process::exit(1);
        }
    };
    tracing::info!(addr = %app.local_addr(), "AutoRouter listening on http://{}", app.local_addr());
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let serve = tokio::spawn(app.serve(async move {
        let _ = rx.await;
    }));
    startup::shutdown_signal().await;
    let _ = tx.send(());
    match tokio::time::timeout(grace, serve).await {
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
    tracing::info!(
        written = logs.written(),
        dropped = logs.dropped(),
        "stopped"
    );
}
