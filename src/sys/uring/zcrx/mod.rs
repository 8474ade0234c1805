//! io_uring zero-copy receive (zcrx): a ring with an interface queue whose
//! payload lands in an area this process owns, multishot `RECV_ZC`, and the
//! refill ring through which buffers go back.
//!
//! A [`ZcrxRing`] is made in two steps on two threads. [`ZcrxRing::register`]
//! runs before the flow, on the orchestrating thread, inside the device's
//! network namespace (the kernel resolves the interface index in the caller's
//! namespace): it creates the ring `IORING_SETUP_R_DISABLED` (so no task owns
//! it yet), registers the interface queue, and so surfaces the kernel's
//! refusal before any traffic. [`ZcrxRing::enable`] runs on the data thread:
//! `IORING_REGISTER_ENABLE_RINGS` makes that thread the ring's single issuer
//! (io_uring/register.c `io_register_enable_rings()`; registration on a
//! disabled ring has no owner to check, `__io_uring_register()`).
//!
//! The ring owns the area and the refill region, and lends received bytes only
//! inside [`ZcrxRing::drain`]'s callback: a buffer goes back to the kernel
//! after the callback returns, so no slice of it outlives its loan. Field order
//! matters: the ring is closed before the memory it pinned is unmapped.

pub mod abi;
mod area;
pub mod cqe;
pub mod query;
pub mod refill;

pub use area::Area;
use area::{Region, RegionRing};
use cqe::{Cqe, RecvZc, ZcrxEvent};
use refill::{RefillProducer, RefillStats, Rqe};

use anyhow::{Context, Result, anyhow, bail};
use io_uring::types::{Fd, SubmitArgs, Timespec};
use io_uring::{IoUring, cqueue, opcode, squeue};
use std::os::fd::{AsRawFd, BorrowedFd, RawFd};

const UD_RECV: u64 = 0x7a63_7278;
const UD_EVENT: u64 = 0x7a63_7265;
const UD_CANCEL: u64 = 0x7a63_7263;
const SQ_ENTRIES: u32 = 4;

/// Where the interface queue takes its data from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    /// Rx queue `queue` of the device with `ifindex` (in the namespace given to `register`).
    Device { ifindex: u32, queue: u32 },
    /// `ZCRX_REG_NODEV` (7.1+): no device; the kernel copies every byte.
    NoDevice,
}

/// What to ask the kernel for.
#[derive(Debug, Clone, Copy)]
pub struct Spec {
    pub target: Target,
    /// Refill ring entries (a power of two, at most 32768).
    pub rq_entries: u32,
    /// CQ entries (32 bytes each).
    pub cq_entries: u32,
    /// Buffer size to ask for (7.0+); None: the page size.
    pub rx_buf_len: Option<u32>,
    /// Entries per refill-ring tail store.
    pub refill_batch: u32,
    /// Ask for events and copy statistics (7.2+).
    pub events: bool,
    /// The kernel has `ZCRX_CTRL_FLUSH_RQ` / `ZCRX_CTRL_ARM_EVENT`.
    pub flush_rq: bool,
    pub arm_event: bool,
}

/// A step the kernel refused, with its errno (the caller explains it).
#[derive(Debug, Clone)]
pub struct Refused {
    pub step: &'static str,
    pub errno: i32,
}

impl std::fmt::Display for Refused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let name = nix::errno::Errno::from_raw(self.errno);
        write!(f, "{} failed: {name:?} ({})", self.step, std::io::Error::from_raw_os_error(self.errno))
    }
}

impl std::error::Error for Refused {}

fn refused(step: &'static str, e: std::io::Error) -> anyhow::Error {
    anyhow!(Refused { step, errno: e.raw_os_error().unwrap_or(libc::EIO) })
}

/// What the kernel granted at registration.
#[derive(Debug, Clone, Copy)]
pub struct Granted {
    pub zcrx_id: u32,
    pub rq_entries: u32,
    /// The buffer size read back from the kernel (7.0+); None: it predates the
    /// field and uses the page size.
    pub rx_buf_len: Option<u32>,
    pub area_token: u64,
    /// Events and `zcrx_stats` were registered.
    pub events: bool,
    /// The kernel's ring has IORING_FEAT_NO_IOWAIT.
    pub no_iowait: bool,
}

