//! A small synchronous netlink client: message builder, attribute parser,
//! request/ack/dump handling with extended-ack error text, and generic netlink
//! family resolution.
//!
//! Written by hand on purpose: the netdev and ethtool generic-netlink families
//! (bind-rx, queue/napi/qstats, rings, header split) have no synchronous crate,
//! and zcbench needs byte-exact control over what it sends (every command and
//! attribute number here is checked against the kernel's uapi headers in tests).

pub mod link;
pub mod netdev;

use anyhow::{Context, Result, anyhow};
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

pub const NLMSG_ERROR: u16 = 2;
pub const NLMSG_DONE: u16 = 3;
pub const NLM_F_REQUEST: u16 = 0x1;
pub const NLM_F_ACK: u16 = 0x4;
pub const NLM_F_DUMP: u16 = 0x300;
const NLM_F_ACK_TLVS: u16 = 0x200;
const NLA_F_NESTED: u16 = 1 << 15;
const NLA_TYPE_MASK: u16 = !(1 << 15 | 1 << 14);
const NETLINK_CAP_ACK: libc::c_int = 10;
const NETLINK_EXT_ACK: libc::c_int = 11;
const NLMSGERR_ATTR_MSG: u16 = 1;
const NLMSGERR_ATTR_OFFS: u16 = 2;

pub const GENL_ID_CTRL: u16 = 0x10;
const CTRL_CMD_GETFAMILY: u8 = 3;
const CTRL_ATTR_FAMILY_ID: u16 = 1;
const CTRL_ATTR_FAMILY_NAME: u16 = 2;
const CTRL_ATTR_VERSION: u16 = 3;
const CTRL_ATTR_OPS: u16 = 6;
const CTRL_ATTR_OP_ID: u16 = 1;

fn align4(n: usize) -> usize {
    (n + 3) & !3
}

/// Builds one netlink message: header, a fixed family header, then attributes.
pub struct MsgBuilder {
    buf: Vec<u8>,
    nests: Vec<usize>,
}

impl MsgBuilder {
    pub fn new(msg_type: u16, flags: u16) -> Self {
        let mut buf = Vec::with_capacity(256);
        buf.extend_from_slice(&0u32.to_ne_bytes()); // length, set in finish()
        buf.extend_from_slice(&msg_type.to_ne_bytes());
        buf.extend_from_slice(&(flags | NLM_F_REQUEST).to_ne_bytes());
        buf.extend_from_slice(&0u32.to_ne_bytes()); // seq
        buf.extend_from_slice(&0u32.to_ne_bytes()); // pid
        MsgBuilder { buf, nests: Vec::new() }
    }

    /// A generic netlink message: genlmsghdr {cmd, version, reserved}.
    pub fn genl(family: u16, cmd: u8, version: u8, flags: u16) -> Self {
        let mut m = Self::new(family, flags);
        m.raw(&[cmd, version, 0, 0]);
        m
    }

    /// Raw bytes (a family header such as ifinfomsg), padded to 4.
    pub fn raw(&mut self, bytes: &[u8]) -> &mut Self {
        self.buf.extend_from_slice(bytes);
        self.buf.resize(align4(self.buf.len()), 0);
        self
    }

    pub fn attr(&mut self, ty: u16, payload: &[u8]) -> &mut Self {
        let len = 4 + payload.len();
        self.buf.extend_from_slice(&(len as u16).to_ne_bytes());
        self.buf.extend_from_slice(&ty.to_ne_bytes());
        self.buf.extend_from_slice(payload);
        self.buf.resize(align4(self.buf.len()), 0);
        self
    }

    pub fn attr_u32(&mut self, ty: u16, v: u32) -> &mut Self {
        self.attr(ty, &v.to_ne_bytes())
    }
    /// A NUL-terminated string attribute.
    pub fn attr_str(&mut self, ty: u16, s: &str) -> &mut Self {
        let mut b = s.as_bytes().to_vec();
        b.push(0);
        self.attr(ty, &b)
    }

    pub fn nest_start(&mut self, ty: u16) -> &mut Self {
        self.nests.push(self.buf.len());
        self.buf.extend_from_slice(&0u16.to_ne_bytes());
        self.buf.extend_from_slice(&(ty | NLA_F_NESTED).to_ne_bytes());
        self
    }

