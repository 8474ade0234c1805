//! devmem TCP receive: the payload lands in a dma-buf bound to the NIC rx queue
//! the flow is steered to; recvmsg(MSG_SOCK_DEVMEM) returns (offset, size,
//! token) cmsgs instead of the bytes, and every token goes back to the kernel
//! with SO_DEVMEM_DONTNEED — batched and coalesced into ranges (`tokens`).
//!
//! `prepare` makes the dma-buf, binds it to the queue (netdev bind-rx; the
//! binding lives as long as this path) and confirms it with queue-get. `run`
//! accounts every byte through the cmsgs (the return value also counts the
//! dma-buf bytes the iov never saw), validates payload in the dma-buf mapping
//! with `--validate`, and fails the run if a token is left unreturned.

mod cmsg;
mod tokens;

use super::desc::{Kind, PathDesc, Queue, RxModeDesc};
use super::path::{Params, RxPath};
use crate::datapath::{DataCtx, IO_POLL_MS, Prepare, Sys, SyscallTimer, kernel_refusal};
use crate::domain::{DevmemOpts, RxMode, TxMode};
use crate::error::usage;
use crate::pattern;
use crate::results::schema::{DevmemRx, RxStats, ZeroCopy};
use crate::sys::dmabuf::{DmaBuf, Pages, Udmabuf};
use crate::sys::features::Feature;
use crate::sys::mem::PageBuf;
use crate::sys::netlink::link;
use crate::sys::netlink::netdev::{self, Binding};
use crate::sys::netns;
use crate::sys::sock::devmem::{ETOOSMALL, devmem_dontneed, recvmsg_devmem};
use crate::sys::sock::{READABLE, wait_ready};
use anyhow::{Context, Result, anyhow, bail};
use cmsg::{DEVMEM_CMSG_SPACE, DevmemFrags, Frag, FragSummary};
use std::os::fd::BorrowedFd;
use std::sync::atomic::Ordering;
use tokens::TokenBatcher;

pub const MODE: RxModeDesc = RxModeDesc {
    mode: RxMode::Devmem,
    name: "devmem",
    help: "devmem TCP: payload lands in a dma-buf bound to an rx queue (needs a NIC with header split and queue management: --testbed ports or server --dev)",
    colour: (0xD5, 0x5E, 0x00),
    kind: Kind::Path(PathDesc {
        needs: &[Feature::NetdevBindRx, Feature::Udmabuf],
        queue: Queue::Bound,
        flows_on_nic: "an rx queue per flow, each with an ntuple rule for its flow's 5-tuple and a dma-buf of its own bound to it (one bind-rx per flow: bind-rx would take a list of queues, but one dma-buf shared by every flow lets a flow that holds its tokens starve the others, and per-flow buffers keep tokens and refill counted per flow, as zcrx's area per ring does)",
        // devmem receive works with any sender; devmem TX (--tx-mode devmem)
        // needs its own dma-buf binding on the sending NIC.
        default_tx: TxMode::Copy,
        mss: None,
        check_options,
        // The dma-buf in 2 MiB pages when asked for.
        huge_buffers: |p| if p.devmem.dmabuf_hugepages { vec![p.devmem.dmabuf_size as usize] } else { Vec::new() },
        build: |p| Ok(Box::new(Devmem::new(p)?)),
    }),
};

/// The most tokens one batch may gather.
const MAX_TOKEN_BATCH: u32 = 1 << 20;

fn check_options(p: &Params) -> Result<()> {
    let dm = &p.devmem;
    if !(1..=MAX_TOKEN_BATCH).contains(&dm.token_batch) {
        return Err(usage(format!("--token-batch {} must be 1..={MAX_TOKEN_BATCH} tokens", dm.token_batch)));
    }
    dm.check_dmabuf_size().map_err(usage)
}

/// Frags are at most a page: the control buffer has room for a read's worth.
const MIN_FRAG: usize = 4096;
const HISTOGRAM: usize = 18;

/// The binding and its memory; the binding is dropped (unbound) first.
struct Bound {
    binding: Binding,
    dmabuf: Box<dyn DmaBuf>,
}

pub struct Devmem {
    opts: DevmemOpts,
    /// Payload the kernel copies (linear parts, ordinary skbs) lands here, packed.
    iov: PageBuf,
    control: Vec<u8>,
    /// This recvmsg's dma-buf frags and the stream offset of each (validation).
    ranges: Vec<(u64, u32)>,
    starts: Vec<u64>,
    tokens: TokenBatcher,
    summary: FragSummary,
    bound: Option<Bound>,
    stats: DevmemRx,
    histogram: [u64; HISTOGRAM],
}

