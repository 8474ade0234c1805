//! Named network namespaces (`ip netns` compatible) and running code or file
//! accesses inside them.
//!
//! Namespace and veth plumbing is done with iproute2's `ip`, the tool every Linux
//! network engineer has and can replay by hand; per-thread namespace switching
//! (setns) is done natively so sockets can be created in either namespace.

use anyhow::{Context, Result, bail};
use nix::sched::{CloneFlags, setns};
use std::fs::File;
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

/// Run `f` with the calling thread inside network namespace `name` (None: stay
/// where we are), then switch back. Only this thread moves.
pub fn with_netns<T>(name: Option<&str>, f: impl FnOnce() -> Result<T>) -> Result<T> {
    let Some(name) = name else { return f() };
    let path = Path::new(NETNS_DIR).join(name);
    let target = File::open(&path).with_context(|| format!("opening {}", path.display()))?;
    let home = File::open("/proc/thread-self/ns/net").context("opening /proc/thread-self/ns/net")?;
    setns(&target, CloneFlags::CLONE_NEWNET).with_context(|| format!("entering network namespace {name}"))?;
    let r = f();
    setns(&home, CloneFlags::CLONE_NEWNET).context("returning to the original network namespace")?;
    r
}

/// Read a sysfs/procfs file as seen from namespace `ns` (None: this one).
/// sysfs shows the namespace of whoever mounted it, so a named namespace is read
/// through `ip netns exec`, which remounts /sys for it.
pub fn read_in(ns: Option<&str>, path: &str) -> Result<String> {
    match ns {
        None => std::fs::read_to_string(path).with_context(|| format!("reading {path}")),
        // /proc/sys/net follows the opening thread's namespace: no remount needed.
        Some(ns) if path.starts_with("/proc/sys/") => with_netns(Some(ns), || {
            std::fs::read_to_string(path).with_context(|| format!("reading {path} in namespace {ns}"))
        }),
        Some(ns) => {
            ip(&["netns", "exec", ns, "cat", path]).with_context(|| format!("reading {path} in namespace {ns}"))
        }
    }
}

/// Write a sysfs/procfs file as seen from namespace `ns` (None: this one).
pub fn write_in(ns: Option<&str>, path: &str, value: &str) -> Result<()> {
    match ns {
        None => std::fs::write(path, value).with_context(|| format!("writing '{value}' to {path}")),
        Some(ns) if path.starts_with("/proc/sys/") => with_netns(Some(ns), || {
            std::fs::write(path, value).with_context(|| format!("writing '{value}' to {path} in namespace {ns}"))
        }),
        Some(ns) => {
            // The value travels as an argument, never through the shell's parser.
            ip(&["netns", "exec", ns, "sh", "-c", "printf %s \"$1\" > \"$2\"", "sh", value, path])
                .with_context(|| format!("writing '{value}' to {path} in namespace {ns}"))?;
            Ok(())
        }
    }
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
