//! Parsing of the control buffer that `recvmsg(..., MSG_SOCK_DEVMEM)` fills.
//!
//! # Kernel behaviour encoded here
//!
//! For a devmem TCP socket, `tcp_recvmsg_dmabuf()` (net/ipv4/tcp.c) describes
//! the received bytes with a sequence of `SOL_SOCKET` control messages:
//!
//! - `SCM_DEVMEM_LINEAR` (78, `<asm-generic/socket.h>`): bytes that were in the
//!   skb's linear (host memory) part and were copied into the caller's iovec.
//!   The payload is a full `struct dmabuf_cmsg` (24 bytes) in which only
//!   `frag_size` is set; all other fields are zero.
//! - `SCM_DEVMEM_DMABUF` (79): one frag that stayed in the bound dma-buf. The
//!   payload is `struct dmabuf_cmsg` (`<linux/uio.h>`):
//!
//!   | offset | size | field         | meaning                                  |
//!   |-------:|-----:|---------------|------------------------------------------|
//!   | 0      | 8    | `frag_offset` | byte offset of the frag in the dma-buf   |
//!   | 8      | 4    | `frag_size`   | frag length in bytes                     |
//!   | 12     | 4    | `frag_token`  | token to hand back via SO_DEVMEM_DONTNEED |
//!   | 16     | 4    | `dmabuf_id`   | id of the binding the frag belongs to    |
//!   | 20     | 4    | `flags`       | reserved, currently 0                    |
//!
//! Each control message is a 64-bit `struct cmsghdr` (`u64 cmsg_len`,
//! `i32 cmsg_level`, `i32 cmsg_type`, 16 bytes) followed by the payload;
//! `cmsg_len` counts header plus payload and the next header starts at
//! `cmsg_len` rounded up to 8 (`CMSG_ALIGN`, `<linux/socket.h>`).
//!
//! The kernel emits the devmem messages with `put_cmsg_notrunc()`: when the
//! control buffer has no room for a whole message the receive stops there
//! (returning the bytes described so far, or `-ETOOSMALL` (525) if none), so a
//! devmem message is never cut short by the kernel itself. Other `SOL_SOCKET`
//! or protocol messages (timestamps, `TCP_CM_INQ`, ...) go through
//! `put_cmsg()`, which may truncate the last one and set `MSG_CTRUNC`; such
//! messages are skipped here, and a truncated devmem message (which can only
//! come from a caller that cut the buffer) is reported as an error.
//!
//! Tokens are allocated from a per-socket xarray with `XA_FLAGS_ALLOC1` and
//! `xa_limit_31b`, so a valid token is in `1..=0x7fff_ffff`.
//!
//! The parser never trusts the kernel's bytes: every length is checked, values
//! are read with `from_ne_bytes`, and malformed input yields [`CmsgError`].

pub use crate::sys::sock::devmem::{SCM_DEVMEM_DMABUF, SCM_DEVMEM_LINEAR};
use libc::SOL_SOCKET;
use std::fmt;

/// Size of the 64-bit `struct cmsghdr`.
pub const CMSG_HDR_LEN: usize = 16;
/// Size of `struct dmabuf_cmsg`.
pub const DMABUF_CMSG_LEN: usize = 24;
/// `CMSG_SPACE(sizeof(struct dmabuf_cmsg))`: bytes one devmem message occupies.
pub const DEVMEM_CMSG_SPACE: usize = CMSG_HDR_LEN + DMABUF_CMSG_LEN;

/// Rounds `len` up to the 8-byte `CMSG_ALIGN` boundary, or `None` on overflow.
fn cmsg_align(len: usize) -> Option<usize> {
    len.checked_add(7).map(|v| v & !7)
}

/// One fragment of received data, as described by a devmem control message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Frag {
    /// Payload that stayed in the dma-buf (`SCM_DEVMEM_DMABUF`).
    Dmabuf {
        /// Byte offset of the frag within the dma-buf.
        offset: u64,
        /// Frag length in bytes.
        size: u32,
        /// Token that returns this frag with `SO_DEVMEM_DONTNEED`.
        token: u32,
        /// Id of the dma-buf binding (as returned by netdev `bind-rx`).
        dmabuf_id: u32,
    },
    /// Bytes copied from host memory into the caller's iovec
    /// (`SCM_DEVMEM_LINEAR`).
    Linear {
        /// Number of bytes.
        size: u32,
    },
}

impl Frag {
    /// Length of the fragment in bytes.
    pub fn size(&self) -> u32 {
        match *self {
            Frag::Dmabuf { size, .. } | Frag::Linear { size } => size,
        }
    }

    /// The token to return, for a dma-buf frag.
    #[cfg(test)]
    pub fn token(&self) -> Option<u32> {
        match *self {
            Frag::Dmabuf { token, .. } => Some(token),
            Frag::Linear { .. } => None,
        }
    }

