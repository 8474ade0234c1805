//! io_uring: capability probe, rings for data-path threads, and the two
//! buffer-owning rings the data paths use: [`bufring::RecvRing`] (multishot
//! receive into provided buffers) and [`sendzc::SendZcRing`] (SEND_ZC from
//! registered buffers). Each owns or exclusively borrows the memory the kernel
//! reads or writes, so their safe methods cannot hand the kernel a dangling or
//! shared buffer.

pub mod bufring;
pub mod sendzc;
pub mod zcrx;

use anyhow::{Context, Result};
use io_uring::{IoUring, Probe, opcode};
use serde::Serialize;

#[derive(Debug, Clone, Serialize)]
pub struct UringSupport {
    pub recv: bool,
    pub recv_zc: bool,
    pub send_zc: bool,
    /// IORING_FEAT_NO_IOWAIT: a waiter can stay out of iowait accounting (6.15+).
    pub no_iowait: bool,
}

pub fn probe() -> Result<UringSupport> {
    let ring = IoUring::new(4)
        .context("creating an io_uring (kernel without CONFIG_IO_URING, or io_uring_disabled sysctl set?)")?;
    let mut p = Probe::new();
    ring.submitter().register_probe(&mut p).context("IORING_REGISTER_PROBE")?;
    Ok(UringSupport {
        recv: p.is_supported(opcode::Recv::CODE),
        recv_zc: p.is_supported(opcode::RecvZc::CODE),
        send_zc: p.is_supported(opcode::SendZc::CODE),
        no_iowait: ring.params().is_feature_no_iowait(),
    })
}

/// From include/uapi/linux/io_uring.h (the crate keeps its copy private).
pub const IORING_SEND_ZC_REPORT_USAGE: u16 = 8;
pub const IORING_NOTIF_USAGE_ZC_COPIED: u32 = 1 << 31;

fn setup_error(e: std::io::Error) -> anyhow::Error {
    crate::error::unsupported(format!(
        "io_uring_setup failed: {e} (kernel without io_uring, or kernel.io_uring_disabled set)"
    ))
}

/// A ring for one data-path thread: single issuer with deferred task work (task
/// work runs when the thread waits, not as interrupts of it). Must be created on
/// the thread that uses it. Falls back to a plain ring on kernels without those
/// flags; returns whether the fallback happened.
pub fn data_ring(entries: u32) -> Result<(IoUring, bool)> {
    match IoUring::builder().setup_single_issuer().setup_defer_taskrun().build(entries) {
        Ok(r) => Ok((r, false)),
        Err(e) if e.raw_os_error() == Some(libc::EINVAL) => Ok((IoUring::new(entries).map_err(setup_error)?, true)),
        Err(e) => Err(setup_error(e)),
    }
}

/// Submit what is queued and wait for one completion or `timeout_ms`; a timeout or
/// a signal is not an error (the caller looks at its flags and comes back).
pub fn submit_wait(ring: &IoUring, timeout_ms: u32) -> std::io::Result<()> {
    let ts = io_uring::types::Timespec::new().sec(u64::from(timeout_ms / 1000)).nsec((timeout_ms % 1000) * 1_000_000);
    let args = io_uring::types::SubmitArgs::new().timespec(&ts);
    match ring.submitter().submit_with_args(1, &args) {
        Ok(_) => Ok(()),
        Err(e) if matches!(e.raw_os_error(), Some(libc::ETIME) | Some(libc::EINTR) | Some(libc::EBUSY)) => Ok(()),
        Err(e) => Err(e),
    }
}
