//! io_uring zero-copy receive (zcrx). Before the flow (`prepare`, on the
//! orchestrating thread): ask the kernel what it offers, create the ring
//! disabled and register the interface queue of the rx queue the flow is
//! steered to (inside the device's namespace), and confirm it with netdev
//! queue-get. On the data thread (`run`): enable the ring, arm multishot
//! RECV_ZC, read each buffer at area + offset, hand it back through the
//! refill ring, re-arm whenever the request ends, and count everything.
//!
//! Without a steered queue (loopback, the veth testbed, a server without a
//! NIC queue) the ring is registered with `ZCRX_REG_NODEV` where the kernel
//! has it (7.1+): the same code path, but every byte is copied by the kernel,
//! and the result says so.
//!
//! Registering before the connection exists is sound: the queue's page pool
//! fills from the area at once, and bytes that arrive before RECV_ZC is armed
//! wait in the socket as area buffers, handed out when it is. A run that ends
//! closes the ring; the kernel then takes the provider off the queue (checked).

mod receive;
mod state;

use super::desc::{Kind, PathDesc, Queue, RxModeDesc};
use super::path::{Params, RxPath};
use crate::datapath::{DataCtx, Prepare};
use crate::domain::{RxMode, TxMode, ZcrxArea, ZcrxOpts};
use crate::error::{unsupported, usage};
use crate::results::schema::{RxStats, ZcrxInfo, ZcrxNegotiation};
use crate::sys::dmabuf::{Pages, Udmabuf};
use crate::sys::features::Feature;
use crate::sys::mem::Backing;
use crate::sys::netlink::{link, netdev};
use crate::sys::netns::{self, Dev};
use crate::sys::uring::zcrx::query::{Negotiated, QueryLevel, Support};
use crate::sys::uring::zcrx::{Area, Refused, Spec, Target, ZcrxRing, abi};
use anyhow::{Context, Result, anyhow};
use std::os::fd::BorrowedFd;

pub const MODE: RxModeDesc = RxModeDesc {
    mode: RxMode::Zcrx,
    name: "zcrx",
    help: "io_uring zero-copy receive (zcrx): payload placed by the NIC in an area registered with an io_uring (--testbed ports or server --dev); over lo and veth a copy path where the kernel has one (ZCRX_REG_NODEV, 7.1+)",
    colour: (0x56, 0xB4, 0xE9),
    kind: Kind::Path(PathDesc {
        needs: &[Feature::UringRecvZc],
        queue: Queue::BoundOnNic,
        flows_on_nic: "an rx queue per flow, each with an ntuple rule for its flow's 5-tuple and an interface queue registered on it by that flow's own ring, each ring with its own area (ZCRX_REG_IMPORT, 6.19+, could share one area between rings; kept apart so one flow cannot starve another of buffers)",
        default_tx: TxMode::Copy,
        mss: None,
        check_options: |p| check(&p.zcrx),
        huge_buffers: |p| if p.zcrx.area == ZcrxArea::Hugepage { vec![p.zcrx.area_size as usize] } else { Vec::new() },
        build: |p| Ok(Box::new(Zcrx::new(p)?)),
    }),
};

/// Check every zcrx option against what the kernel accepts (usage errors).
fn check(o: &ZcrxOpts) -> Result<()> {
    let pow2 = |name: &str, v: u32, lo: u32, hi: u32| {
        if !v.is_power_of_two() || !(lo..=hi).contains(&v) {
            return Err(usage(format!("{name} {v} must be a power of two in {lo}..={hi}")));
        }
        Ok(())
    };
    pow2("--rq-entries", o.rq_entries, 1, abi::RQ_MAX_ENTRIES)?;
    pow2("--cq-entries", o.cq_entries, 4, 65536)?;
    if o.refill_batch == 0 || o.refill_batch > o.rq_entries {
        return Err(usage(format!("--refill-batch {} must be in 1..=--rq-entries ({})", o.refill_batch, o.rq_entries)));
    }
    let page = if o.area == ZcrxArea::Hugepage { 2 << 20 } else { 4096 };
    if o.area_size < page || o.area_size > 16 << 30 {
        return Err(usage(format!("--area-size {} must be in {page}..=16GiB", o.area_size)));
    }
    if let Some(b) = o.rx_buf_len {
        pow2("--rx-buf-len", b, 4096, 1 << 30)?;
        if u64::from(b) > o.area_size {
            return Err(usage(format!("--rx-buf-len {b} is larger than --area-size {}", o.area_size)));
        }
    }
    Ok(())
}