    pub fn nest_end(&mut self) -> &mut Self {
        if let Some(start) = self.nests.pop() {
            let len = (self.buf.len() - start) as u16;
            self.buf[start..start + 2].copy_from_slice(&len.to_ne_bytes());
        }
        self
    }

    /// The finished bytes, with length and sequence number filled in.
    pub fn finish(&mut self, seq: u32) -> &[u8] {
        let len = self.buf.len() as u32;
        self.buf[0..4].copy_from_slice(&len.to_ne_bytes());
        self.buf[8..12].copy_from_slice(&seq.to_ne_bytes());
        &self.buf
    }
}

/// Iterates over netlink attributes: (type without flag bits, payload).
pub struct Attrs<'a> {
    buf: &'a [u8],
}

pub fn attrs(buf: &[u8]) -> Attrs<'_> {
    Attrs { buf }
}

impl<'a> Iterator for Attrs<'a> {
    type Item = (u16, &'a [u8]);
    fn next(&mut self) -> Option<Self::Item> {
        if self.buf.len() < 4 {
            return None;
        }
        let len = u16::from_ne_bytes([self.buf[0], self.buf[1]]) as usize;
        let ty = u16::from_ne_bytes([self.buf[2], self.buf[3]]) & NLA_TYPE_MASK;
        if len < 4 || len > self.buf.len() {
            self.buf = &[];
            return None;
        }
        let payload = &self.buf[4..len];
        self.buf = &self.buf[align4(len).min(self.buf.len())..];
        Some((ty, payload))
    }
}

pub fn get_u8(p: &[u8]) -> Option<u8> {
    p.first().copied()
}
pub fn get_u16(p: &[u8]) -> Option<u16> {
    Some(u16::from_ne_bytes(p.get(..2)?.try_into().ok()?))
}
pub fn get_u32(p: &[u8]) -> Option<u32> {
    Some(u32::from_ne_bytes(p.get(..4)?.try_into().ok()?))
}
/// A variable-width unsigned attribute (NLA_UINT: 4 or 8 bytes).
pub fn get_uint(p: &[u8]) -> Option<u64> {
    match p.len() {
        4 => get_u32(p).map(u64::from),
        8 => Some(u64::from_ne_bytes(p.try_into().ok()?)),
        _ => None,
    }
}
pub fn get_str(p: &[u8]) -> String {
    let end = p.iter().position(|&b| b == 0).unwrap_or(p.len());
    String::from_utf8_lossy(&p[..end]).into_owned()
}

/// A netlink error with the kernel's errno and its extended-ack message.
#[derive(Debug)]
pub struct NetlinkError {
    pub errno: i32,
    pub extack: Option<String>,
    pub bad_attr_offset: Option<u32>,
}

impl std::fmt::Display for NetlinkError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", io::Error::from_raw_os_error(self.errno))?;
        if let Some(m) = &self.extack {
            write!(f, " (kernel says: {m})")?;
        }
        if let Some(o) = self.bad_attr_offset {
            write!(f, " [bad attribute at byte {o}]")?;
        }
        Ok(())
    }
}
impl std::error::Error for NetlinkError {}

/// Parse an NLMSG_ERROR payload: Ok(()) for an ack, Err for an error.
pub fn parse_error(flags: u16, payload: &[u8]) -> Result<(), NetlinkError> {
    let err = payload.get(..4).and_then(|b| b.try_into().ok()).map(i32::from_ne_bytes).unwrap_or(-libc::EIO);
    if err == 0 {
        return Ok(());
    }
    let mut e = NetlinkError { errno: -err, extack: None, bad_attr_offset: None };
    // With NETLINK_CAP_ACK the original message is reduced to its 16-byte header.
    if flags & NLM_F_ACK_TLVS != 0 && payload.len() > 20 {
        for (ty, p) in attrs(&payload[20..]) {
            match ty {
                NLMSGERR_ATTR_MSG => e.extack = Some(get_str(p)),
                NLMSGERR_ATTR_OFFS => e.bad_attr_offset = get_u32(p),
                _ => {}
            }
        }
    }
    Err(e)
}

/// One received message: type, flags, payload after the 16-byte header.
pub struct Msg {
    pub ty: u16,
    pub flags: u16,
    pub payload: Vec<u8>,
}