    /// True for a dma-buf frag whose binding id differs from `expected`:
    /// a sign that flow steering sent the flow to a queue bound to another
    /// dma-buf. What to do about it is the caller's decision.
    pub fn is_foreign(&self, expected: u32) -> bool {
        matches!(*self, Frag::Dmabuf { dmabuf_id, .. } if dmabuf_id != expected)
    }
}

/// Why a control buffer could not be parsed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CmsgError {
    /// Fewer than 16 bytes remain at `at`, too few for a `cmsghdr`.
    TruncatedHeader {
        /// Byte offset of the incomplete header.
        at: usize,
        /// Bytes left in the buffer.
        remaining: usize,
    },
    /// `cmsg_len` is smaller than the header itself.
    BadLength {
        /// Byte offset of the message.
        at: usize,
        /// The `cmsg_len` found.
        cmsg_len: u64,
    },
    /// `cmsg_len` runs past the end of the buffer (the buffer was cut short).
    Overrun {
        /// Byte offset of the message.
        at: usize,
        /// The `cmsg_len` found.
        cmsg_len: u64,
        /// Bytes left in the buffer from `at`.
        remaining: usize,
    },
    /// A devmem message whose payload is not exactly a `struct dmabuf_cmsg`,
    /// as happens when a message was truncated (`MSG_CTRUNC`).
    BadPayload {
        /// Byte offset of the message.
        at: usize,
        /// `SCM_DEVMEM_LINEAR` or `SCM_DEVMEM_DMABUF`.
        cmsg_type: i32,
        /// Payload length found.
        len: usize,
    },
}

impl fmt::Display for CmsgError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            CmsgError::TruncatedHeader { at, remaining } => {
                write!(f, "control buffer ends {remaining} bytes into a cmsg header at offset {at}")
            }
            CmsgError::BadLength { at, cmsg_len } => {
                write!(f, "cmsg at offset {at} has impossible cmsg_len {cmsg_len}")
            }
            CmsgError::Overrun { at, cmsg_len, remaining } => {
                write!(f, "cmsg at offset {at} claims {cmsg_len} bytes but only {remaining} remain")
            }
            CmsgError::BadPayload { at, cmsg_type, len } => write!(
                f,
                "devmem cmsg type {cmsg_type} at offset {at} has a {len}-byte payload, expected {DMABUF_CMSG_LEN}"
            ),
        }
    }
}

impl std::error::Error for CmsgError {}

/// One raw control message: level, type and payload bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RawCmsg<'a> {
    /// Byte offset of the header within the control buffer.
    pub at: usize,
    /// `cmsg_level`.
    pub level: i32,
    /// `cmsg_type`.
    pub kind: i32,
    /// Payload (`cmsg_len - 16` bytes).
    pub data: &'a [u8],
}

/// Iterator over the raw control messages of a 64-bit control buffer.
///
/// `buf` must be exactly the bytes the kernel reported (the first
/// `msg_controllen` bytes after `recvmsg` returns). Iteration stops after the
/// first error.
#[derive(Debug, Clone)]
pub struct Cmsgs<'a> {
    buf: &'a [u8],
    pos: usize,
    failed: bool,
}

impl<'a> Cmsgs<'a> {
    /// Starts iterating over `buf`.
    pub fn new(buf: &'a [u8]) -> Self {
        Cmsgs { buf, pos: 0, failed: false }
    }
}

fn read_u64(b: &[u8], at: usize) -> Option<u64> {
    let bytes: [u8; 8] = b.get(at..at.checked_add(8)?)?.try_into().ok()?;
    Some(u64::from_ne_bytes(bytes))
}

fn read_u32(b: &[u8], at: usize) -> Option<u32> {
    let bytes: [u8; 4] = b.get(at..at.checked_add(4)?)?.try_into().ok()?;
    Some(u32::from_ne_bytes(bytes))
}

fn read_i32(b: &[u8], at: usize) -> Option<i32> {
    let bytes: [u8; 4] = b.get(at..at.checked_add(4)?)?.try_into().ok()?;
    Some(i32::from_ne_bytes(bytes))
}

impl<'a> Cmsgs<'a> {
    fn fail(&mut self, e: CmsgError) -> Option<Result<RawCmsg<'a>, CmsgError>> {
        self.failed = true;
        Some(Err(e))
    }
}

