//! The control protocol between `zcbench client` and `zcbench server`: frames of a
//! 4-byte big-endian length and a JSON message, at most [`MAX_FRAME`] bytes, every
//! read under a timeout set by the caller.

use crate::config::{FlowConfig, Layout};
use crate::error::ExitKind;
use crate::results::schema::{Sample, Side};
use anyhow::{Context, Result, bail};
use serde::{Deserialize, Serialize};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

pub const MAGIC: &str = "zcbench";
/// Bumped on every incompatible change; both ends must speak the same version.
pub const VERSION: u32 = 1;
pub const MAX_FRAME: usize = 1 << 20;

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Msg {
    /// Client → server: what flow to run.
    Hello { magic: String, version: u32, flow: FlowConfig },
    /// Server → client: where to connect the flow and how the receiver is laid
    /// out; `boot_id` tells a client on the same host (two namespaces) that it
    /// shares the server's cores.
    Ready {
        version: u32,
        data_port: u16,
        layout: Layout,
        #[serde(default)]
        boot_id: Option<String>,
    },
    /// Server → client: one receiver sample, as it is taken.
    Sample { sample: Sample },
    /// Server → client: the receiver's side of the result (samples already
    /// streamed), and other zcbench runs the server saw measuring on its host.
    Done {
        side: Box<Side>,
        #[serde(default)]
        others: Vec<String>,
    },
    /// Either way: what went wrong, and its exit class.
    Error { message: String, exit: u8 },
}

impl Msg {
    pub fn error(e: &anyhow::Error) -> Msg {
        Msg::Error { message: format!("{e:#}"), exit: crate::error::exit_kind(e).code() as u8 }
    }

    /// The message's name, for errors about unexpected ones.
    pub fn kind(&self) -> &'static str {
        match self {
            Msg::Hello { .. } => "hello",
            Msg::Ready { .. } => "ready",
            Msg::Sample { .. } => "sample",
            Msg::Done { .. } => "done",
            Msg::Error { .. } => "error",
        }
    }
}

/// The error the other end reported, with its exit class.
pub fn remote_error(message: String, exit: u8) -> anyhow::Error {
    anyhow::Error::new(crate::error::Classified { kind: exit_kind_of(exit), msg: format!("server: {message}") })
}

pub fn exit_kind_of(code: u8) -> ExitKind {
    match code {
        2 => ExitKind::Usage,
        3 => ExitKind::Unsupported,
        _ => ExitKind::Failed,
    }
}

pub fn write_msg(w: &mut impl Write, m: &Msg) -> Result<()> {
    let body = serde_json::to_vec(m)?;
    if body.len() > MAX_FRAME {
        bail!("control message of {} bytes exceeds the {MAX_FRAME}-byte limit", body.len());
    }
    let mut frame = Vec::with_capacity(4 + body.len());
    frame.extend_from_slice(&(body.len() as u32).to_be_bytes());
    frame.extend_from_slice(&body);
    w.write_all(&frame).context("sending on the control connection")?;
    Ok(())
}

pub fn read_msg(r: &mut impl Read) -> Result<Msg> {
    let mut len = [0u8; 4];
    r.read_exact(&mut len).map_err(describe_read_error)?;
    let len = u32::from_be_bytes(len) as usize;
    if len > MAX_FRAME {
        bail!("control message of {len} bytes announced, over the {MAX_FRAME}-byte limit (not a zcbench peer?)");
    }
    let mut body = vec![0u8; len];
    r.read_exact(&mut body).map_err(describe_read_error)?;
    let v: serde_json::Value =
        serde_json::from_slice(&body).context("control message is not JSON (not a zcbench peer?)")?;
    // The version is checked before the shape, so an older or newer peer is told
    // that, not that some field is missing.
    if let Some(ver) = v.get("version").and_then(|x| x.as_u64())
        && ver != u64::from(VERSION)
    {
        return Err(crate::error::usage(format!(
            "protocol version mismatch: the peer speaks v{ver}, this zcbench speaks v{VERSION}; run the same zcbench version on both hosts"
        )));
    }
    serde_json::from_value(v).context("control message is not a valid zcbench message (another zcbench version?)")
}

/// Reads that give up at a deadline for the whole message (not per read, so a
/// peer trickling a byte at a time cannot hold the connection), looking at
/// Ctrl-C at least every [`SLICE`].
struct Deadline<'a> {
    conn: &'a TcpStream,
    until: Instant,
}

const SLICE: Duration = Duration::from_millis(200);

impl Read for Deadline<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        loop {
            let left = self.until.saturating_duration_since(Instant::now());
            if left.is_zero() || crate::signals::interrupted() {
                return Err(std::io::ErrorKind::TimedOut.into());
            }
            self.conn.set_read_timeout(Some(left.min(SLICE)))?;
            match (&mut &*self.conn).read(buf) {
                Err(e) if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut) => {}
                r => return r,
            }
        }
    }
}

/// One message that must arrive whole within `limit`.
pub fn read_msg_within(conn: &TcpStream, limit: Duration) -> Result<Msg> {
    read_msg(&mut Deadline { conn, until: Instant::now() + limit })
        .with_context(|| format!("(a whole message must arrive within {})", humantime::format_duration(limit)))
}

fn describe_read_error(e: std::io::Error) -> anyhow::Error {
    match e.kind() {
        std::io::ErrorKind::UnexpectedEof => {
            anyhow::anyhow!("the peer closed the control connection")
        }
        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut => {
            anyhow::anyhow!("the peer did not send a whole message on the control connection in time")
        }
        _ => anyhow::Error::new(e).context("reading the control connection"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_round_trip_and_limits_hold() {
        let m = Msg::Error { message: "x".into(), exit: 3 };
        let mut buf = Vec::new();
        write_msg(&mut buf, &m).unwrap();
        assert_eq!(&buf[..4], &(buf.len() as u32 - 4).to_be_bytes());
        assert_eq!(read_msg(&mut &buf[..]).unwrap(), m);

        let huge = (MAX_FRAME as u32 + 1).to_be_bytes();
        assert!(read_msg(&mut &huge[..]).unwrap_err().to_string().contains("limit"));
        let http = b"GET / HTTP/1.1\r\n\r\n";
        assert!(read_msg(&mut &http[..]).is_err());
        let mut junk = 5u32.to_be_bytes().to_vec();
        junk.extend_from_slice(b"hello");
        assert!(read_msg(&mut &junk[..]).unwrap_err().to_string().contains("not JSON"));
        let newer = br#"{"type":"hello","magic":"zcbench","version":99,"flow":{"other":1}}"#;
        let mut f = (newer.len() as u32).to_be_bytes().to_vec();
        f.extend_from_slice(newer);
        let e = read_msg(&mut &f[..]).unwrap_err();
        assert!(e.to_string().contains("version mismatch"), "{e}");
        assert_eq!(crate::error::exit_kind(&e), crate::error::ExitKind::Usage);

        assert!(read_msg(&mut &b"\0\0"[..]).unwrap_err().to_string().contains("closed"));
    }
}
