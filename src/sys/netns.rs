//! Named network namespaces (`ip netns` compatible), running code or file
//! accesses inside a namespace, and namespace identity.
//!
//! Namespace and veth plumbing is done with iproute2's `ip`, the tool every Linux
//! network engineer has and can replay by hand; per-thread namespace switching
//! (setns) is done natively so sockets can be created in either namespace.
//!
//! A namespace's identity ([`NsId`]) is what the undo journal records with
//! every setting that belongs to one, so a setting is only ever written back in
//! the namespace it was read in: the inode of its nsfs file (unique among the
//! namespaces alive, but reusable once one is gone), its cookie
//! (`SO_NETNS_COOKIE`, never reused within a boot), the boot, and its name under
//! /run/netns when it has one.

use anyhow::{Context, Result, anyhow, bail};
use nix::mount::{MntFlags, MsFlags, mount, umount2};
use nix::sched::{CloneFlags, setns, unshare};
use serde::{Deserialize, Serialize};
use std::fs::File;
use std::os::fd::AsRawFd;
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::process::Command;

pub const NETNS_DIR: &str = "/run/netns";
/// Prefix of every namespace zcbench creates: `zcb-<pid>-<role>`.
pub const PREFIX: &str = "zcb-";

/// Run `ip ARGS`, returning stdout; the error quotes the command and ip's stderr.
pub fn ip(args: &[&str]) -> Result<String> {
    let out = Command::new("ip").args(args).output().context("running `ip` (install iproute2)")?;
    if !out.status.success() {
        bail!("`ip {}` failed: {}", args.join(" "), String::from_utf8_lossy(&out.stderr).trim());
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

pub fn exists(name: &str) -> bool {
    Path::new(NETNS_DIR).join(name).exists()
}

pub fn list() -> Vec<String> {
    std::fs::read_dir(NETNS_DIR)
        .map(|d| d.filter_map(|e| e.ok()).map(|e| e.file_name().to_string_lossy().into_owned()).collect())
        .unwrap_or_default()
}

pub fn create(name: &str) -> Result<()> {
    ip(&["netns", "add", name]).with_context(|| format!("creating network namespace {name}"))?;
    Ok(())
}

pub fn delete(name: &str) -> Result<()> {
    if exists(name) {
        ip(&["netns", "del", name]).with_context(|| format!("deleting network namespace {name}"))?;
    }
    Ok(())
}

/// Whether device `dev` is in namespace `name` (which must exist).
pub fn device_in(name: &str, dev: &str) -> bool {
    exists(name) && ip(&["-n", name, "-o", "link", "show", "dev", dev]).is_ok()
}

/// The addresses of `dev` (in this namespace) other than IPv6 link-local ones,
/// as `ip -o addr` prints them: what moving the device would throw away.
pub fn configured_addresses(dev: &str) -> Result<Vec<String>> {
    let out = ip(&["-o", "addr", "show", "dev", dev])?;
    Ok(out
        .lines()
        .filter(|l| l.contains(" inet ") || (l.contains(" inet6 ") && !l.contains("scope link")))
        .filter_map(|l| l.split_whitespace().nth(3).map(str::to_string))
        .collect())
}

/// Namespace name for this process and a role.
pub fn name_for(pid: u32, role: &str) -> String {
    format!("{PREFIX}{pid}-{role}")
}

/// The pid a zcbench namespace name was made for.
pub fn owner_pid(name: &str) -> Option<u32> {
    name.strip_prefix(PREFIX)?.split('-').next()?.parse().ok()
}

/// Delete zcbench namespaces left by processes that no longer exist (a crash or
/// SIGKILL). Returns the names removed.
pub fn sweep_stale() -> Vec<String> {
    let mut removed = Vec::new();
    for name in list() {
        if let Some(pid) = owner_pid(&name)
            && !Path::new(&format!("/proc/{pid}")).exists()
            && delete(&name).is_ok()
        {
            removed.push(name);
        }
    }
    removed
}

/// A network device and the namespace it lives in (None: this process's own).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dev {
    pub ns: Option<String>,
    pub name: String,
}

impl Dev {
    pub fn new(ns: Option<&str>, name: &str) -> Dev {
        Dev { ns: ns.map(str::to_string), name: name.to_string() }
    }

    pub fn ns(&self) -> Option<&str> {
        self.ns.as_deref()
    }

    /// "eth0 (driver mlx5_core)", for error messages.
    pub fn label(&self) -> String {
        let drv = with_netns(self.ns(), || super::ethtool::driver_info(&self.name))
            .map(|d| d.driver)
            .unwrap_or_else(|_| "unknown".into());
        format!("{} (driver {drv})", self.name)
    }
}

/// Where a setting lives: this thread's network namespace, or another one,
/// held open by a handle (from /run/netns or a process's /proc/PID/ns/net).
pub enum Place {
    Here,
    There { file: File, label: String },
}

impl Place {
    /// The namespace named `name` under /run/netns (None: this thread's own).
    pub fn named(name: Option<&str>) -> Result<Place> {
        let Some(name) = name else { return Ok(Place::Here) };
        let path = Path::new(NETNS_DIR).join(name);
        let file = File::open(&path).with_context(|| format!("opening network namespace {}", path.display()))?;
        Ok(Place::There { file, label: name.to_string() })
    }

    /// " in namespace X", or nothing for this one.
    pub fn suffix(&self) -> String {
        match self {
            Place::Here => String::new(),
            Place::There { label, .. } => format!(" in network namespace {label}"),
        }
    }
}

/// Run `f` with the calling thread inside `place`, then switch back. Only this
/// thread moves.
pub fn with_place<T>(place: &Place, f: impl FnOnce() -> Result<T>) -> Result<T> {
    let Place::There { file, label } = place else { return f() };
    let home = File::open("/proc/thread-self/ns/net").context("opening /proc/thread-self/ns/net")?;
    setns(file, CloneFlags::CLONE_NEWNET).with_context(|| format!("entering network namespace {label}"))?;
    let r = f();
    setns(&home, CloneFlags::CLONE_NEWNET).context("returning to the original network namespace")?;
    r
}

/// Run `f` with the calling thread inside network namespace `name` (None: stay
/// where we are), then switch back. Only this thread moves.
pub fn with_netns<T>(name: Option<&str>, f: impl FnOnce() -> Result<T>) -> Result<T> {
    with_place(&Place::named(name)?, f)
}

/// Run `f` on a thread of its own inside `place` with /sys mounted for that
/// namespace (sysfs shows the network devices of whoever mounted it), as
/// `ip netns exec` does: the thread gets a private mount namespace, made a
/// slave of the host's first so nothing it mounts or unmounts propagates back,
/// and a fresh sysfs on /sys; both go away with the thread.
fn with_sysfs<T: Send>(file: &File, label: &str, f: impl FnOnce() -> Result<T> + Send) -> Result<T> {
    std::thread::scope(|s| {
        s.spawn(|| {
            setns(file, CloneFlags::CLONE_NEWNET).with_context(|| format!("entering network namespace {label}"))?;
            unshare(CloneFlags::CLONE_NEWNS).context("unsharing the mount namespace to mount /sys")?;
            // Without this the unmount below would reach the host's /sys.
            mount(None::<&str>, "/", None::<&str>, MsFlags::MS_SLAVE | MsFlags::MS_REC, None::<&str>)
                .context("making / a slave mount in the private mount namespace")?;
            let _ = umount2("/sys", MntFlags::MNT_DETACH);
            mount(Some("sysfs"), "/sys", Some("sysfs"), MsFlags::empty(), None::<&str>)
                .with_context(|| format!("mounting sysfs for network namespace {label}"))?;
            f()
        })
        .join()
        .map_err(|_| anyhow!("a thread reading /sys of network namespace {label} panicked"))?
    })
}

/// Run `f` where `path` (a /proc/sys or /sys file) shows `place`'s values.
fn at_path<T: Send>(place: &Place, path: &str, f: impl FnOnce() -> Result<T> + Send) -> Result<T> {
    match place {
        Place::Here => f(),
        // /proc/sys/net follows the opening thread's namespace: no remount needed.
        Place::There { .. } if !path.starts_with("/sys/") => with_place(place, f),
        Place::There { file, label } => with_sysfs(file, label, f),
    }
}

/// Read a sysfs/procfs file as seen from `place`.
pub fn read_at(place: &Place, path: &str) -> Result<String> {
    at_path(place, path, || std::fs::read_to_string(path).with_context(|| format!("reading {path}{}", place.suffix())))
}

/// Read a sysfs/procfs file as seen from the namespace named `ns` (None: this
/// thread's own).
pub fn read_in(ns: Option<&str>, path: &str) -> Result<String> {
    read_at(&Place::named(ns)?, path)
}

/// Write a sysfs/procfs file as seen from `place`.
pub fn write_at(place: &Place, path: &str, value: &str) -> Result<()> {
    at_path(place, path, || {
        std::fs::write(path, value).with_context(|| format!("writing '{value}' to {path}{}", place.suffix()))
    })
}

/// Whether a sysfs/procfs file exists as seen from `place`.
pub fn file_exists_at(place: &Place, path: &str) -> Result<bool> {
    at_path(place, path, || Ok(Path::new(path).exists()))
}

/// The entries of a sysfs/procfs directory as seen from `place`.
pub fn list_at(place: &Place, dir: &str) -> Result<Vec<String>> {
    at_path(place, dir, || {
        Ok(std::fs::read_dir(dir)
            .with_context(|| format!("listing {dir}{}", place.suffix()))?
            .filter_map(|e| e.ok())
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect())
    })
}

/// A network namespace's identity, as the journal records it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct NsId {
    /// Inode of its nsfs file (`ip netns identify`, `readlink /proc/PID/ns/net`).
    pub inode: u64,
    /// SO_NETNS_COOKIE: unique for the life of the boot.
    pub cookie: Option<u64>,
    /// /proc/sys/kernel/random/boot_id when it was recorded.
    pub boot: Option<String>,
    /// Its name under /run/netns, when it had one.
    pub name: Option<String>,
    /// The host's initial namespace (PID 1's), the only one a reboot keeps.
    pub initial: bool,
}