impl<'a> Iterator for Cmsgs<'a> {
    type Item = Result<RawCmsg<'a>, CmsgError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed || self.pos >= self.buf.len() {
            return None;
        }
        let at = self.pos;
        let remaining = self.buf.len() - at;
        if remaining < CMSG_HDR_LEN {
            return self.fail(CmsgError::TruncatedHeader { at, remaining });
        }
        let (Some(cmsg_len), Some(level), Some(kind)) =
            (read_u64(self.buf, at), read_i32(self.buf, at + 8), read_i32(self.buf, at + 12))
        else {
            return self.fail(CmsgError::TruncatedHeader { at, remaining });
        };
        if cmsg_len < CMSG_HDR_LEN as u64 {
            return self.fail(CmsgError::BadLength { at, cmsg_len });
        }
        let len = match usize::try_from(cmsg_len) {
            Ok(len) if len <= remaining => len,
            _ => return self.fail(CmsgError::Overrun { at, cmsg_len, remaining }),
        };
        let data = &self.buf[at + CMSG_HDR_LEN..at + len];
        // The padding after the last message may be missing (the kernel
        // advances by min(CMSG_SPACE, space left)), so clamp to the end.
        self.pos = match cmsg_align(len) {
            Some(step) => at.saturating_add(step).min(self.buf.len()),
            None => self.buf.len(),
        };
        Some(Ok(RawCmsg { at, level, kind, data }))
    }
}

impl std::iter::FusedIterator for Cmsgs<'_> {}

/// Decodes one raw message into a [`Frag`], or `None` if it is not a devmem
/// message (other levels or types are ignored).
pub fn decode(raw: &RawCmsg<'_>) -> Option<Result<Frag, CmsgError>> {
    if raw.level != SOL_SOCKET || (raw.kind != SCM_DEVMEM_DMABUF && raw.kind != SCM_DEVMEM_LINEAR) {
        return None;
    }
    let bad = CmsgError::BadPayload { at: raw.at, cmsg_type: raw.kind, len: raw.data.len() };
    if raw.data.len() != DMABUF_CMSG_LEN {
        return Some(Err(bad));
    }
    let d = raw.data;
    let fields = (read_u64(d, 0), read_u32(d, 8), read_u32(d, 12), read_u32(d, 16));
    let (Some(offset), Some(size), Some(token), Some(dmabuf_id)) = fields else {
        return Some(Err(bad));
    };
    Some(Ok(if raw.kind == SCM_DEVMEM_LINEAR {
        Frag::Linear { size }
    } else {
        Frag::Dmabuf { offset, size, token, dmabuf_id }
    }))
}

/// Iterator over the devmem fragments of a control buffer; non-devmem
/// messages are skipped. Stops after the first error.
#[derive(Debug, Clone)]
pub struct DevmemFrags<'a> {
    inner: Cmsgs<'a>,
    skipped: usize,
    failed: bool,
}

impl<'a> DevmemFrags<'a> {
    /// Parses `buf`, the first `msg_controllen` bytes of the control buffer.
    pub fn new(buf: &'a [u8]) -> Self {
        DevmemFrags { inner: Cmsgs::new(buf), skipped: 0, failed: false }
    }

    /// How many non-devmem messages were skipped so far.
    #[cfg(test)]
    pub fn skipped(&self) -> usize {
        self.skipped
    }
}

impl Iterator for DevmemFrags<'_> {
    type Item = Result<Frag, CmsgError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed {
            return None;
        }
        loop {
            let raw = match self.inner.next()? {
                Ok(raw) => raw,
                Err(e) => {
                    self.failed = true;
                    return Some(Err(e));
                }
            };
            match decode(&raw) {
                None => self.skipped += 1,
                Some(Err(e)) => {
                    self.failed = true;
                    return Some(Err(e));
                }
                Some(Ok(frag)) => return Some(Ok(frag)),
            }
        }
    }
}

impl std::iter::FusedIterator for DevmemFrags<'_> {}

/// Per-`recvmsg` totals, filled by [`FragSummary::add`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FragSummary {
    /// Number of `SCM_DEVMEM_DMABUF` frags.
    pub dmabuf_frags: u64,
    /// Bytes in dma-buf frags.
    pub dmabuf_bytes: u64,
    /// Number of `SCM_DEVMEM_LINEAR` messages.
    pub linear_frags: u64,
    /// Bytes copied into the iovec (linear part).
    pub linear_bytes: u64,
    /// Dma-buf frags whose binding id was not the expected one.
    pub foreign_frags: u64,
}

impl FragSummary {
    /// Accounts one frag; `expected_id` is the caller's rx binding id.
    pub fn add(&mut self, frag: &Frag, expected_id: u32) {
        match *frag {
            Frag::Dmabuf { size, .. } => {
                self.dmabuf_frags += 1;
                self.dmabuf_bytes += u64::from(size);
                if frag.is_foreign(expected_id) {
                    self.foreign_frags += 1;
                }
            }
            Frag::Linear { size } => {
                self.linear_frags += 1;
                self.linear_bytes += u64::from(size);
            }
        }
    }

    /// Total bytes described; equals the `recvmsg` return value when the
    /// whole buffer parsed.
    #[cfg(test)]
    pub fn total_bytes(&self) -> u64 {
        self.dmabuf_bytes + self.linear_bytes
    }
}

#[cfg(test)]
mod tests;
