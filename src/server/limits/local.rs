//! The counters of one process: per-counter state behind its own lock, never held across an await.
use std::collections::VecDeque;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;

use parking_lot::{Mutex, MutexGuard, RwLock};

use super::{
    non_negative, Check, Rule, Seen, Usage, Verdict, CONCURRENCY_RETRY_MS, SPEND_GRACE_MS,
    WINDOW_MS,
};
use crate::server::fast_map::FastMap;

/// How often idle counters (deleted keys, quiet ones) are dropped from the map.
const SWEEP_EVERY_MS: i64 = 60_000;

type Slot = Arc<Mutex<Counter>>;

#[derive(Default)]
pub(super) struct Local {
    counters: RwLock<FastMap<Arc<str>, Slot>>,
    next_sweep_ms: AtomicI64,
}

/// Everything counted under one counter name; each rule kind uses its own part.
#[derive(Default)]
struct Counter {
    /// Admission times in the last minute, oldest first (the sliding-window log).
    requests: VecDeque<i64>,
    tokens: Option<Box<Buckets>>,
    concurrent: u32,
    spend: Vec<Spent>,
}

/// Tokens per second for the last 60 seconds: slot `second mod 60` holds (second, tokens).
struct Buckets([(i64, u64); 60]);

struct Spent {
    period: Arc<str>,
    expires_at_ms: i64,
    nanos: i64,
}

/// The concurrency slots of one admitted request, freed on drop.
pub(super) struct Leases(Vec<Slot>);

impl std::fmt::Debug for Leases {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "local::Leases({})", self.0.len())
    }
}

impl Drop for Leases {
    fn drop(&mut self) {
        for slot in &self.0 {
            let mut counter = slot.lock();
            counter.concurrent = counter.concurrent.saturating_sub(1);
        }
    }
}

impl Local {
    pub(super) fn admit(&self, checks: &[Check], now_ms: i64) -> (Verdict, Option<Leases>) {
        self.maybe_sweep(now_ms);
        let slots: Vec<Slot> = checks.iter().map(|c| self.slot(&c.counter)).collect();
        // All of the request's counters are locked together (in address order, so two requests
        // never wait on each other crosswise): checking and consuming are then one step.
        let mut order: Vec<&Slot> = slots.iter().collect();
        order.sort_by_key(|s| Arc::as_ptr(s));
        order.dedup_by_key(|s| Arc::as_ptr(s));
        let mut guards: Vec<MutexGuard<'_, Counter>> = order.iter().map(|s| s.lock()).collect();
        let guard_of: Vec<usize> = slots
            .iter()
            .map(|s| {
                let at = order.iter().position(|o| Arc::ptr_eq(o, s));
                at.unwrap_or_default()
            })
            .collect();

        let mut seen = Vec::with_capacity(checks.len());
        let mut refused = None;
        for (i, check) in checks.iter().enumerate() {
            let (s, refusal) = guards[guard_of[i]].evaluate(&check.rule, now_ms);
            seen.push(s);
            if let (None, Some(retry)) = (refused, refusal) {
                refused = Some((i, retry));
            }
        }
        if refused.is_some() {
            return (Verdict { seen, refused }, None);
        }
        let mut leases = Vec::new();
        for (i, check) in checks.iter().enumerate() {
            guards[guard_of[i]].consume(&check.rule, now_ms);
            if matches!(check.rule, Rule::Concurrent { .. }) {
                leases.push(slots[i].clone());
            }
        }
        let leases = (!leases.is_empty()).then_some(Leases(leases));
        (Verdict { seen, refused }, leases)
    }

