//! Spend control on the data plane: the checks a limited key and a capped upstream make, what
//! a refusal answers, the rate-limit headers of a limited key's responses, and the bill a
//! finished request settles (its cost, the tokens and spend charged, the slots freed). A key
//! or upstream without limits never comes here.
use std::sync::Arc;

use axum::http::{HeaderMap, HeaderName, HeaderValue};

use super::errors::{ErrorFormat, ProxyError};
use super::routing_table::{
    DurableSpend, KeyCounters, KeyEntry, Snapshot, UpstreamCaps, UpstreamEntry,
};
use crate::model::prices::{cost_nanos, Price};
use crate::server::db::request_logs::LogRecord;
use crate::server::limits::{Admitted, Check, Limiter, Quota, Refused, Rule, Usage};
use crate::server::periods::Period;
use crate::server::timefmt::to_rfc3339;

/// What a request was admitted with: the checks (charged again when it ends) and the admission
/// (its concurrency slots, freed when this is dropped).
pub(crate) struct Ticket {
    checks: Vec<Check>,
    _admitted: Admitted,
}

/// A limited key's checks: rate, tokens, concurrency, and its budgets in the current day and
/// month, each with what the database had spent in it.
pub(crate) fn key_checks(
    key: &KeyEntry,
    limits: &KeyCounters,
    now: &(Period, Period),
    spend: &DurableSpend,
) -> Vec<Check> {
    let counter = &limits.counter;
    let mut checks = Vec::with_capacity(5);
    if let Some(per_minute) = limits.rpm {
        checks.push(Check::new(counter.clone(), Rule::Requests { per_minute }));
    }
    if let Some(per_minute) = limits.tpm {
        checks.push(Check::new(counter.clone(), Rule::Tokens { per_minute }));
    }
    if let Some(max) = limits.max_concurrent {
        checks.push(Check::new(counter.clone(), Rule::Concurrent { max }));
    }
    let (day, month) = now;
    for (limit, period, durable) in [
        (limits.daily_budget_nanos, day, (&spend.key_day, &spend.day)),
        (
            limits.monthly_budget_nanos,
            month,
            (&spend.key_month, &spend.month),
        ),
    ] {
        if let Some(limit_nanos) = limit {
            checks.push(Check::new(
                counter.clone(),
                Rule::Spend {
                    period: period.key.clone(),
                    ends_at_ms: period.end_ms,
                    limit_nanos,
                    durable_nanos: DurableSpend::of(durable.0, durable.1, &period.id, &key.id),
                },
            ));
        }
    }
    checks
}

/// A capped upstream's checks: concurrency, rate, and its quota in the current month.
pub(crate) fn upstream_checks(
    upstream: &UpstreamEntry,
    caps: &UpstreamCaps,
    now: &(Period, Period),
    spend: &DurableSpend,
) -> Vec<Check> {
    let counter = &caps.counter;
    let mut checks = Vec::with_capacity(3);
    if let Some(max) = caps.max_concurrent {
        checks.push(Check::new(counter.clone(), Rule::Concurrent { max }));
    }
    if let Some(per_minute) = caps.rpm {
        checks.push(Check::new(counter.clone(), Rule::Requests { per_minute }));
    }
    if let Some(limit_nanos) = caps.monthly_quota_nanos {
        let month = &now.1;
        checks.push(Check::new(
            counter.clone(),
            Rule::Spend {
                period: month.key.clone(),
                ends_at_ms: month.end_ms,
                limit_nanos,
                durable_nanos: DurableSpend::of(
                    &spend.upstream_month,
                    &spend.month,
                    &month.id,
                    &upstream.id,
                ),
            },
        ));
    }
    checks
}

/// Admits a limited key's request: its ticket and the rate-limit headers of its answer; or the
/// refusal, the reason its log row keeps, and the headers of the refusal.
pub(crate) async fn admit_key(
    limiter: &Limiter,
    checks: Vec<Check>,
    format: ErrorFormat,
    now_ms: i64,
) -> Result<(Ticket, HeaderMap), (ProxyError, &'static str, HeaderMap)> {
    match limiter.admit(&checks).await {
        Ok(admitted) => {
            let headers = rate_headers(&checks, admitted.quotas(), format, now_ms);
            Ok((
                Ticket {
                    checks,
                    _admitted: admitted,
                },
                headers,
            ))
        }
        Err(refused) => {
            let (error, reason) = key_refusal(&refused, &checks);
            let headers = rate_headers(&checks, &refused.quotas, format, now_ms);
            Err((error, reason, headers))
        }
    }
}

/// Admits a request to a capped upstream: its ticket, or why it is skipped and when it frees.
pub(crate) async fn admit_upstream(
    limiter: &Limiter,
    checks: Vec<Check>,
) -> Result<Ticket, (String, u64)> {
    match limiter.admit(&checks).await {
        Ok(admitted) => Ok(Ticket {
            checks,
            _admitted: admitted,
        }),
        Err(refused) => Err((upstream_refusal(&refused, &checks), refused.retry_after_ms)),
    }
}

