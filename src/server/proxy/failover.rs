//! One request's attempts across upstreams: why each failed, for the log and the final error.
use serde::Serialize;

use super::errors::ProxyError;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum FailureKind {
    Timeout,
    Connect,
    #[serde(rename = "http_5xx")]
    Http5xx,
    #[serde(rename = "http_429")]
    Http429,
    BreakerOpen,
    /// The upstream is at its own cap (concurrency, rate or monthly quota): skipped as busy.
    AtLimit,
}

impl FailureKind {
    /// Whether the upstream was actually asked (not skipped by a breaker or a cap).
    fn tried(self) -> bool {
        !matches!(self, FailureKind::BreakerOpen | FailureKind::AtLimit)
    }
}

#[derive(Debug, Clone, Serialize)]
pub(crate) struct Attempt {
    pub upstream_id: String,
    pub upstream_name: String,
    pub attempted_at: String,
    pub error_type: FailureKind,
    pub status_code: Option<u16>,
    pub message: String,
}

#[derive(Debug, Default)]
pub(crate) struct History {
    pub attempts: Vec<Attempt>,
    /// The soonest an upstream skipped at its cap frees up, if one was.
    pub at_limit_retry_ms: Option<u64>,
}

impl History {
    pub(crate) fn push(&mut self, attempt: Attempt) {
        self.attempts.push(attempt);
    }

    /// An upstream skipped at its cap, free again in `retry_after_ms`.
    pub(crate) fn push_at_limit(&mut self, attempt: Attempt, retry_after_ms: u64) {
        self.at_limit_retry_ms = Some(
            self.at_limit_retry_ms
                .map_or(retry_after_ms, |r| r.min(retry_after_ms)),
        );
        self.attempts.push(attempt);
    }

    pub(crate) fn json(&self) -> Option<String> {
        (!self.attempts.is_empty())
            .then(|| serde_json::to_string(&self.attempts).ok())
            .flatten()
    }

    /// The error for the client once every attempt failed: 429 when no upstream was tried and
    /// some were at their caps, 503 when none could be tried (breakers open), 504 when the last
    /// one timed out, otherwise 502.
    /// What the client is told, and the detail the log keeps.
    pub(crate) fn final_error(&self) -> (ProxyError, String) {
        let tried = self
            .attempts
            .iter()
            .filter(|a| a.error_type.tried())
            .count();
        match self.attempts.iter().rev().find(|a| a.error_type.tried()) {
            None => {
                let error = match self.at_limit_retry_ms {
                    Some(retry_after_ms) => ProxyError::UpstreamsAtLimit { retry_after_ms },
                    None => ProxyError::NoUpstream,
                };
                let detail = error.to_string();
                (error, detail)
            }
            Some(last) => {
                let detail = format!(
                    "{tried} upstream attempt(s) failed; the last one: {}",
                    last.message
                );
                let public = if last.error_type == FailureKind::Timeout {
                    ProxyError::UpstreamTimeout
                } else {
                    ProxyError::UpstreamUnavailable
                };
                (public, detail)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn attempt(kind: FailureKind) -> Attempt {
        Attempt {
            upstream_id: "u".into(),
            upstream_name: "n".into(),
            attempted_at: "t".into(),
            error_type: kind,
            status_code: None,
            message: "m".into(),
        }
    }

    #[test]
    fn final_errors_follow_the_last_real_attempt() {
        let mut h = History::default();
        assert!(h.json().is_none());
        h.push(attempt(FailureKind::BreakerOpen));
        assert!(matches!(h.final_error().0, ProxyError::NoUpstream));
        h.push_at_limit(attempt(FailureKind::AtLimit), 3_000);
        h.push_at_limit(attempt(FailureKind::AtLimit), 800);
        assert!(matches!(
            h.final_error().0,
            ProxyError::UpstreamsAtLimit {
                retry_after_ms: 800
            }
        ));
        h.push(attempt(FailureKind::Timeout));
        assert!(matches!(h.final_error().0, ProxyError::UpstreamTimeout));
        h.push(attempt(FailureKind::Http5xx));
        let (public, detail) = h.final_error();
        assert!(matches!(public, ProxyError::UpstreamUnavailable));
        assert_eq!(public.to_string(), "upstream unavailable");
        assert!(detail.contains("2 upstream attempt(s) failed"), "{detail}");
        assert!(h.json().unwrap().contains("\"error_type\":\"http_5xx\""));
    }
}