impl NsId {
    /// "zcb-1-rx (inode 4026532177)" or "inode 4026532177".
    pub fn describe(&self) -> String {
        match &self.name {
            Some(n) => format!("{n} (inode {})", self.inode),
            None if self.initial => format!("the host's initial namespace (inode {})", self.inode),
            None => format!("inode {}", self.inode),
        }
    }

    /// Same namespace (the name aside: it may have been given or taken since).
    pub fn same(&self, other: &NsId) -> bool {
        self.inode == other.inode && self.cookie == other.cookie && self.boot == other.boot
    }
}

/// SO_NETNS_COOKIE (Linux 5.14+): `asm-generic/socket.h`.
const SO_NETNS_COOKIE: libc::c_int = 71;

/// The cookie of the calling thread's network namespace.
fn cookie_here() -> Option<u64> {
    let s = socket2::Socket::new(socket2::Domain::UNIX, socket2::Type::STREAM, None).ok()?;
    let mut v: u64 = 0;
    let mut len = std::mem::size_of::<u64>() as libc::socklen_t;
    // SAFETY: v is a writable u64 and len its size; the kernel writes at most len bytes.
    let rc = unsafe {
        libc::getsockopt(s.as_raw_fd(), libc::SOL_SOCKET, SO_NETNS_COOKIE, &mut v as *mut u64 as *mut _, &mut len)
    };
    (rc == 0).then_some(v)
}

