//! The producer side of the zcrx refill ring: how buffers go back to the kernel.
//!
//! At registration the kernel reports the ring's layout in
//! `struct io_uring_zcrx_offsets`: a `u32 head` the kernel writes, a `u32 tail`
//! the application writes (each on its own cache line) and `rq_entries` (a
//! power of two) entries of `struct io_uring_zcrx_rqe { u64 off; u32 len;
//! u32 __pad; }`. Head and tail are free-running counters; entry `i` lives in
//! slot `i & (rq_entries - 1)`; the kernel zeroes both at registration.
//!
//! A buffer goes back as an entry whose `off` is the value of its data CQE
//! (area token in bits 48.., any offset inside the buffer names it) and
//! `__pad` 0, made visible by a release store of the tail. The kernel
//! (`io_zcrx_ring_refill()`, `zcrx_parse_rq()` in io_uring/zcrx.c) loads the
//! tail with acquire, takes `min(tail - head, rq_entries)` entries, ignores
//! `len`, skips (or stops at) entries with a non-zero `__pad` or a bad area or
//! index, and stores the head with release. Each data CQE took one user
//! reference on its buffer, so each CQE is answered by exactly one entry.
//!
//! Writing more than `rq_entries` ahead of the head would overwrite entries the
//! kernel has not read and lose those buffers: this producer never does. Free
//! space is `rq_entries - (tail - head)`, the head re-read (acquire) when the
//! cached value shows no room.

use super::cqe::ZcrxOffset;

/// One refill entry (`struct io_uring_zcrx_rqe`; `__pad` is always written 0).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Rqe {
    /// Area token | byte offset of the buffer going back.
    pub off: u64,
    /// The kernel does not read it; by convention the CQE's length.
    pub len: u32,
}

impl Rqe {
    /// The entry that returns the buffer of a data CQE.
    pub fn for_cqe(buf: ZcrxOffset, len: u32) -> Self {
        Rqe { off: buf.raw(), len }
    }
}

/// Access to the ring memory shared with the kernel.
pub trait RefillRing {
    /// Number of entries (a power of two).
    fn entries(&self) -> u32;
    /// The kernel's head, loaded with acquire ordering.
    fn load_head(&self) -> u32;
    /// The tail (only the producer writes it).
    fn load_tail(&self) -> u32;
    /// Store the tail with release ordering, publishing the entries before it.
    fn store_tail(&self, tail: u32);
    /// Write the entry in `slot` (already masked, `< entries()`).
    fn write_rqe(&self, slot: u32, rqe: Rqe);
}

/// The ring had no room; the entry was not written.
#[cfg(test)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RingFull;

/// What a [`RefillProducer`] counted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RefillStats {
    /// Entries written.
    pub pushed: u64,
    /// Tail stores that moved the tail.
    pub publishes: u64,
    /// Acquire loads of the kernel's head.
    pub head_loads: u64,
    /// Times an entry could not be written because the ring was full.
    pub ring_full: u64,
    /// Head values claiming more consumed than was published (ignored; the
    /// ring is then treated as full).
    pub bad_head: u64,
}

/// Writes refill entries and publishes them in batches.
#[derive(Debug)]
pub struct RefillProducer<R: RefillRing> {
    ring: R,
    entries: u32,
    mask: u32,
    /// Next slot to write (may be ahead of `published`).
    tail: u32,
    /// Last tail stored to the ring.
    published: u32,
    /// Last head seen.
    head: u32,
    stats: RefillStats,
}

impl<R: RefillRing> RefillProducer<R> {
    /// Produce into `ring` from its current tail. None unless its size is a
    /// non-zero power of two.
    pub fn new(ring: R) -> Option<Self> {
        let entries = ring.entries();
        if !entries.is_power_of_two() {
            return None;
        }
        let tail = ring.load_tail();
        let head = ring.load_head();
        let stats = RefillStats { head_loads: 1, ..RefillStats::default() };
        Some(RefillProducer { ring, entries, mask: entries - 1, tail, published: tail, head, stats })
    }

    /// Used slots according to `head`, or None if `head` is impossible.
    fn used(&self, head: u32) -> Option<u32> {
        let used = self.tail.wrapping_sub(head);
        // The kernel cannot have consumed past what was published.
        let consumed_ok = self.published.wrapping_sub(head) <= self.entries;
        (used <= self.entries && consumed_ok).then_some(used)
    }

    fn refresh_head(&mut self) {
        self.stats.head_loads += 1;
        let head = self.ring.load_head();
        if self.used(head).is_some() {
            self.head = head;
        } else {
            self.stats.bad_head += 1;
        }
    }

    /// Free slots according to the cached head (no shared-memory access).
    pub fn cached_free(&self) -> u32 {
        self.used(self.head).map_or(0, |u| self.entries - u)
    }