impl Devmem {
    pub fn new(p: &Params) -> Result<Self> {
        let frags = p.read_size / MIN_FRAG + 16;
        // --token-batch was checked with the options (`check_options`).
        let mut tokens = TokenBatcher::new(p.devmem.token_batch).map_err(|e| anyhow!("token batcher: {e}"))?;
        tokens.reserve(frags);
        Ok(Devmem {
            opts: p.devmem,
            iov: PageBuf::new(p.read_size, p.backing)?,
            control: vec![0; frags * DEVMEM_CMSG_SPACE],
            ranges: Vec::with_capacity(frags),
            starts: Vec::with_capacity(frags),
            tokens,
            summary: FragSummary::default(),
            bound: None,
            stats: DevmemRx { token_batch: p.devmem.token_batch, ..Default::default() },
            histogram: [0; HISTOGRAM],
        })
    }

    /// Take one recvmsg's cmsgs: account, validate and queue the tokens.
    fn take(&mut self, bytes: usize, control_len: usize, stream_off: u64, ctx: &DataCtx) -> Result<()> {
        let Some(bound) = &self.bound else { bail!("devmem receive ran without a binding") };
        self.ranges.clear();
        self.starts.clear();
        let (mut off, mut lin) = (stream_off, 0usize);
        for f in DevmemFrags::new(&self.control[..control_len]) {
            let f = f.map_err(|e| anyhow!("devmem control message: {e}"))?;
            self.summary.add(&f, bound.binding.id);
            match f {
                Frag::Dmabuf { offset, size, token, dmabuf_id } => {
                    if f.is_foreign(bound.binding.id) {
                        bail!(
                            "a frag came from dma-buf binding {dmabuf_id}, not this run's {}: the flow reached a queue someone else bound",
                            bound.binding.id
                        );
                    }
                    self.ranges.push((offset, size));
                    self.starts.push(off);
                    self.tokens.push(token);
                }
                Frag::Linear { size } => {
                    let end = lin + size as usize;
                    let Some(b) = self.iov.get(lin..end) else { bail!("linear bytes beyond the iov ({end})") };
                    if ctx.validate {
                        pattern::check_stream(b, off, ctx.period)?;
                    }
                    lin = end;
                }
            }
            off += u64::from(f.size());
        }
        let described = off - stream_off;
        self.account(bytes, described, stream_off, ctx)
    }

    /// Bytes with no cmsg (an ordinary skb), the frag histogram, and validation
    /// of the dma-buf frags in one sync window.
    fn account(&mut self, bytes: usize, described: u64, stream_off: u64, ctx: &DataCtx) -> Result<()> {
        if described == 0 {
            if ctx.validate {
                pattern::check_stream(&self.iov[..bytes], stream_off, ctx.period)?;
            }
            self.stats.copied_bytes += bytes as u64;
        } else if described != bytes as u64 {
            bail!("recvmsg returned {bytes} bytes but its devmem cmsgs describe {described}");
        }
        let n = self.ranges.len() as u64;
        self.stats.recvmsgs_with_data += 1;
        self.histogram[(64 - n.leading_zeros() as usize).min(HISTOGRAM - 1)] += 1;
        if ctx.validate && !self.ranges.is_empty() {
            let Some(bound) = &self.bound else { bail!("devmem receive ran without a binding") };
            let (starts, period) = (&self.starts, ctx.period);
            bound.dmabuf.read(&self.ranges, &mut |i, b| Ok(pattern::check_stream(b, starts[i], period)?))?;
        }
        Ok(())
    }

    fn finish(&mut self, st: &mut RxStats, fd: BorrowedFd<'_>) -> Result<()> {
        self.tokens.flush(|t| devmem_dontneed(fd, t)).context("returning the last devmem tokens")?;
        let t = *self.tokens.stats();
        let d = &mut self.stats;
        let f = &self.summary;
        (d.dmabuf_bytes, d.linear_bytes, d.frags, d.foreign_frags) =
            (f.dmabuf_bytes, f.linear_bytes, f.dmabuf_frags, f.foreign_frags);
        d.dontneed_calls = t.calls;
        d.tokens_returned = t.tokens_freed;
        d.tokens_per_call = t.tokens_per_call();
        d.max_tokens_per_call = t.max_tokens_in_call;
        d.max_ranges_per_call = t.max_ranges_in_call;
        d.dontneed_calls_avoided = t.calls_avoided_vs_per_recvmsg();
        d.dontneed_retries = t.retries;
        d.tokens_unknown = t.tokens_unknown;
        d.tokens_leaked = self.tokens.outstanding() + t.tokens_pushed.saturating_sub(t.tokens_freed + t.tokens_unknown);
        d.frags_per_recvmsg = if d.recvmsgs_with_data > 0 { d.frags as f64 / d.recvmsgs_with_data as f64 } else { 0.0 };
        d.frags_per_recvmsg_log2 = self.histogram.to_vec();
        st.zero_copy = Some(ZeroCopy::new(
            d.dmabuf_bytes,
            d.linear_bytes + d.copied_bytes,
            "devmem: bytes in SCM_DEVMEM_DMABUF cmsgs vs bytes the kernel copied into the iov",
        ));
        st.devmem = Some(d.clone());
        if d.tokens_leaked > 0 {
            bail!(
                "{} devmem tokens were never returned (handed out {}, freed {})",
                d.tokens_leaked,
                t.tokens_pushed,
                t.tokens_freed
            );
        }
        Ok(())
    }
}

