//! What an `IORING_OP_RECV_ZC` completion means. Pure logic, tested with CQEs
//! laid out byte for byte as the kernel writes them.
//!
//! Kernel behaviour encoded here (io_uring/zcrx.c, io_uring/net.c, 6.15–7.3):
//!
//! | bytes  | field        | value                                                 |
//! |-------:|--------------|-------------------------------------------------------|
//! | 0..8   | `user_data`  | the SQE's user_data                                   |
//! | 8..12  | `res`        | bytes received (> 0)                                  |
//! | 12..16 | `flags`      | `IORING_CQE_F_MORE`                                   |
//! | 16..24 | `big_cqe[0]` | `io_uring_zcrx_cqe.off`: area token (index << 48) + offset in the area |
//! | 24..32 | `big_cqe[1]` | 0                                                     |
//!
//! Data CQEs are taken straight from free CQ space and never overflow: when
//! the CQ is full the frag is not consumed (the bytes stay in the socket) and
//! the request ends with `-ENOSPC`. The request's last CQE has no `F_MORE`:
//! `res` 0 when the peer shut down (or a byte budget in `sqe->len` ran out;
//! zcbench sets none), `-ENOSPC` (CQ full: drain and re-arm), `-ENOMEM` (the
//! copy fallback found no free buffer: return buffers and re-arm), `-EFAULT`
//! (a frag from another page pool: the flow is not steered to the queue), or a
//! socket error. That last CQE takes the normal completion path, so it can wait
//! on the overflow list (`IORING_SQ_CQ_OVERFLOW`) or, if the kernel cannot
//! allocate even that, be dropped: the CQ ring's overflow counter grows and the
//! next waiting `io_uring_enter` fails once with `-EBADR`.
//!
//! zcrx events (7.2+) arrive as plain CQEs with the registered `user_data`,
//! `res` = the event type and no flags.

/// `IORING_CQE_F_MORE`: the multishot request stays armed.
pub const IORING_CQE_F_MORE: u32 = 1 << 1;
/// `IORING_ZCRX_AREA_SHIFT`: where the area index starts in an offset.
pub const IORING_ZCRX_AREA_SHIFT: u32 = 48;
/// `IORING_ZCRX_AREA_MASK`: the area-token bits of an offset.
pub const IORING_ZCRX_AREA_MASK: u64 = !((1u64 << IORING_ZCRX_AREA_SHIFT) - 1);

/// An offset as the kernel writes it into `io_uring_zcrx_cqe.off` and reads it
/// back from `io_uring_zcrx_rqe.off`: the area token in the top 16 bits, the
/// byte offset in the area below.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ZcrxOffset(u64);

impl ZcrxOffset {
    pub const fn from_raw(raw: u64) -> Self {
        ZcrxOffset(raw)
    }

    /// From an area token (`io_uring_zcrx_area_reg.rq_area_token`) and a byte
    /// offset; None if the token has low bits set or the offset reaches bit 48.
    #[cfg(test)]
    pub const fn from_parts(area_token: u64, offset: u64) -> Option<Self> {
        if area_token & !IORING_ZCRX_AREA_MASK != 0 || offset & IORING_ZCRX_AREA_MASK != 0 {
            None
        } else {
            Some(ZcrxOffset(area_token | offset))
        }
    }

    pub const fn raw(self) -> u64 {
        self.0
    }

    /// The area token bits (`off & IORING_ZCRX_AREA_MASK`).
    pub const fn area_token(self) -> u64 {
        self.0 & IORING_ZCRX_AREA_MASK
    }

    /// The area index (registration order, 0 for the first area).
    pub const fn area_index(self) -> u16 {
        (self.0 >> IORING_ZCRX_AREA_SHIFT) as u16
    }

    /// Byte offset inside the area.
    pub const fn offset_in_area(self) -> u64 {
        self.0 & !IORING_ZCRX_AREA_MASK
    }
}

/// A 32-byte completion as read from the CQ ring.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cqe {
    pub user_data: u64,
    pub res: i32,
    pub flags: u32,
    /// `big_cqe[0..2]`.
    pub big: [u64; 2],
}

impl Cqe {
    /// A CQE from the start of `bytes`, laid out as `struct io_uring_cqe`
    /// followed by `big_cqe[2]` (a CQE32 ring).
    #[cfg(test)]
    pub fn parse(bytes: &[u8]) -> Option<Cqe> {
        let u64_at = |at: usize| Some(u64::from_ne_bytes(bytes.get(at..at + 8)?.try_into().ok()?));
        let u32_at = |at: usize| Some(u32::from_ne_bytes(bytes.get(at..at + 4)?.try_into().ok()?));
        Some(Cqe { user_data: u64_at(0)?, res: u32_at(8)? as i32, flags: u32_at(12)?, big: [u64_at(16)?, u64_at(24)?] })
    }

    /// The kernel's bytes for a CQE (for tests that feed kernel-shaped rings).
    #[cfg(test)]
    pub fn bytes(user_data: u64, res: i32, flags: u32, big: [u64; 2]) -> Vec<u8> {
        let mut v = Vec::with_capacity(32);
        v.extend_from_slice(&user_data.to_ne_bytes());
        v.extend_from_slice(&res.to_ne_bytes());
        v.extend_from_slice(&flags.to_ne_bytes());
        v.extend_from_slice(&big[0].to_ne_bytes());
        v.extend_from_slice(&big[1].to_ne_bytes());
        v
    }