pub struct Zcrx {
    params: ZcrxOpts,
    area: Option<Area>,
    ring: Option<ZcrxRing>,
    /// Device and queue to check again when the ring is closed.
    queue: Option<(Option<String>, u32, u32)>,
    info: ZcrxInfo,
}

impl Zcrx {
    /// Allocate the area now (before the flow).
    pub fn new(p: &Params) -> Result<Self> {
        let params = p.zcrx;
        let len = params.area_size as usize;
        let area = match params.area {
            ZcrxArea::Anon => Area::pages(len, Backing::Pages)?,
            ZcrxArea::Hugepage => Area::pages(len, Backing::HugePages)?,
            ZcrxArea::Udmabuf => {
                let pages = if params.rx_buf_len.unwrap_or(4096) > 4096 { Pages::Huge2M } else { Pages::Small };
                Area::DmaBuf(Box::new(Udmabuf::create(len, pages)?))
            }
        };
        let info = ZcrxInfo {
            area: crate::domain::name_of(&params.area),
            area_detail: area.describe(),
            area_bytes: area.len() as u64,
            rx_buf_len_requested: params.rx_buf_len,
            rq_entries: params.rq_entries,
            cq_entries: params.cq_entries,
            refill_batch: params.refill_batch,
            ..Default::default()
        };
        Ok(Zcrx { params, area: Some(area), ring: None, queue: None, info })
    }
}

fn kernel() -> String {
    nix::sys::utsname::uname().map(|u| u.release().to_string_lossy().into_owned()).unwrap_or_else(|_| "?".into())
}

fn negotiation(n: &Negotiated) -> ZcrxNegotiation {
    ZcrxNegotiation {
        query: match n.level {
            Some(QueryLevel::Zcrx) => "zcrx",
            Some(QueryLevel::Opcodes) => "opcodes",
            _ => "none",
        }
        .into(),
        detail: n.describe(),
        register_flags: n.zcrx.map(|z| z.register_flags),
        area_flags: n.zcrx.map(|z| z.area_flags),
        ctrl_ops: n.ctrl_ops(),
        features: n.zcrx.map(|z| z.features),
        nr_register_opcodes: n.nr_register_opcodes,
    }
}

/// A device with a parent (bus) device: a NIC, not loopback or veth.
/// Whether TCP's receive buffer may grow past the area, said as a warning.
/// Segments after a dropped one wait out of order in the socket, each holding
/// area buffers; when they hold all of it, the missing segment never finds a
/// buffer and the flow stops for good (a 256 KiB area under the default 6 MiB
/// tcp_rmem did so in half the runs on the VM's NIC model).
fn window_outgrows(area: u64, dev: Option<&Dev>) -> Option<String> {
    let rmem = netns::read_in(dev.and_then(|d| d.ns()), "/proc/sys/net/ipv4/tcp_rmem").ok()?;
    let max: u64 = rmem.split_whitespace().nth(2)?.parse().ok()?;
    (area < max).then(|| {
        format!(
            "zcrx: the area ({} KiB) is smaller than TCP's receive buffer may grow (net.ipv4.tcp_rmem max {} KiB): \
             segments held out of order can take every buffer and stall the flow for good; \
             give a larger --area-size or a profile with a smaller tcp_rmem",
            area / 1024,
            max / 1024
        )
    })
}

