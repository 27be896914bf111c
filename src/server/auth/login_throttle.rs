//! Slows down repeated failed admin sign-ins: per source (an IPv4 address, or an IPv6 /64, which
//! one host can fill with addresses) with an exponential lock-out, and over all sources with a
//! global failure budget. It only ever slows *failures*: the right token is checked first and
//! always let in, so strangers failing from the admin's own address (a shared NAT) cannot lock
//! the admin out.
use parking_lot::Mutex;
use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;

use crate::server::http::client_ip::source_of;

/// Failures allowed before the source is locked out.
pub(crate) const FREE_FAILURES: u32 = 5;
const FIRST_LOCKOUT_MS: i64 = 30_000;
const MAX_LOCKOUT_MS: i64 = 15 * 60_000;
/// A quiet source starts again from zero after this long.
const FORGET_AFTER_MS: i64 = 15 * 60_000;
/// Sources tracked at most; past this the least recently failing one is forgotten.
const MAX_TRACKED: usize = 10_000;
/// Failures from all sources together, per minute, before every failure is answered as throttled.
pub(crate) const GLOBAL_FAILURES_PER_MINUTE: usize = 300;
const MINUTE_MS: i64 = 60_000;

#[derive(Debug, Clone, Copy)]
struct Entry {
    failures: u32,
    last_failure_ms: i64,
    blocked_until_ms: i64,
}

#[derive(Debug, Default)]
struct Book {
    sources: HashMap<IpAddr, Entry>,
    /// When the failures of the last minute happened (oldest first).
    recent: VecDeque<i64>,
}

#[derive(Debug, Default)]
pub(crate) struct LoginThrottle {
    book: Mutex<Book>,
}

impl LoginThrottle {
    /// Records a failed attempt from `ip`. `Some(retry_after_secs)` when the source was already
    /// locked out (the failure that locks it is still answered as a plain failure), or when all
    /// sources together have used up the minute's failure budget.
    pub(crate) fn record_failure(&self, ip: IpAddr, now_ms: i64) -> Option<u64> {
        let mut book = self.book.lock();
        while book
            .recent
            .front()
            .is_some_and(|&t| now_ms - t >= MINUTE_MS)
        {
            book.recent.pop_front();
        }
        if book.recent.len() < GLOBAL_FAILURES_PER_MINUTE {
            book.recent.push_back(now_ms);
        }
        let over_budget = book.recent.len() >= GLOBAL_FAILURES_PER_MINUTE;
        let source = source_of(ip);
        if !book.sources.contains_key(&source) && book.sources.len() >= MAX_TRACKED {
            book.sources.retain(|_, e| {
                now_ms - e.last_failure_ms < FORGET_AFTER_MS || e.blocked_until_ms > now_ms
            });
            if book.sources.len() >= MAX_TRACKED {
                let oldest = book
                    .sources
                    .iter()
                    .min_by_key(|(_, e)| e.last_failure_ms)
                    .map(|(k, _)| *k);
                if let Some(oldest) = oldest {
                    book.sources.remove(&oldest);
                }
            }
        }
        let entry = book.sources.entry(source).or_insert(Entry {
            failures: 0,
            last_failure_ms: now_ms,
            blocked_until_ms: 0,
        });
        let was_blocked = entry.blocked_until_ms > now_ms;
        if now_ms - entry.last_failure_ms >= FORGET_AFTER_MS && !was_blocked {
            entry.failures = 0;
        }
        entry.failures += 1;
        entry.last_failure_ms = now_ms;
        if entry.failures >= FREE_FAILURES {
            let doublings = (entry.failures - FREE_FAILURES).min(10);
            let lockout = (FIRST_LOCKOUT_MS << doublings).min(MAX_LOCKOUT_MS);
            entry.blocked_until_ms = entry.blocked_until_ms.max(now_ms + lockout);
        }
        let secs = |until_ms: i64| ((until_ms - now_ms + 999) / 1000).max(1) as u64;
        if was_blocked {
            Some(secs(entry.blocked_until_ms))
        } else if over_budget {
            let oldest = book.recent.front().copied().unwrap_or(now_ms);
            Some(secs(oldest + MINUTE_MS))
        } else {
            None
        }
    }

