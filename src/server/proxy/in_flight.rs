//! The requests this instance has sent upstream and not finished answering, for the live view.
//!
//! Always on, so it must cost a request next to nothing: entering is one uncontended lock and a
//! slot reused from a free list (the strings are copied inline), leaving is the same lock and a push; no allocation once the slabs have grown to the
//! busiest moment so far. A serving thread keeps to one shard (each runs its own runtime, and a
//! body is polled on the thread that made it), so the locks are contended only by a snapshot.
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;

use parking_lot::Mutex;

const SHARDS: usize = 16;
/// Listed requests per shard at most (65,536 in all); past that a request still runs, unlisted.
const SHARD_CAPACITY: usize = 4_096;

/// A short string kept inline, cut at a character boundary: entering copies, never allocates.
#[derive(Clone, Copy)]
pub(crate) struct InlineStr<const N: usize> {
    len: u8,
    buf: [u8; N],
}

impl<const N: usize> InlineStr<N> {
    pub(crate) fn new(s: &str) -> Self {
        let mut end = s.len().min(N).min(u8::MAX as usize);
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        let mut buf = [0; N];
        buf[..end].copy_from_slice(&s.as_bytes()[..end]);
        Self {
            len: end as u8,
            buf,
        }
    }

    pub(crate) fn as_str(&self) -> &str {
        // Copied from a `&str` and cut at a character boundary.
        std::str::from_utf8(&self.buf[..self.len as usize]).unwrap_or_default()
    }
}

/// One listed request.
#[derive(Clone)]
pub(crate) struct Entry {
    pub request_id: InlineStr<64>,
    pub key_id: InlineStr<64>,
    pub upstream_id: InlineStr<64>,
    pub upstream_name: InlineStr<96>,
    pub model: InlineStr<128>,
    pub is_stream: bool,
    /// Wall-clock milliseconds when it was sent upstream.
    pub started_ms: i64,
    pub bytes_out: u64,
}

#[derive(Default)]
struct Shard {
    slots: Vec<Option<Entry>>,
    free: Vec<u32>,
}

#[derive(Default)]
pub(crate) struct InFlightBook {
    shards: [Mutex<Shard>; SHARDS],
    /// Requests that found their shard full and went unlisted.
    unlisted: AtomicU64,
}

/// The shard of the calling thread, dealt round-robin on its first request.
fn my_shard() -> usize {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    thread_local! {
        static SHARD: usize = NEXT.fetch_add(1, Ordering::Relaxed) % SHARDS;
    }
    SHARD.with(|s| *s)
}

impl InFlightBook {
    /// Lists a request until the returned guard is dropped.
    pub(crate) fn enter(self: &Arc<Self>, entry: Entry) -> Option<Flight> {
        let shard = my_shard();
        let mut s = self.shards[shard].lock();
        let slot = match s.free.pop() {
            Some(i) => {
                s.slots[i as usize] = Some(entry);
                i
            }
            None if s.slots.len() < SHARD_CAPACITY => {
                s.slots.push(Some(entry));
                (s.slots.len() - 1) as u32
            }
            None => {
                drop(s);
                let n = self.unlisted.fetch_add(1, Ordering::Relaxed) + 1;
                if n.is_power_of_two() {
                    tracing::warn!(
                        unlisted = n,
                        "live view: in-flight list full; requests unlisted"
                    );
                }
                return None;
            }
        };
        Some(Flight {
            book: Arc::clone(self),
            shard: shard as u8,
            slot,
        })
    }

    /// Every listed request, oldest first.
    pub(crate) fn snapshot(&self) -> Vec<Entry> {
        let mut all = Vec::new();
        for shard in &self.shards {
            all.extend(shard.lock().slots.iter().flatten().cloned());
        }
        all.sort_by_key(|e| e.started_ms);
        all
    }

    #[cfg(test)]
    fn unlisted(&self) -> u64 {
        self.unlisted.load(Ordering::Relaxed)
    }
}

/// A listed request: counts the bytes forwarded, and leaves the list when dropped.
#[must_use = "the request is listed only while the guard is alive"]
pub(crate) struct Flight {
    book: Arc<InFlightBook>,
    shard: u8,
    slot: u32,
}

impl Flight {
    pub(crate) fn forwarded(&self, bytes: usize) {
        let mut s = self.book.shards[self.shard as usize].lock();
        if let Some(Some(e)) = s.slots.get_mut(self.slot as usize) {
            e.bytes_out += bytes as u64;
        }
    }
}

impl std::fmt::Debug for Flight {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Flight")
            .field("shard", &self.shard)
            .field("slot", &self.slot)
            .finish()
    }
}

impl Drop for Flight {
    fn drop(&mut self) {
        let mut s = self.book.shards[self.shard as usize].lock();
        if let Some(slot) = s.slots.get_mut(self.slot as usize) {
            *slot = None;
            s.free.push(self.slot);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(id: &str, started_ms: i64) -> Entry {
        Entry {
            request_id: InlineStr::new(id),
            key_id: InlineStr::new("k1"),
            upstream_id: InlineStr::new("u1"),
            upstream_name: InlineStr::new("mock"),
            model: InlineStr::new("gpt-4o-mini"),
            is_stream: true,
            started_ms,
            bytes_out: 0,
        }
    }

    #[test]
    fn a_request_is_listed_while_its_guard_lives_and_slots_are_reused() {
        let book = Arc::new(InFlightBook::default());
        let a = book.enter(entry("a", 2)).unwrap();
        let b = book.enter(entry("b", 1)).unwrap();
        a.forwarded(10);
        a.forwarded(5);
        let listed = book.snapshot();
        let ids: Vec<&str> = listed.iter().map(|e| e.request_id.as_str()).collect();
        assert_eq!(ids, ["b", "a"], "oldest first");
        assert_eq!(listed[1].bytes_out, 15);
        drop(a);
        assert_eq!(book.snapshot().len(), 1);
        let c = book.enter(entry("c", 3)).unwrap();
        let shard = book.shards[c.shard as usize].lock();
        assert_eq!(shard.slots.len(), 2, "the freed slot was reused");
        drop(shard);
        drop((b, c));
        assert!(book.snapshot().is_empty());
    }

    #[test]
    fn a_full_shard_leaves_requests_unlisted_and_counts_them() {
        let book = Arc::new(InFlightBook::default());
        let held: Vec<Flight> = (0..SHARD_CAPACITY)
            .map(|i| book.enter(entry(&i.to_string(), 0)).unwrap())
            .collect();
        assert!(book.enter(entry("over", 0)).is_none());
        assert_eq!(book.unlisted(), 1);
        drop(held);
        assert!(book.enter(entry("again", 0)).is_some());
    }

    #[test]
    fn inline_strings_are_cut_at_a_character_boundary() {
        assert_eq!(InlineStr::<4>::new("abcdef").as_str(), "abcd");
        assert_eq!(InlineStr::<4>::new("ab\u{e9}\u{e9}").as_str(), "ab\u{e9}");
        assert_eq!(InlineStr::<8>::new("").as_str(), "");
    }
}