/// What a key's refusal answers, and the reason its log row keeps.
fn key_refusal(refused: &Refused, checks: &[Check]) -> (ProxyError, &'static str) {
    let retry_after_ms = refused.retry_after_ms;
    let limited = |what: String, tokens: bool| ProxyError::RateLimited {
        what,
        tokens,
        retry_after_ms,
    };
    match checks.get(refused.check).map(|c| &c.rule) {
        Some(Rule::Requests { per_minute }) => (
            limited(format!("{per_minute} requests per minute"), false),
            "key_rpm",
        ),
        Some(Rule::Tokens { per_minute }) => (
            limited(format!("{per_minute} tokens per minute"), true),
            "key_tpm",
        ),
        Some(Rule::Concurrent { max }) => (
            limited(format!("{max} concurrent requests"), false),
            "key_concurrency",
        ),
        Some(Rule::Spend { period, .. }) if period.starts_with("d:") => (
            ProxyError::BudgetSpent {
                period: "daily",
                retry_after_ms,
            },
            "key_daily_budget",
        ),
        _ => (
            ProxyError::BudgetSpent {
                period: "monthly",
                retry_after_ms,
            },
            "key_monthly_budget",
        ),
    }
}

/// Why a capped upstream was skipped, for the failover history.
fn upstream_refusal(refused: &Refused, checks: &[Check]) -> String {
    match checks.get(refused.check).map(|c| &c.rule) {
        Some(Rule::Concurrent { max }) => format!("at its cap of {max} concurrent requests"),
        Some(Rule::Requests { per_minute }) => {
            format!("at its cap of {per_minute} requests per minute")
        }
        _ => "its monthly quota is spent".into(),
    }
}

/// The rate-limit headers of a limited key's response, for its request and token limits: the
/// OpenAI names (`x-ratelimit-*-requests`, `-tokens`), or Anthropic's on `/v1/messages`.
fn rate_headers(checks: &[Check], quotas: &[Quota], format: ErrorFormat, now_ms: i64) -> HeaderMap {
    let mut headers = HeaderMap::new();
    for (check, quota) in checks.iter().zip(quotas) {
        let what = match check.rule {
            Rule::Requests { .. } => "requests",
            Rule::Tokens { .. } => "tokens",
            _ => continue,
        };
        let mut put = |name: String, value: String| {
            if let (Ok(n), Ok(v)) = (HeaderName::try_from(name), HeaderValue::try_from(value)) {
                headers.insert(n, v);
            }
        };
        match format {
            // Google's API defines none: the OpenAI names are the ones clients know.
            ErrorFormat::OpenAi | ErrorFormat::Google => {
                put(format!("x-ratelimit-limit-{what}"), quota.limit.to_string());
                put(
                    format!("x-ratelimit-remaining-{what}"),
                    quota.remaining.to_string(),
                );
                put(
                    format!("x-ratelimit-reset-{what}"),
                    openai_duration(quota.reset_ms),
                );
            }
            ErrorFormat::Anthropic => {
                put(
                    format!("anthropic-ratelimit-{what}-limit"),
                    quota.limit.to_string(),
                );
                put(
                    format!("anthropic-ratelimit-{what}-remaining"),
                    quota.remaining.to_string(),
                );
                put(
                    format!("anthropic-ratelimit-{what}-reset"),
                    to_rfc3339(now_ms + quota.reset_ms as i64),
                );
            }
        }
    }
    headers
}

/// A reset as OpenAI writes it: `1s`, `6m0s`, `350ms`.
fn openai_duration(ms: u64) -> String {
    if ms < 1_000 {
        return format!("{ms}ms");
    }
    let secs = ms.div_ceil(1_000);
    match (secs / 60, secs % 60) {
        (0, s) => format!("{s}s"),
        (m, s) => format!("{m}m{s}s"),
    }
}

/// What a finished request settles: the tickets of its key and upstream (their slots are freed
/// with the bill), and the price its tokens are charged at when a budget or quota counts them.
pub(crate) struct Bill {
    pub limiter: Limiter,
    pub key: Option<Ticket>,
    pub upstream: Option<Ticket>,
    pub price: Option<Price>,
    pub multiplier_ppm: i64,
}

impl Bill {
    /// Costs the record (when its price is known) and charges its tokens and cost to the
    /// counters it was admitted by; the slots are freed when the bill is dropped.
    pub(crate) fn settle(self, record: &mut LogRecord) {
        if let Some(price) = &self.price {
            record.cost_nanos = Some(cost_nanos(price, &record.usage, self.multiplier_ppm));
        }
        let usage = Usage {
            tokens: record.usage.total_tokens.max(0) as u64,
            cost_nanos: record.cost_nanos.unwrap_or(0),
        };
        for ticket in [&self.key, &self.upstream].into_iter().flatten() {
            self.limiter.charge(&ticket.checks, usage);
        }
    }
}

/// The price a request's answer is charged at, when something counts its spend.
pub(crate) fn price_for(snapshot: &Snapshot, model: &str) -> Option<Price> {
    snapshot.prices.lookup(model).copied()
}

/// A counter's name for a key or an upstream (`k:<id>`, `u:<id>`).
pub(crate) fn counter(kind: char, id: &str) -> Arc<str> {
    format!("{kind}:{id}").into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resets_read_like_openai_s() {
        assert_eq!(openai_duration(350), "350ms");
        assert_eq!(openai_duration(1_200), "2s");
        assert_eq!(openai_duration(60_000), "1m0s");
        assert_eq!(openai_duration(366_000), "6m6s");
    }
}
