//! Every kernel interface zcbench touches lives below here: the rest of the code
//! speaks to small types.

pub mod cpu;
pub mod errqueue;

pub mod ethtool;
pub mod host;
pub mod irq;
pub mod journal;
pub mod link;
pub mod mem;

pub mod netlink;
pub mod netns;
pub mod preflight;
pub mod rxnfc;
pub mod setting;

pub mod sock;
pub mod sysctl;
pub mod tcpinfo;
pub mod tcpzc;
#[cfg(test)]
pub mod uapi_check;

pub mod uring;