pub struct NlSocket {
    fd: OwnedFd,
    seq: u32,
    buf: Vec<u8>,
}

impl NlSocket {
    /// Open a netlink socket of `protocol` (NETLINK_ROUTE, NETLINK_GENERIC) in the
    /// calling thread's network namespace.
    pub fn open(protocol: libc::c_int) -> Result<Self> {
        // SAFETY: plain socket(2) call.
        let fd = unsafe { libc::socket(libc::AF_NETLINK, libc::SOCK_RAW | libc::SOCK_CLOEXEC, protocol) };
        if fd < 0 {
            return Err(io::Error::last_os_error()).context("opening a netlink socket");
        }
        // SAFETY: fd was just returned by socket(2) and is owned by nobody else.
        let fd = unsafe { OwnedFd::from_raw_fd(fd) };
        for opt in [NETLINK_EXT_ACK, NETLINK_CAP_ACK] {
            let one: libc::c_int = 1;
            // SAFETY: valid fd, option value is a c_int. Failure only loses error detail.
            unsafe {
                libc::setsockopt(
                    fd.as_raw_fd(),
                    libc::SOL_NETLINK,
                    opt,
                    &one as *const _ as *const libc::c_void,
                    std::mem::size_of::<libc::c_int>() as u32,
                );
            }
        }
        Ok(NlSocket { fd, seq: 1, buf: vec![0; 64 * 1024] })
    }

    fn send(&mut self, m: &mut MsgBuilder) -> Result<u32> {
        self.seq = self.seq.wrapping_add(1);
        let seq = self.seq;
        let bytes = m.finish(seq);
        // SAFETY: bytes is a valid buffer; the kernel address is the default (pid 0).
        let n = unsafe { libc::send(self.fd.as_raw_fd(), bytes.as_ptr() as *const _, bytes.len(), 0) };
        if n < 0 {
            return Err(io::Error::last_os_error()).context("sending a netlink request");
        }
        Ok(seq)
    }

    fn recv_batch(&mut self) -> Result<Vec<Msg>> {
        // SAFETY: buf is a valid, writable buffer of its length.
        let n = unsafe { libc::recv(self.fd.as_raw_fd(), self.buf.as_mut_ptr() as *mut _, self.buf.len(), 0) };
        if n < 0 {
            return Err(io::Error::last_os_error()).context("receiving a netlink reply");
        }
        let mut out = Vec::new();
        let mut rest = &self.buf[..n as usize];
        while rest.len() >= 16 {
            let len = u32::from_ne_bytes(rest[0..4].try_into()?) as usize;
            if len < 16 || len > rest.len() {
                break;
            }
            out.push(Msg {
                ty: u16::from_ne_bytes(rest[4..6].try_into()?),
                flags: u16::from_ne_bytes(rest[6..8].try_into()?),
                payload: rest[16..len].to_vec(),
            });
            rest = &rest[align4(len).min(rest.len())..];
        }
        Ok(out)
    }

    /// Send a request with ACK and collect every reply up to the ack (or DONE for
    /// dumps). A kernel error comes back as a [`NetlinkError`] in the chain.
    pub fn request(&mut self, m: &mut MsgBuilder) -> Result<Vec<Msg>> {
        let flags = u16::from_ne_bytes([m.buf[6], m.buf[7]]);
        let is_dump = flags & NLM_F_DUMP == NLM_F_DUMP;
        m.buf[6..8].copy_from_slice(&(flags | NLM_F_ACK).to_ne_bytes());
        self.send(m)?;
        let mut replies = Vec::new();
        loop {
            for msg in self.recv_batch()? {
                match msg.ty {
                    NLMSG_ERROR => {
                        parse_error(msg.flags, &msg.payload)?;
                        if !is_dump {
                            return Ok(replies);
                        }
                    }
                    NLMSG_DONE => {
                        if msg.payload.len() >= 4 {
                            parse_error(msg.flags, &msg.payload)?;
                        }
                        return Ok(replies);
                    }
                    _ => replies.push(msg),
                }
            }
        }
    }
}

/// A resolved generic netlink family.
#[derive(Debug, Clone)]
pub struct GenlFamily {
    pub id: u16,
    pub version: u32,
    pub ops: Vec<u32>,
    /// (op id, GENL_* capability and permission flags) as the kernel reports them.
    pub op_flags: Vec<(u32, u32)>,
}

