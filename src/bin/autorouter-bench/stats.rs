//! Percentiles over measured durations.
use std::time::Duration;

use serde::Serialize;

#[derive(Debug, Clone, Copy, Serialize)]
pub struct Summary {
    pub samples: usize,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub p999_ms: f64,
    pub max_ms: f64,
    pub mean_ms: f64,
}

/// Nearest-rank percentile of sorted samples.
fn rank(sorted: &[Duration], p: f64) -> Duration {
    let n = sorted.len();
    let i = ((p * n as f64).ceil() as usize).clamp(1, n) - 1;
    sorted[i]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

pub fn summarize(mut samples: Vec<Duration>) -> Summary {
    assert!(!samples.is_empty(), "no samples");
    samples.sort();
    let total: Duration = samples.iter().sum();
    Summary {
        samples: samples.len(),
        p50_ms: ms(rank(&samples, 0.50)),
        p99_ms: ms(rank(&samples, 0.99)),
        p999_ms: ms(rank(&samples, 0.999)),
        max_ms: ms(*samples.last().unwrap()),
        mean_ms: ms(total) / samples.len() as f64,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank() {
        let s: Vec<Duration> = (1..=1000).map(Duration::from_millis).collect();
        let sum = summarize(s);
        assert_eq!(sum.p50_ms, 500.0);
        assert_eq!(sum.p99_ms, 990.0);
        assert_eq!(sum.p999_ms, 999.0);
        assert_eq!(sum.max_ms, 1000.0);
    }
}
