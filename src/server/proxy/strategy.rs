//! Orders an upstream's candidates into attempts: priority tier first, health second, strategy last.

use crate::server::fast_map::FastMap;
use parking_lot::{Mutex, RwLock};
use std::collections::HashMap;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

pub(crate) use crate::model::settings::Strategy;

/// One upstream that may serve the request, as the caller sees it right now.
#[derive(Debug, Clone)]
pub(crate) struct Candidate {
    /// Upstream id; balancing state is keyed by it.
    pub id: String,
    /// Lower is tried first.
    pub priority: i64,
    /// 1..=100; 0 is treated as 1 so a misconfiguration cannot starve an upstream.
    pub weight: u32,
    /// From health checks; unhealthy candidates are tried last within their tier.
    pub healthy: bool,
    /// The circuit breaker admits it (closed or half-open); otherwise it is never tried.
    pub available: bool,
}

impl Candidate {
    fn weight(&self) -> i64 {
        i64::from(self.weight.max(1))
    }
}

/// Bounds memory if candidate sets churn (e.g. ids generated per test run or per deploy);
/// losing the state only restarts rotations, it never breaks ordering.
const MAX_GROUPS: usize = 4096;

/// Least-connections snapshots fit on the stack up to this many candidates per group.
const STACK_SCRATCH: usize = 64;

/// Rotation state for one exact set of candidate ids.
///
/// Keyed by the set rather than by upstream alone: an upstream shared by two sets (two models,
/// or a set that changes with health) would otherwise have its smooth-weighted counters pushed
/// by both, skewing each set's ratio.
#[derive(Debug)]
struct GroupState {
    /// Sorted by id; checked on every lookup so a hash collision resets instead of mixing sets.
    ids: Box<[String]>,
    cursor: u64,
    /// SWRR current weights, aligned with `ids`.
    current: Box<[i64]>,
}

impl GroupState {
    fn new(group: &[usize], candidates: &[Candidate]) -> Self {
        GroupState {
            ids: group.iter().map(|&i| candidates[i].id.clone()).collect(),
            cursor: 0,
            current: vec![0; group.len()].into_boxed_slice(),
        }
    }

    fn matches(&self, group: &[usize], candidates: &[Candidate]) -> bool {
        self.ids.len() == group.len()
            && self
                .ids
                .iter()
                .zip(group)
                .all(|(id, &i)| *id == candidates[i].id)
    }
}

/// Shared, per-process balancing state; cheap to call from many tasks at once.
#[derive(Debug, Default)]
pub(crate) struct Balancer {
    groups: Mutex<HashMap<u64, GroupState>>,
    // Counters live outside the lock so guards can drop from any task without contention.
    in_flight: RwLock<FastMap<String, Arc<AtomicU64>>>,
}

/// Counts a request as in flight on one upstream until dropped.
#[derive(Debug)]
#[must_use = "the request counts as in flight only while the guard is alive"]
pub(crate) struct InFlight {
    // Owning the counter (not borrowing the balancer) lets the guard move into spawned tasks,
    // and keeps decrements correct even after `forget` replaced the map entry.
    counter: Arc<AtomicU64>,
    /// Its place in the live view's list (`in_flight.rs`), when it has one.
    listed: Option<super::in_flight::Flight>,
}

impl InFlight {
    /// Lists the request in the live view too, for as long as it is counted here.
    pub(crate) fn listed(mut self, flight: Option<super::in_flight::Flight>) -> Self {
        self.listed = flight;
        self
    }

    /// Bytes of the answer forwarded to the client, for the live view.
    pub(crate) fn forwarded(&self, bytes: usize) {
        if let Some(flight) = &self.listed {
            flight.forwarded(bytes);
        }
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.counter.fetch_sub(1, Ordering::Relaxed);
    }
}

impl Balancer {
    pub(crate) fn new() -> Self {
        Self::default()
    }

