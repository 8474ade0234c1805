//! Batching of devmem frag tokens for `SO_DEVMEM_DONTNEED`.
//!
//! # Kernel behaviour encoded here
//!
//! Every `SCM_DEVMEM_DMABUF` frag pins a buffer of the bound dma-buf until the
//! application returns its token with
//! `setsockopt(fd, SOL_SOCKET, SO_DEVMEM_DONTNEED /* 80 */, tokens, len)`,
//! where `tokens` is an array of `struct dmabuf_token { u32 token_start;
//! u32 token_count; }` (`<linux/uio.h>`, 8 bytes each). The handler,
//! `sock_devmem_dontneed()` in net/core/sock.c, enforces:
//!
//! - `optlen` must be a multiple of 8 and at most
//!   `MAX_DONTNEED_TOKENS` (128) entries, else `-EINVAL` and nothing is freed;
//! - it walks the entries in order and each token of each range in order,
//!   counting every token it looks at (found or not); once that count would
//!   exceed `MAX_DONTNEED_FRAGS` (1024) it stops early;
//! - a token that is not held (never handed out, already returned) is skipped
//!   silently;
//! - the return value is the number of frags actually freed, i.e. tokens, not
//!   ranges. It is smaller than the number of tokens sent when some were
//!   unknown or when the 1024-token limit cut the walk short.
//!
//! [`TokenBatcher`] coalesces tokens into sorted, merged ranges, never builds
//! a call over the limits, and flushes once a configurable number of tokens is
//! pending (checked at the end of each `recvmsg`, so a batch size of 1 means
//! one call per `recvmsg` that produced tokens).
//!
//! On a short return the
//! batcher assumes the kernel consumed a prefix of the call (which is exactly
//! what happens when a limit cuts the walk) and resends the rest; a resend
//! that frees nothing ends the retries and the remaining tokens are counted as
//! unknown. With the kernel limits honoured, a short count can only mean
//! unknown tokens, so the resend costs one extra call and frees nothing, and
//! the totals (freed + unknown) are still exact.
//!
//! The system call is supplied by the caller as a closure, so the batcher is
//! pure and a test can stand in for the kernel.

pub use crate::sys::sock::devmem::DmabufToken;
use std::fmt;
use std::io;

/// `MAX_DONTNEED_TOKENS` in net/core/sock.c: entries per call.
pub const MAX_DONTNEED_TOKENS: usize = 128;
/// `MAX_DONTNEED_FRAGS` in net/core/sock.c: tokens looked at per call.
pub const MAX_DONTNEED_FRAGS: u32 = 1024;
/// Per-call limits; [`Limits::KERNEL`] holds the kernel's values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Most `dmabuf_token` entries in one call.
    pub max_ranges: usize,
    /// Most tokens (sum of `token_count`) in one call.
    pub max_tokens: u32,
}

impl Limits {
    /// The limits of `sock_devmem_dontneed()`.
    pub const KERNEL: Limits = Limits { max_ranges: MAX_DONTNEED_TOKENS, max_tokens: MAX_DONTNEED_FRAGS };
}

impl Default for Limits {
    fn default() -> Self {
        Limits::KERNEL
    }
}

/// Invalid batcher configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConfigError {
    /// The batch size must be at least one token.
    ZeroBatch,
    /// A call must allow at least one range and one token.
    ZeroLimit,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConfigError::ZeroBatch => f.write_str("token batch size must be at least 1"),
            ConfigError::ZeroLimit => f.write_str("per-call limits must be at least 1"),
        }
    }
}

impl std::error::Error for ConfigError {}

/// Counters kept by a [`TokenBatcher`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TokenStats {
    /// Tokens handed to [`TokenBatcher::push`].
    pub tokens_pushed: u64,
    /// Tokens the kernel reported freed (sum of return values).
    pub tokens_freed: u64,
    /// Tokens given up on: the kernel did not free them.
    pub tokens_unknown: u64,
    /// Tokens pushed more than once while still pending (dropped).
    pub tokens_duplicate: u64,
    /// `setsockopt` calls made, retries included.
    pub calls: u64,
    /// Calls that resent the rest of a partially freed call.
    pub retries: u64,
    /// Calls whose return value was below the tokens sent.
    pub partial_frees: u64,
    /// Calls that failed with an error.
    pub errors: u64,
    /// `dmabuf_token` entries sent over all calls.
    pub ranges_sent: u64,
    /// Tokens sent over all calls (retries count again).
    pub tokens_sent: u64,
    /// Largest number of tokens in one call.
    pub max_tokens_in_call: u32,
    /// Largest number of entries in one call.
    pub max_ranges_in_call: u32,
    /// `recvmsg` calls reported through [`TokenBatcher::end_recvmsg`].
    pub recvmsgs: u64,
    /// Of those, the ones that produced at least one token.
    pub recvmsgs_with_tokens: u64,
}

