//! Helpers for the integration tests: the real binary, real namespaces, and a
//! snapshot of every host setting zcbench may touch.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// The zcbench under test: this build, or `$ZCBENCH_TEST_BIN` (to show a
/// regression test failing on an older build).
pub fn bin() -> &'static str {
    static BIN: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    BIN.get_or_init(|| std::env::var("ZCBENCH_TEST_BIN").unwrap_or_else(|_| env!("CARGO_BIN_EXE_zcbench").into()))
}

/// True when this process may create namespaces (root and iproute2). Tests that
/// need it print why they skip; on the project's own machines they must run.
pub fn can_netns() -> bool {
    // SAFETY: geteuid has no preconditions.
    let root = unsafe { libc::geteuid() } == 0;
    let ip = Command::new("ip").arg("-V").output().map(|o| o.status.success()).unwrap_or(false);
    if !root || !ip {
        eprintln!("SKIPPED: needs root and iproute2 (root={root}, ip={ip})");
    }
    root && ip
}

#[macro_export]
macro_rules! need_netns {
    () => {
        if !common::can_netns() {
            return;
        }
    };
}

pub fn zcbench(args: &[&str]) -> Output {
    Command::new(bin()).args(args).output().expect("running zcbench")
}

/// zcbench with `args`, its output piped.
pub fn spawn(args: &[&str]) -> Child {
    Command::new(bin()).args(args).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap()
}

