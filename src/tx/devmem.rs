//! devmem TCP transmit: the payload is written once into a dma-buf bound for
//! transmit on the sending NIC (netdev bind-tx), and each sendmsg names a range
//! of it (the iov base is an offset into the dma-buf) with an SCM_DEVMEM_DMABUF
//! cmsg and MSG_ZEROCOPY; completions come on the error queue as for
//! MSG_ZEROCOPY, and a range is reused only after its completion. The socket is
//! bound to the device (SO_BINDTODEVICE): the kernel sends a devmem skb only
//! through the device the dma-buf is bound to.
//!
//! The stream is the dma-buf sent over and over, so `--validate` checks a
//! pattern whose period is the dma-buf's size.

use super::desc::TxModeDesc;
use super::path::{Params, TxPath};
use super::zerocopy::{MsgZerocopy, Source, enable};
use crate::datapath::{DataCtx, Prepare, kernel_refusal};
use crate::domain::DevmemOpts;
use crate::error::usage;
use crate::pattern;
use crate::results::schema::TxStats;
use crate::sys::dmabuf::{DmaBuf, Pages, Udmabuf};
use crate::sys::features::Feature;
use crate::sys::netlink::link;
use crate::sys::netlink::netdev::{self, Binding};
use crate::sys::netns;
use crate::sys::sock::devmem::{bind_to_device, sendmsg_devmem};
use anyhow::{Context, Result};
use std::os::fd::BorrowedFd;

pub const MODE: TxModeDesc = TxModeDesc {
    name: "devmem",
    help: "devmem TX: sendmsg(MSG_ZEROCOPY) of offsets into a dma-buf bound to the sending NIC (bind-tx)",
    needs: &[Feature::SoZerocopy, Feature::NetdevBindTx, Feature::Udmabuf],
    check_options: |p| p.devmem.check_dmabuf_size().map_err(usage),
    period: |p| Some(period(p.msg_size as u64, p.devmem.dmabuf_size)),
    huge_buffers: |p| if p.devmem.dmabuf_hugepages { vec![p.devmem.dmabuf_size as usize] } else { Vec::new() },
    build: |p| Ok(Box::new(new(p)?)),
};

/// The dma-buf, cut into chunks of the message size, and its tx binding.
pub struct DmabufChunks {
    opts: DevmemOpts,
    chunk: usize,
    bound: Option<(Binding, Box<dyn DmaBuf>, String)>,
    /// Reused for pattern fills (--validate), sized once.
    staging: Vec<u8>,
}

impl Source for DmabufChunks {
    fn chunks(&self) -> usize {
        (self.opts.dmabuf_size as usize / self.chunk).max(1)
    }
    fn chunk_len(&self, _c: usize) -> usize {
        self.chunk
    }
    fn fill(&mut self, _c: usize, _at: u64) -> Result<()> {
        // The stream repeats the dma-buf (`period`): prepare() wrote every
        // chunk's pattern once, so chunk c already holds what it must.
        Ok(())
    }
    fn send(&self, fd: BorrowedFd<'_>, c: usize, off: usize) -> std::io::Result<usize> {
        let id = self.bound.as_ref().map_or(0, |b| b.0.id);
        sendmsg_devmem(fd, (c * self.chunk + off) as u64, self.chunk - off, id)
    }
    fn syscall(&self) -> crate::datapath::Sys {
        crate::datapath::Sys::Sendmsg
    }
    fn call(&self) -> &'static str {
        "sendmsg(MSG_ZEROCOPY, SCM_DEVMEM_DMABUF)"
    }
    fn report_source(&self) -> &'static str {
        "devmem TX completions (SO_EE_CODE_ZEROCOPY_COPIED marks copied)"
    }
    fn prepare_socket(&self, fd: BorrowedFd<'_>) -> Result<()> {
        enable(fd)?;
        let dev = self.bound.as_ref().map(|b| b.2.as_str()).unwrap_or_default();
        bind_to_device(fd, dev).with_context(|| format!("SO_BINDTODEVICE {dev} for devmem TX"))
    }
}

pub type DevmemTx = MsgZerocopy<DmabufChunks>;

/// The chunk each send covers: the message size in whole pages, at most half
/// the dma-buf, so two chunks can be in flight.
fn chunk_of(msg_size: usize, dmabuf_size: u64) -> usize {
    (msg_size.div_ceil(4096).max(1) * 4096).min(dmabuf_size as usize / 2).max(4096)
}

/// The period of the stream devmem TX sends: its chunks, over and over.
fn period(msg_size: u64, dmabuf_size: u64) -> u64 {
    let chunk = chunk_of(msg_size as usize, dmabuf_size) as u64;
    (dmabuf_size / chunk).max(1) * chunk
}

fn new(p: &Params) -> Result<DevmemTx> {
    let chunk = chunk_of(p.msg_size, p.devmem.dmabuf_size);
    Ok(MsgZerocopy::over(DmabufChunks { opts: p.devmem, chunk, bound: None, staging: vec![0; chunk] }))
}

/// What the kernel's refusal of bind-tx means.
fn bind_tx_hint(errno: i32) -> &'static str {
    match errno {
        libc::EOPNOTSUPP => "the driver cannot transmit from a dma-buf (it must declare netmem TX support)",
        libc::EINVAL => "the dma-buf does not suit the device",
        _ => "the kernel refused it",
    }
}

impl TxPath for DevmemTx {
    fn prepare(&mut self, p: &mut Prepare<'_>) -> Result<()> {
        let dev = p.tx_dev.ok_or_else(|| {
            usage("--tx-mode devmem sends from a NIC: use --testbed ports, or `zcbench client --dev NIC`")
        })?;
        let s = &mut self.src;
        let pages = if s.opts.dmabuf_hugepages { Pages::Huge2M } else { Pages::Small };
        let dmabuf: Box<dyn DmaBuf> = Box::new(Udmabuf::create(s.opts.dmabuf_size as usize, pages)?);
        let binding = netns::with_netns(dev.ns(), || {
            let l = link::get_link(&dev.name)?;
            netdev::bind_tx(l.ifindex, dmabuf.fd())
                .map_err(|e| kernel_refusal(dev, "bind-tx of a dma-buf", e, bind_tx_hint))
        })?;
        for c in 0..s.chunks() {
            pattern::fill(&mut s.staging, (c * s.chunk) as u64);
            dmabuf.write(c * s.chunk, &s.staging)?;
        }
        s.bound = Some((binding, dmabuf, dev.name.clone()));
        Ok(())
    }

    fn run(&mut self, fd: BorrowedFd<'_>, ctx: &DataCtx) -> Result<TxStats> {
        self.send_all(fd, ctx)
    }
}