fn has_parent_device(dev: &Dev) -> bool {
    netns::read_in(dev.ns(), &format!("/sys/class/net/{}/device/uevent", dev.name)).is_ok()
}

/// What a registration refusal most likely means.
fn hint(errno: i32) -> Option<&'static str> {
    Some(match errno {
        libc::EPERM => "zcrx registration needs CAP_NET_ADMIN",
        libc::EOPNOTSUPP => {
            "the device cannot take an io_uring memory provider (that needs queue management ops and a DMA device: in 7.3 bnxt, gve, mlx5, fbnic, netdevsim, netkit)"
        }
        libc::EINVAL => {
            "header split must be on and hds-thresh 0 on the device, and every flag and size asked for known to the kernel"
        }
        libc::EEXIST => {
            "the rx queue already has a memory provider (a devmem binding, another zcrx) or an XDP program is attached"
        }
        libc::EBUSY => "an AF_XDP socket uses the rx queue, or it is leased to a virtual device",
        libc::ERANGE => {
            "the rx queue index is out of range, or --rx-buf-len is larger than the area's contiguous chunks (try --zcrx-area hugepage)"
        }
        _ => return None,
    })
}

/// The kernel's refusal of a registration on `what`, explained: exit 3 where
/// it means this host or NIC cannot.
fn explain(e: anyhow::Error, what: &str) -> anyhow::Error {
    match e.chain().find_map(|c| c.downcast_ref::<Refused>()).cloned() {
        Some(r) if hint(r.errno).is_some() => {
            unsupported(format!("zcrx on {what}: {r}: {} (kernel {})", hint(r.errno).unwrap_or_default(), kernel()))
        }
        _ => e.context(format!("zcrx on {what}")),
    }
}

impl Zcrx {
    fn spec(&self, target: Target, n: &Negotiated) -> Spec {
        Spec {
            target,
            rq_entries: self.params.rq_entries,
            cq_entries: self.params.cq_entries,
            rx_buf_len: self.params.rx_buf_len,
            refill_batch: self.params.refill_batch,
            events: n.events(),
            flush_rq: n.flush_rq(),
            arm_event: n.arm_event(),
        }
    }

    /// Register on rx queue `q` of `dev` and confirm it with queue-get.
    fn register_device(&mut self, n: &Negotiated, area: Area, dev: &Dev, q: u32) -> Result<ZcrxRing> {
        let what = format!("{} rx queue {q}", dev.label());
        let ifindex = netns::with_netns(dev.ns(), || link::get_link(&dev.name))?.ifindex;
        let spec = self.spec(Target::Device { ifindex, queue: q }, n);
        let ring = ZcrxRing::register(spec, area, dev.ns()).map_err(|e| explain(e, &what))?;
        let seen = netns::with_netns(dev.ns(), || netdev::rx_queue(ifindex, q))
            .with_context(|| format!("netdev queue-get of {what} after registration"))?;
        if !seen.io_uring {
            return Err(anyhow!("zcrx on {what}: registered, but netdev queue-get shows no io_uring provider on it"));
        }
        let granted = ring.granted.rx_buf_len.map(u64::from);
        if seen.io_uring_rx_buf_len.is_some() && granted.is_some() && seen.io_uring_rx_buf_len != granted {
            return Err(anyhow!(
                "zcrx on {what}: the kernel granted {granted:?}-byte buffers but queue-get reports {:?}",
                seen.io_uring_rx_buf_len
            ));
        }
        let i = &mut self.info;
        (i.registration, i.dev, i.ifindex, i.queue) = ("device".into(), Some(dev.name.clone()), Some(ifindex), Some(q));
        i.queue_confirmed = Some(true);
        self.queue = Some((dev.ns.clone(), ifindex, q));
        Ok(ring)
    }