/// What the kernel's refusal of bind-rx means.
fn bind_rx_hint(errno: i32) -> &'static str {
    match errno {
        libc::EOPNOTSUPP => {
            "the device cannot give a queue a memory provider (it needs queue management and a DMA device; veth, lo and most virtual devices have neither)"
        }
        libc::EINVAL => {
            "the device's settings refuse it (header split must be on and hds-thresh 0; see what the kernel says)"
        }
        libc::EEXIST => {
            "the queue already has a memory provider (an XDP program, or a binding another process still holds)"
        }
        libc::EBUSY => "the queue is taken (an AF_XDP socket, or leased to a virtual device)",
        libc::EPERM => "bind-rx needs CAP_NET_ADMIN",
        libc::ERANGE => "the device has no such rx queue",
        _ => "the kernel refused it",
    }
}

impl RxPath for Devmem {
    fn prepare(&mut self, p: &mut Prepare<'_>) -> Result<()> {
        let dev = p.rx_dev.ok_or_else(|| {
            usage("--mode devmem receives on a NIC queue: use --testbed ports --dev A --peer-dev B, or `zcbench server --dev NIC`")
        })?;
        let queue = p.rx_queue.ok_or_else(|| anyhow!("devmem was prepared without an rx queue to bind"))?;
        let pages = if self.opts.dmabuf_hugepages { Pages::Huge2M } else { Pages::Small };
        let dmabuf: Box<dyn DmaBuf> = Box::new(Udmabuf::create(self.opts.dmabuf_size as usize, pages)?);
        let (ifindex, binding) = netns::with_netns(dev.ns(), || {
            let l = link::get_link(&dev.name)?;
            let what = format!("bind-rx of a dma-buf to rx queue {queue}");
            let b = netdev::bind_rx(l.ifindex, dmabuf.fd(), &[queue])
                .map_err(|e| kernel_refusal(dev, &what, e, bind_rx_hint))?;
            Ok((l.ifindex, b))
        })?;
        let q = netns::with_netns(dev.ns(), || netdev::rx_queue(ifindex, queue))?;
        if q.dmabuf != Some(binding.id) {
            bail!(
                "{}: bind-rx returned binding {} but queue-get shows {:?} on rx queue {queue}",
                dev.label(),
                binding.id,
                q.dmabuf
            );
        }
        let pools = netns::with_netns(dev.ns(), || netdev::page_pools(ifindex)).ok();
        let s = &mut self.stats;
        s.dmabuf = dmabuf.describe();
        s.dmabuf_size = dmabuf.len() as u64;
        s.device = dev.name.clone();
        s.rx_queue = queue;
        s.binding_id = binding.id;
        s.queue_confirmed = true;
        s.page_pools = pools.map(|v| v.iter().filter(|p| p.dmabuf == Some(binding.id)).count() as u32);
        self.bound = Some(Bound { binding, dmabuf });
        Ok(())
    }

    fn run(&mut self, fd: BorrowedFd<'_>, ctx: &DataCtx) -> Result<RxStats> {
        let mut st = RxStats::default();
        let mut sc = SyscallTimer::new(ctx.syscall_times);
        loop {
            st.calls += 1;
            let (iov, control) = (&mut self.iov, &mut self.control);
            match sc.time(Sys::Recvmsg, || recvmsg_devmem(fd, iov, control)) {
                Ok(r) if r.bytes == 0 => break,
                Ok(r) => {
                    self.take(r.bytes, r.control_len, st.bytes, ctx)?;
                    st.bytes += r.bytes as u64;
                    st.validated_bytes += if ctx.validate { r.bytes as u64 } else { 0 };
                    ctx.counters.rx.0.store(st.bytes, Ordering::Relaxed);
                    let dontneed = |t: &[_]| sc.time(Sys::Setsockopt, || devmem_dontneed(fd, t));
                    self.tokens.end_recvmsg(dontneed).context("SO_DEVMEM_DONTNEED")?;
                }
                Err(e) if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::Interrupted) => {
                    st.errors += 1;
                    if ctx.aborted() {
                        bail!("receive aborted after {} bytes", st.bytes);
                    }
                    sc.time_unit(Sys::Poll, || wait_ready(fd, READABLE, IO_POLL_MS));
                    st.polls += 1;
                }
                Err(e) if e.raw_os_error() == Some(ETOOSMALL) => {
                    bail!(
                        "recvmsg: the {}-byte control buffer cannot hold a devmem cmsg (ETOOSMALL)",
                        self.control.len()
                    )
                }
                Err(e) => {
                    return Err(anyhow!(e).context(format!("recvmsg(MSG_SOCK_DEVMEM) failed after {} bytes", st.bytes)));
                }
            }
        }
        ctx.flags.mark_rx_done();
        self.finish(&mut st, fd)?;
        st.syscalls = sc.report();
        Ok(st)
    }
}
