//! Transmit paths, one file per mode behind [`TxPath`].

mod copy;
mod sendfile;
mod uring_zc;
mod zerocopy;

pub use zerocopy::enable as enable_zerocopy;

use crate::cli::TxMode;

use crate::rx::DataCtx;
use anyhow::Result;
use serde::{Deserialize, Serialize};
use std::os::fd::RawFd;

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct TxStats {
    pub bytes: u64,
    /// Send syscalls, those that returned an error (EAGAIN included), and the
    /// poll() calls that waited for room in the send buffer.
    pub calls: u64,
    pub errors: u64,
    pub polls: u64,
    /// Zero-copy modes only: what the completions said.
    pub zero_copy: Option<crate::rx::ZeroCopyReport>,
    /// Completion notifications received, error-queue reads made, and bytes whose
    /// completion had not arrived when the run ended.
    pub completions: u64,
    pub errqueue_reads: u64,
    pub unconfirmed_bytes: u64,
    /// io_uring modes only.
    pub uring: Option<crate::rx::UringInfo>,
}

pub trait TxPath: Send {
    /// Send until `ctx.flags.stop` (or abort), then shut down the write side.
    fn run(&mut self, fd: RawFd, ctx: &DataCtx) -> Result<TxStats>;
}

pub fn make(mode: TxMode, msg_size: usize) -> Result<Box<dyn TxPath>> {
    match mode {
        TxMode::Copy => Ok(Box::new(copy::Copy::new(msg_size)?)),
        TxMode::Zerocopy => Ok(Box::new(zerocopy::ZeroCopy::new(msg_size)?)),
        TxMode::Sendfile => Ok(Box::new(sendfile::Sendfile::new(msg_size)?)),
        TxMode::UringZc => Ok(Box::new(uring_zc::UringZc::new(msg_size)?)),

        other => Err(crate::config::not_available("tx", &other)),
    }
}