    /// Free slots, the head re-read.
    pub fn free(&mut self) -> u32 {
        self.refresh_head();
        self.cached_free()
    }

    /// Published entries the kernel has not taken yet, the head re-read.
    pub fn occupancy(&mut self) -> u32 {
        self.refresh_head();
        self.published.wrapping_sub(self.head).min(self.entries)
    }

    /// Entries written but not yet published.
    pub fn unpublished(&self) -> u32 {
        self.tail.wrapping_sub(self.published)
    }

    /// Write one entry without publishing it; the head is re-read only when the
    /// cached one shows no room.
    #[cfg(test)]
    pub fn push(&mut self, rqe: Rqe) -> Result<(), RingFull> {
        if self.cached_free() == 0 {
            self.refresh_head();
            if self.cached_free() == 0 {
                self.stats.ring_full += 1;
                return Err(RingFull);
            }
        }
        self.ring.write_rqe(self.tail & self.mask, rqe);
        self.tail = self.tail.wrapping_add(1);
        self.stats.pushed += 1;
        Ok(())
    }

    /// Publish every written entry with one release store of the tail; returns
    /// how many became visible to the kernel.
    pub fn publish(&mut self) -> u32 {
        let n = self.unpublished();
        if n > 0 {
            self.ring.store_tail(self.tail);
            self.published = self.tail;
            self.stats.publishes += 1;
        }
        n
    }

    /// Write as many of `rqes` as fit, in order, and publish them with one tail
    /// store. Returns how many were taken; the rest stay with the caller (one
    /// ring-full event counted).
    pub fn refill_batch(&mut self, rqes: &[Rqe]) -> usize {
        let mut room = self.cached_free();
        if (room as usize) < rqes.len() {
            self.refresh_head();
            room = self.cached_free();
        }
        let take = rqes.len().min(room as usize);
        for rqe in &rqes[..take] {
            self.ring.write_rqe(self.tail & self.mask, *rqe);
            self.tail = self.tail.wrapping_add(1);
        }
        self.stats.pushed += take as u64;
        if take < rqes.len() {
            self.stats.ring_full += 1;
        }
        self.publish();
        take
    }

    pub fn stats(&self) -> &RefillStats {
        &self.stats
    }
}

