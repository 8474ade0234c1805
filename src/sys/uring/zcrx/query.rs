//! What the running kernel's zcrx offers, asked with `IORING_REGISTER_QUERY`
//! (no ring needed: fd -1), with a clean fallback where it cannot be asked.
//!
//! - 7.2+: the zcrx query answers register flags (`ZCRX_REG_NODEV`), area flags
//!   (dma-buf), the number of control ops (`ZCRX_CTRL_FLUSH_RQ`, `ARM_EVENT`),
//!   features (`rx_buf_len`, events with copy statistics) and the refill header.
//! - 6.18 (this kind of host): the register op exists but answers only the
//!   opcodes query; the zcrx query comes back `-EOPNOTSUPP` in its header.
//!   The register-opcode count still says whether `IORING_REGISTER_ZCRX_CTRL`
//!   (36) exists. Everything else is "unknown": zcbench then tries, and reports
//!   the kernel's answer.
//! - older: the register op itself is refused (EINVAL / EBADF).

use super::abi::{self, QueryHdr, QueryOpcode, QueryZcrx, QueryZcrxEvent};
use serde::Serialize;

/// Whether the kernel offers something.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Support {
    Yes,
    No,
    /// The kernel could not be asked.
    Unknown,
}

impl Support {
    fn from(known: Option<bool>) -> Support {
        match known {
            Some(true) => Support::Yes,
            Some(false) => Support::No,
            None => Support::Unknown,
        }
    }
}

/// How far the kernel could be asked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum QueryLevel {
    /// No IORING_REGISTER_QUERY (before 6.18).
    None,
    /// Only the opcodes query (6.18 and until the zcrx query appeared).
    Opcodes,
    /// The zcrx query answered (7.2+).
    Zcrx,
}

/// The kernel's answers, as far as it gave them.
#[derive(Debug, Clone, Default)]
pub struct Negotiated {
    pub level: Option<QueryLevel>,
    /// Why the query could not be made, or the zcrx part's `-errno`.
    pub refusal: Option<String>,
    pub nr_register_opcodes: Option<u32>,
    pub feature_flags: Option<u64>,
    pub zcrx: Option<QueryZcrx>,
    pub event: Option<QueryZcrxEvent>,
}

fn entry<T>(op: u32, data: &mut T, next: u64) -> QueryHdr {
    QueryHdr {
        query_op: op,
        query_data: data as *mut T as u64,
        size: std::mem::size_of::<T>() as u32,
        next_entry: next,
        ..QueryHdr::default()
    }
}

impl Negotiated {
    /// Ask the running kernel (one chained IORING_REGISTER_QUERY).
    pub fn probe() -> Negotiated {
        let mut ops = QueryOpcode::default();
        let mut zcrx = QueryZcrx::default();
        let mut event = QueryZcrxEvent::default();
        let mut h_event = entry(abi::IO_URING_QUERY_ZCRX_EVENT, &mut event, 0);
        let mut h_zcrx = entry(abi::IO_URING_QUERY_ZCRX, &mut zcrx, &mut h_event as *mut QueryHdr as u64);
        let mut h_ops = entry(abi::IO_URING_QUERY_OPCODES, &mut ops, &mut h_zcrx as *mut QueryHdr as u64);
        let mut n = Negotiated::default();
        if let Err(e) = abi::register(-1, abi::IORING_REGISTER_QUERY, &mut h_ops as *mut QueryHdr as *mut _, 0) {
            n.level = Some(QueryLevel::None);
            n.refusal = Some(format!("IORING_REGISTER_QUERY refused: {e} (needs 6.18+)"));
            return n;
        }
        if h_ops.result == 0 {
            n.level = Some(QueryLevel::Opcodes);
            n.nr_register_opcodes = Some(ops.nr_register_opcodes);
            n.feature_flags = Some(ops.feature_flags);
        }
        let full = |h: &QueryHdr, want: usize| h.result == 0 && h.size as usize >= want;
        if full(&h_zcrx, std::mem::offset_of!(QueryZcrx, rq_hdr_alignment) + 4) {
            n.level = Some(QueryLevel::Zcrx);
            n.zcrx = Some(zcrx);
            if full(&h_event, std::mem::offset_of!(QueryZcrxEvent, stats_off_alignment) + 4) {
                n.event = Some(event);
            }
        } else {
            n.refusal = Some(format!(
                "the zcrx query answered {} ({})",
                h_zcrx.result,
                std::io::Error::from_raw_os_error(-h_zcrx.result)
            ));
        }
        n
    }

    /// Registration without a device (`ZCRX_REG_NODEV`, 7.1+).
    pub fn nodev(&self) -> Support {
        Support::from(self.zcrx.map(|z| z.register_flags & u64::from(abi::ZCRX_REG_NODEV) != 0))
    }

    /// A chosen rx buffer length (`ZCRX_FEATURE_RX_PAGE_SIZE`, 7.0+).
    pub fn rx_buf_len(&self) -> Support {
        Support::from(self.zcrx.map(|z| z.features & abi::ZCRX_FEATURE_RX_PAGE_SIZE != 0))
    }

