//! Picks an upstream among the best priority tier, in proportion to weight.
use std::sync::Arc;

use rand::Rng;

use super::routing_table::UpstreamEntry;

/// The candidates of the lowest priority number (they arrive sorted by priority).
pub fn best_tier(candidates: &[Arc<UpstreamEntry>]) -> &[Arc<UpstreamEntry>] {
    let Some(first) = candidates.first() else {
        return candidates;
    };
    let end = candidates
        .iter()
        .position(|c| c.priority != first.priority)
        .unwrap_or(candidates.len());
    &candidates[..end]
}

/// A weighted random pick: weight 3 is chosen three times as often as weight 1.
pub fn weighted_pick<'a>(
    tier: &'a [Arc<UpstreamEntry>],
    roll: &mut impl Rng,
) -> Option<&'a Arc<UpstreamEntry>> {
    let total: u64 = tier.iter().map(|u| u.weight.max(1) as u64).sum();
    if total == 0 {
        return None;
    }
    let mut point = roll.random_range(0..total);
    for u in tier {
        let w = u.weight.max(1) as u64;
        if point < w {
            return Some(u);
        }
        point -= w;
    }
    tier.last()
}