/// Counters of the refill side and of the ring.
#[derive(Debug, Clone, Copy, Default)]
pub struct RingCounters {
    pub refill: RefillStats,
    /// ZCRX_CTRL_FLUSH_RQ calls.
    pub flushes: u64,
    /// Refill-ring occupancy (published, not yet taken) after each publish.
    pub occupancy_max: u32,
    pub occupancy_sum: u64,
    pub occupancy_samples: u64,
    /// Drains that found IORING_SQ_CQ_OVERFLOW set (CQEs waiting in the kernel).
    pub overflow_rounds: u64,
    /// ZCRX_CTRL_ARM_EVENT calls.
    pub event_rearms: u64,
}

/// One completion, as the data path sees it.
pub struct Completion<'a> {
    pub kind: Kind,
    area: &'a Area,
    area_token: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Recv(RecvZc),
    Event(ZcrxEvent),
    /// The result of the ASYNC_CANCEL `cancel` queued.
    Cancelled(i32),
    Other {
        user_data: u64,
        res: i32,
    },
}

impl Completion<'_> {
    /// A data completion's bytes, lent to `f`; an error for any other kind.
    pub fn read(&self, f: &mut dyn FnMut(&[u8]) -> Result<()>) -> Result<()> {
        match self.kind {
            Kind::Recv(RecvZc::Data { buf, .. }) if buf.area_token() != self.area_token => bail!(
                "a RECV_ZC CQE names area {} (offset {:#x}); the registered area has token {:#x}",
                buf.area_index(),
                buf.raw(),
                self.area_token
            ),
            Kind::Recv(RecvZc::Data { buf, len, .. }) => self.area.read(buf.offset_in_area(), len, f),
            _ => bail!("no data in a {:?} completion", self.kind),
        }
    }
}

/// How a wait ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wait {
    /// Completions are ready, the time ran out, or a signal came.
    Done,
    /// `-EBADR`: the kernel dropped CQEs it could not even overflow.
    Dropped,
}

pub struct ZcrxRing {
    ring: IoUring<squeue::Entry, cqueue::Entry32>,
    fd: RawFd,
    refill: RefillProducer<RegionRing>,
    /// Buffers to go back, oldest first (capacity: every buffer of the area).
    pending: Vec<Rqe>,
    region: Region,
    area: Area,
    spec: Spec,
    pub granted: Granted,
    counters: RingCounters,
}

impl ZcrxRing {
    /// Create the ring (disabled) and register the interface queue with `area`,
    /// the syscall made inside network namespace `netns`.
    pub fn register(spec: Spec, area: Area, netns: Option<&str>) -> Result<ZcrxRing> {
        let ring = IoUring::<squeue::Entry, cqueue::Entry32>::builder()
            .setup_single_issuer()
            .setup_defer_taskrun()
            .setup_r_disabled()
            .setup_cqsize(spec.cq_entries)
            .build(SQ_ENTRIES.min(spec.cq_entries))
            .map_err(|e| refused("io_uring_setup(SINGLE_ISSUER|DEFER_TASKRUN|CQE32|R_DISABLED)", e))?;
        let region = Region::new(spec.rq_entries)?;
        let mut rd = region.desc();
        let mut ar = area.reg();
        let mut ev = abi::EventDesc {
            user_data: UD_EVENT,
            type_mask: (1 << abi::ZCRX_EVENT_ALLOC_FAIL) | (1 << abi::ZCRX_EVENT_COPY),
            flags: abi::ZCRX_EVENT_DESC_FLAG_STATS,
            stats_offset: region.stats_offset() as u64,
            ..Default::default()
        };
        let (if_idx, if_rxq, flags) = match spec.target {
            Target::Device { ifindex, queue } => (ifindex, queue, 0),
            Target::NoDevice => (0, 0, abi::ZCRX_REG_NODEV),
        };
        let mut reg = abi::IfqReg {
            if_idx,
            if_rxq,
            rq_entries: spec.rq_entries,
            flags,
            area_ptr: &mut ar as *mut abi::AreaReg as u64,
            region_ptr: &mut rd as *mut abi::RegionDesc as u64,
            rx_buf_len: spec.rx_buf_len.unwrap_or(0),
            event_desc: if spec.events { &mut ev as *mut abi::EventDesc as u64 } else { 0 },
            ..Default::default()
        };
        let fd = ring.as_raw_fd();
        crate::sys::netns::with_netns(netns, || {
            abi::register(fd, abi::IORING_REGISTER_ZCRX_IFQ, &mut reg as *mut abi::IfqReg as *mut _, 1)
                .map_err(|e| refused("IORING_REGISTER_ZCRX_IFQ", e))
        })?;
        let refill = RefillProducer::new(region.ring(&reg.offsets, reg.rq_entries)?)
            .ok_or_else(|| anyhow!("the kernel made a refill ring of {} entries", reg.rq_entries))?;
        let granted = Granted {
            zcrx_id: reg.zcrx_id,
            rq_entries: reg.rq_entries,
            // Written back by 7.0+; older kernels leave the (reserved) field as sent.
            rx_buf_len: (reg.rx_buf_len != 0).then_some(reg.rx_buf_len),
            area_token: ar.rq_area_token,
            events: spec.events,
            no_iowait: ring.params().is_feature_no_iowait(),
        };
        let buffers = area.len() / granted.rx_buf_len.unwrap_or(4096).max(4096) as usize;
        Ok(ZcrxRing {
            ring,
            fd,
            refill,
            pending: Vec::with_capacity(buffers + spec.cq_entries as usize),
            region,
            area,
            spec,
            granted,
            counters: RingCounters::default(),
        })
    }