    pub(super) fn charge(&self, checks: &[Check], usage: Usage, now_ms: i64) {
        for check in checks {
            match &check.rule {
                Rule::Tokens { .. } if usage.tokens > 0 => {
                    self.slot(&check.counter)
                        .lock()
                        .add_tokens(usage.tokens, now_ms);
                }
                Rule::Spend {
                    period,
                    ends_at_ms,
                    durable_nanos,
                    ..
                } if usage.cost_nanos != 0 => {
                    let slot = self.slot(&check.counter);
                    let mut counter = slot.lock();
                    let spent = counter.spent(period, *ends_at_ms, *durable_nanos);
                    spent.nanos = spent.nanos.saturating_add(usage.cost_nanos);
                }
                _ => {}
            }
        }
    }

    fn slot(&self, counter: &Arc<str>) -> Slot {
        if let Some(slot) = self.counters.read().get(counter) {
            return slot.clone();
        }
        self.counters
            .write()
            .entry(counter.clone())
            .or_default()
            .clone()
    }

    /// Drops counters nobody holds and nothing counts any more, once a minute.
    fn maybe_sweep(&self, now_ms: i64) {
        let due = self.next_sweep_ms.load(Ordering::Relaxed);
        if now_ms < due
            || self
                .next_sweep_ms
                .compare_exchange(
                    due,
                    now_ms + SWEEP_EVERY_MS,
                    Ordering::Relaxed,
                    Ordering::Relaxed,
                )
                .is_err()
        {
            return;
        }
        // A slot cloned out of the map (an admission in progress, a lease) has another strong
        // reference and is kept; with the write lock held nobody can clone one meanwhile.
        self.counters
            .write()
            .retain(|_, slot| Arc::strong_count(slot) > 1 || !slot.lock().is_idle(now_ms));
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.counters.read().len()
    }
}

impl Counter {
    /// What the rule sees before this request, and the retry time if it refuses. Dropping
    /// what has left the window is not consuming.
    fn evaluate(&mut self, rule: &Rule, now_ms: i64) -> (Seen, Option<u64>) {
        match rule {
            Rule::Requests { per_minute } => {
                let limit = *per_minute as usize;
                let horizon = now_ms - WINDOW_MS;
                while self.requests.front().is_some_and(|&t| t <= horizon) {
                    self.requests.pop_front();
                }
                let used = self.requests.len();
                let reset_ms = self
                    .requests
                    .front()
                    .map_or(0, |&t| non_negative(t + WINDOW_MS - now_ms));
                let retry = (used >= limit).then(|| match limit {
                    0 => WINDOW_MS as u64,
                    // The use whose leaving brings the count under the limit.
                    _ => non_negative(self.requests[used - limit] + WINDOW_MS - now_ms),
                });
                (
                    Seen {
                        used: used as u64,
                        reset_ms,
                    },
                    retry,
                )
            }
            Rule::Tokens { per_minute } => self.tokens_seen(*per_minute, now_ms),
            Rule::Concurrent { max } => {
                let used = u64::from(self.concurrent);
                let retry = (used >= u64::from(*max)).then_some(CONCURRENCY_RETRY_MS);
                (Seen { used, reset_ms: 0 }, retry)
            }
            Rule::Spend {
                period,
                limit_nanos,
                durable_nanos,
                ..
            } => {
                let stored = self
                    .spend
                    .iter()
                    .find(|s| *s.period == **period)
                    .map_or(i64::MIN, |s| s.nanos);
                let used = stored.max(*durable_nanos);
                // The retry time (the period's end) is filled in by the caller of the backend.
                let retry = (used >= *limit_nanos).then_some(0);
                (
                    Seen {
                        used: non_negative(used),
                        reset_ms: 0,
                    },
                    retry,
                )
            }
        }
    }

    fn consume(&mut self, rule: &Rule, now_ms: i64) {
        match rule {
            Rule::Requests { .. } => {
                // Kept in time order even when callers' clocks interleave.
                let at = self.requests.partition_point(|&t| t <= now_ms);
                self.requests.insert(at, now_ms);
            }
            Rule::Concurrent { .. } => self.concurrent += 1,
            Rule::Spend {
                period,
                ends_at_ms,
                durable_nanos,
                ..
            } => {
                self.spent(period, *ends_at_ms, *durable_nanos);
            }
            Rule::Tokens { .. } => {}
        }
    }

