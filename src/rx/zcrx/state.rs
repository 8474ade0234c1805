//! What the zcrx receive loop does with each completion: counting, when to arm
//! the multishot receive again, when the flow is over, and which results end
//! the run. No kernel calls; tested with CQEs laid out as the kernel writes them.

use crate::results::schema::ZcrxInfo;
use crate::sys::uring::zcrx::Kind;
use crate::sys::uring::zcrx::cqe::{RecvZc, ZcrxEvent};
use anyhow::{Result, bail};

/// -ENOMEM completions in a row (no data between them) before giving up: the
/// kernel keeps finding no free buffer for its copy fallback.
const NO_BUFFER_LIMIT: u32 = 1000;

/// What the loop does after a round of completions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Next {
    Wait,
    /// Submit RECV_ZC again: the previous request ended.
    Arm,
    /// Cancel the request (CQEs were dropped: its end may have been among them);
    /// it is armed again once the cancel completes.
    Cancel,
    /// The peer closed the flow.
    Done,
}

#[derive(Debug, Default)]
pub struct Receiver {
    /// The area is a dma-buf: the kernel cannot copy into it.
    dmabuf_area: bool,
    need_arm: bool,
    need_cancel: bool,
    cancelling: bool,
    eof: bool,
    no_buffer_streak: u32,
    /// Bytes of the data CQEs, and completions with a negative result.
    pub bytes: u64,
    pub errors: u64,
    /// The result's zcrx section, whose CQE, bytes-per-CQE, re-arm and event
    /// counts this keeps.
    pub counts: ZcrxInfo,
}

impl Receiver {
    pub fn new(dmabuf_area: bool, info: ZcrxInfo) -> Receiver {
        Receiver { dmabuf_area, counts: info, ..Default::default() }
    }

    /// Account one completion; for data, the bytes the caller reads.
    pub fn on(&mut self, k: &Kind) -> Result<u32> {
        match *k {
            Kind::Recv(r) => self.on_recv(r),
            Kind::Event(e) => {
                self.counts.event_cqes += 1;
                match e {
                    ZcrxEvent::AllocFail => self.counts.alloc_fail_events += 1,
                    ZcrxEvent::Copy => self.counts.copy_events += 1,
                    ZcrxEvent::Unknown(_) => {}
                }
                Ok(0)
            }
            Kind::Cancelled(_) => {
                // 0: it was armed and is now cancelled (its -ECANCELED came
                // first); -ENOENT: it had ended and its last CQE was dropped.
                self.cancelling = false;
                self.need_arm = !self.eof;
                self.counts.rearms_after_drop += u64::from(!self.eof);
                Ok(0)
            }
            Kind::Other { user_data, res } => {
                bail!("a completion zcbench did not ask for: user_data {user_data:#x}, res {res}")
            }
        }
    }