    pub fn area(&self) -> &Area {
        &self.area
    }

    /// On the data thread: make it the ring's single issuer.
    pub fn enable(&mut self) -> Result<()> {
        self.ring.submitter().register_enable_rings().context("IORING_REGISTER_ENABLE_RINGS")
    }

    fn push(&mut self, sqe: squeue::Entry) -> Result<()> {
        // SAFETY: RECV_ZC writes only into the registered area and ASYNC_CANCEL
        // reads nothing of ours; both live as long as the ring (fields of self).
        unsafe { self.ring.submission().push(&sqe) }.map_err(|_| anyhow!("io_uring submission queue full"))
    }

    /// Arm (or re-arm) multishot RECV_ZC on `sock`, with no byte budget.
    pub fn arm(&mut self, sock: BorrowedFd<'_>) -> Result<()> {
        self.push(opcode::RecvZc::new(Fd(sock.as_raw_fd()), 0).ifq(self.granted.zcrx_id).build().user_data(UD_RECV))
    }

    /// Cancel the receive (after dropped CQEs: it may or may not still be armed).
    pub fn cancel(&mut self) -> Result<()> {
        self.push(opcode::AsyncCancel::new(UD_RECV).build().user_data(UD_CANCEL))
    }

    /// Submit what is queued and wait up to `timeout_ms` for a completion,
    /// outside iowait accounting when `no_iowait` (IORING_ENTER_NO_IOWAIT).
    pub fn wait(&mut self, timeout_ms: u32, no_iowait: bool) -> Result<Wait> {
        let to_submit = self.ring.submission().len() as u32;
        let ts = Timespec::new().sec(u64::from(timeout_ms / 1000)).nsec((timeout_ms % 1000) * 1_000_000);
        let args = SubmitArgs::new().timespec(&ts);
        let mut flags = abi::IORING_ENTER_GETEVENTS | abi::IORING_ENTER_EXT_ARG;
        if no_iowait {
            flags |= abi::IORING_ENTER_NO_IOWAIT;
        }
        // SAFETY: EXT_ARG takes a struct io_uring_getevents_arg, which SubmitArgs
        // is (repr(transparent)); the queued SQEs use only memory this ring owns.
        match unsafe { self.ring.submitter().enter(to_submit, 1, flags, Some(&args)) } {
            Ok(_) => Ok(Wait::Done),
            Err(e) => match e.raw_os_error() {
                Some(libc::EBADR) => Ok(Wait::Dropped),
                Some(libc::ETIME | libc::EINTR | libc::EBUSY | libc::EAGAIN) => Ok(Wait::Done),
                _ => Err(anyhow!(e).context("io_uring_enter")),
            },
        }
    }