    /// `IORING_CQE_F_MORE`.
    pub fn more(&self) -> bool {
        self.flags & IORING_CQE_F_MORE != 0
    }
}

/// What a RECV_ZC completion means for the receiver.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecvZc {
    /// `len` bytes are at `buf`; the buffer goes back through the refill ring.
    /// `more == false` means the request ended with this CQE: re-arm.
    Data { buf: ZcrxOffset, len: u32, more: bool },
    /// `res == 0` without `F_MORE`: the peer shut down.
    Eof,
    /// `-ENOSPC` without `F_MORE`: the CQ was full. Drain and re-arm; nothing lost.
    CqFull,
    /// Another negative result (positive errno); the request has ended.
    Error { errno: i32 },
    /// `res == 0` with `F_MORE`: nothing RECV_ZC posts.
    Invalid,
}

impl RecvZc {
    pub fn from_cqe(cqe: &Cqe) -> RecvZc {
        match cqe.res {
            res if res > 0 => RecvZc::Data { buf: ZcrxOffset::from_raw(cqe.big[0]), len: res as u32, more: cqe.more() },
            0 if cqe.more() => RecvZc::Invalid,
            0 => RecvZc::Eof,
            res if res == -libc::ENOSPC => RecvZc::CqFull,
            res => RecvZc::Error { errno: res.checked_neg().unwrap_or(i32::MAX) },
        }
    }

    /// The request has ended and must be submitted again to keep receiving.
    #[cfg(test)]
    pub fn needs_rearm(&self) -> bool {
        matches!(self, RecvZc::Data { more: false, .. } | RecvZc::CqFull)
    }
}

/// A zcrx event notification (the `res` of an event CQE).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ZcrxEvent {
    /// `ZCRX_EVENT_ALLOC_FAIL`: the page pool found no free buffer in the area.
    AllocFail,
    /// `ZCRX_EVENT_COPY`: data was copied instead of received in place.
    Copy,
    Unknown(i32),
}

impl ZcrxEvent {
    pub fn from_res(res: i32) -> Self {
        match res {
            0 => ZcrxEvent::AllocFail,
            1 => ZcrxEvent::Copy,
            other => ZcrxEvent::Unknown(other),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn one(res: i32, flags: u32, off: u64) -> RecvZc {
        RecvZc::from_cqe(&Cqe::parse(&Cqe::bytes(7, res, flags, [off, 0])).unwrap())
    }

    #[test]
    fn data_cqe() {
        let off = (2u64 << 48) | 0x1_2345;
        let r = one(1448, IORING_CQE_F_MORE, off);
        let RecvZc::Data { buf, len, more } = r else { panic!("{r:?}") };
        assert_eq!((len, more), (1448, true));
        assert_eq!(buf.area_index(), 2);
        assert_eq!(buf.area_token(), 2u64 << 48);
        assert_eq!(buf.offset_in_area(), 0x1_2345);
        assert!(!r.needs_rearm());
        assert!(one(10, 0, 0).needs_rearm(), "data without F_MORE ends the request");
    }

    #[test]
    fn final_cqes() {
        assert_eq!(one(0, 0, 0), RecvZc::Eof);
        assert_eq!(one(-libc::ENOSPC, 0, 0), RecvZc::CqFull);
        assert!(RecvZc::CqFull.needs_rearm());
        let e = one(-libc::EFAULT, 0, 0);
        assert_eq!(e, RecvZc::Error { errno: libc::EFAULT });
        assert!(!e.needs_rearm());
        assert_eq!(one(i32::MIN, 0, 0), RecvZc::Error { errno: i32::MAX });
        assert_eq!(one(0, IORING_CQE_F_MORE, 0), RecvZc::Invalid);
    }

    #[test]
    fn events_and_offsets() {
        assert_eq!(ZcrxEvent::from_res(0), ZcrxEvent::AllocFail);
        assert_eq!(ZcrxEvent::from_res(1), ZcrxEvent::Copy);
        assert_eq!(ZcrxEvent::from_res(5), ZcrxEvent::Unknown(5));
        let o = ZcrxOffset::from_parts(3 << 48, 12345).unwrap();
        assert_eq!(o.raw(), (3 << 48) | 12345);
        assert!(ZcrxOffset::from_parts(1, 0).is_none());
        assert!(ZcrxOffset::from_parts(0, 1 << 48).is_none());
        assert_eq!(IORING_ZCRX_AREA_MASK, 0xffff_0000_0000_0000);
        assert!(Cqe::parse(&[0u8; 31]).is_none(), "a CQE32 is 32 bytes");
    }

    proptest! {
        #[test]
        fn data_round_trip(area in 0u64..1024, off in 0u64..(1 << 48), len in 1i32..i32::MAX) {
            let raw = (area << 48) | off;
            let r = one(len, IORING_CQE_F_MORE, raw);
            prop_assert_eq!(r, RecvZc::Data { buf: ZcrxOffset::from_raw(raw), len: len as u32, more: true });
            let RecvZc::Data { buf, .. } = r else { unreachable!() };
            prop_assert_eq!(u64::from(buf.area_index()), area);
            prop_assert_eq!(buf.offset_in_area(), off);
        }

        #[test]
        fn any_bytes_have_a_meaning(bytes in proptest::collection::vec(any::<u8>(), 32..=32)) {
            let c = Cqe::parse(&bytes).unwrap();
            let r = RecvZc::from_cqe(&c);
            prop_assert_eq!(matches!(r, RecvZc::Data { .. }), c.res > 0);
        }
    }
}
