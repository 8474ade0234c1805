use super::*;
use std::collections::{BTreeMap, BTreeSet};

fn ok_all(calls: &mut Vec<Vec<DmabufToken>>) -> impl FnMut(&[DmabufToken]) -> io::Result<u32> + '_ {
    move |t: &[DmabufToken]| {
        calls.push(t.to_vec());
        Ok(t.iter().map(|r| r.token_count).sum())
    }
}

#[test]
fn coalesces_consecutive_and_out_of_order() {
    let mut b = TokenBatcher::new(100).unwrap();
    for t in [5, 6, 7, 1, 2, 9, 3, 8, 4] {
        b.push(t);
    }
    let mut calls = Vec::new();
    let r = b.flush(ok_all(&mut calls)).unwrap();
    assert_eq!(r, FlushReport { calls: 1, freed: 9, unknown: 0 });
    assert_eq!(calls, vec![vec![DmabufToken { token_start: 1, token_count: 9 }]]);
    assert_eq!(b.outstanding(), 0);
}

#[test]
fn honours_range_and_token_limits() {
    let mut b = TokenBatcher::new(1).unwrap();
    // 300 isolated tokens -> 128 + 128 + 44 ranges.
    for i in 0..300u32 {
        b.push(1 + 2 * i);
    }
    // One run of 2500 tokens -> split at 1024.
    for t in 10_000..12_500u32 {
        b.push(t);
    }
    let mut calls = Vec::new();
    b.flush(ok_all(&mut calls)).unwrap();
    for c in &calls {
        assert!(c.len() <= MAX_DONTNEED_TOKENS);
        assert!(c.iter().map(|r| r.token_count).sum::<u32>() <= MAX_DONTNEED_FRAGS);
    }
    let total: u32 = calls.iter().flatten().map(|r| r.token_count).sum();
    assert_eq!(total, 2800);
    assert_eq!(calls[0].len(), 128);
    // 128 ranges, 128 ranges, 44 ranges + 980 of the run, 1024, 496.
    assert_eq!(calls.len(), 5);
    assert_eq!(calls[2].len(), 45);
    assert_eq!(b.stats().max_tokens_in_call, 1024);
}

#[test]
fn flushes_at_batch_size_on_recvmsg_boundary() {
    let mut b = TokenBatcher::new(4).unwrap();
    let mut calls = Vec::new();
    b.push(1);
    b.push(2);
    assert!(b.end_recvmsg(ok_all(&mut calls)).unwrap().is_none());
    b.push(3);
    b.push(4);
    b.push(5);
    let r = b.end_recvmsg(ok_all(&mut calls)).unwrap().unwrap();
    assert_eq!(r.freed, 5);
    assert_eq!(calls.len(), 1);
    assert_eq!(b.stats().recvmsgs_with_tokens, 2);
    assert_eq!(b.stats().calls_avoided_vs_per_recvmsg(), 1);
}

#[test]
fn batch_one_is_one_call_per_recvmsg() {
    let mut b = TokenBatcher::new(1).unwrap();
    let mut calls = Vec::new();
    for m in 0..10u32 {
        for t in 0..3 {
            b.push(1 + m * 10 + t);
        }
        b.end_recvmsg(ok_all(&mut calls)).unwrap();
    }
    b.end_recvmsg(ok_all(&mut calls)).unwrap(); // no tokens: no call
    assert_eq!(calls.len(), 10);
    assert_eq!(b.stats().calls_avoided_vs_per_recvmsg(), 0);
    assert_eq!(b.stats().recvmsgs, 11);
}

#[test]
fn partial_free_resends_rest() {
    let mut b = TokenBatcher::new(1).unwrap();
    for t in 1..=10 {
        b.push(t);
    }
    let mut seen = Vec::new();
    let r = b
        .flush(|t: &[DmabufToken]| {
            seen.push(t.to_vec());
            // Free at most 4 per call, as a kernel with a lower limit would.
            Ok(t.iter().map(|r| r.token_count).sum::<u32>().min(4))
        })
        .unwrap();
    assert_eq!(r, FlushReport { calls: 3, freed: 10, unknown: 0 });
    assert_eq!(seen[1], vec![DmabufToken { token_start: 5, token_count: 6 }]);
    assert_eq!(b.stats().retries, 2);
    assert_eq!(b.stats().partial_frees, 2);
}

