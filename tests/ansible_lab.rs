//! The lab playbook (deploy/ansible/zcbench.yml) against real machines: four
//! network namespaces, each with its own sshd (Debian's openssh-server), its
//! own hostname (a UTS namespace) and its own zcbench binary, journal and
//! work directory, joined as two host pairs by veth links (198.18.0.0/15);
//! the controller (this namespace) reaches each over a veth link of its own.
//! ansible-core comes from PyPI into .cache/ (scripts/ansible-venv).
//!
//! One test, four playbook runs: killed half-way (the controller and the
//! study it started) and run again, which must resume without redoing a
//! finished run and end with both pairs' results, one report with a series
//! per pair, and every machine restored; then with one receiver refusing its
//! NIC, and with one receiver's sshd stopped and the pairs run concurrently:
//! each time the other pair completes and the failure is named in the
//! playbook's summary.

mod common;
use common::*;
use serde_json::{Value, json};
use std::os::unix::fs::MetadataExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

const MACHINES: [&str; 4] = ["rx-a", "tx-a", "rx-b", "tx-b"];
/// Cases of the test's study (mode × 2 runs; devmem is skipped here).
const RUNS_PER_PAIR: usize = 4;
const STUDY: &str = r#"[study]
name = "lab-test"
duration = "1s"
warmup = "0s"
interval = "500ms"
repeat = 2
args = ["--msg-size", "256KiB", "--read-size", "256KiB"]

[[axis]]
name = "mode"
flag = "--mode"
values = ["baseline", "uring", "devmem"]
"#;

fn run(cmd: &mut Command) -> Output {
    let o = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    assert!(o.status.success(), "{cmd:?}: {}", text(&o));
    o
}

fn ip(args: &[&str]) {
    run(Command::new("ip").args(args));
}

/// One machine of the lab: a namespace with an sshd in it.
struct Machine {
    name: &'static str,
    ns: String,
    /// Where the controller reaches it (198.19.K.2).
    addr: String,
    home: PathBuf,
    sshd: Option<Child>,
}