    fn tokens_seen(&self, limit: u64, now_ms: i64) -> (Seen, Option<u64>) {
        let second = now_ms.div_euclid(1000);
        let mut live = [(0i64, 0u64); 60];
        let mut n = 0;
        if let Some(buckets) = &self.tokens {
            for &(s, tokens) in &buckets.0 {
                if tokens > 0 && s > second - 60 {
                    live[n] = (s, tokens);
                    n += 1;
                }
            }
        }
        let live = &mut live[..n];
        let used: u64 = live.iter().map(|&(_, t)| t).fold(0, u64::saturating_add);
        let until_gone = |s: i64| non_negative((s + 60) * 1000 - now_ms);
        let reset_ms = live.iter().map(|&(s, _)| s).min().map_or(0, until_gone);
        let mut retry = None;
        if used >= limit {
            live.sort_unstable();
            let mut left = used;
            let mut at = WINDOW_MS as u64;
            for &(s, tokens) in live.iter() {
                left -= tokens;
                if left < limit {
                    at = until_gone(s);
                    break;
                }
            }
            retry = Some(at);
        }
        (Seen { used, reset_ms }, retry)
    }

    fn add_tokens(&mut self, tokens: u64, now_ms: i64) {
        let second = now_ms.div_euclid(1000);
        let buckets = self
            .tokens
            .get_or_insert_with(|| Box::new(Buckets([(i64::MIN, 0); 60])));
        let bucket = &mut buckets.0[second.rem_euclid(60) as usize];
        if bucket.0 != second {
            *bucket = (second, 0);
        }
        bucket.1 = bucket.1.saturating_add(tokens);
    }

    /// The period's spend counter, created or raised to the durable sum when it is below it.
    fn spent(&mut self, period: &Arc<str>, ends_at_ms: i64, durable_nanos: i64) -> &mut Spent {
        let at = match self.spend.iter().position(|s| *s.period == **period) {
            Some(at) => at,
            None => {
                self.spend.push(Spent {
                    period: period.clone(),
                    expires_at_ms: ends_at_ms.saturating_add(SPEND_GRACE_MS),
                    nanos: durable_nanos,
                });
                self.spend.len() - 1
            }
        };
        let spent = &mut self.spend[at];
        spent.nanos = spent.nanos.max(durable_nanos);
        spent
    }

    fn is_idle(&mut self, now_ms: i64) -> bool {
        self.spend.retain(|s| s.expires_at_ms > now_ms);
        let second = now_ms.div_euclid(1000);
        self.concurrent == 0
            && self.spend.is_empty()
            && self
                .requests
                .back()
                .is_none_or(|&t| t <= now_ms - WINDOW_MS)
            && self
                .tokens
                .as_ref()
                .is_none_or(|b| b.0.iter().all(|&(s, t)| t == 0 || s <= second - 60))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spend(limit: i64, durable: i64) -> Rule {
        Rule::Spend {
            period: "d:2026-12-06".into(),
            ends_at_ms: 10_000_000,
            limit_nanos: limit,
            durable_nanos: durable,
        }
    }

    #[test]
    fn idle_counters_are_swept_but_held_and_spending_ones_stay() {
        let local = Local::default();
        let held = local.admit(&[Check::new("k:held", Rule::Concurrent { max: 5 })], 0);
        let _ = local.admit(
            &[Check::new("k:quiet", Rule::Requests { per_minute: 5 })],
            0,
        );
        let _ = local.admit(&[Check::new("k:spend", spend(100, 1))], 0);
        assert_eq!(local.len(), 3);
        let _ = local.admit(&[], 2 * WINDOW_MS);
        assert_eq!(local.len(), 2, "only the quiet counter goes");
        drop(held);
        let _ = local.admit(&[], 20_000_000);
        assert_eq!(local.len(), 0);
    }
}