    fn on_recv(&mut self, r: RecvZc) -> Result<u32> {
        let c = &mut self.counts;
        let bytes = self.bytes;
        match r {
            RecvZc::Data { len, more, .. } => {
                c.data_cqes += 1;
                self.bytes += u64::from(len);
                c.bytes_per_cqe_max = c.bytes_per_cqe_max.max(len.into());
                c.bytes_per_cqe_min = if c.data_cqes == 1 { len.into() } else { c.bytes_per_cqe_min.min(len.into()) };
                self.no_buffer_streak = 0;
                if !more {
                    c.rearms_no_more += 1;
                    self.need_arm = true;
                }
                return Ok(len);
            }
            RecvZc::Eof => self.eof = true,
            RecvZc::CqFull => {
                self.errors += 1;
                c.rearms_cq_full += 1;
                self.need_arm = true;
            }
            RecvZc::Error { errno } if errno == libc::ECANCELED && self.cancelling => self.errors += 1,
            RecvZc::Error { errno: libc::ENOMEM } => {
                self.errors += 1;
                if self.dmabuf_area {
                    bail!(
                        "RECV_ZC: -ENOMEM after {} bytes: the kernel had to copy payload (the NIC did not place it in the area: is the flow steered to the registered queue, with header split on?) and a dma-buf area cannot take copies",
                        bytes
                    );
                }
                c.rearms_no_buffer += 1;
                self.no_buffer_streak += 1;
                if self.no_buffer_streak > NO_BUFFER_LIMIT {
                    bail!(
                        "RECV_ZC: the kernel found no free area buffer {NO_BUFFER_LIMIT} times in a row after {} bytes: the area is too small for what is in flight (raise --area-size)",
                        bytes
                    );
                }
                self.need_arm = true;
            }
            RecvZc::Error { errno: libc::EINTR } => {
                self.errors += 1;
                self.need_arm = true;
            }
            RecvZc::Error { errno: libc::EFAULT } => bail!(
                "RECV_ZC: -EFAULT after {bytes} bytes: a frag came from another page pool, i.e. the flow is not steered to the registered rx queue"
            ),
            RecvZc::Error { errno } => {
                bail!("RECV_ZC failed after {bytes} bytes: {}", std::io::Error::from_raw_os_error(errno))
            }
            RecvZc::Invalid => bail!("RECV_ZC posted res 0 with F_MORE, which no kernel is known to do"),
        }
        Ok(0)
    }

    /// CQEs were dropped (-EBADR, or the CQ ring's overflow counter grew).
    pub fn on_dropped(&mut self) {
        if !self.eof {
            self.need_cancel = true;
        }
    }