impl TokenStats {
    /// Mean tokens per call (0 when no call was made).
    pub fn tokens_per_call(&self) -> f64 {
        if self.calls == 0 { 0.0 } else { self.tokens_sent as f64 / self.calls as f64 }
    }

    /// Calls a "one setsockopt per recvmsg" policy would have made.
    pub fn calls_one_per_recvmsg(&self) -> u64 {
        self.recvmsgs_with_tokens
    }

    /// Calls saved against one call per `recvmsg` (negative if worse).
    pub fn calls_avoided_vs_per_recvmsg(&self) -> i64 {
        let base = i64::try_from(self.calls_one_per_recvmsg()).unwrap_or(i64::MAX);
        let made = i64::try_from(self.calls).unwrap_or(i64::MAX);
        base.saturating_sub(made)
    }
}

/// Outcome of one [`TokenBatcher::flush`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FlushReport {
    /// Calls made.
    pub calls: u32,
    /// Tokens freed.
    pub freed: u64,
    /// Tokens given up on.
    pub unknown: u64,
}

/// Position inside the sorted pending ranges: range index and tokens already
/// consumed from that range.
#[derive(Debug, Clone, Copy, Default)]
struct Cursor {
    idx: usize,
    off: u32,
}

/// Collects frag tokens and returns them to the kernel in batches.
#[derive(Debug, Clone)]
pub struct TokenBatcher {
    limits: Limits,
    flush_at: u64,
    pending: Vec<DmabufToken>,
    pending_tokens: u64,
    call: Vec<DmabufToken>,
    tokens_this_recvmsg: u64,
    stats: TokenStats,
}

impl TokenBatcher {
    /// A batcher that flushes once `batch` tokens are pending, with the
    /// kernel's per-call limits.
    /// Make room for `n` more pending ranges now, so pushing them later does
    /// not allocate on the data path.
    pub fn reserve(&mut self, n: usize) {
        self.pending.reserve(n);
    }

    pub fn new(batch: u32) -> Result<Self, ConfigError> {
        Self::with_limits(batch, Limits::KERNEL)
    }

    /// A batcher with explicit limits (tests use small ones).
    ///
    /// Memory for `batch` separate tokens and one call is reserved up front;
    /// a `recvmsg` that pushes past that grows the buffer once.
    pub fn with_limits(batch: u32, limits: Limits) -> Result<Self, ConfigError> {
        if batch == 0 {
            return Err(ConfigError::ZeroBatch);
        }
        if limits.max_ranges == 0 || limits.max_tokens == 0 {
            return Err(ConfigError::ZeroLimit);
        }
        let reserve = usize::try_from(batch).unwrap_or(usize::MAX).saturating_add(limits.max_ranges).min(1 << 20);
        Ok(TokenBatcher {
            limits,
            flush_at: u64::from(batch),
            pending: Vec::with_capacity(reserve),
            pending_tokens: 0,
            call: Vec::with_capacity(limits.max_ranges),
            tokens_this_recvmsg: 0,
            stats: TokenStats::default(),
        })
    }

    /// Records one frag token (from `dmabuf_cmsg.frag_token`).
    pub fn push(&mut self, token: u32) {
        self.stats.tokens_pushed += 1;
        self.tokens_this_recvmsg += 1;
        self.pending_tokens += 1;
        if let Some(last) = self.pending.last_mut()
            && last.end() == u64::from(token)
            && last.token_count < u32::MAX
        {
            last.token_count += 1;
            return;
        }
        self.pending.push(DmabufToken { token_start: token, token_count: 1 });
    }

    /// Tokens held by the application and not yet returned.
    pub fn outstanding(&self) -> u64 {
        self.pending_tokens
    }

    /// True once the batch size is reached.
    pub fn should_flush(&self) -> bool {
        self.pending_tokens >= self.flush_at
    }

    /// The counters so far.
    pub fn stats(&self) -> &TokenStats {
        &self.stats
    }

    /// Marks the end of one `recvmsg`'s frags and flushes if the batch size
    /// is reached. Returns the flush report when a flush happened.
    pub fn end_recvmsg<F>(&mut self, dontneed: F) -> io::Result<Option<FlushReport>>
    where
        F: FnMut(&[DmabufToken]) -> io::Result<u32>,
    {
        self.stats.recvmsgs += 1;
        if self.tokens_this_recvmsg > 0 {
            self.stats.recvmsgs_with_tokens += 1;
        }
        self.tokens_this_recvmsg = 0;
        if self.should_flush() { self.flush(dontneed).map(Some) } else { Ok(None) }
    }