#[test]
fn unknown_tokens_end_retries() {
    let mut b = TokenBatcher::new(1).unwrap();
    for t in 1..=10 {
        b.push(t);
    }
    let known: BTreeSet<u32> = (1..=10).filter(|t| *t != 3).collect();
    let mut held = known.clone();
    let r = b
        .flush(|t: &[DmabufToken]| {
            let mut n = 0;
            for r in t {
                for tok in r.token_start..r.token_start + r.token_count {
                    n += u32::from(held.remove(&tok));
                }
            }
            Ok(n)
        })
        .unwrap();
    assert_eq!(r.freed, 9);
    assert_eq!(r.unknown, 1);
    assert_eq!(r.calls, 2); // one resend that freed nothing
    assert!(held.is_empty());
}

#[test]
fn error_keeps_unsent_tokens() {
    let mut b = TokenBatcher::with_limits(1, Limits { max_ranges: 2, max_tokens: 1024 }).unwrap();
    for t in [1, 3, 5, 7, 9] {
        b.push(t);
    }
    let mut n = 0;
    let e = b.flush(|t: &[DmabufToken]| {
        n += 1;
        if n == 2 { Err(io::Error::from_raw_os_error(14)) } else { Ok(t.len() as u32) }
    });
    assert!(e.is_err());
    assert_eq!(b.outstanding(), 3);
    let mut calls = Vec::new();
    b.flush(ok_all(&mut calls)).unwrap();
    let rest: Vec<u32> = calls.iter().flatten().map(|r| r.token_start).collect();
    assert_eq!(rest, vec![5, 7, 9]);
    assert_eq!(b.outstanding(), 0);
    assert_eq!(b.stats().errors, 1);
}

#[test]
fn duplicates_are_dropped_once() {
    let mut b = TokenBatcher::new(100).unwrap();
    for t in [4, 5, 6, 5, 6, 7] {
        b.push(t);
    }
    let mut calls = Vec::new();
    b.flush(ok_all(&mut calls)).unwrap();
    assert_eq!(calls, vec![vec![DmabufToken { token_start: 4, token_count: 4 }]]);
    assert_eq!(b.stats().tokens_duplicate, 2);
}

#[test]
fn bad_config_rejected() {
    assert_eq!(TokenBatcher::new(0).unwrap_err(), ConfigError::ZeroBatch);
    let l = Limits { max_ranges: 0, max_tokens: 1 };
    assert_eq!(TokenBatcher::with_limits(1, l).unwrap_err(), ConfigError::ZeroLimit);
}

#[test]
fn layout_matches_struct_dmabuf_token() {
    assert_eq!(std::mem::size_of::<DmabufToken>(), 8);
    assert_eq!(std::mem::align_of::<DmabufToken>(), 4);
}

mod prop {
    use super::*;
    use proptest::prelude::*;

    /// Unique tokens made of runs with gaps, runs shuffled and some
    /// reversed, then cut into recvmsg-sized groups.
    fn token_stream() -> impl Strategy<Value = Vec<Vec<u32>>> {
        (proptest::collection::vec((0u32..20, 1u32..60, any::<bool>()), 1..60), 1u32..0x7000_0000)
            .prop_flat_map(|(runs, base)| {
                let mut next = base;
                let mut out: Vec<Vec<u32>> = Vec::new();
                for (gap, len, rev) in runs {
                    next += gap;
                    let mut run: Vec<u32> = (next..next + len).collect();
                    if rev {
                        run.reverse();
                    }
                    next += len;
                    out.push(run);
                }
                Just(out).prop_shuffle()
            })
            .prop_flat_map(|runs| {
                let flat: Vec<u32> = runs.into_iter().flatten().collect();
                let n = flat.len();
                (Just(flat), proptest::collection::vec(1usize..200, n.max(1)))
            })
            .prop_map(|(flat, sizes)| {
                let mut groups = Vec::new();
                let mut i = 0;
                for s in sizes {
                    if i >= flat.len() {
                        break;
                    }
                    let end = (i + s).min(flat.len());
                    groups.push(flat[i..end].to_vec());
                    i = end;
                }
                groups
            })
    }