    /// Indices into `candidates` in attempt order.
    ///
    /// Priority dominates: every admitted candidate of a better tier comes before any of a worse
    /// one. Within a tier, healthy candidates come before unhealthy ones (which are kept as a
    /// last resort), and the strategy orders each of those two groups. Candidates the breaker
    /// does not admit are left out.
    pub(crate) fn order(&self, strategy: Strategy, candidates: &[Candidate]) -> Vec<usize> {
        let mut order = Vec::with_capacity(candidates.len());
        order.extend((0..candidates.len()).filter(|&i| candidates[i].available));
        // The index tie-break makes the key total, so the unstable (allocation-free) sort is
        // deterministic.
        order.sort_unstable_by_key(|&i| (candidates[i].priority, !candidates[i].healthy, i));
        for group in order.chunk_by_mut(|&a, &b| {
            candidates[a].priority == candidates[b].priority
                && candidates[a].healthy == candidates[b].healthy
        }) {
            if group.len() < 2 {
                continue;
            }
            match strategy {
                Strategy::RoundRobin => self.round_robin(group, candidates),
                Strategy::Weighted => self.weighted(group, candidates),
                Strategy::LeastConnections => self.least_connections(group, candidates),
            }
        }
        order
    }

    /// Marks a request as started on `id`; the returned guard ends it, even on cancel or panic.
    pub(crate) fn start(&self, id: &str) -> InFlight {
        let existing = self.in_flight.read().get(id).cloned();
        let counter = existing.unwrap_or_else(|| {
            Arc::clone(self.in_flight.write().entry(id.to_owned()).or_default())
        });
        counter.fetch_add(1, Ordering::Relaxed);
        InFlight {
            counter,
            listed: None,
        }
    }

    /// Requests in flight on `id` now (the metrics' gauge, and the tests).
    pub(crate) fn in_flight(&self, id: &str) -> u64 {
        self.in_flight
            .read()
            .get(id)
            .map_or(0, |counter| counter.load(Ordering::Relaxed))
    }

    /// Drops all state of a deleted upstream. Guards still alive keep decrementing their own
    /// (now detached) counter, so a re-created upstream with the same id starts from zero.
    pub(crate) fn forget(&self, id: &str) {
        self.groups
            .lock()
            .retain(|_, state| !state.ids.iter().any(|known| known == id));
        self.in_flight.write().remove(id);
    }

    fn round_robin(&self, group: &mut [usize], candidates: &[Candidate]) {
        sort_by_id(group, candidates);
        let key = group_key(group, candidates);
        let turn = {
            let mut groups = self.groups.lock();
            let state = group_state(&mut groups, key, group, candidates);
            let turn = state.cursor;
            state.cursor = state.cursor.wrapping_add(1);
            turn
        };
        // Rotating (rather than only moving the pick to the front) keeps failover spread too.
        group.rotate_left((turn % group.len() as u64) as usize);
    }

    fn weighted(&self, group: &mut [usize], candidates: &[Candidate]) {
        // Id order makes SWRR ties (strict `>` keeps the earlier one, as nginx does) independent
        // of how the caller happened to order the slice.
        sort_by_id(group, candidates);
        let key = group_key(group, candidates);
        let total: i64 = group.iter().map(|&i| candidates[i].weight()).sum();
        let best = {
            let mut groups = self.groups.lock();
            let current = &mut group_state(&mut groups, key, group, candidates).current;
            let mut best = 0;
            for (pos, &i) in group.iter().enumerate() {
                current[pos] += candidates[i].weight();
                if current[pos] > current[best] {
                    best = pos;
                }
            }
            current[best] -= total;
            best
        };
        group.swap(0, best);
        group[1..].sort_unstable_by(|&a, &b| {
            candidates[b]
                .weight
                .cmp(&candidates[a].weight)
                .then_with(|| candidates[a].id.cmp(&candidates[b].id))
                .then(a.cmp(&b))
        });
    }