/// Wait for `child` at most `limit` (then it is killed and the test fails);
/// its exit code (None: killed by a signal), output and how long it took.
pub fn wait_for(child: Child, limit: Duration) -> (Option<i32>, String, Duration) {
    let t0 = Instant::now();
    let pid = child.id() as i32;
    let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let seen = done.clone();
    let guard = std::thread::spawn(move || {
        while t0.elapsed() < limit {
            if seen.load(std::sync::atomic::Ordering::Relaxed) {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        // SAFETY: signalling our own child by pid; it is not reaped before `done` is set.
        unsafe { libc::kill(pid, libc::SIGKILL) };
    });
    let o = child.wait_with_output().unwrap();
    done.store(true, std::sync::atomic::Ordering::Relaxed);
    let took = t0.elapsed();
    let _ = guard.join();
    assert!(took < limit, "still running after {limit:?}: {}", text(&o));
    (o.status.code(), text(&o), took)
}

/// Send `sig` to our own child.
pub fn signal(child: &Child, sig: i32) {
    // SAFETY: signalling our own child by pid.
    unsafe { libc::kill(child.id() as i32, sig) };
}

pub fn text(o: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
}

pub fn tmpdir(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("zcbench-test-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// The single JSON result in `dir`.
pub fn only_result(dir: &Path) -> serde_json::Value {
    let files: Vec<_> = std::fs::read_dir(dir).unwrap().filter_map(|e| e.ok()).map(|e| e.path()).collect();
    assert_eq!(files.len(), 1, "expected one result file in {}: {files:?}", dir.display());
    serde_json::from_str(&std::fs::read_to_string(&files[0]).unwrap()).unwrap()
}

/// Every host setting zcbench may change, plus its namespaces.
#[derive(Debug, PartialEq)]
pub struct Snapshot(BTreeMap<String, String>);

fn glob_files(dir: &str, sub: &dyn Fn(&Path) -> Vec<PathBuf>) -> Vec<PathBuf> {
    std::fs::read_dir(dir).map(|d| d.filter_map(|e| e.ok()).flat_map(|e| sub(&e.path())).collect()).unwrap_or_default()
}

pub fn snapshot() -> Snapshot {
    let mut m = BTreeMap::new();
    let rps = glob_files("/sys/class/net", &|dev| {
        glob_files(&dev.join("queues").to_string_lossy(), &|q| vec![q.join("rps_cpus")])
    });
    let irqs = glob_files("/proc/irq", &|irq| vec![irq.join("smp_affinity_list")]);
    let mtus = glob_files("/sys/class/net", &|dev| vec![dev.join("mtu")]);
    for p in rps.into_iter().chain(irqs).chain(mtus) {
        if let Ok(v) = std::fs::read_to_string(&p) {
            m.insert(p.display().to_string(), v.trim().to_string());
        }
    }
    let ns: Vec<String> = std::fs::read_dir("/run/netns")
        .map(|d| {
            d.filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| n.starts_with("zcb-"))
                .collect()
        })
        .unwrap_or_default();
    m.insert("zcbench namespaces".into(), ns.join(","));
    // Sysctls a profile may set (every readable file: none of these drift on their own).
    for dir in ["/proc/sys/net/core", "/proc/sys/net/ipv4", "/proc/sys/vm"] {
        for p in glob_files(dir, &|p| vec![p.to_path_buf()]) {
            if let Ok(v) = std::fs::read_to_string(&p) {
                m.insert(p.display().to_string(), v.trim().to_string());
            }
        }
    }
    let huge = "/sys/kernel/mm/hugepages/hugepages-2048kB/nr_hugepages";
    m.insert(huge.into(), std::fs::read_to_string(huge).unwrap_or_default().trim().to_string());
    // Link attributes and offload features of every device of this namespace.
    let links = Command::new("ip").args(["-d", "-j", "link", "show"]).output().expect("ip -d -j link");
    let links: serde_json::Value = serde_json::from_slice(&links.stdout).unwrap_or_default();
    for l in links.as_array().into_iter().flatten() {
        let name = l["ifname"].as_str().unwrap_or("?").to_string();
        for k in
            ["mtu", "gso_max_size", "gro_max_size", "gso_ipv4_max_size", "gro_ipv4_max_size", "gso_max_segs", "flags"]
        {
            m.insert(format!("{name} {k}"), l[k].to_string());
        }
        // Offload features, flow-steering rules and the RSS indirection table.
        for opt in ["-k", "-n", "-x"] {
            if let Ok(o) = Command::new("ethtool").args([opt, &name]).output() {
                m.insert(format!("{name} ethtool {opt}"), String::from_utf8_lossy(&o.stdout).into_owned());
            }
        }
    }
    // What an MTU change can leave behind once the MTU is back: path MTUs
    // learned on loopback (never there on a host left alone) and static IPv6
    // addresses, which the kernel drops below MTU 1280 for good.
    for fam in ["-4", "-6"] {
        m.insert(format!("lo learned path MTUs {fam}"), learned_mtus(fam, "lo").join("; "));
    }
    if let Ok(o) = Command::new("ip").args(["-6", "-o", "addr", "show"]).output() {
        let text = String::from_utf8_lossy(&o.stdout);
        let kept = text.lines().filter(|l| !l.contains(" scope link") && !l.contains(" dynamic"));
        let addrs: Vec<String> = kept.map(|l| l.split_whitespace().take(4).collect::<Vec<_>>().join(" ")).collect();
        m.insert("static IPv6 addresses".into(), addrs.join("; "));
    }
    let state = std::env::var("ZCBENCH_STATE_DIR").unwrap_or_else(|_| "/var/lib/zcbench".into());
    let journals: Vec<String> = std::fs::read_dir(&state)
        .map(|d| d.filter_map(|e| e.ok()).map(|e| e.file_name().to_string_lossy().into_owned()).collect())
        .unwrap_or_default();
    m.insert("journal files".into(), journals.join(","));
    Snapshot(m)
}

/// Route cache entries through `dev` that carry a learned MTU (`ip FAM route
/// show cache table all dev DEV`), without their countdown.
pub fn learned_mtus(fam: &str, dev: &str) -> Vec<String> {
    let o = Command::new("ip").args([fam, "-o", "route", "show", "cache", "table", "all", "dev", dev]).output();
    let text = o.map(|o| String::from_utf8_lossy(&o.stdout).into_owned()).unwrap_or_default();
    text.lines()
        .filter(|l| l.contains(" mtu "))
        .map(|l| {
            let w: Vec<&str> = l.split_whitespace().collect();
            let expires = w.iter().position(|x| *x == "expires");
            w.iter()
                .enumerate()
                .filter(|(i, _)| expires.is_none_or(|e| *i != e && *i != e + 1))
                .map(|(_, x)| *x)
                .collect::<Vec<_>>()
                .join(" ")
        })
        .collect()
}

impl Snapshot {
    /// The keys whose values differ, with both values, for assertion messages.
    pub fn diff(&self, other: &Snapshot) -> Vec<String> {
        let keys: std::collections::BTreeSet<&String> = self.0.keys().chain(other.0.keys()).collect();
        keys.into_iter()
            .filter(|k| self.0.get(*k) != other.0.get(*k))
            .map(|k| format!("{k}: {:?} -> {:?}", self.0.get(k), other.0.get(k)))
            .collect()
    }

    pub fn get(&self, k: &str) -> Option<&str> {
        self.0.get(k).map(String::as_str)
    }
}

/// Assert the host is exactly as in `before`.
pub fn assert_unchanged(before: &Snapshot, what: &str) {
    let d = before.diff(&snapshot());
    assert!(d.is_empty(), "{what} left the host changed:\n{}", d.join("\n"));
}

/// A veth pair in this namespace standing in for two NIC ports cabled to each
/// other (`--testbed ports`), up and without addresses; deleted when dropped.
pub struct PortPair {
    pub a: String,
    pub b: String,
}

impl PortPair {
    pub fn new(tag: &str) -> PortPair {
        let (a, b) = (format!("zcbt{tag}a"), format!("zcbt{tag}b"));
        let _ = Command::new("ip").args(["link", "del", &a]).output();
        ip(&["link", "add", &a, "type", "veth", "peer", "name", &b]);
        ip(&["link", "set", &a, "up"]);
        ip(&["link", "set", &b, "up"]);
        PortPair { a, b }
    }
}

impl Drop for PortPair {
    fn drop(&mut self) {
        let _ = Command::new("ip").args(["link", "del", &self.a]).output();
    }
}

/// Two namespaces joined by veth, for two-host tests: `a` is 198.18.<net>.1, `b` .2.
pub struct NsPair {
    pub a: String,
    pub b: String,
    pub a_ip: String,
    pub b_ip: String,
}

fn ip(args: &[&str]) {
    let o = Command::new("ip").args(args).output().unwrap();
    assert!(o.status.success(), "ip {args:?}: {}", String::from_utf8_lossy(&o.stderr));
}

impl NsPair {
    pub fn new(tag: &str, net: u8) -> NsPair {
        let pid = std::process::id();
        let p = NsPair {
            a: format!("zcbt-{pid}-{tag}a"),
            b: format!("zcbt-{pid}-{tag}b"),
            a_ip: format!("198.18.{net}.1"),
            b_ip: format!("198.18.{net}.2"),
        };
        ip(&["netns", "add", &p.a]);
        ip(&["netns", "add", &p.b]);
        ip(&["link", "add", "zt0", "netns", &p.a, "type", "veth", "peer", "name", "zt1", "netns", &p.b]);
        for (ns, dev, addr) in [(&p.a, "zt0", &p.a_ip), (&p.b, "zt1", &p.b_ip)] {
            ip(&["-n", ns, "addr", "add", &format!("{addr}/24"), "dev", dev]);
            ip(&["-n", ns, "link", "set", "dev", dev, "up"]);
            ip(&["-n", ns, "link", "set", "dev", "lo", "up"]);
        }
        p
    }

    /// A zcbench command inside namespace `ns`.
    pub fn cmd(ns: &str, args: &[&str]) -> Command {
        let mut c = Command::new("ip");
        c.args(["netns", "exec", ns, bin()]).args(args);
        c
    }
}

impl Drop for NsPair {
    fn drop(&mut self) {
        for n in [&self.a, &self.b] {
            let _ = Command::new("ip").args(["netns", "del", n]).output();
        }
    }
}

/// Run `f` on a thread inside namespace `ns`.
pub fn in_ns<T: Send>(ns: &str, f: impl FnOnce() -> T + Send) -> T {
    std::thread::scope(|s| {
        s.spawn(|| {
            let fd = std::fs::File::open(format!("/run/netns/{ns}")).unwrap();
            nix::sched::setns(&fd, nix::sched::CloneFlags::CLONE_NEWNET).unwrap();
            f()
        })
        .join()
        .unwrap()
    })
}

/// A `zcbench server` in namespace `ns`, returned once it says it listens. Its
/// stderr keeps being collected in the background.
pub struct Server {
    pub child: std::process::Child,
    pub log: std::sync::Arc<std::sync::Mutex<String>>,
}

impl Server {
    pub fn start(ns: &str, args: &[&str]) -> Server {
        use std::io::BufRead;
        let mut child = NsPair::cmd(ns, &[&["server"], args].concat())
            .stderr(std::process::Stdio::piped())
            .stdout(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let stderr = child.stderr.take().unwrap();
        let log = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
        let (tx, rx) = std::sync::mpsc::channel();
        let l2 = log.clone();
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(stderr).lines().map_while(Result::ok) {
                if line.contains("listening on") {
                    let _ = tx.send(());
                }
                l2.lock().unwrap().push_str(&(line + "\n"));
            }
        });
        rx.recv_timeout(std::time::Duration::from_secs(10)).expect("server did not start listening");
        Server { child, log }
    }

    pub fn log(&self) -> String {
        self.log.lock().unwrap().clone()
    }

    pub fn kill(&mut self, sig: i32) {
        // SAFETY: signalling our own child by pid.
        unsafe { libc::kill(self.child.id() as i32, sig) };
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The NIC ports under test moved into namespaces of their own, as two hosts
/// cabled to each other: `bed.rx` in `a` (198.18.<net>.1/24), `bed.tx` in `b`
/// (.2), both up. Dropping it moves them home, as they were (up or down,
/// without addresses), and deletes the namespaces.
pub struct PortHosts {
    pub a: String,
    pub b: String,
    pub a_ip: String,
    pub b_ip: String,
    ports: Vec<(String, String, bool)>,
}

fn link_up(dev: &str) -> bool {
    let o = Command::new("ip").args(["-j", "link", "show", "dev", dev]).output().expect("ip link show");
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap_or_default();
    v[0]["flags"].as_array().is_some_and(|f| f.iter().any(|x| x == "UP"))
}

impl PortHosts {
    pub fn new(bed: &Bed, tag: &str, net: u8) -> PortHosts {
        let pid = std::process::id();
        let mut h = PortHosts {
            a: format!("zcbt-{pid}-{tag}a"),
            b: format!("zcbt-{pid}-{tag}b"),
            a_ip: format!("198.18.{net}.1"),
            b_ip: format!("198.18.{net}.2"),
            ports: Vec::new(),
        };
        for (ns, dev, addr) in [(h.a.clone(), &bed.rx, h.a_ip.clone()), (h.b.clone(), &bed.tx, h.b_ip.clone())] {
            ip(&["netns", "add", &ns]);
            let up = link_up(dev);
            ip(&["link", "set", "dev", dev, "netns", &ns]);
            h.ports.push((ns.clone(), dev.clone(), up));
            ip(&["-n", &ns, "addr", "add", &format!("{addr}/24"), "dev", dev]);
            ip(&["-n", &ns, "link", "set", "dev", dev, "up"]);
            ip(&["-n", &ns, "link", "set", "dev", "lo", "up"]);
        }
        h
    }

    /// A command inside namespace `ns`.
    pub fn cmd(ns: &str, prog: &str, args: &[&str]) -> Command {
        let mut c = Command::new("ip");
        c.args(["netns", "exec", ns, prog]).args(args);
        c
    }
}

impl Drop for PortHosts {
    fn drop(&mut self) {
        for (ns, dev, up) in &self.ports {
            let _ = Command::new("ip").args(["-n", ns, "link", "set", "dev", dev, "down"]).output();
            let _ = Command::new("ip").args(["-n", ns, "link", "set", "dev", dev, "netns", "1"]).output();
            if *up {
                let _ = Command::new("ip").args(["link", "set", "dev", dev, "up"]).output();
            }
        }
        for n in [&self.a, &self.b] {
            let _ = Command::new("ip").args(["netns", "del", n]).output();
        }
    }
}

/// Sum of the measured intervals' received bytes equals the summary total.
pub fn check_sums(r: &serde_json::Value) {
    let samples = r["receiver"]["samples"].as_array().unwrap();
    let sum: u64 =
        samples.iter().filter(|s| !s["warmup"].as_bool().unwrap()).map(|s| s["rx_bytes"].as_u64().unwrap()).sum();
    assert!(sum > 0, "no bytes in the window");
    assert_eq!(sum, r["summary"]["rx_bytes"].as_u64().unwrap());
}

/// Where the NIC tests (tests/nic_*.rs) run: the kernel testbed VM's netdevsim
/// ports, or two cabled ports of a real NIC (scripts/hw-check).
pub struct Bed {
    pub rx: String,
    pub tx: String,
    /// "patched", "stock" (VM) or "hardware".
    pub variant: String,
    /// The NIC places the payload in the bound memory (devmem dma-buf, zcrx area).
    pub placement: bool,
}

/// The ports under test, or None (with a SKIPPED line): the VM's netdevsim
/// ports, or ZCBENCH_HW_PORTS="RX TX" (scripts/hw-check).
pub fn bed() -> Option<Bed> {
    let ports = |v: &str| {
        let mut it = v.split_whitespace().map(str::to_string);
        Some((it.next()?, it.next()?))
    };
    if let Some((rx, tx)) = std::env::var("ZCBENCH_HW_PORTS").ok().as_deref().and_then(ports) {
        return Some(Bed { rx, tx, variant: "hardware".into(), placement: true });
    }
    if std::env::var("ZCBENCH_VM").as_deref() != Ok("1") {
        eprintln!(
            "SKIPPED: needs the kernel testbed VM (scripts/test runs it there) or ZCBENCH_HW_PORTS (scripts/hw-check)"
        );
        return None;
    }
    let (rx, tx) = ports(&std::env::var("ZCBENCH_VM_PORTS").unwrap_or_default())?;
    let variant = std::env::var("ZCBENCH_VM_NETDEVSIM").unwrap_or_default();
    let placement = std::env::var("ZCBENCH_VM_PLACEMENT").as_deref() != Ok("0");
    Some(Bed { rx, tx, variant, placement })
}

/// The window's qstats counters of rx queue `q` of the receiving device, by name.
pub fn queue_counters(r: &serde_json::Value, q: u64) -> serde_json::Map<String, serde_json::Value> {
    let items = r["receiver"]["netdev"]["qstats"]["items"].as_array().cloned().unwrap_or_default();
    items
        .into_iter()
        .find(|i| i["queue_type"] == "rx" && i["queue_id"] == q)
        .and_then(|i| i["counters"].as_object().cloned())
        .unwrap_or_default()
}

/// The rx queue the receiver's `connection` ("data", "control") last received on.
pub fn connection_queue(r: &serde_json::Value, connection: &str) -> Option<u64> {
    r["receiver"]["connections"].as_array()?.iter().find(|c| c["connection"] == connection)?["rx_queue"].as_u64()
}

/// zcbench over the ports with `args` (whitespace-separated) and `extra`.
pub fn ports_run(b: &Bed, args: &str, extra: &[&str], out: &std::path::Path) -> std::process::Output {
    let mut a = vec!["--testbed", "ports", "--dev", &b.rx, "--peer-dev", &b.tx, "--out"];
    a.push(out.to_str().unwrap());
    a.extend(args.split_whitespace());
    a.extend_from_slice(extra);
    zcbench(&a)
}
