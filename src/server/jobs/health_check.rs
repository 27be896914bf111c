//! Active health checks: every `health_check_interval_seconds` (a run-time setting, 0 = off),
//! jittered by up to 10% so instances and upstreams are not probed in lockstep.
use std::time::Duration;

use rand::Rng;

use crate::server::service::health::check_all;
use crate::server::state::AppState;

/// How often the job looks at the setting, so a changed interval applies within a second.
const POLL: Duration = Duration::from_secs(1);

fn jittered(interval_s: u32) -> Duration {
    let base = Duration::from_secs(u64::from(interval_s));
    let jitter = rand::rng().random_range(0.9..=1.1);
    base.mul_f64(jitter)
}

pub(crate) fn spawn(state: AppState) {
    tokio::spawn(async move {
        let mut last_round = tokio::time::Instant::now();
        let mut wait: Option<(u32, Duration)> = None;
        loop {
            tokio::time::sleep(POLL).await;
            let interval = state
                .plane
                .routing
                .snapshot()
                .settings
                .health_check_interval_seconds;
            if interval == 0 {
                wait = None;
                continue;
            }
            // A new interval gets a new jittered wait, counted from the last round.
            let due = match wait {
                Some((i, d)) if i == interval => d,
                _ => {
                    let d = jittered(interval);
                    wait = Some((interval, d));
                    d
                }
            };
            if last_round.elapsed() < due {
                continue;
            }
            if let Err(e) = check_all(&state).await {
                tracing::error!(error = %e, "health check round could not be saved");
            }
            last_round = tokio::time::Instant::now();
            wait = None;
        }
    });
}