impl Machine {
    fn work(&self) -> PathBuf {
        self.home.join("work")
    }
    fn state(&self) -> PathBuf {
        self.home.join("state")
    }
    fn bin(&self) -> PathBuf {
        self.home.join("bin/zcbench")
    }
    /// `zcbench restore` on this machine, as its own journal sees it.
    fn restore(&self) -> String {
        let o = run(Command::new("ip")
            .args(["netns", "exec", &self.ns, "env"])
            .arg(format!("ZCBENCH_STATE_DIR={}", self.state().display()))
            .args([bin(), "restore"]));
        text(&o)
    }
    fn stop_sshd(&mut self) {
        if let Some(mut c) = self.sshd.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// The lab; dropping it ends every process that runs in its namespaces or
/// names its directory (sshd, its sessions, zcbench, ssh multiplexers), by pid,
/// and deletes the namespaces and links it made, also when the test fails.
struct Lab {
    dir: PathBuf,
    machines: Vec<Machine>,
    root_links: Vec<String>,
    made_privsep_dir: bool,
}

/// Processes that run in one of `inodes`' network namespaces or mention `dir`
/// on their command line (never this test itself).
fn lab_processes(inodes: &[u64], dir: &str) -> Vec<i32> {
    let me = std::process::id() as i32;
    std::fs::read_dir("/proc")
        .map(|d| {
            d.filter_map(|e| e.ok()?.file_name().to_str()?.parse::<i32>().ok())
                .filter(|&pid| pid != me)
                .filter(|pid| {
                    let ns = std::fs::metadata(format!("/proc/{pid}/ns/net")).map(|m| m.ino()).ok();
                    let cmd = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
                    ns.is_some_and(|i| inodes.contains(&i)) || String::from_utf8_lossy(&cmd).contains(dir)
                })
                .collect()
        })
        .unwrap_or_default()
}

impl Lab {
    fn inodes(&self) -> Vec<u64> {
        self.machines
            .iter()
            .filter_map(|m| std::fs::metadata(format!("/run/netns/{}", m.ns)).ok())
            .map(|m| m.ino())
            .collect()
    }

    /// Zcbench processes still running in the lab.
    fn zcbench_left(&self) -> Vec<String> {
        lab_processes(&self.inodes(), &self.dir.to_string_lossy())
            .into_iter()
            .filter_map(|p| std::fs::read(format!("/proc/{p}/cmdline")).ok().map(|c| (p, c)))
            .map(|(p, c)| format!("{p}: {}", String::from_utf8_lossy(&c).replace('\0', " ")))
            .filter(|c| c.contains("zcbench ") && !c.contains("ssh"))
            .collect()
    }

    fn new(dir: &Path) -> Lab {
        let tag = std::process::id() % 100_000;
        let made_privsep_dir = !Path::new("/run/sshd").exists();
        if made_privsep_dir {
            std::fs::create_dir_all("/run/sshd").unwrap();
        }
        let mut lab = Lab { dir: dir.to_path_buf(), machines: Vec::new(), root_links: Vec::new(), made_privsep_dir };
        run(Command::new("ssh-keygen").args(["-q", "-t", "ed25519", "-N", "", "-f"]).arg(dir.join("key")));
        for (k, name) in MACHINES.iter().enumerate() {
            let k = k + 1;
            let m = Machine {
                name,
                ns: format!("zcl{tag}-{name}"),
                addr: format!("198.19.{k}.2"),
                home: dir.join("hosts").join(name),
                sshd: None,
            };
            ip(&["netns", "add", &m.ns]);
            let root = format!("zcl{tag}m{k}");
            ip(&["link", "add", &root, "type", "veth", "peer", "name", "mgmt0", "netns", &m.ns]);
            lab.root_links.push(root.clone());
            ip(&["addr", "add", &format!("198.19.{k}.1/30"), "dev", &root]);
            ip(&["link", "set", &root, "up"]);
            ip(&["-n", &m.ns, "addr", "add", &format!("{}/30", m.addr), "dev", "mgmt0"]);
            for dev in ["mgmt0", "lo"] {
                ip(&["-n", &m.ns, "link", "set", dev, "up"]);
            }
            lab.machines.push(m);
        }
        // The tested links: rx-a ↔ tx-a, rx-b ↔ tx-b, "lab0" on every machine.
        for (p, net) in [(0, 10), (2, 11)] {
            let (rx, tx) = (&lab.machines[p].ns, &lab.machines[p + 1].ns);
            ip(&["link", "add", "lab0", "netns", rx, "type", "veth", "peer", "name", "lab0", "netns", tx]);
            for (ns, host) in [(rx, 1), (tx, 2)] {
                ip(&["-n", ns, "addr", "add", &format!("198.18.{net}.{host}/24"), "dev", "lab0"]);
                ip(&["-n", ns, "link", "set", "lab0", "up"]);
            }
        }
        for i in 0..lab.machines.len() {
            lab.start_sshd(i);
        }
        lab
    }

    fn start_sshd(&mut self, i: usize) {
        let dir = self.dir.clone();
        let m = &mut self.machines[i];
        for d in ["work", "state", "tmp", "bin"] {
            std::fs::create_dir_all(m.home.join(d)).unwrap();
        }
        let hostkey = m.home.join("hostkey");
        if !hostkey.exists() {
            run(Command::new("ssh-keygen").args(["-q", "-t", "ed25519", "-N", "", "-f"]).arg(&hostkey));
        }
        let cfg = m.home.join("sshd_config");
        std::fs::write(
            &cfg,
            format!(
                "ListenAddress {}\nHostKey {}\nPidFile {}/sshd.pid\nAuthorizedKeysFile {}/key.pub\n\
                 PermitRootLogin prohibit-password\nPasswordAuthentication no\nKbdInteractiveAuthentication no\n\
                 UsePAM no\nStrictModes no\nSubsystem sftp internal-sftp\nLogLevel ERROR\n",
                m.addr,
                hostkey.display(),
                m.home.display(),
                dir.display()
            ),
        )
        .unwrap();
        let log = std::fs::File::create(m.home.join("sshd.log")).unwrap();
        let child = Command::new("ip")
            .args(["netns", "exec", &m.ns, "unshare", "--uts", "sh", "-c"])
            .arg(format!("hostname {} && exec /usr/sbin/sshd -D -e -f {}", m.name, cfg.display()))
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap();
        m.sshd = Some(child);
        let t0 = Instant::now();
        let to = format!("{}:22", m.addr).parse().unwrap();
        while std::net::TcpStream::connect_timeout(&to, Duration::from_millis(200)).is_err() {
            let log = std::fs::read_to_string(m.home.join("sshd.log")).unwrap_or_default();
            assert!(t0.elapsed() < Duration::from_secs(10), "sshd of {} does not listen: {log}", m.name);
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// The inventory: the four machines and the two pairs (`b_args`: receiver
    /// settings of pair-b's server).
    fn inventory(&self, study: &Path, name: &str, b_args: &[&str]) -> PathBuf {
        let key = self.dir.join("key");
        let hosts: serde_json::Map<String, Value> = self
            .machines
            .iter()
            .map(|m| {
                let v = json!({
                    "ansible_host": m.addr,
                    "ansible_remote_tmp": m.home.join("tmp"),
                    "zcbench_bin": m.bin(),
                    "zcbench_work_dir": m.work(),
                    "zcbench_state_dir": m.state(),
                });
                (m.name.to_string(), v)
            })
            .collect();
        let pair = |p: &str, net: u8, args: &[&str]| {
            json!({
                "zcbench_receiver": format!("rx-{p}"), "zcbench_receiver_dev": "lab0",
                "zcbench_receiver_addr": format!("198.18.{net}.1"), "zcbench_receiver_cpus": 1, "zcbench_app_cpu": 1,
                "zcbench_receiver_args": args, "zcbench_sender": format!("tx-{p}"), "zcbench_sender_cpu": 0,
            })
        };
        let inv = json!({"all": {
            "vars": {
                "ansible_user": "root",
                "ansible_python_interpreter": "/usr/bin/python3",
                "ansible_ssh_private_key_file": key,
                "ansible_ssh_common_args": "-o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o ControlPersist=5s",
            },
            "children": {
                "zcbench_hosts": {"hosts": hosts},
                "zcbench_pairs": {"vars": {"zcbench_study": study}, "hosts": {"pair-a": pair("a", 10, &[]), "pair-b": pair("b", 11, b_args)}},
            },
        }});
        let p = self.dir.join(format!("inventory-{name}.yml"));
        std::fs::write(&p, serde_json::to_string_pretty(&inv).unwrap()).unwrap();
        p
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        let inodes = self.inodes();
        let dir = self.dir.to_string_lossy().into_owned();
        for _ in 0..50 {
            let left = lab_processes(&inodes, &dir);
            if left.is_empty() {
                break;
            }
            for pid in left {
                let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), nix::sys::signal::SIGKILL);
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        for m in &mut self.machines {
            m.stop_sshd();
            let _ = Command::new("ip").args(["netns", "del", &m.ns]).output();
        }
        for l in &self.root_links {
            let _ = Command::new("ip").args(["link", "del", l]).output();
        }
        if self.made_privsep_dir {
            let _ = std::fs::remove_dir("/run/sshd");
        }
    }
}

/// ansible-playbook with the lab's inventory, writing results to `results`.
fn playbook(ansible: &Path, lab: &Lab, inv: &Path, results: &Path, extra: &[&str], log: &str) -> Command {
    let root = env!("CARGO_MANIFEST_DIR");
    let home = lab.dir.join("ansible-home");
    let mut c = Command::new(ansible);
    c.current_dir(root)
        .env("ANSIBLE_HOME", &home)
        .env("ANSIBLE_LOCAL_TEMP", home.join("tmp"))
        .env("ANSIBLE_SSH_CONTROL_PATH_DIR", lab.dir.join(format!("cp-{log}")))
        .env("ANSIBLE_PIPELINING", "1")
        .env("ANSIBLE_NOCOLOR", "1")
        .arg("-i")
        .arg(inv)
        .arg(format!("{root}/deploy/ansible/zcbench.yml"))
        .args(["-e", "zcbench_build=false", "-e", &format!("zcbench_local_bin={}", bin())])
        .args(["-e", &format!("zcbench_results={}", results.display()), "-e", "zcbench_poll=1"])
        .args(extra.iter().flat_map(|e| ["-e", e]))
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(lab.dir.join(format!("{log}.log"))).unwrap())
        .stderr(Stdio::null());
    c
}

fn log_of(lab: &Lab, log: &str) -> String {
    std::fs::read_to_string(lab.dir.join(format!("{log}.log"))).unwrap()
}

/// Result files of a study directory: (path, inode, mtime).
fn runs(study: &Path) -> Vec<(PathBuf, u64, i64)> {
    let mut v: Vec<_> = std::fs::read_dir(study.join("runs"))
        .map(|d| {
            d.filter_map(|e| e.ok())
                .flat_map(|c| std::fs::read_dir(c.path()).map(|d| d.filter_map(|e| e.ok()).collect()).unwrap_or(vec![]))
                .map(|e| e.path())
                .filter(|p| {
                    let n = p.file_name().unwrap().to_string_lossy().into_owned();
                    n.starts_with("run-") && n.ends_with(".json") && !n.ends_with(".meta.json")
                })
                .map(|p| {
                    let m = std::fs::metadata(&p).unwrap();
                    (p, m.ino(), m.mtime_nsec() + m.mtime() * 1_000_000_000)
                })
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

fn partials(study: &Path) -> usize {
    std::fs::read_dir(study.join("runs"))
        .map(|d| {
            d.filter_map(|e| e.ok())
                .flat_map(|c| std::fs::read_dir(c.path()).map(|d| d.filter_map(|e| e.ok()).collect()).unwrap_or(vec![]))
                .filter(|e| e.file_name().to_string_lossy().starts_with(".partial-"))
                .count()
        })
        .unwrap_or(0)
}

fn read_json(p: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(p).unwrap_or_else(|e| panic!("{}: {e}", p.display())))
        .unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

/// A pair's results on the controller: every run of the study, from its own
/// machines; the probes; the outcome. Returns the runs' (start, end) times.
fn check_pair(results: &Path, pair: &str) -> (f64, f64) {
    let dir = results.join(pair);
    assert_eq!(read_json(&dir.join("outcome.json"))["status"], "done", "{pair}");
    let s = read_json(&dir.join("study/summary.json"));
    let status: Vec<(String, String)> = s["cases"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| (c["id"].as_str().unwrap().to_string(), c["status"].as_str().unwrap().to_string()))
        .collect();
    let want = [("mode=baseline", "done"), ("mode=uring", "done"), ("mode=devmem", "skipped")];
    assert_eq!(status, want.map(|(a, b)| (a.to_string(), b.to_string())), "{pair}: {s}");
    let files = runs(&dir.join("study"));
    assert_eq!(files.len(), RUNS_PER_PAIR, "{pair}: {files:?}");
    let p = pair.trim_start_matches("pair-");
    let (mut first, mut last) = (f64::MAX, 0.0f64);
    for (f, ..) in &files {
        let r = read_json(f);
        assert_eq!(r["topology"], "two-host", "{}", f.display());
        assert_eq!(r["receiver"]["host"]["hostname"], format!("rx-{p}"), "{}", f.display());
        assert_eq!(r["sender"]["host"]["hostname"], format!("tx-{p}"), "{}", f.display());
        assert!(r["summary"]["gbps"].as_f64().unwrap() > 0.0, "{}", f.display());
        let t0 = r["sender"]["start_unix_s"].as_f64().unwrap();
        first = first.min(t0);
        last = last.max(t0 + r["flow"]["duration_s"].as_f64().unwrap() + r["flow"]["warmup_s"].as_f64().unwrap());
    }
    for role in [format!("receiver-rx-{p}"), format!("sender-tx-{p}")] {
        let probe = read_json(&dir.join(format!("probe-{role}.json")));
        assert!(probe["kernel"].is_string(), "{role}: {probe}");
    }
    assert!(std::fs::read_to_string(dir.join("server.log")).unwrap().contains("listening on"));
    (first, last)
}

/// summary.csv of the report: (label, runs, first file) of every series.
fn report_series(results: &Path) -> Vec<(String, u64, String)> {
    let csv = std::fs::read_to_string(results.join("report/summary.csv")).unwrap();
    let mut lines = csv.lines();
    let head: Vec<&str> = lines.next().unwrap().split(',').collect();
    let col = |n: &str| head.iter().position(|h| *h == n).unwrap();
    let (label, runs, first) = (col("label"), col("runs"), col("first_file"));
    let mut v: Vec<(String, u64, String)> = lines
        .map(|l| {
            let f: Vec<&str> = l.split(',').map(|f| f.trim_matches('"')).collect();
            (f[label].to_string(), f[runs].parse().unwrap(), f[first].to_string())
        })
        .collect();
    v.sort();
    v
}

fn assert_restored(lab: &Lab) {
    for m in &lab.machines {
        let said = m.restore();
        assert!(said.contains("host settings: nothing of zcbench's left to undo"), "{}: {said}", m.name);
    }
    assert!(lab.zcbench_left().is_empty(), "zcbench still running in the lab: {:?}", lab.zcbench_left());
}

#[test]
fn playbook_runs_a_study_on_two_host_pairs_resumes_after_a_kill_and_keeps_failures_to_their_pair() {
    need_netns!();
    for (tool, why) in [("/usr/sbin/sshd", "install openssh-server"), ("/usr/bin/ssh-keygen", "install openssh-client")]
    {
        if !Path::new(tool).exists() {
            eprintln!("SKIPPED: no {tool} ({why})");
            return;
        }
    }
    if !Path::new("/usr/bin/python3").exists() {
        eprintln!("SKIPPED: no /usr/bin/python3 for the machines' Ansible modules");
        return;
    }
    let o = Command::new(format!("{}/scripts/ansible-venv", env!("CARGO_MANIFEST_DIR"))).output().unwrap();
    if !o.status.success() {
        eprintln!("SKIPPED: cannot install ansible-core: {}", String::from_utf8_lossy(&o.stderr).trim());
        return;
    }
    let ansible = PathBuf::from(String::from_utf8_lossy(&o.stdout).trim());
    let t_start = Instant::now();
    let dir = tmpdir("ansible-lab");
    let mut lab = Lab::new(&dir);
    let before = snapshot();
    let study = dir.join("study.toml");
    std::fs::write(&study, STUDY).unwrap();
    let inv = lab.inventory(&study, "lab", &[]);
    let results = dir.join("results");
    let study_a = lab.machines[1].work().join("pair-a/study");

    // 1. Killed half-way: the controller (SIGKILL, its whole process group)
    //    once pair-a has a finished run and the next under way, and the study
    //    it started on the sender with it. The server it started on the
    //    receiver is left running, as a lost controller leaves it.
    let mut first = playbook(&ansible, &lab, &inv, &results, &[], "killed").process_group(0).spawn().unwrap();
    let t0 = Instant::now();
    while !(runs(&study_a).len() == 1 && partials(&study_a) == 1) {
        assert!(t0.elapsed() < Duration::from_secs(120), "pair-a made no progress: {}", log_of(&lab, "killed"));
        assert!(first.try_wait().unwrap().is_none(), "the playbook ended early: {}", log_of(&lab, "killed"));
        std::thread::sleep(Duration::from_millis(10));
    }
    let pg = nix::unistd::Pid::from_raw(first.id() as i32);
    nix::sys::signal::killpg(pg, nix::sys::signal::SIGKILL).unwrap();
    first.wait().unwrap();
    let pid_of = |m: &Machine, f: &str| -> i32 {
        std::fs::read_to_string(m.work().join("pair-a").join(f)).unwrap().trim().parse().unwrap()
    };
    let study_pid = pid_of(&lab.machines[1], "study.pid");
    let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(study_pid), nix::sys::signal::SIGKILL);
    // Its run got SIGTERM from the kernel (parent death) and winds down.
    let t1 = Instant::now();
    while lab.zcbench_left().iter().any(|p| !p.contains(" server ")) {
        assert!(t1.elapsed() < Duration::from_secs(20), "the killed study's run goes on: {:?}", lab.zcbench_left());
        std::thread::sleep(Duration::from_millis(50));
    }
    let server_pid = pid_of(&lab.machines[0], "server.pid");
    assert!(Path::new(&format!("/proc/{server_pid}")).exists(), "the receiver's server should still run");
    let kept = runs(&study_a);
    assert_eq!((kept.len(), partials(&study_a)), (1, 1), "{kept:?}");

    // 2. Run again: it stops the left-over server, resumes pair-a's study
    //    (the finished run kept, the half-finished one redone), runs pair-b
    //    after it, reports, and finds every machine restored.
    let o = playbook(&ansible, &lab, &inv, &results, &[], "rerun").status().unwrap();
    let out = log_of(&lab, "rerun");
    assert!(o.success(), "{out}");
    assert!(out.contains(&format!("server: pid {server_pid} stopped")), "the left-over server: {out}");
    assert!(!Path::new(&format!("/proc/{server_pid}")).exists());
    for (p, ino, mtime) in &kept {
        let m = std::fs::metadata(p).unwrap();
        assert_eq!((m.ino(), m.mtime_nsec() + m.mtime() * 1_000_000_000), (*ino, *mtime), "{} redone", p.display());
    }
    let study_log = std::fs::read_to_string(results.join("pair-a/study.log")).unwrap();
    let rerun_part = study_log.rsplit("zcbench study, started by the playbook").next().unwrap();
    assert_eq!(rerun_part.matches("done in").count(), RUNS_PER_PAIR - kept.len(), "{study_log}");
    let (a0, a1) = check_pair(&results, "pair-a");
    let (b0, _) = check_pair(&results, "pair-b");
    assert!(a0 < a1 && a1 <= b0, "one pair at a time: pair-a ran {a0}..{a1}, pair-b from {b0}");
    assert!(out.contains("pair-a (rx-a lab0 ← tx-a): done: 2 case(s) done, 1 skipped, 0 failed; 4 run(s)"), "{out}");
    assert!(out.contains("pair-b (rx-b lab0 ← tx-b): done: 2 case(s) done, 1 skipped, 0 failed; 4 run(s)"), "{out}");
    let series = report_series(&results);
    let labels: Vec<(&str, u64)> = series.iter().map(|(l, n, _)| (l.as_str(), *n)).collect();
    let want = ["rx-a ← tx-a · baseline", "rx-a ← tx-a · uring", "rx-b ← tx-b · baseline", "rx-b ← tx-b · uring"];
    assert_eq!(labels, want.map(|l| (l, 2)), "one report, a series per pair and mode");
    for (l, _, first) in &series {
        let pair = if l.starts_with("rx-a") { "pair-a" } else { "pair-b" };
        assert!(first.starts_with(&results.join(pair).display().to_string()), "{l}: {first}");
    }
    for m in &lab.machines {
        let recap = out.lines().find(|l| l.starts_with(&format!("{} ", m.name))).unwrap_or("");
        assert!(recap.contains("ok=1 ") && recap.contains("failed=0"), "{}'s final restore check: {recap}", m.name);
    }
    assert_restored(&lab);
    assert_eq!(snapshot(), before, "host settings outside the lab changed");

    // 3. pair-b's receiver refuses its NIC (header split on a veth): pair-a
    //    completes, pair-b fails with zcbench's reason, the playbook fails.
    let inv_nic = lab.inventory(&study, "nic", &["--header-split", "on"]);
    let (_, out) = one_pair_fails(&ansible, &lab, &inv_nic, &[], "nic", &before);
    assert!(
        out.contains("pair-b (rx-b lab0 ← tx-b): FAILED at \\\"zcbench server on the receiver\\\": not supported on this host: lab0 (driver veth)"),
        "{out}"
    );

    // 4. rx-b's sshd stopped and the pairs run concurrently: pair-a completes,
    //    pair-b fails as unreachable.
    lab.machines[2].stop_sshd();
    let (_, out) = one_pair_fails(&ansible, &lab, &inv, &["zcbench_parallel=2"], "lost", &before);
    assert!(
        out.contains(
            "pair-b (rx-b lab0 ← tx-b): FAILED at \\\"Both machines answer\\\": receiver rx-b is unreachable:"
        ) && out.contains("ssh: connect to host 198.19.3.2 port 22: Connection refused"),
        "{out}"
    );
    let recap = |name: &str| out.lines().find(|l| l.starts_with(&format!("{name} "))).unwrap_or("").to_string();
    assert!(recap("rx-b").contains("unreachable=1"), "{out}");
    eprintln!("ansible lab test: {:.0} s", t_start.elapsed().as_secs_f64());
}

/// A playbook run (fresh directories on every machine) in which pair-b fails:
/// pair-a's results are complete, pair-b's failure is recorded, the report has
/// pair-a's series only, the playbook fails naming pair-b, and every machine
/// is restored. Its results directory and output.
fn one_pair_fails(
    ansible: &Path,
    lab: &Lab,
    inv: &Path,
    extra: &[&str],
    tag: &str,
    before: &Snapshot,
) -> (PathBuf, String) {
    for m in &lab.machines {
        std::fs::remove_dir_all(m.work()).unwrap();
        std::fs::create_dir_all(m.work()).unwrap();
    }
    let results = lab.dir.join(format!("results-{tag}"));
    let o = playbook(ansible, lab, inv, &results, extra, tag).status().unwrap();
    let out = log_of(lab, tag);
    assert!(!o.success(), "{out}");
    check_pair(&results, "pair-a");
    assert_eq!(read_json(&results.join("pair-b/outcome.json"))["status"], "failed");
    // One pair left: the machines are no longer what tells series apart.
    let series = report_series(&results);
    let labels: Vec<(&str, u64)> = series.iter().map(|(l, n, _)| (l.as_str(), *n)).collect();
    assert_eq!(labels, [("baseline", 2), ("uring", 2)]);
    assert!(series.iter().all(|s| s.2.starts_with(&results.join("pair-a").display().to_string())), "{series:?}");
    let recap = |name: &str| out.lines().find(|l| l.starts_with(&format!("{name} "))).unwrap_or("").to_string();
    assert!(recap("pair-a").contains("failed=0"), "{out}");
    assert!(recap("pair-b").contains("failed=1"), "{out}");
    assert_restored(lab);
    assert_eq!(&snapshot(), before, "host settings outside the lab changed");
    (results, out)
}