    /// Events and copy statistics (`ZCRX_FEATURE_EVENT`, 7.2+).
    pub fn events(&self) -> bool {
        self.zcrx.is_some_and(|z| z.features & abi::ZCRX_FEATURE_EVENT != 0)
            && self.event.is_some_and(|e| e.stats_size as usize >= std::mem::size_of::<abi::Stats>())
    }

    /// dma-buf areas (6.16+).
    pub fn dmabuf_area(&self) -> Support {
        Support::from(self.zcrx.map(|z| z.area_flags & u64::from(abi::IORING_ZCRX_AREA_DMABUF) != 0))
    }

    /// Control ops the kernel has (`ZCRX_CTRL_*` below this number): from the
    /// zcrx query, else 2 (FLUSH_RQ, EXPORT: the first set) when the opcodes
    /// query lists IORING_REGISTER_ZCRX_CTRL, else 0.
    pub fn ctrl_ops(&self) -> u32 {
        match (self.zcrx, self.nr_register_opcodes) {
            (Some(z), _) => z.nr_ctrl_opcodes,
            (None, Some(n)) if n > abi::IORING_REGISTER_ZCRX_CTRL => 2,
            _ => 0,
        }
    }

    /// `ZCRX_CTRL_FLUSH_RQ` (6.19+).
    pub fn flush_rq(&self) -> bool {
        self.ctrl_ops() > abi::ZCRX_CTRL_FLUSH_RQ
    }

    /// `ZCRX_CTRL_ARM_EVENT` (7.2+).
    pub fn arm_event(&self) -> bool {
        self.ctrl_ops() > abi::ZCRX_CTRL_ARM_EVENT
    }

    /// One line for `probe` and error messages.
    pub fn describe(&self) -> String {
        let s = |x: Support| match x {
            Support::Yes => "yes",
            Support::No => "no",
            Support::Unknown => "unknown",
        };
        let how = match self.level {
            Some(QueryLevel::Zcrx) => "IORING_REGISTER_QUERY zcrx".to_string(),
            Some(QueryLevel::Opcodes) => format!(
                "IORING_REGISTER_QUERY opcodes only ({}; {} register opcodes)",
                self.refusal.as_deref().unwrap_or("no zcrx query"),
                self.nr_register_opcodes.unwrap_or(0)
            ),
            _ => self.refusal.clone().unwrap_or_else(|| "no query".into()),
        };
        format!(
            "{how}: ZCRX_REG_NODEV {}, rx_buf_len {}, dma-buf areas {}, events+copy stats {}, control ops {} (FLUSH_RQ {})",
            s(self.nodev()),
            s(self.rx_buf_len()),
            s(self.dmabuf_area()),
            if self.events() { "yes" } else { "no" },
            self.ctrl_ops(),
            if self.flush_rq() { "yes" } else { "no" },
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The running kernel answers consistently: if it has the zcrx query it says
    /// what this zcbench expects of one (the header it reports fits a page, the
    /// stats struct is ours); if not, everything beyond it is "unknown".
    #[test]
    fn the_running_kernel_answers() {
        let n = Negotiated::probe();
        eprintln!("{}", n.describe());
        match n.level {
            Some(QueryLevel::Zcrx) => {
                let z = n.zcrx.unwrap();
                assert!(z.rq_hdr_size > 0 && z.rq_hdr_size <= 4096, "{z:?}");
                assert!(z.rq_hdr_alignment.is_power_of_two(), "{z:?}");
                if let Some(e) = n.event {
                    assert_eq!(e.stats_size as usize, std::mem::size_of::<abi::Stats>());
                }
                assert_ne!(n.nodev(), Support::Unknown);
            }
            Some(QueryLevel::Opcodes) => {
                assert_eq!(n.nodev(), Support::Unknown);
                assert!(!n.events());
                assert!(n.nr_register_opcodes.unwrap() > abi::IORING_REGISTER_QUERY, "the query op itself is listed");
                // NO_IOWAIT came in 6.15, before the query op (6.18).
                assert_ne!(n.feature_flags.unwrap() as u32 & abi::IORING_FEAT_NO_IOWAIT, 0);
            }
            _ => assert!(n.refusal.is_some()),
        }
    }

    #[test]
    fn what_is_offered_follows_the_answers() {
        let old = Negotiated { level: Some(QueryLevel::Opcodes), nr_register_opcodes: Some(36), ..Default::default() };
        assert!(!old.flush_rq(), "6.18: 36 register opcodes, no ZCRX_CTRL");
        let ctrl = Negotiated { nr_register_opcodes: Some(37), ..old.clone() };
        assert!(ctrl.flush_rq() && !ctrl.arm_event());
        let z = QueryZcrx { register_flags: 3, area_flags: 1, nr_ctrl_opcodes: 4, features: 3, ..Default::default() };
        let e = QueryZcrxEvent { event_flags: 3, stats_size: 16, stats_off_alignment: 8, ..Default::default() };
        let new = Negotiated { level: Some(QueryLevel::Zcrx), zcrx: Some(z), event: Some(e), ..old };
        assert_eq!((new.nodev(), new.rx_buf_len(), new.dmabuf_area()), (Support::Yes, Support::Yes, Support::Yes));
        assert!(new.events() && new.flush_rq() && new.arm_event());
        assert!(new.describe().contains("ZCRX_REG_NODEV yes"), "{}", new.describe());
    }
}