    pub fn next(&mut self) -> Next {
        if self.eof {
            return Next::Done;
        }
        if self.need_cancel && !self.cancelling {
            (self.need_cancel, self.need_arm, self.cancelling) = (false, false, true);
            return Next::Cancel;
        }
        if self.need_arm && !self.cancelling {
            self.need_arm = false;
            return Next::Arm;
        }
        Next::Wait
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sys::uring::zcrx::cqe::{Cqe, IORING_CQE_F_MORE};

    const RECV: u64 = 1;

    /// A CQE as the kernel writes it into a CQE32 ring, interpreted as the
    /// ring interprets it.
    fn cqe(res: i32, flags: u32, off: u64) -> Kind {
        let c = Cqe::parse(&Cqe::bytes(RECV, res, flags, [off, 0])).unwrap();
        Kind::Recv(RecvZc::from_cqe(&c))
    }

    fn round(r: &mut Receiver, cqes: &[Kind]) -> Result<Next> {
        for c in cqes {
            r.on(c)?;
        }
        Ok(r.next())
    }

    #[test]
    fn data_then_eof() {
        let mut r = Receiver::new(false, ZcrxInfo::default());
        let d = cqe(4096, IORING_CQE_F_MORE, 8192);
        assert_eq!(r.on(&d).unwrap(), 4096);
        assert_eq!(round(&mut r, &[cqe(100, IORING_CQE_F_MORE, 4096)]).unwrap(), Next::Wait);
        assert_eq!(round(&mut r, &[cqe(0, 0, 0)]).unwrap(), Next::Done);
        let c = &r.counts;
        assert_eq!((c.data_cqes, r.bytes, c.bytes_per_cqe_min, c.bytes_per_cqe_max), (2, 4196, 100, 4096));
        assert_eq!(r.errors, 0);
    }

    #[test]
    fn a_full_cq_and_a_final_data_cqe_rearm_without_losing_the_connection() {
        let mut r = Receiver::new(false, ZcrxInfo::default());
        // The CQ filled: data CQEs up to the limit, then -ENOSPC without F_MORE.
        let full: Vec<Kind> =
            (0..7).map(|i| cqe(1448, IORING_CQE_F_MORE, i * 4096)).chain([cqe(-libc::ENOSPC, 0, 0)]).collect();
        assert_eq!(round(&mut r, &full).unwrap(), Next::Arm);
        assert_eq!(r.next(), Next::Wait, "armed once");
        assert_eq!(round(&mut r, &[cqe(1448, 0, 0)]).unwrap(), Next::Arm, "data without F_MORE ended the request");
        assert_eq!(round(&mut r, &[cqe(-libc::ENOMEM, 0, 0)]).unwrap(), Next::Arm, "no free buffer: re-arm");
        let c = &r.counts;
        assert_eq!((c.rearms_cq_full, c.rearms_no_more, c.rearms_no_buffer), (1, 1, 1));
        assert_eq!(c.data_cqes, 8);
        assert_eq!(r.errors, 2);
    }

    #[test]
    fn errors_that_end_the_run_say_why() {
        let e = round(&mut Receiver::new(false, ZcrxInfo::default()), &[cqe(-libc::EFAULT, 0, 0)]).unwrap_err();
        assert!(e.to_string().contains("not steered"), "{e}");
        let e = round(&mut Receiver::new(false, ZcrxInfo::default()), &[cqe(-libc::ECONNRESET, 0, 0)]).unwrap_err();
        assert!(e.to_string().contains("reset"), "{e}");
        let e = round(&mut Receiver::new(true, ZcrxInfo::default()), &[cqe(-libc::ENOMEM, 0, 0)]).unwrap_err();
        assert!(e.to_string().contains("dma-buf area cannot take copies"), "{e}");
        assert!(round(&mut Receiver::new(false, ZcrxInfo::default()), &[cqe(0, IORING_CQE_F_MORE, 0)]).is_err());
        let mut r = Receiver::new(false, ZcrxInfo::default());
        for _ in 0..NO_BUFFER_LIMIT {
            round(&mut r, &[cqe(-libc::ENOMEM, 0, 0)]).unwrap();
        }
        let e = round(&mut r, &[cqe(-libc::ENOMEM, 0, 0)]).unwrap_err();
        assert!(e.to_string().contains("--area-size"), "{e}");
    }

    /// Dropped CQEs (CQ overflow that the kernel could not even queue): the
    /// request may have ended unseen, so it is cancelled and armed again once
    /// the cancel completes, whichever way the cancel went.
    #[test]
    fn dropped_cqes_cancel_then_rearm() {
        for (cancel_res, final_cqe) in [(0, Some(cqe(-libc::ECANCELED, 0, 0))), (-libc::ENOENT, None)] {
            let mut r = Receiver::new(false, ZcrxInfo::default());
            r.on(&cqe(4096, IORING_CQE_F_MORE, 0)).unwrap();
            r.on_dropped();
            assert_eq!(r.next(), Next::Cancel);
            assert_eq!(round(&mut r, &[cqe(4096, IORING_CQE_F_MORE, 4096)]).unwrap(), Next::Wait);
            let mut cqes: Vec<Kind> = final_cqe.into_iter().collect();
            cqes.push(Kind::Cancelled(cancel_res));
            assert_eq!(round(&mut r, &cqes).unwrap(), Next::Arm);
            assert_eq!(r.counts.rearms_after_drop, 1);
            assert_eq!(r.bytes, 8192);
        }
        // A drop after the end of the flow changes nothing.
        let mut r = Receiver::new(false, ZcrxInfo::default());
        r.on(&cqe(0, 0, 0)).unwrap();
        r.on_dropped();
        assert_eq!(r.next(), Next::Done);
    }

    #[test]
    fn events_are_counted() {
        let mut r = Receiver::new(false, ZcrxInfo::default());
        for e in [ZcrxEvent::Copy, ZcrxEvent::AllocFail, ZcrxEvent::AllocFail, ZcrxEvent::Unknown(9)] {
            r.on(&Kind::Event(e)).unwrap();
        }
        assert_eq!((r.counts.event_cqes, r.counts.copy_events, r.counts.alloc_fail_events), (4, 1, 2));
        assert!(r.on(&Kind::Other { user_data: 5, res: 0 }).is_err());
    }
}
