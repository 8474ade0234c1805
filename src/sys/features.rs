//! The kernel interfaces the data paths need, each with the first Linux
//! release that has it and how to ask this kernel for it. The one place these
//! versions are written: a mode's descriptor (`rx::describe`, `tx::describe`)
//! lists the features it needs, and the pre-run check, `zcbench probe` and the
//! README's mode tables (checked by a test) all read them from here.

use crate::error::unsupported;
use crate::sys::netlink::{NlSocket, netdev};
use crate::sys::{dmabuf, sock, uring};
use serde::Serialize;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Feature {
    /// getsockopt(TCP_ZEROCOPY_RECEIVE): payload pages mapped into a VMA.
    TcpZerocopyReceive,
    /// setsockopt(SO_ZEROCOPY) and send(MSG_ZEROCOPY).
    SoZerocopy,
    /// IORING_OP_RECV.
    UringRecv,
    /// IORING_OP_SEND_ZC.
    UringSendZc,
    /// IORING_OP_RECV_ZC and the ring it needs (SINGLE_ISSUER, DEFER_TASKRUN, 32-byte CQEs).
    UringRecvZc,
    /// The netdev family's bind-rx (devmem RX).
    NetdevBindRx,
    /// The netdev family's bind-tx (devmem TX).
    NetdevBindTx,
    /// /dev/udmabuf: dma-bufs from host memory (CONFIG_UDMABUF).
    Udmabuf,
}

impl Feature {
    pub const ALL: &'static [Feature] = &[
        Feature::TcpZerocopyReceive,
        Feature::SoZerocopy,
        Feature::UringRecv,
        Feature::UringSendZc,
        Feature::UringRecvZc,
        Feature::NetdevBindRx,
        Feature::NetdevBindTx,
        Feature::Udmabuf,
    ];

    /// Its name as the kernel's headers and documentation spell it.
    pub fn what(self) -> &'static str {
        match self {
            Feature::TcpZerocopyReceive => "TCP_ZEROCOPY_RECEIVE",
            Feature::SoZerocopy => "MSG_ZEROCOPY",
            Feature::UringRecv => "io_uring RECV",
            Feature::UringSendZc => "io_uring SEND_ZC",
            Feature::UringRecvZc => "io_uring RECV_ZC",
            Feature::NetdevBindRx => "netdev bind-rx",
            Feature::NetdevBindTx => "netdev bind-tx",
            Feature::Udmabuf => "udmabuf",
        }
    }

    /// The first Linux release that has it.
    pub fn since(self) -> &'static str {
        match self {
            Feature::TcpZerocopyReceive => "4.18",
            Feature::SoZerocopy => "4.14",
            Feature::UringRecv => "5.6",
            Feature::UringSendZc => "6.0",
            Feature::UringRecvZc => "6.15",
            Feature::NetdevBindRx => "6.12",
            Feature::NetdevBindTx => "6.16",
            Feature::Udmabuf => "4.20",
        }
    }

    /// "io_uring RECV_ZC (Linux 6.15+)".
    pub fn label(self) -> String {
        format!("{} (Linux {}+)", self.what(), self.since())
    }

    /// Ask this kernel. Err: what it answered, without the version (see `require`).
    pub fn check(self) -> Result<(), String> {
        let uring = |has: fn(&uring::UringSupport) -> bool, op: &str| match uring::probe() {
            Err(e) => Err(format!("io_uring is not usable here: {e:#}")),
            Ok(u) if !has(&u) => Err(format!("this kernel's io_uring has no {op}")),
            Ok(_) => Ok(()),
        };
        match self {
            Feature::TcpZerocopyReceive => match sock::tcpzc::kernel_has_zerocopy_receive() {
                Ok(true) => Ok(()),
                Ok(false) => Err("this kernel has no TCP_ZEROCOPY_RECEIVE".into()),
                Err(e) => Err(format!("asking for TCP_ZEROCOPY_RECEIVE failed: {e}")),
            },
            Feature::SoZerocopy => sock::kernel_has_so_zerocopy()
                .map_err(|e| format!("setsockopt(SO_ZEROCOPY) failed: {e}; this kernel cannot do MSG_ZEROCOPY")),
            Feature::UringRecv => uring(|u| u.recv, "RECV"),
            Feature::UringSendZc => uring(|u| u.send_zc, "SEND_ZC"),
            Feature::UringRecvZc => {
                uring(|u| u.recv_zc, "RECV_ZC")?;
                uring::zcrx::ring_available().map_err(|e| format!("{e:#}"))
            }
            Feature::NetdevBindRx => netdev_op(netdev::CMD_BIND_RX, "bind-rx"),
            Feature::NetdevBindTx => netdev_op(netdev::CMD_BIND_TX, "bind-tx"),
            Feature::Udmabuf => dmabuf::udmabuf_unavailable(0).map_or(Ok(()), Err),
        }
    }

    /// The pre-run check of `who` ("rx mmap"): exit 3, naming the feature,
    /// the first release that has it and what this kernel answered.
    pub fn require(self, who: &str) -> anyhow::Result<()> {
        self.check().map_err(|why| unsupported(format!("{who} needs {}: {why}", self.label())))
    }
}

fn netdev_op(op: u8, name: &str) -> Result<(), String> {
    let has = NlSocket::open(libc::NETLINK_GENERIC)
        .and_then(|mut s| netdev::family(&mut s))
        .map_err(|e| format!("asking the netdev netlink family failed: {e:#}"))?
        .is_some_and(|f| f.ops.contains(&u32::from(op)));
    if has { Ok(()) } else { Err(format!("this kernel's netdev netlink family has no {name}")) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_are_releases_and_labels_name_them() {
        for f in Feature::ALL {
            let (major, minor) = f.since().split_once('.').unwrap();
            assert!(major.parse::<u32>().is_ok() && minor.parse::<u32>().is_ok(), "{f:?}");
            assert!(f.label().contains(f.since()) && f.label().starts_with(f.what()));
        }
    }

    #[test]
    fn a_missing_feature_is_refused_with_exit_3_naming_its_release() {
        // Which features this kernel lacks depends on the kernel (and /dev/udmabuf
        // on a module): every one it lacks must be refused the same way.
        for f in Feature::ALL {
            if let Err(why) = f.check() {
                let e = f.require("rx test").unwrap_err();
                assert_eq!(crate::error::exit_kind(&e), crate::error::ExitKind::Unsupported);
                assert_eq!(format!("{e}"), format!("rx test needs {}: {why}", f.label()));
            } else {
                assert!(f.require("rx test").is_ok());
            }
        }
    }
}