fn inode_of(path: &Path) -> Option<u64> {
    std::fs::metadata(path).ok().map(|m| m.ino())
}

fn boot_id() -> Option<String> {
    std::fs::read_to_string("/proc/sys/kernel/random/boot_id").ok().map(|s| s.trim().to_string())
}

/// The name under /run/netns of the namespace with this inode, if any.
fn name_of(inode: u64) -> Option<String> {
    list().into_iter().find(|n| inode_of(&Path::new(NETNS_DIR).join(n)) == Some(inode))
}

/// The identity of `place`'s namespace.
pub fn id_of(place: &Place) -> Result<NsId> {
    let inode = match place {
        Place::Here => inode_of(Path::new("/proc/thread-self/ns/net")),
        Place::There { file, .. } => file.metadata().ok().map(|m| m.ino()),
    }
    .ok_or_else(|| anyhow!("cannot stat the network namespace{}", place.suffix()))?;
    let cookie = with_place(place, || Ok(cookie_here()))?;
    Ok(NsId {
        inode,
        cookie,
        boot: boot_id(),
        name: name_of(inode),
        initial: inode_of(Path::new("/proc/1/ns/net")) == Some(inode),
    })
}

/// Where the namespace `id` is now: this thread's, another one still alive
/// (found by its name, another name, or a process inside it), or gone (None).
pub fn find(id: &NsId) -> Result<Option<Place>> {
    let pid1 = Path::new("/proc/1/ns/net");
    if id.boot.is_some() && id.boot != boot_id() {
        // Only the initial namespace outlives a reboot (as the new initial one).
        if !id.initial {
            return Ok(None);
        }
        if inode_of(Path::new("/proc/thread-self/ns/net")) == inode_of(pid1) {
            return Ok(Some(Place::Here));
        }
        let file = File::open(pid1).context("opening /proc/1/ns/net")?;
        return Ok(Some(Place::There { file, label: "the host's initial namespace".into() }));
    }
    if id_of(&Place::Here).is_ok_and(|h| h.same(id)) {
        return Ok(Some(Place::Here));
    }
    // Its own name first, then any other name, then any process inside it.
    let mut names: Vec<String> = id.name.iter().cloned().collect();
    names.extend(list().into_iter().filter(|n| Some(n) != id.name.as_ref()));
    let mut paths: Vec<std::path::PathBuf> = names.iter().map(|n| Path::new(NETNS_DIR).join(n)).collect();
    if let Ok(d) = std::fs::read_dir("/proc") {
        let pids =
            d.filter_map(|e| e.ok()).filter(|e| e.file_name().to_string_lossy().bytes().all(|b| b.is_ascii_digit()));
        paths.extend(pids.map(|e| e.path().join("ns/net")));
    }
    for p in paths {
        if inode_of(&p) != Some(id.inode) {
            continue;
        }
        let Ok(file) = File::open(&p) else { continue };
        let place = Place::There { file, label: id.describe() };
        if id_of(&place).is_ok_and(|x| x.same(id)) {
            return Ok(Some(place));
        }
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        let n = name_for(4242, "rx");
        assert_eq!(n, "zcb-4242-rx");
        assert_eq!(owner_pid(&n), Some(4242));
        assert_eq!(owner_pid("other-1-rx"), None);
    }
}