    fn least_connections(&self, group: &mut [usize], candidates: &[Candidate]) {
        // Counts change under our feet; sorting on live reads could give an inconsistent
        // comparator (which `sort` may panic on), so sort a one-read-each snapshot instead.
        let mut stack = [(0u64, 0usize); STACK_SCRATCH];
        let mut heap = Vec::new();
        let snapshot: &mut [(u64, usize)] = if group.len() <= STACK_SCRATCH {
            &mut stack[..group.len()]
        } else {
            heap.resize(group.len(), (0, 0));
            &mut heap
        };
        {
            let counters = self.in_flight.read();
            for (slot, &i) in snapshot.iter_mut().zip(group.iter()) {
                let busy = counters
                    .get(&candidates[i].id)
                    .map_or(0, |counter| counter.load(Ordering::Relaxed));
                *slot = (busy, i);
            }
        }
        snapshot.sort_unstable_by(|&(busy_a, a), &(busy_b, b)| {
            busy_a
                .cmp(&busy_b)
                .then_with(|| candidates[b].weight.cmp(&candidates[a].weight))
                .then_with(|| candidates[a].id.cmp(&candidates[b].id))
                .then(a.cmp(&b))
        });
        for (slot, &(_, i)) in group.iter_mut().zip(snapshot.iter()) {
            *slot = i;
        }
    }
}

fn sort_by_id(group: &mut [usize], candidates: &[Candidate]) {
    group.sort_unstable_by(|&a, &b| candidates[a].id.cmp(&candidates[b].id).then(a.cmp(&b)));
}

/// Hashes the id-sorted group so the same set maps to the same state whatever the caller's order.
fn group_key(group: &[usize], candidates: &[Candidate]) -> u64 {
    let mut hasher = DefaultHasher::new();
    for &i in group {
        candidates[i].id.hash(&mut hasher);
    }
    hasher.finish()
}