#[cfg(test)]
pub const GENL_CMD_CAP_DO: u32 = 0x02;
#[cfg(test)]
pub const GENL_CMD_CAP_DUMP: u32 = 0x04;
#[cfg(test)]
pub const GENL_UNS_ADMIN_PERM: u32 = 0x10;
const CTRL_ATTR_OP_FLAGS: u16 = 2;

/// Look up a generic netlink family by name. `Ok(None)` when the kernel does not have it.
const CTRL_CMD_GETPOLICY: u8 = 10;
const CTRL_ATTR_POLICY: u16 = 8;
const CTRL_ATTR_OP_POLICY: u16 = 9;
const CTRL_ATTR_OP: u16 = 10;
const CTRL_ATTR_POLICY_DO: u16 = 1;
#[cfg(test)]
const CTRL_ATTR_POLICY_DUMP: u16 = 2;
const NL_POLICY_TYPE_ATTR_TYPE: u16 = 1;
#[cfg(test)]
pub const NL_ATTR_TYPE_U8: u32 = 2;
#[cfg(test)]
pub const NL_ATTR_TYPE_U32: u32 = 4;
#[cfg(test)]
pub const NL_ATTR_TYPE_NESTED: u32 = 13;
#[cfg(test)]
pub const NL_ATTR_TYPE_UINT: u32 = 17;

/// The attributes the kernel accepts at the top level of one generic-netlink
/// operation's request (its "do" policy), with their NL_ATTR_TYPE_*: what the
/// kernel itself says a message may carry, to check hand-written numbers against.
pub fn op_policy(sock: &mut NlSocket, family: u16, op: u8) -> Result<std::collections::BTreeMap<u16, u32>> {
    op_policy_of(sock, family, op, CTRL_ATTR_POLICY_DO)
}

/// The same for an operation's "dump" request.
#[cfg(test)]
pub fn op_dump_policy(sock: &mut NlSocket, family: u16, op: u8) -> Result<std::collections::BTreeMap<u16, u32>> {
    op_policy_of(sock, family, op, CTRL_ATTR_POLICY_DUMP)
}

fn op_policy_of(sock: &mut NlSocket, family: u16, op: u8, which: u16) -> Result<std::collections::BTreeMap<u16, u32>> {
    let mut m = MsgBuilder::genl(GENL_ID_CTRL, CTRL_CMD_GETPOLICY, 1, NLM_F_DUMP);
    m.attr(CTRL_ATTR_FAMILY_ID, &family.to_ne_bytes()).attr_u32(CTRL_ATTR_OP, u32::from(op));
    let replies = sock.request(&mut m).with_context(|| format!("dumping the policy of op {op} of family {family}"))?;
    let mut do_idx = None;
    let mut policies: std::collections::BTreeMap<u16, std::collections::BTreeMap<u16, u32>> = Default::default();
    for r in &replies {
        for (ty, p) in attrs(r.payload.get(4..).unwrap_or_default()) {
            match ty {
                CTRL_ATTR_OP_POLICY => {
                    for (_, per_op) in attrs(p) {
                        if let Some((_, v)) = attrs(per_op).find(|(t, _)| *t == which) {
                            do_idx = get_u32(v).map(|v| v as u16);
                        }
                    }
                }
                CTRL_ATTR_POLICY => {
                    for (idx, pol) in attrs(p) {
                        for (attr, desc) in attrs(pol) {
                            if let Some((_, t)) = attrs(desc).find(|(t, _)| *t == NL_POLICY_TYPE_ATTR_TYPE)
                                && let Some(t) = get_u32(t)
                            {
                                policies.entry(idx).or_default().insert(attr, t);
                            }
                        }
                    }
                }
                _ => {}
            }
        }
    }
    let idx = do_idx.ok_or_else(|| anyhow!("the kernel gave no policy {which} for op {op} of family {family}"))?;
    Ok(policies.remove(&idx).unwrap_or_default())
}

