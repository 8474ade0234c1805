//! io_uring capability probe (IORING_REGISTER_PROBE).

use anyhow::{Context, Result};
use io_uring::{IoUring, Probe, opcode};
use serde::Serialize;

#[derive(Debug, Clone, Serialize)]
pub struct UringSupport {
    pub recv: bool,
    pub recv_zc: bool,
    pub send_zc: bool,
    pub sendmsg_zc: bool,
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
        sendmsg_zc: p.is_supported(opcode::SendMsgZc::CODE),
    })
}