/// A heap ring with the kernel's side included, for tests.
#[cfg(test)]
pub mod mem {
    use super::*;
    use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};

    #[derive(Debug)]
    pub struct MemRing {
        pub head: AtomicU32,
        tail: AtomicU32,
        off: Box<[AtomicU64]>,
        len: Box<[AtomicU32]>,
    }

    impl MemRing {
        /// A ring whose head and tail both start at `start` (0 after registration).
        pub fn with_start(entries: u32, start: u32) -> Self {
            let n = entries as usize;
            MemRing {
                head: AtomicU32::new(start),
                tail: AtomicU32::new(start),
                off: (0..n).map(|_| AtomicU64::new(0)).collect(),
                len: (0..n).map(|_| AtomicU32::new(0)).collect(),
            }
        }

        /// Play the kernel: take up to `max` published entries the way
        /// `zcrx_parse_rq()` does (acquire tail, `min(tail - head, entries)`,
        /// release head), passing each to `f`.
        pub fn consume(&self, max: u32, mut f: impl FnMut(Rqe)) -> u32 {
            let entries = self.off.len() as u32;
            let tail = self.tail.load(Ordering::Acquire);
            let head = self.head.load(Ordering::Relaxed);
            let n = tail.wrapping_sub(head).min(entries).min(max);
            let mask = entries.wrapping_sub(1);
            for i in 0..n {
                let slot = (head.wrapping_add(i) & mask) as usize;
                f(Rqe { off: self.off[slot].load(Ordering::Relaxed), len: self.len[slot].load(Ordering::Relaxed) });
            }
            self.head.store(head.wrapping_add(n), Ordering::Release);
            n
        }

        pub fn pending(&self) -> u32 {
            self.tail.load(Ordering::Acquire).wrapping_sub(self.head.load(Ordering::Acquire))
        }
    }

    impl RefillRing for &MemRing {
        fn entries(&self) -> u32 {
            self.off.len() as u32
        }
        fn load_head(&self) -> u32 {
            self.head.load(Ordering::Acquire)
        }
        fn load_tail(&self) -> u32 {
            self.tail.load(Ordering::Relaxed)
        }
        fn store_tail(&self, tail: u32) {
            self.tail.store(tail, Ordering::Release)
        }
        fn write_rqe(&self, slot: u32, rqe: Rqe) {
            self.off[slot as usize].store(rqe.off, Ordering::Relaxed);
            self.len[slot as usize].store(rqe.len, Ordering::Relaxed);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::mem::MemRing;
    use super::*;
    use std::sync::atomic::Ordering;

    fn rqe(n: u64) -> Rqe {
        Rqe { off: n, len: 1 }
    }

    #[test]
    fn rejects_bad_sizes() {
        assert!(RefillProducer::new(&MemRing::with_start(0, 0)).is_none());
        assert!(RefillProducer::new(&MemRing::with_start(12, 0)).is_none());
    }

    #[test]
    fn never_overruns_and_counts_full() {
        let ring = MemRing::with_start(4, 0);
        let mut p = RefillProducer::new(&ring).unwrap();
        for i in 0..4 {
            p.push(rqe(i)).unwrap();
        }
        assert_eq!(p.push(rqe(9)), Err(RingFull));
        assert_eq!(ring.pending(), 0, "nothing published yet");
        assert_eq!(p.publish(), 4);
        assert_eq!(p.occupancy(), 4);
        assert_eq!(p.push(rqe(9)), Err(RingFull));
        let mut got = Vec::new();
        assert_eq!(ring.consume(3, |r| got.push(r.off)), 3);
        assert_eq!(got, vec![0, 1, 2]);
        assert_eq!(p.occupancy(), 1);
        assert_eq!(p.refill_batch(&[rqe(4), rqe(5), rqe(6), rqe(7)]), 3);
        assert_eq!(p.stats().ring_full, 3);
        got.clear();
        ring.consume(10, |r| got.push(r.off));
        assert_eq!(got, vec![3, 4, 5, 6]);
    }

    #[test]
    fn publish_is_batched() {
        let ring = MemRing::with_start(8, 0);
        let mut p = RefillProducer::new(&ring).unwrap();
        assert_eq!(p.refill_batch(&[rqe(1), rqe(2), rqe(3)]), 3);
        assert_eq!(p.stats().publishes, 1);
        assert_eq!(p.publish(), 0);
        assert_eq!(p.stats().publishes, 1);
        assert_eq!(ring.pending(), 3);
    }

    #[test]
    fn wraps_around_u32() {
        let ring = MemRing::with_start(4, u32::MAX - 2);
        let mut p = RefillProducer::new(&ring).unwrap();
        let mut seen = Vec::new();
        for i in 0..40u64 {
            if p.push(rqe(i)).is_err() {
                p.publish();
                ring.consume(u32::MAX, |r| seen.push(r.off));
                p.push(rqe(i)).unwrap();
            }
        }
        p.publish();
        ring.consume(u32::MAX, |r| seen.push(r.off));
        assert_eq!(seen, (0..40).collect::<Vec<_>>());
    }

    #[test]
    fn bogus_head_is_not_trusted() {
        let ring = MemRing::with_start(8, 0);
        let mut p = RefillProducer::new(&ring).unwrap();
        p.refill_batch(&[rqe(1), rqe(2)]);
        ring.head.store(1000, Ordering::Release);
        assert_eq!(p.free(), 6);
        assert_eq!(p.stats().bad_head, 1);
    }

    #[test]
    fn rqe_from_cqe_keeps_the_area_token() {
        let buf = ZcrxOffset::from_parts(1 << 48, 3 * 4096 + 100).unwrap();
        let r = Rqe::for_cqe(buf, 1448);
        assert_eq!(r.off >> 48, 1);
        assert_eq!(r.off & 0xffff_ffff_ffff, 3 * 4096 + 100);
    }

    #[test]
    fn a_concurrent_consumer_sees_every_entry_once_in_order() {
        const N: u64 = 200_000;
        let ring = MemRing::with_start(64, 0);
        std::thread::scope(|s| {
            let consumer = s.spawn(|| {
                let mut next = 0u64;
                while next < N {
                    ring.consume(17, |r| {
                        assert_eq!(r.off, next);
                        assert_eq!(r.len, (next % 1000) as u32);
                        next += 1;
                    });
                    std::hint::spin_loop();
                }
                next
            });
            let mut p = RefillProducer::new(&ring).unwrap();
            let mut i = 0u64;
            let mut batch = Vec::with_capacity(32);
            while i < N {
                batch.clear();
                let n = ((i % 29) + 1).min(N - i);
                batch.extend((i..i + n).map(|k| Rqe { off: k, len: (k % 1000) as u32 }));
                let mut done = 0;
                while done < batch.len() {
                    done += p.refill_batch(&batch[done..]);
                    if done < batch.len() {
                        std::thread::yield_now();
                    }
                }
                i += n;
            }
            assert_eq!(consumer.join().unwrap(), N);
            assert_eq!(p.stats().pushed, N);
        });
    }

    mod prop {
        use super::*;
        use proptest::prelude::*;
        use std::collections::{BTreeMap, BTreeSet};

        const BUF: u64 = 4096;

        #[derive(Debug, Clone)]
        enum Op {
            /// The kernel hands up to n free buffers to the user (data CQEs).
            Deliver(u8),
            /// The user returns up to n held buffers with one refill_batch.
            ReturnBatch(u8),
            /// The user pushes one buffer without publishing.
            PushOne,
            Publish,
            /// The kernel takes up to n entries.
            Consume(u8),
        }

        fn op() -> impl Strategy<Value = Op> {
            prop_oneof![
                (0u8..40).prop_map(Op::Deliver),
                (0u8..40).prop_map(Op::ReturnBatch),
                Just(Op::PushOne),
                Just(Op::Publish),
                (0u8..40).prop_map(Op::Consume),
            ]
        }

        type Key = (u64, u64);

        /// The simulated kernel takes an entry back: it must name a buffer that
        /// was returned and not yet taken.
        fn take_back(r: Rqe, in_ring: &mut BTreeMap<Key, u32>, free: &mut BTreeSet<Key>) {
            let o = ZcrxOffset::from_raw(r.off);
            let key = (u64::from(o.area_index()), o.offset_in_area() / BUF);
            let n = in_ring.get_mut(&key).expect("the kernel got a buffer that was not returned");
            *n -= 1;
            if *n == 0 {
                in_ring.remove(&key);
            }
            assert!(free.insert(key), "buffer {key:?} returned twice");
        }

        proptest! {
            #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

            /// Wrap-around, a full ring, batched publishes, offsets carrying the
            /// area token: no buffer is lost or returned twice, and the ring never
            /// holds more than it has room for.
            #[test]
            fn no_buffer_lost_or_returned_twice(
                log2_entries in 0u32..7,
                areas in 1u64..4,
                bufs_per_area in 1u64..40,
                start in prop_oneof![Just(0u32), Just(u32::MAX - 5), any::<u32>()],
                ops in proptest::collection::vec(op(), 1..300),
                sub in any::<u16>(),
            ) {
                let entries = 1u32 << log2_entries;
                let ring = MemRing::with_start(entries, start);
                let mut p = RefillProducer::new(&ring).unwrap();
                let mut free: BTreeSet<Key> = (0..areas).flat_map(|a| (0..bufs_per_area).map(move |i| (a, i))).collect();
                let total = free.len();
                let mut held: Vec<(Key, ZcrxOffset)> = Vec::new();
                let mut in_ring: BTreeMap<Key, u32> = BTreeMap::new();
                let mut sub = u64::from(sub);
                for op in ops {
                    match op {
                        Op::Deliver(n) => {
                            for _ in 0..n {
                                let Some(&key) = free.iter().next() else { break };
                                free.remove(&key);
                                sub = sub.wrapping_mul(6364136223846793005).wrapping_add(1);
                                let off = ZcrxOffset::from_parts(key.0 << 48, key.1 * BUF + sub % BUF).unwrap();
                                held.push((key, off));
                            }
                        }
                        Op::ReturnBatch(n) => {
                            let n = (n as usize).min(held.len());
                            let batch: Vec<Rqe> = held[..n].iter().map(|h| Rqe::for_cqe(h.1, 1)).collect();
                            let took = p.refill_batch(&batch);
                            for h in held.drain(..took) {
                                *in_ring.entry(h.0).or_default() += 1;
                            }
                            prop_assert_eq!(p.unpublished(), 0);
                        }
                        Op::PushOne => {
                            if let Some(h) = held.first().copied()
                                && p.push(Rqe::for_cqe(h.1, 1)).is_ok()
                            {
                                held.remove(0);
                                *in_ring.entry(h.0).or_default() += 1;
                            }
                        }
                        Op::Publish => {
                            p.publish();
                        }
                        Op::Consume(n) => {
                            ring.consume(u32::from(n), |r| take_back(r, &mut in_ring, &mut free));
                        }
                    }
                    let in_flight = ring.pending();
                    prop_assert!(in_flight <= entries);
                    prop_assert!(in_flight + p.unpublished() <= entries);
                    let ringed: u32 = in_ring.values().sum();
                    prop_assert_eq!(ringed, in_flight + p.unpublished());
                    prop_assert_eq!(free.len() + held.len() + ringed as usize, total);
                }
                // Drain: publish, return everything, let the kernel take it all.
                loop {
                    p.publish();
                    ring.consume(u32::MAX, |r| take_back(r, &mut in_ring, &mut free));
                    if held.is_empty() {
                        break;
                    }
                    let batch: Vec<Rqe> = held.iter().map(|h| Rqe::for_cqe(h.1, 1)).collect();
                    let took = p.refill_batch(&batch);
                    prop_assert!(took > 0);
                    for h in held.drain(..took) {
                        *in_ring.entry(h.0).or_default() += 1;
                    }
                }
                ring.consume(u32::MAX, |r| take_back(r, &mut in_ring, &mut free));
                prop_assert!(in_ring.is_empty());
                prop_assert_eq!(free.len(), total);
            }
        }
    }
}
