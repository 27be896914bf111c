//! Slows down repeated failed admin logins from one address (exponential lock-out).
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;

/// Failures allowed before the address is locked out.
pub const FREE_FAILURES: u32 = 5;
const FIRST_LOCKOUT_MS: i64 = 30_000;
const MAX_LOCKOUT_MS: i64 = 15 * 60_000;
/// A quiet address starts again from zero after this long.
const FORGET_AFTER_MS: i64 = 15 * 60_000;
const MAX_TRACKED: usize = 10_000;

#[derive(Debug, Clone, Copy)]
struct Entry {
    failures: u32,
    last_failure_ms: i64,
    blocked_until_ms: i64,
}

#[derive(Debug, Default)]
pub struct LoginThrottle {
    entries: Mutex<HashMap<IpAddr, Entry>>,
}

impl LoginThrottle {
    /// `Err(retry_after_secs)` while the address is locked out.
    pub fn check(&self, ip: IpAddr, now_ms: i64) -> Result<(), u64> {
        let entries = self.entries.lock().expect("throttle lock");
        match entries.get(&ip) {
            Some(e) if e.blocked_until_ms > now_ms => {
                Err(((e.blocked_until_ms - now_ms + 999) / 1000) as u64)
            }
            _ => Ok(()),
        }
    }

    pub fn record_failure(&self, ip: IpAddr, now_ms: i64) {
        let mut entries = self.entries.lock().expect("throttle lock");
        if entries.len() >= MAX_TRACKED {
            entries.retain(|_, e| {
                now_ms - e.last_failure_ms < FORGET_AFTER_MS || e.blocked_until_ms > now_ms
            });
        }
        let entry = entries.entry(ip).or_insert(Entry {
            failures: 0,
            last_failure_ms: now_ms,
            blocked_until_ms: 0,
        });
        if now_ms - entry.last_failure_ms >= FORGET_AFTER_MS && entry.blocked_until_ms <= now_ms {
            entry.failures = 0;
        }
        entry.failures += 1;
        entry.last_failure_ms = now_ms;
        if entry.failures >= FREE_FAILURES {
            let doublings = (entry.failures - FREE_FAILURES).min(10);
            let lockout = (FIRST_LOCKOUT_MS << doublings).min(MAX_LOCKOUT_MS);
            entry.blocked_until_ms = now_ms + lockout;
        }
    }

    pub fn record_success(&self, ip: IpAddr) {
        self.entries.lock().expect("throttle lock").remove(&ip);
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
            t.record_failure(ip(1), i as i64);
            assert!(t.check(ip(1), i as i64).is_ok());
        }
        t.record_failure(ip(1), 10);
        assert_eq!(t.check(ip(1), 10), Err(30));
        assert!(t.check(ip(2), 10).is_ok(), "other addresses are unaffected");
        assert!(t.check(ip(1), 10 + FIRST_LOCKOUT_MS).is_ok());
        t.record_failure(ip(1), 10 + FIRST_LOCKOUT_MS);
        assert_eq!(t.check(ip(1), 10 + FIRST_LOCKOUT_MS), Err(60));
    }

    #[test]
    fn success_and_quiet_time_reset() {
        let t = LoginThrottle::default();
        for i in 0..FREE_FAILURES {
            t.record_failure(ip(1), i as i64);
        }
        t.record_success(ip(1));
        assert!(t.check(ip(1), 5).is_ok());
        for i in 0..FREE_FAILURES - 1 {
            t.record_failure(ip(3), i as i64);
        }
        t.record_failure(ip(3), FORGET_AFTER_MS + 100);
        assert!(
            t.check(ip(3), FORGET_AFTER_MS + 100).is_ok(),
            "old failures are forgotten"
        );
    }
}