fn group_state<'a>(
    groups: &'a mut HashMap<u64, GroupState>,
    key: u64,
    group: &[usize],
    candidates: &[Candidate],
) -> &'a mut GroupState {
    if groups.len() >= MAX_GROUPS && !groups.contains_key(&key) {
        groups.clear();
    }
    let state = groups
        .entry(key)
        .or_insert_with(|| GroupState::new(group, candidates));
    if !state.matches(group, candidates) {
        *state = GroupState::new(group, candidates);
    }
    state
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cand(id: &str, priority: i64, weight: u32, healthy: bool, available: bool) -> Candidate {
        Candidate {
            id: id.to_owned(),
            priority,
            weight,
            healthy,
            available,
        }
    }

    fn up(id: &str, weight: u32) -> Candidate {
        cand(id, 0, weight, true, true)
    }

    fn ids(candidates: &[Candidate], order: &[usize]) -> Vec<String> {
        order.iter().map(|&i| candidates[i].id.clone()).collect()
    }

    fn first_ids(b: &Balancer, strategy: Strategy, candidates: &[Candidate], n: usize) -> String {
        (0..n)
            .map(|_| candidates[b.order(strategy, candidates)[0]].id.as_str())
            .collect()
    }

    #[test]
    fn strategy_names_round_trip() {
        for &strategy in Strategy::ALL {
            assert_eq!(strategy.as_str().parse::<Strategy>(), Ok(strategy));
            assert_eq!(strategy.to_string(), strategy.as_str());
        }
        assert_eq!(Strategy::default(), Strategy::Weighted);
        let err = "random".parse::<Strategy>().unwrap_err().to_string();
        for name in ["round_robin", "weighted", "least_connections", "random"] {
            assert!(err.contains(name), "{err}");
        }
        assert!("Weighted".parse::<Strategy>().is_err());
    }

    #[test]
    fn weighted_one_to_three_is_smooth_and_exact() {
        let b = Balancer::new();
        let c = [up("a", 1), up("b", 3)];
        assert_eq!(first_ids(&b, Strategy::Weighted, &c, 8), "babbbabb");

        let b = Balancer::new();
        let mut counts = [0u32; 2];
        for _ in 0..10_000 {
            counts[b.order(Strategy::Weighted, &c)[0]] += 1;
        }
        assert_eq!(counts, [2_500, 7_500]);
    }

    #[test]
    fn weighted_matches_nginx_reference_sequence() {
        let b = Balancer::new();
        let c = [up("a", 5), up("b", 1), up("c", 1)];
        assert_eq!(first_ids(&b, Strategy::Weighted, &c, 14), "aabacaaaabacaa");
    }

    #[test]
    fn weighted_ignores_caller_order_and_ranks_the_rest_by_weight() {
        let b = Balancer::new();
        let c = [up("d", 2), up("a", 1), up("c", 5), up("b", 2)];
        assert_eq!(
            ids(&c, &b.order(Strategy::Weighted, &c)),
            ["c", "b", "d", "a"]
        );

        let forward = [up("a", 1), up("b", 3)];
        let backward = [up("b", 3), up("a", 1)];
        let b = Balancer::new();
        let picks: String = (0..4)
            .map(|n| {
                let c = if n % 2 == 0 { &forward } else { &backward };
                c[b.order(Strategy::Weighted, c)[0]].id.clone()
            })
            .collect();
        assert_eq!(picks, "babb");
    }

    #[test]
    fn weighted_sets_sharing_an_upstream_keep_their_own_ratio() {
        let b = Balancer::new();
        let x = [up("a", 1), up("b", 3)];
        let y = [up("b", 3), up("c", 1)];
        let mut a_first = 0;
        for _ in 0..4_000 {
            a_first += usize::from(x[b.order(Strategy::Weighted, &x)[0]].id == "a");
            b.order(Strategy::Weighted, &y);
        }
        assert_eq!(a_first, 1_000);
    }

    #[test]
    fn weight_zero_counts_as_one() {
        let b = Balancer::new();
        let c = [up("a", 0), up("b", 1)];
        assert_eq!(first_ids(&b, Strategy::Weighted, &c, 4), "abab");
    }

    #[test]
    fn round_robin_cycles_and_rotates_failover() {
        let b = Balancer::new();
        let c = [up("a", 1), up("b", 1), up("c", 1)];
        assert_eq!(first_ids(&b, Strategy::RoundRobin, &c, 6), "abcabc");
        assert_eq!(ids(&c, &b.order(Strategy::RoundRobin, &c)), ["a", "b", "c"]);
        assert_eq!(ids(&c, &b.order(Strategy::RoundRobin, &c)), ["b", "c", "a"]);

        let shuffled = [up("c", 1), up("a", 1), up("b", 1)];
        assert_eq!(first_ids(&b, Strategy::RoundRobin, &shuffled, 3), "cab");
    }

    #[test]
    fn least_connections_prefers_idle_then_weight_then_id() {
        let b = Balancer::new();
        let c = [up("a", 5), up("b", 1), up("c", 1), up("d", 1)];
        let _busy_a = b.start("a");
        let _busy_d = [b.start("d"), b.start("d")];
        assert_eq!(
            ids(&c, &b.order(Strategy::LeastConnections, &c)),
            ["b", "c", "a", "d"]
        );

        let c = [up("x", 1), up("y", 3)];
        assert_eq!(
            ids(&c, &b.order(Strategy::LeastConnections, &c)),
            ["y", "x"]
        );
        let _busy_y = b.start("y");
        assert_eq!(
            ids(&c, &b.order(Strategy::LeastConnections, &c)),
            ["x", "y"]
        );
    }

    #[test]
    fn least_connections_handles_groups_beyond_the_stack_snapshot() {
        let b = Balancer::new();
        let c: Vec<Candidate> = (0..STACK_SCRATCH + 6)
            .map(|n| up(&format!("u{n:03}"), 1))
            .collect();
        let _busy: Vec<InFlight> = c.iter().skip(1).map(|u| b.start(&u.id)).collect();
        let order = b.order(Strategy::LeastConnections, &c);
        assert_eq!(order.len(), c.len());
        assert_eq!(order[0], 0);
    }

    #[test]
    fn in_flight_guard_decrements_on_drop_and_panic() {
        let b = Balancer::new();
        assert_eq!(b.in_flight("a"), 0);
        let first = b.start("a");
        let second = b.start("a");
        assert_eq!(b.in_flight("a"), 2);
        drop(first);
        assert_eq!(b.in_flight("a"), 1);
        drop(second);
        assert_eq!(b.in_flight("a"), 0);

        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            let _guard = b.start("a");
            assert_eq!(b.in_flight("a"), 1);
            panic!("request handler blew up");
        }));
        assert!(result.is_err());
        assert_eq!(b.in_flight("a"), 0);
    }

    #[test]
    fn priority_dominates_and_health_orders_within_a_tier() {
        let b = Balancer::new();
        let c = [
            cand("t1-sick", 1, 100, false, true),
            cand("t1-ok", 1, 100, true, true),
            cand("t0-sick", 0, 100, false, true),
            cand("t0-ok-light", 0, 1, true, true),
            cand("t0-ok-heavy", 0, 3, true, true),
        ];
        for &strategy in Strategy::ALL {
            for _ in 0..4 {
                let order = ids(&c, &b.order(strategy, &c));
                assert_eq!(order[2..], ["t0-sick", "t1-ok", "t1-sick"], "{strategy}");
                let mut tier0 = order[..2].to_vec();
                tier0.sort();
                assert_eq!(tier0, ["t0-ok-heavy", "t0-ok-light"], "{strategy}");
            }
        }
        let c = [
            cand("late", 7, 1, true, true),
            cand("early", -3, 1, false, true),
        ];
        assert_eq!(ids(&c, &b.order(Strategy::Weighted, &c)), ["early", "late"]);
    }

    #[test]
    fn unavailable_candidates_never_appear() {
        let b = Balancer::new();
        let c = [
            cand("open", 0, 100, true, false),
            cand("ok", 0, 1, true, true),
            cand("sick", 1, 1, false, true),
            cand("open-sick", 1, 1, false, false),
        ];
        for &strategy in Strategy::ALL {
            for _ in 0..3 {
                assert_eq!(ids(&c, &b.order(strategy, &c)), ["ok", "sick"]);
            }
        }
        let closed = [cand("x", 0, 1, true, false)];
        assert!(b.order(Strategy::Weighted, &closed).is_empty());
        assert!(b.order(Strategy::RoundRobin, &[]).is_empty());
    }

    #[test]
    fn forget_drops_rotation_and_counters() {
        let b = Balancer::new();
        let c = [up("a", 1), up("b", 3)];
        assert_eq!(first_ids(&b, Strategy::Weighted, &c, 1), "b");
        let guard = b.start("a");
        b.forget("a");
        assert_eq!(b.in_flight("a"), 0);
        assert_eq!(first_ids(&b, Strategy::Weighted, &c, 2), "ba");
        let _new = b.start("a");
        drop(guard);
        assert_eq!(b.in_flight("a"), 1);
    }

    #[test]
    fn balancer_is_shareable_across_threads() {
        fn assert_send_sync<T: Send + Sync>() {}
        assert_send_sync::<Balancer>();
        assert_send_sync::<InFlight>();
    }

    #[test]
    fn concurrent_weighted_orders_keep_the_ratio() {
        let b = Balancer::new();
        let c = [up("a", 1), up("b", 3)];
        let counts = std::thread::scope(|s| {
            let workers: Vec<_> = (0..8)
                .map(|_| {
                    s.spawn(|| {
                        let mut counts = [0u64; 2];
                        for _ in 0..5_000 {
                            counts[b.order(Strategy::Weighted, &c)[0]] += 1;
                        }
                        counts
                    })
                })
                .collect();
            workers.into_iter().fold([0u64; 2], |acc, w| {
                let n = w.join().unwrap();
                [acc[0] + n[0], acc[1] + n[1]]
            })
        });
        let total = (counts[0] + counts[1]) as f64;
        assert_eq!(total, 40_000.0);
        let share_a = counts[0] as f64 / total;
        assert!((share_a - 0.25).abs() <= 0.01, "{counts:?}");
        // Each pick is serialised under the lock, so SWRR stays exact even under contention.
        assert_eq!(counts, [10_000, 30_000]);
    }
}