    /// CQEs the kernel dropped so far (the CQ ring's overflow counter).
    pub fn dropped(&mut self) -> u32 {
        self.ring.completion().overflow()
    }

    /// The kernel's copy-fallback counters `(copy_count, copy_bytes)`; None
    /// when the kernel keeps none (before 7.2).
    pub fn copy_stats(&self) -> Option<(u64, u64)> {
        self.granted.events.then(|| self.region.stats())
    }

    pub fn counters(&self) -> RingCounters {
        RingCounters { refill: *self.refill.stats(), ..self.counters }
    }

    /// Buffers received and not yet handed back to the kernel.
    pub fn pending(&self) -> usize {
        self.pending.len()
    }

    /// Hand each completion to `f`; a data completion's buffer goes back to
    /// the kernel after `f` returns (in batches of `refill_batch`). Returns the
    /// number of completions.
    pub fn drain(&mut self, mut f: impl FnMut(&Completion<'_>) -> Result<()>) -> Result<u64> {
        if self.ring.submission().cq_overflow() {
            self.counters.overflow_rounds += 1;
        }
        let mut n = 0;
        let mut alloc_fail = false;
        loop {
            let (got, more) = self.drain_batch(&mut f, &mut alloc_fail)?;
            n += got;
            self.give_back()?;
            if !more {
                break;
            }
        }
        if alloc_fail && self.spec.arm_event {
            self.ctrl_arm_event(abi::ZCRX_EVENT_ALLOC_FAIL)?;
        }
        Ok(n)
    }

    /// Completions until a refill batch is due; (count, CQEs left).
    fn drain_batch(
        &mut self,
        f: &mut dyn FnMut(&Completion<'_>) -> Result<()>,
        alloc_fail: &mut bool,
    ) -> Result<(u64, bool)> {
        let batch = self.spec.refill_batch.max(1) as usize;
        let area_token = self.granted.area_token;
        let Self { ring, area, pending, .. } = self;
        let mut cq = ring.completion();
        let mut n = 0;
        for e in &mut cq {
            n += 1;
            let c = Cqe { user_data: e.user_data(), res: e.result(), flags: e.flags(), big: *e.big_cqe() };
            let kind = classify(&c);
            *alloc_fail |= kind == Kind::Event(ZcrxEvent::AllocFail);
            f(&Completion { kind, area, area_token })?;
            if let Kind::Recv(RecvZc::Data { buf, len, .. }) = kind {
                // Capacity is sized for every buffer of the area; it grows only
                // if the kernel splits buffers into more frags than that.
                pending.push(Rqe::for_cqe(buf, len));
                if pending.len() >= batch {
                    break;
                }
            }
        }
        cq.sync();
        Ok((n, !cq.is_empty()))
    }

    /// Return pending buffers in batches of `refill_batch` per tail store. A
    /// full ring is flushed (ZCRX_CTRL_FLUSH_RQ) where the kernel can; without
    /// a device the kernel takes entries only when flushed.
    fn give_back(&mut self) -> Result<()> {
        let nodev = self.spec.target == Target::NoDevice;
        while !self.pending.is_empty() {
            let chunk = self.pending.len().min(self.spec.refill_batch.max(1) as usize);
            let took = self.refill.refill_batch(&self.pending[..chunk]);
            self.pending.drain(..took);
            if took > 0 {
                let occ = self.refill.occupancy();
                let c = &mut self.counters;
                c.occupancy_max = c.occupancy_max.max(occ);
                c.occupancy_sum += u64::from(occ);
                c.occupancy_samples += 1;
            }
            if took < chunk || nodev {
                if !self.spec.flush_rq {
                    break; // The page pool takes entries as it refills.
                }
                self.ctrl_flush()?;
                if took == 0 && self.refill.free() == 0 {
                    bail!("the kernel took no refill entries after ZCRX_CTRL_FLUSH_RQ");
                }
            }
        }
        Ok(())
    }

    /// Have the kernel take the refill ring's entries now (ZCRX_CTRL_FLUSH_RQ,
    /// where it has it): after -ENOMEM, when its copy fallback found no free
    /// buffer while returned ones still sat in the ring. Returns whether it
    /// called the kernel.
    pub fn flush(&mut self) -> Result<bool> {
        if self.spec.flush_rq && self.refill.occupancy() > 0 {
            self.ctrl_flush()?;
            return Ok(true);
        }
        Ok(false)
    }

    fn ctrl_flush(&mut self) -> Result<()> {
        let mut c = abi::Ctrl { zcrx_id: self.granted.zcrx_id, op: abi::ZCRX_CTRL_FLUSH_RQ, ..Default::default() };
        abi::register(self.fd, abi::IORING_REGISTER_ZCRX_CTRL, &mut c as *mut abi::Ctrl as *mut _, 0)
            .map_err(|e| refused("ZCRX_CTRL_FLUSH_RQ", e))?;
        self.counters.flushes += 1;
        Ok(())
    }

    fn ctrl_arm_event(&mut self, event_type: u32) -> Result<()> {
        let mut c = abi::CtrlArmEvent {
            zcrx_id: self.granted.zcrx_id,
            op: abi::ZCRX_CTRL_ARM_EVENT,
            event_type,
            ..Default::default()
        };
        abi::register(self.fd, abi::IORING_REGISTER_ZCRX_CTRL, &mut c as *mut abi::CtrlArmEvent as *mut _, 0)
            .map_err(|e| refused("ZCRX_CTRL_ARM_EVENT", e))?;
        self.counters.event_rearms += 1;
        Ok(())
    }
}

/// Ask the kernel whether rx queue `queue` of device `ifindex` could take an
/// interface queue, without touching the queue: a registration whose area
/// address is deliberately not page aligned. The kernel looks the device up
/// (ENODEV) and checks its DMA device (EOPNOTSUPP) before it imports the area
/// (EINVAL here) and long before it opens the queue. Ok(errno) is the kernel's
/// answer; EINVAL means the device passed.
pub fn rehearse(ifindex: u32, queue: u32, netns: Option<&str>) -> Result<i32> {
    let ring = IoUring::<squeue::Entry, cqueue::Entry32>::builder()
        .setup_single_issuer()
        .setup_defer_taskrun()
        .build(SQ_ENTRIES)
        .map_err(|e| refused("io_uring_setup(SINGLE_ISSUER|DEFER_TASKRUN|CQE32)", e))?;
    let region = Region::new(64)?;
    let mut rd = region.desc();
    let page = crate::sys::mem::PageBuf::new(2 * 4096, crate::sys::mem::Backing::Pages)?;
    let mut ar = abi::AreaReg { addr: page.raw().0 as u64 + 1, len: 4096, ..Default::default() };
    let mut reg = abi::IfqReg {
        if_idx: ifindex,
        if_rxq: queue,
        rq_entries: 64,
        area_ptr: &mut ar as *mut abi::AreaReg as u64,
        region_ptr: &mut rd as *mut abi::RegionDesc as u64,
        ..Default::default()
    };
    let fd = ring.as_raw_fd();
    let r = crate::sys::netns::with_netns(netns, || {
        Ok(abi::register(fd, abi::IORING_REGISTER_ZCRX_IFQ, &mut reg as *mut abi::IfqReg as *mut _, 1))
    })?;
    // Unexpected success ends with the ring: the kernel takes the queue back.
    drop(ring);
    Ok(r.err().and_then(|e| e.raw_os_error()).unwrap_or(0))
}

/// Whether this kernel creates the ring zcrx needs (SINGLE_ISSUER,
/// DEFER_TASKRUN, 32-byte CQEs); nothing else is touched.
pub fn ring_available() -> Result<()> {
    IoUring::<squeue::Entry, cqueue::Entry32>::builder()
        .setup_single_issuer()
        .setup_defer_taskrun()
        .build(SQ_ENTRIES)
        .map(drop)
        .map_err(|e| refused("io_uring_setup(SINGLE_ISSUER|DEFER_TASKRUN|CQE32)", e))
}

fn classify(c: &Cqe) -> Kind {
    match c.user_data {
        UD_RECV => Kind::Recv(RecvZc::from_cqe(c)),
        UD_EVENT => Kind::Event(ZcrxEvent::from_res(c.res)),
        UD_CANCEL => Kind::Cancelled(c.res),
        user_data => Kind::Other { user_data, res: c.res },
    }
}

#[cfg(test)]
mod tests;
