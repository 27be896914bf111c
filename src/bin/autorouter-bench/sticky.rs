//! A sticky session: the same chat request naming a session (`prompt_cache_key`), through the
//! same gateway and key as the headline, in the same rotation. The gateway digests the session,
//! looks up and records the upstream that served it (in process: this gateway has no Redis), and
//! puts that upstream first.
use std::time::Duration;

use serde::Serialize;

use crate::report::Latency;
use crate::stats::{summarize, Summary};

/// The headline's chat body with a session named, as Codex names one.
pub(crate) const SESSION_BODY: &str = r#"{"model":"bench-model","prompt_cache_key":"bench-session-0001","messages":[{"role":"user","content":"hi"}]}"#;

/// Concurrency 1, sustained: the session's requests beside the plain ones.
#[derive(Debug, Serialize)]
pub(crate) struct StickySession {
    pub(crate) requests_per_second: f64,
    pub(crate) sticky: Summary,
    pub(crate) added_p50_ms: f64,
    pub(crate) added_p99_ms: f64,
    /// The plain request's (the headline's gateway row), repeated for the comparison.
    pub(crate) plain_added_p50_ms: f64,
    pub(crate) plain_added_p99_ms: f64,
    /// The session's added latency minus the plain request's.
    pub(crate) p50_over_plain_ms: f64,
    pub(crate) p99_over_plain_ms: f64,
    /// From the gateway's own statistics after the runs: session requests, and the share that
    /// went to the upstream the session had used (every one but the first, when sticky works).
    pub(crate) session_requests: u64,
    pub(crate) sticky_share_percent: f64,
}

impl StickySession {
    pub(crate) fn new(
        runs: Vec<Duration>,
        length: Duration,
        plain: &Latency,
        session_requests: u64,
        sticky_share_percent: f64,
    ) -> StickySession {
        let requests_per_second = runs.len() as f64 / length.as_secs_f64();
        let sticky = summarize(runs);
        let added_p50_ms = sticky.p50_ms - plain.direct.p50_ms;
        let added_p99_ms = sticky.p99_ms - plain.direct.p99_ms;
        StickySession {
            requests_per_second,
            sticky,
            added_p50_ms,
            added_p99_ms,
            plain_added_p50_ms: plain.added_p50_ms,
            plain_added_p99_ms: plain.added_p99_ms,
            p50_over_plain_ms: added_p50_ms - plain.added_p50_ms,
            p99_over_plain_ms: added_p99_ms - plain.added_p99_ms,
            session_requests,
            sticky_share_percent,
        }
    }

    pub(crate) fn markdown(&self, plain: &Summary) -> String {
        let mut md = String::from("\n## A sticky session\n\n");
        md.push_str(&format!(
            "The headline's chat request naming a session (`prompt_cache_key`), through the same gateway and key, in the same rotation: the gateway digests the session, finds the upstream that served it last and records this one (in process; this gateway has no Redis). The gateway counted {} session requests, {:.2}% of them sticky. Requests/s: {:.0}.\n\n",
            self.session_requests, self.sticky_share_percent, self.requests_per_second
        ));
        md.push_str("| Request | Samples | p50 ms | p99 ms | p99.9 ms | added p50 ms | added p99 ms |\n|---|---|---|---|---|---|---|\n");
        md.push_str(&format!(
            "| plain | {} | {:.3} | {:.3} | {:.3} | {:.3} | {:.3} |\n",
            plain.samples,
            plain.p50_ms,
            plain.p99_ms,
            plain.p999_ms,
            self.plain_added_p50_ms,
            self.plain_added_p99_ms
        ));
        md.push_str(&format!(
            "| sticky session | {} | {:.3} | {:.3} | {:.3} | {:.3} | {:.3} |\n",
            self.sticky.samples,
            self.sticky.p50_ms,
            self.sticky.p99_ms,
            self.sticky.p999_ms,
            self.added_p50_ms,
            self.added_p99_ms
        ));
        md.push_str(&format!(
            "\nThe session over the plain request: p50 {:+.3} ms, p99 {:+.3} ms.\n",
            self.p50_over_plain_ms, self.p99_over_plain_ms
        ));
        md
    }
}