    /// Register without a device (ZCRX_REG_NODEV). Where the kernel refuses,
    /// the device itself is tried so the error shows both of its answers.
    fn register_nodev(&mut self, n: &Negotiated, area: Area, dev: Option<&Dev>) -> Result<ZcrxRing> {
        if self.params.rx_buf_len.is_some_and(|b| b != 4096) {
            return Err(unsupported(
                "zcrx without a device (ZCRX_REG_NODEV) takes only 4096-byte buffers: drop --rx-buf-len",
            ));
        }
        if matches!(area, Area::DmaBuf(_)) {
            return Err(unsupported(
                "zcrx without a device (ZCRX_REG_NODEV) copies every byte, and the kernel cannot copy into a dma-buf area: use --zcrx-area anon",
            ));
        }
        let nodev = if n.nodev() == Support::No {
            Err(anyhow!("the kernel's zcrx query does not list ZCRX_REG_NODEV"))
        } else {
            ZcrxRing::register(self.spec(Target::NoDevice, n), area, None)
        };
        let nodev_err = match nodev {
            Ok(ring) => {
                self.info.registration = "nodev".into();
                self.info.dev = dev.map(|d| d.name.clone());
                return Ok(ring);
            }
            Err(e) => e,
        };
        let device = match dev {
            Some(d) => match self.register_device(n, Area::pages(1 << 20, Backing::Pages)?, d, 0) {
                Ok(_) => "it accepted registration on rx queue 0, but the flow is not steered to a queue".to_string(),
                Err(e) => format!("{e:#}"),
            },
            None => "there is no device to register on".into(),
        };
        Err(unsupported(format!(
            "{device}. The copy path for loopback and veth, registration without a device (ZCRX_REG_NODEV), needs Linux 7.1+: kernel {} refused it ({nodev_err:#}; negotiation: {}). Run on a NIC whose driver takes memory providers (`--testbed ports`, `zcbench server --dev IFACE --steer-queue Q`), or on a 7.1+ kernel for the copy path",
            kernel(),
            n.describe()
        )))
    }
}

impl RxPath for Zcrx {
    fn prepare(&mut self, p: &mut Prepare<'_>) -> Result<()> {
        let n = Negotiated::probe();
        self.info.negotiation = negotiation(&n);
        if self.params.rx_buf_len.is_some() && n.rx_buf_len() == Support::No {
            return Err(unsupported(format!(
                "--rx-buf-len: this kernel ({}) has no zcrx rx_buf_len (needs 7.0+)",
                kernel()
            )));
        }
        let area = self.area.take().ok_or_else(|| anyhow!("zcrx prepared twice"))?;
        if let Some(w) = window_outgrows(area.len() as u64, p.rx_dev) {
            p.warnings.push(w);
        }
        let ring = match (p.rx_dev, p.rx_queue) {
            (Some(dev), Some(q)) => self.register_device(&n, area, dev, q)?,
            (Some(dev), None) if has_parent_device(dev) => {
                return Err(usage(format!(
                    "zcrx on {}: steer the flow to one rx queue (--steer-queue Q) so the interface queue can be registered on it",
                    dev.label()
                )));
            }
            (dev, _) => self.register_nodev(&n, area, dev)?,
        };
        if self.params.no_iowait && !ring.granted.no_iowait {
            return Err(unsupported(format!(
                "--no-iowait: this kernel ({}) has no IORING_FEAT_NO_IOWAIT (needs 6.15+)",
                kernel()
            )));
        }
        let g = ring.granted;
        self.info.rx_buf_len_granted = g.rx_buf_len;
        self.info.rq_entries = g.rq_entries;
        self.info.no_iowait = self.params.no_iowait;
        self.ring = Some(ring);
        Ok(())
    }

    fn run(&mut self, fd: BorrowedFd<'_>, ctx: &DataCtx) -> Result<RxStats> {
        let ring = self.ring.take().ok_or_else(|| anyhow!("rx zcrx: the interface queue was not registered"))?;
        receive::run(ring, &self.params, std::mem::take(&mut self.info), self.queue.clone(), fd, ctx)
    }
}