    /// A stand-in for sock_devmem_dontneed() with a per-call walk limit
    /// chosen by the test (always >= 1, so progress is possible).
    struct SimKernel {
        held: BTreeSet<u32>,
        freed: BTreeMap<u32, u32>,
        walk_limits: Vec<u32>,
        call_no: usize,
        limits: Limits,
    }

    impl SimKernel {
        fn dontneed(&mut self, t: &[DmabufToken]) -> io::Result<u32> {
            assert!(!t.is_empty() && t.len() <= self.limits.max_ranges, "ranges per call");
            let total: u64 = t.iter().map(|r| u64::from(r.token_count)).sum();
            assert!(total <= u64::from(self.limits.max_tokens), "tokens per call");
            for w in t.windows(2) {
                assert!(w[0].end() < u64::from(w[1].token_start), "sorted, merged: {w:?}");
            }
            let limit = self.walk_limits[self.call_no % self.walk_limits.len()];
            self.call_no += 1;
            let mut walked = 0u32;
            let mut ret = 0u32;
            'outer: for r in t {
                assert!(r.token_count > 0);
                for tok in r.token_start..r.token_start + r.token_count {
                    walked += 1;
                    if walked > limit {
                        break 'outer;
                    }
                    if self.held.remove(&tok) {
                        *self.freed.entry(tok).or_default() += 1;
                        ret += 1;
                    }
                }
            }
            Ok(ret)
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

        #[test]
        fn every_token_returned_exactly_once(
            groups in token_stream(),
            batch in 1u32..3000,
            walk_limits in proptest::collection::vec(1u32..1500, 1..8),
            max_ranges in 1usize..=128,
            max_tokens in 1u32..=1024,
        ) {
            let limits = Limits { max_ranges, max_tokens };
            let all: BTreeSet<u32> = groups.iter().flatten().copied().collect();
            let mut k = SimKernel {
                held: all.clone(),
                freed: BTreeMap::new(),
                walk_limits,
                call_no: 0,
                limits,
            };
            let mut b = TokenBatcher::with_limits(batch, limits).unwrap();
            for g in &groups {
                for &t in g {
                    b.push(t);
                }
                b.end_recvmsg(|t: &[DmabufToken]| k.dontneed(t)).unwrap();
                prop_assert!(b.outstanding() < u64::from(batch));
            }
            b.flush(|t: &[DmabufToken]| k.dontneed(t)).unwrap();
            prop_assert_eq!(b.outstanding(), 0);
            prop_assert!(k.held.is_empty(), "tokens lost: {:?}", k.held.len());
            prop_assert_eq!(k.freed.len(), all.len());
            prop_assert!(k.freed.values().all(|&n| n == 1));
            let s = b.stats();
            prop_assert_eq!(s.tokens_freed, all.len() as u64);
            prop_assert_eq!(s.tokens_unknown, 0);
            prop_assert_eq!(s.tokens_pushed, all.len() as u64);
            prop_assert!(s.max_ranges_in_call as usize <= max_ranges);
            prop_assert!(s.max_tokens_in_call <= max_tokens);
        }

        #[test]
        fn unknown_tokens_accounted(
            tokens in proptest::collection::btree_set(1u32..5000, 1..600),
            unknown_mask in proptest::collection::vec(any::<bool>(), 600),
        ) {
            let known: BTreeSet<u32> = tokens.iter().enumerate()
                .filter(|(i, _)| !unknown_mask[*i]).map(|(_, t)| *t).collect();
            let mut k = SimKernel {
                held: known.clone(),
                freed: BTreeMap::new(),
                walk_limits: vec![u32::MAX],
                call_no: 0,
                limits: Limits::KERNEL,
            };
            let mut b = TokenBatcher::new(1).unwrap();
            for &t in &tokens {
                b.push(t);
            }
            let r = b.flush(|t: &[DmabufToken]| k.dontneed(t)).unwrap();
            prop_assert_eq!(r.freed, known.len() as u64);
            prop_assert_eq!(r.freed + r.unknown, tokens.len() as u64);
            prop_assert!(k.held.is_empty());
            prop_assert_eq!(b.outstanding(), 0);
        }
    }
}