pub fn resolve_family(sock: &mut NlSocket, name: &str) -> Result<Option<GenlFamily>> {
    let mut m = MsgBuilder::genl(GENL_ID_CTRL, CTRL_CMD_GETFAMILY, 1, 0);
    m.attr_str(CTRL_ATTR_FAMILY_NAME, name);
    let replies = match sock.request(&mut m) {
        Ok(r) => r,
        Err(e) => {
            if e.downcast_ref::<NetlinkError>().is_some_and(|n| n.errno == libc::ENOENT) {
                return Ok(None);
            }
            return Err(e.context(format!("resolving generic netlink family '{name}'")));
        }
    };
    let msg = replies.first().ok_or_else(|| anyhow!("no reply resolving generic netlink family '{name}'"))?;
    let mut fam = GenlFamily { id: 0, version: 0, ops: Vec::new(), op_flags: Vec::new() };
    for (ty, p) in attrs(msg.payload.get(4..).unwrap_or_default()) {
        match ty {
            CTRL_ATTR_FAMILY_ID => fam.id = get_u16(p).unwrap_or(0),
            CTRL_ATTR_VERSION => fam.version = get_u32(p).unwrap_or(0),
            CTRL_ATTR_OPS => {
                for (_, op) in attrs(p) {
                    if let Some(id) = attrs(op).find(|(t, _)| *t == CTRL_ATTR_OP_ID).and_then(|(_, v)| get_u32(v)) {
                        fam.ops.push(id);
                        let flags = attrs(op).find(|(t, _)| *t == CTRL_ATTR_OP_FLAGS).and_then(|(_, v)| get_u32(v));
                        fam.op_flags.push((id, flags.unwrap_or(0)));
                    }
                }
            }
            _ => {}
        }
    }
    Ok(Some(fam))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builder_layout_matches_netlink_wire_format() {
        let mut m = MsgBuilder::genl(0x20, 5, 1, 0);
        m.attr_u32(1, 7).nest_start(2).attr_str(3, "ab").nest_end();
        let b = m.finish(9).to_vec();
        // header 16 + genl 4 + u32 attr 8 + nest(4 + str attr 4+3 -> 8) 12 = 40
        assert_eq!(b.len(), 40);
        assert_eq!(u32::from_ne_bytes(b[0..4].try_into().unwrap()), 40);
        assert_eq!(u16::from_ne_bytes(b[4..6].try_into().unwrap()), 0x20);
        assert_eq!(u16::from_ne_bytes(b[6..8].try_into().unwrap()), NLM_F_REQUEST);
        assert_eq!(u32::from_ne_bytes(b[8..12].try_into().unwrap()), 9);
        assert_eq!(&b[16..20], &[5, 1, 0, 0]);
        let parsed: Vec<_> = attrs(&b[20..]).collect();
        assert_eq!(parsed.len(), 2);
        assert_eq!(parsed[0], (1, &7u32.to_ne_bytes()[..]));
        assert_eq!(parsed[1].0, 2, "nested flag must be masked off");
        let inner: Vec<_> = attrs(parsed[1].1).collect();
        assert_eq!(inner, vec![(3, &b"ab\0"[..])]);
    }

    #[test]
    fn truncated_attributes_stop_cleanly() {
        let bytes = [8u8, 0, 1, 0, 1, 2];
        assert_eq!(attrs(&bytes).count(), 0);
    }

    #[test]
    fn extack_error_is_decoded() {
        let mut p = Vec::new();
        p.extend_from_slice(&(-libc::EOPNOTSUPP).to_ne_bytes());
        p.extend_from_slice(&[0u8; 16]);
        let mut m = MsgBuilder::new(0, 0);
        m.buf.clear();
        m.attr_str(NLMSGERR_ATTR_MSG, "no header split");
        p.extend_from_slice(&m.buf);
        let e = parse_error(NLM_F_ACK_TLVS, &p).unwrap_err();
        assert_eq!(e.errno, libc::EOPNOTSUPP);
        assert_eq!(e.extack.as_deref(), Some("no header split"));
        assert!(parse_error(0, &0i32.to_ne_bytes()).is_ok());
    }

    #[test]
    fn resolves_real_families() {
        let mut s = NlSocket::open(libc::NETLINK_GENERIC).unwrap();
        let ctrl = resolve_family(&mut s, "nlctrl").unwrap().expect("nlctrl always exists");
        assert_eq!(ctrl.id, GENL_ID_CTRL);
        assert!(ctrl.ops.contains(&(CTRL_CMD_GETFAMILY as u32)));
        assert!(resolve_family(&mut s, "zcb-nofamily").unwrap().is_none());
    }
}