    /// Sorts the pending ranges and merges adjacent or overlapping ones;
    /// overlaps are duplicates and are dropped.
    fn normalize(&mut self) {
        self.pending.sort_unstable_by_key(|r| r.token_start);
        let mut w = 0usize;
        let mut total = 0u64;
        for i in 0..self.pending.len() {
            let r = self.pending[i];
            if w > 0 {
                let prev = &mut self.pending[w - 1];
                let prev_end = prev.end();
                if u64::from(r.token_start) <= prev_end {
                    let overlap = prev_end.min(r.end()) - u64::from(r.token_start);
                    self.stats.tokens_duplicate += overlap;
                    let new_end = prev_end.max(r.end());
                    let want = new_end - u64::from(prev.token_start);
                    if let Ok(count) = u32::try_from(want) {
                        total += u64::from(count - prev.token_count);
                        prev.token_count = count;
                        continue;
                    }
                    // A merged run longer than u32::MAX cannot be expressed;
                    // keep it as a separate entry starting at prev's end.
                    let start = u32::try_from(prev_end).unwrap_or(u32::MAX);
                    let count = u32::try_from(new_end - prev_end).unwrap_or(0);
                    self.pending[w] = DmabufToken { token_start: start, token_count: count };
                    total += u64::from(count);
                    w += 1;
                    continue;
                }
            }
            self.pending[w] = r;
            total += u64::from(r.token_count);
            w += 1;
        }
        self.pending.truncate(w);
        self.pending_tokens = total;
    }

    /// Fills `self.call` from `cur` within the limits; returns tokens placed.
    fn build_call(&mut self, cur: Cursor) -> u32 {
        self.call.clear();
        let mut budget = self.limits.max_tokens;
        let mut c = cur;
        while budget > 0 && self.call.len() < self.limits.max_ranges {
            let Some(r) = self.pending.get(c.idx) else {
                break;
            };
            let left = r.token_count - c.off;
            let n = left.min(budget);
            self.call.push(DmabufToken { token_start: r.token_start.wrapping_add(c.off), token_count: n });
            budget -= n;
            if n == left {
                c.idx += 1;
                c.off = 0;
            } else {
                c.off += n;
            }
        }
        self.limits.max_tokens - budget
    }

    fn advance(&self, cur: &mut Cursor, mut n: u64) {
        while n > 0 {
            let Some(r) = self.pending.get(cur.idx) else {
                return;
            };
            let left = u64::from(r.token_count - cur.off);
            if n >= left {
                n -= left;
                cur.idx += 1;
                cur.off = 0;
            } else {
                // n < left <= u32::MAX
                cur.off += n as u32;
                n = 0;
            }
        }
    }

    /// Drops everything before `cur` from the pending list.
    fn commit(&mut self, cur: Cursor, consumed: u64) {
        if let Some(r) = self.pending.get_mut(cur.idx) {
            r.token_start = r.token_start.wrapping_add(cur.off);
            r.token_count -= cur.off;
        }
        self.pending.drain(..cur.idx.min(self.pending.len()));
        self.pending_tokens = self.pending_tokens.saturating_sub(consumed);
    }

    /// Returns every pending token to the kernel, in as few calls as the
    /// limits allow. `dontneed` performs one `SO_DEVMEM_DONTNEED` call and
    /// returns the kernel's result (frags freed).
    ///
    /// On error the tokens not yet handed to a successful call stay pending
    /// and the error is returned.
    pub fn flush<F>(&mut self, mut dontneed: F) -> io::Result<FlushReport>
    where
        F: FnMut(&[DmabufToken]) -> io::Result<u32>,
    {
        let mut report = FlushReport::default();
        if self.pending.is_empty() {
            return Ok(report);
        }
        self.normalize();
        let mut cur = Cursor::default();
        let mut consumed = 0u64;
        let mut retrying = false;
        loop {
            let sent = self.build_call(cur);
            if sent == 0 {
                break;
            }
            let result = dontneed(&self.call);
            let freed = match result {
                Ok(freed) => freed,
                Err(e) => {
                    self.stats.errors += 1;
                    self.commit(cur, consumed);
                    return Err(e);
                }
            };
            report.calls += 1;
            let st = &mut self.stats;
            st.calls += 1;
            st.retries += u64::from(retrying);
            st.ranges_sent += self.call.len() as u64;
            st.tokens_sent += u64::from(sent);
            st.max_tokens_in_call = st.max_tokens_in_call.max(sent);
            st.max_ranges_in_call = st.max_ranges_in_call.max(self.call.len() as u32);
            let freed = freed.min(sent);
            st.tokens_freed += u64::from(freed);
            report.freed += u64::from(freed);
            let step = if freed == sent {
                retrying = false;
                sent
            } else {
                st.partial_frees += 1;
                // Assume the kernel consumed a prefix (what its limits do) and
                // resend the rest; a resend that frees nothing means unknown tokens.
                if freed > 0 {
                    retrying = true;
                    freed
                } else {
                    let lost = u64::from(sent - freed);
                    st.tokens_unknown += lost;
                    report.unknown += lost;
                    retrying = false;
                    sent
                }
            };
            self.advance(&mut cur, u64::from(step));
            consumed += u64::from(step);
        }
        self.commit(cur, consumed);
        Ok(report)
    }
}

#[cfg(test)]
mod tests;
