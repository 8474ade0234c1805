//! Every kernel interface zcbench touches, and all of its `unsafe` code: the rest
//! of the crate speaks to the small safe types here. Grouped by what they talk to:
//!
//! - `netlink/`: the netlink socket and codec, rtnetlink links, the netdev family
//! - `ethtool/`: ethtool netlink (features, rings, channels) and SIOCETHTOOL
//!   (driver info, flow steering, RSS)
//! - `sock/`: TCP sockets, the data-path socket calls, TCP_INFO,
//!   TCP_ZEROCOPY_RECEIVE, MSG_ZEROCOPY completions
//! - `uring/`: io_uring rings, provided-buffer and registered-buffer rings
//! - `journal/`: the undo journal and every kind of host setting it can change
//! - `dmabuf`: dma-bufs (udmabuf) for devmem and zcrx
//! - `route`: what an MTU change leaves behind (learned path MTUs, IPv6 addresses)
//! - `mem`, `cpu`, `irq`, `netns`, `sysctl`, `host`, `perf`, `proc`: memory, cores,
//!   interrupt steering, namespaces, sysctl profiles, host facts, perf events,
//!   child processes (power commands, study runs), the registry of zcbench
//!   processes measuring now (`running`)

pub mod cpu;
pub mod dmabuf;
pub mod ethtool;
pub mod features;
pub mod host;
pub mod irq;
pub mod journal;
pub mod mem;
pub mod netlink;
pub mod netns;
pub mod perf;
pub mod proc;
pub mod route;
pub mod running;
pub mod sock;
pub mod sysctl;
#[cfg(test)]
pub mod uapi_check;
pub mod uring;