    /// A right token from `ip`: its source starts again from zero.
    pub(crate) fn record_success(&self, ip: IpAddr) {
        self.book.lock().sources.remove(&source_of(ip));
    }

    #[cfg(test)]
    fn tracked(&self) -> usize {
        self.book.lock().sources.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(n: u8) -> IpAddr {
        IpAddr::from([10, 0, 0, n])
    }

    #[test]
    fn locks_out_after_free_failures_and_grows() {
        let t = LoginThrottle::default();
        for i in 0..FREE_FAILURES - 1 {
            assert_eq!(t.record_failure(ip(1), i as i64), None);
        }
        assert_eq!(
            t.record_failure(ip(1), 10),
            None,
            "the failure that locks is plain"
        );
        assert_eq!(
            t.record_failure(ip(1), 20),
            Some(60),
            "locked, and longer for trying"
        );
        assert_eq!(
            t.record_failure(ip(2), 20),
            None,
            "other sources are unaffected"
        );
        assert_eq!(t.record_failure(ip(1), 20 + 60_000), None);
        assert_eq!(t.record_failure(ip(1), 30 + 60_000), Some(240));
    }

    #[test]
    fn success_and_quiet_time_reset() {
        let t = LoginThrottle::default();
        for i in 0..FREE_FAILURES {
            t.record_failure(ip(1), i as i64);
        }
        t.record_success(ip(1));
        assert_eq!(t.record_failure(ip(1), 5), None);
        for i in 0..FREE_FAILURES - 1 {
            t.record_failure(ip(3), i as i64);
        }
        assert_eq!(
            t.record_failure(ip(3), FORGET_AFTER_MS + 100),
            None,
            "old failures are forgotten"
        );
    }

    #[test]
    fn ipv6_sources_are_judged_by_their_64() {
        let a: IpAddr = "2001:db8:1:2:aaaa::1".parse().unwrap();
        let b: IpAddr = "2001:db8:1:2:bbbb::9".parse().unwrap();
        let other: IpAddr = "2001:db8:1:3::1".parse().unwrap();
        assert_eq!(source_of(a), source_of(b));
        assert_ne!(source_of(a), source_of(other));
        assert_eq!(source_of("::ffff:10.0.0.1".parse().unwrap()), ip(1));
        let t = LoginThrottle::default();
        for i in 0..FREE_FAILURES - 1 {
            t.record_failure(a, i as i64);
        }
        t.record_failure(b, 9);
        assert!(
            t.record_failure(b, 10).is_some(),
            "a new address in the same /64 is the same source"
        );
        assert_eq!(t.record_failure(other, 9), None);
    }

    #[test]
    fn the_global_budget_throttles_every_failure_for_the_rest_of_the_minute() {
        let t = LoginThrottle::default();
        for i in 0..GLOBAL_FAILURES_PER_MINUTE - 1 {
            // Each from its own source, so none is locked out by itself.
            let source = IpAddr::from([10, 1, (i / 250) as u8, (i % 250) as u8]);
            assert_eq!(t.record_failure(source, 1_000), None, "{i}");
        }
        assert_eq!(t.record_failure(ip(200), 1_000), Some(60));
        assert_eq!(
            t.record_failure(ip(201), 1_000 + MINUTE_MS),
            None,
            "a minute later"
        );
    }

    #[test]
    fn the_map_is_hard_capped() {
        let t = LoginThrottle::default();
        for i in 0..(MAX_TRACKED + 50) as u32 {
            let source = IpAddr::from(i.wrapping_add(0x0b00_0000).to_be_bytes());
            t.record_failure(source, i64::from(i) * MINUTE_MS);
        }
        assert!(t.tracked() <= MAX_TRACKED);
    }
}
