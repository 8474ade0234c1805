//! `zcbench report` end to end: real short runs (several modes, repeats, one
//! series with a sysctl profile, so environments differ), a report over them,
//! every file parsed (HTML, SVG as XML, PNG decoded, CSV against the README's
//! column list), and the page opened in a real headless Chromium whose console,
//! network, images and figures are checked and a screenshot taken.

mod common;
use common::*;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// Where the report and screenshots stay after the test, to be looked at.
fn keep_dir() -> PathBuf {
    let d = Path::new(env!("CARGO_TARGET_TMPDIR")).join("report-test");
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// One short local run over loopback; returns nothing, the result lands in `out`.
fn run(out: &Path, args: &[&str]) {
    let mut a = vec!["--testbed", "lo", "--duration", "1s", "--warmup", "500ms", "--interval", "500ms", "-q"];
    a.extend_from_slice(args);
    a.extend_from_slice(&["--out", out.to_str().unwrap()]);
    let o = zcbench(&a);
    assert!(o.status.success(), "zcbench {a:?}: {}", text(&o));
}

/// The column names README.md documents for summary.csv.
fn documented_columns() -> Vec<String> {
    let readme = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md")).unwrap();
    let from = readme.find("### summary.csv columns").expect("README documents summary.csv");
    readme[from..]
        .lines()
        .skip_while(|l| !l.starts_with("| column"))
        .skip(2)
        .take_while(|l| l.starts_with("| `"))
        .map(|l| l.split('`').nth(1).unwrap().to_string())
        .collect()
}

fn stems(dir: &Path, ext: &str) -> BTreeSet<String> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == ext))
        .map(|p| p.file_stem().unwrap().to_string_lossy().into_owned())
        .collect()
}

/// Every file of a report exists and parses; returns the figure ids. All but
/// `without_roi` series (of schema 2 files, which have no ROI) have T^n/C.
fn check_files(dir: &Path, series: usize, without_roi: usize) -> BTreeSet<String> {
    let html = std::fs::read_to_string(dir.join("index.html")).unwrap();
    let doc = scraper::Html::parse_document(&html);
    assert!(doc.errors.is_empty(), "index.html has HTML parse errors: {:?}", doc.errors);
    let sel = |s: &str| scraper::Selector::parse(s).unwrap();
    assert_eq!(doc.select(&sel("script")).count(), 0, "the page must need no script");
    for (tag, attr) in [("img", "src"), ("link", "href"), ("script", "src"), ("iframe", "src")] {
        assert_eq!(doc.select(&sel(&format!("{tag}[{attr}]"))).count(), 0, "the page must fetch nothing ({tag})");
    }
    let figs = dir.join("figures");
    let svgs = stems(&figs, "svg");
    assert_eq!(svgs, stems(&figs, "png"), "every figure as SVG and PNG");
    let on_page: BTreeSet<String> = doc
        .select(&sel("figure[data-figure]"))
        .map(|f| {
            assert_eq!(f.select(&sel("svg")).count(), 1, "figure without its inline SVG");
            f.value().attr("data-figure").unwrap().to_string()
        })
        .collect();
    assert_eq!(on_page, svgs, "figures on the page vs figures/");
    for id in &svgs {
        let svg = std::fs::read_to_string(figs.join(format!("{id}.svg"))).unwrap();
        let x = roxmltree::Document::parse(&svg).unwrap_or_else(|e| panic!("{id}.svg is not XML: {e}"));
        let root = x.root_element();
        assert_eq!(root.tag_name().name(), "svg");
        let dim = |a: &str| root.attribute(a).unwrap().parse::<u32>().unwrap();
        let (w, h) = (dim("width"), dim("height"));
        assert!(root.descendants().filter(|n| n.has_tag_name("text")).count() > 3, "{id}.svg has no labels");
        let png = std::fs::File::open(figs.join(format!("{id}.png"))).unwrap();
        let mut reader = png::Decoder::new(std::io::BufReader::new(png)).read_info().unwrap();
        let mut buf = vec![0; reader.output_buffer_size().unwrap()];
        let info = reader.next_frame(&mut buf).unwrap_or_else(|e| panic!("{id}.png does not decode: {e}"));
        assert_eq!((info.width, info.height), (w, h), "{id}.png is not the SVG's size");
        assert!(buf.iter().any(|b| *b < 128), "{id}.png is blank");
    }
    // report.md shows every PNG and nothing else.
    let md = std::fs::read_to_string(dir.join("report.md")).unwrap();
    let linked: BTreeSet<String> =
        md.match_indices("](figures/").map(|(i, _)| md[i + 10..].split(".png)").next().unwrap().to_string()).collect();
    assert_eq!(linked, svgs, "report.md's images vs figures/");
    // summary.csv: the documented columns, one row per series.
    let mut csv = csv::Reader::from_path(dir.join("summary.csv")).unwrap();
    let header: Vec<String> = csv.headers().unwrap().iter().map(str::to_string).collect();
    assert_eq!(header, documented_columns(), "summary.csv columns vs README");
    let rows: Vec<csv::StringRecord> = csv.records().map(|r| r.unwrap()).collect();
    assert_eq!(rows.len(), series);
    let col = |name: &str| header.iter().position(|h| h == name).unwrap();
    assert_eq!(rows.iter().filter(|r| r[col("roi_cpu_receiver")].is_empty()).count(), without_roi, "{rows:?}");
    for r in rows.iter().filter(|r| !r[col("roi_cpu_receiver")].is_empty()) {
        // Power and ROI: the columns of a series with power, empty (not 0) for one without.
        let watts = &r[col("receiver_w")];
        if watts.is_empty() {
            assert!(r[col("roi_power_total")].is_empty() && r[col("power_kind")].is_empty(), "{r:?}");
        } else {
            assert_eq!((watts, &r[col("power_kind")]), ("42", "wall"), "{r:?}");
            assert!(r[col("roi_power_total")].parse::<f64>().unwrap() > 0.0, "{r:?}");
        }
        assert!(r[col("roi_cpu_receiver")].parse::<f64>().unwrap() > 0.0, "{r:?}");
        assert!(r[col("gbps_mean")].parse::<f64>().unwrap() > 0.0, "{r:?}");
        assert!(r[col("receiver_cores_mean")].parse::<f64>().unwrap() > 0.0, "{r:?}");
        for c in ["gbps_min", "gbps_max", "gbps_stddev", "app_busy_pct", "sender_busy_pct"] {
            r[col(c)].parse::<f64>().unwrap_or_else(|e| panic!("{c} {:?}: {e}", &r[col(c)]));
        }
    }
    svgs
}

#[test]
fn report_over_real_runs_is_complete_valid_and_renders_in_a_browser() {
    need_netns!();
    let Some(browser) = Browser::find() else { return };
    let keep = keep_dir();
    let results = keep.join("results");
    // Several modes, repeats, both CPU layouts; the copying-sender mmap series
    // runs with a sysctl profile, so its environment differs from the others'.
    let cases: &[(&[&str], usize)] = &[
        (&["--mode", "baseline"], 3),
        (&["--mode", "baseline", "--cpus", "2"], 2),
        (&["--mode", "mmap"], 3),
        // Power from a command, idle power and syscall times: the power, ROI and syscall-time figures.
        (&["--mode", "uring", "--syscall-times", "--power-cmd", "echo 42", "--idle-power", "20"], 2),
        (&["--mode", "mmap", "--tx-mode", "copy", "--sysctl", "mmap-copy-sender"], 1),
    ];
    for (args, n) in cases {
        for _ in 0..*n {
            run(&results, args);
        }
    }
    let out = keep.join("report");
    let o = zcbench(&["report", results.to_str().unwrap(), "--out", out.to_str().unwrap()]);
    assert!(o.status.success(), "{}", text(&o));
    let t = text(&o);
    for label in ["baseline · tx copy · 1 CPU", "mmap · tx zerocopy · 1 CPU", "mmap · tx copy · 1 CPU", "uring"] {
        assert!(t.contains(label), "terminal table lacks {label}:\n{t}");
    }
    let figures = check_files(&out, 5, 0);
    for f in [
        "throughput",
        "per-core",
        "ratio-throughput",
        "ratio-per-core",
        "cpu",
        "zero-copy",
        "power-wall",
        "roi-cpu",
        "roi-power",
        "syscall-time",
    ] {
        assert!(figures.contains(f), "figure {f} missing: {figures:?}");
    }
    assert_eq!(figures.iter().filter(|f| f.starts_with("time-")).count(), 5);

    let html = std::fs::read_to_string(out.join("index.html")).unwrap();
    // Data these results lack is a note, not a figure.
    for absent in ["devmem-frags", "zcrx-cqe-bytes"] {
        assert!(html.contains(&format!("data-absent=\"{absent}\"")), "no note for absent {absent}");
        assert!(!figures.iter().any(|f| f.starts_with(absent)), "{absent} drawn without data");
    }
    // Only a wall source was used: no other kind's figure.
    assert!(!figures.iter().any(|f| f.starts_with("power-") && f != "power-wall"), "{figures:?}");
    // The power figure's bars: the uring series only, at the command's 42 W.
    let power = html.split("id=\"fig-power-wall\"").nth(1).unwrap().split("</figure>").next().unwrap();
    let texts: Vec<&str> = power.split('<').filter_map(|t| t.split('>').nth(1)).map(str::trim).collect();
    assert!(texts.contains(&"42.0") && texts.contains(&"host · cmd (wall)"), "{texts:?}");
    let table = html.split("Power per series, host and source").nth(1).unwrap().split("</table>").next().unwrap();
    assert_eq!(table.matches("<tr>").count(), 2, "a header and the uring series: {table}");
    assert!(table.contains("cmd: echo 42") && table.contains("20.0"), "{table}");
    // Idle states: a table per series where the host has a cpuidle driver, else its reason.
    let driver = std::fs::read_to_string("/sys/devices/system/cpu/cpuidle/current_driver").unwrap_or_default();
    if matches!(driver.trim(), "" | "none") {
        assert!(html.contains("data-absent=\"idle\"") && html.contains("no cpuidle driver"), "no idle note");
    } else {
        assert!(html.contains("Idle-state residency, uring"), "no idle table with driver {driver}");
    }
    // Syscall times: the uring series' table, the others named as not timed.
    assert!(html.contains("System call times, uring") && html.contains("Not run with --syscall-times"));
    // Zero-copy shares: drawn for the mmap series only; the copying modes are named as not drawn.
    let zc = html.split("id=\"fig-zero-copy\"").nth(1).unwrap().split("</figure>").next().unwrap();
    assert!(
        zc.contains("Not drawn (no zero-copy account in their results)")
            && zc.contains("baseline · tx copy · 1 CPU (receive)"),
        "{zc}"
    );
    // The environments differ (a sysctl profile on one series): a visible warning naming it.
    let warn = html.split("class=\"warning\"").nth(1).expect("no environment warning");
    assert!(
        warn.contains("differ in their environment") && warn.contains("net.core.high_order_alloc_disable=1"),
        "{warn}"
    );

    // The page in a real browser: no console error, no fetch, no broken image, every figure drawn.
    let page = browser.check(&out.join("index.html"), &keep.join("screenshot.png"));
    assert!(page.problems.is_empty(), "browser found problems: {:#?}", page.problems);
    let drawn: BTreeSet<String> =
        page.figures.iter().filter(|(_, w, h)| *w > 200.0 && *h > 150.0).map(|(id, _, _)| id.clone()).collect();
    assert_eq!(drawn, figures, "figures the browser drew vs figures/");
    assert!(page.warnings.iter().any(|w| w.contains("differ in their environment")), "{:?}", page.warnings);
    eprintln!("report: {}\nscreenshot: {}", out.display(), keep.join("screenshot.png").display());
    // The kernel-counter figures: drawn where the runs hold the data, else a
    // note the browser shows (never a figure of zeros).
    new_figures_or_notes(&results, &figures, &html, &page);
    assert!(figures.contains("interval-cdf"), "{figures:?}");
    assert!(figures.contains("softirqs"), "every run here counts /proc/softirqs: {figures:?}");

    // Two machines: this host's runs, a real mmap run over lo under another
    // kernel build (tests/data) and a real devmem run in the kernel testbed VM
    // (7.3 guest, netdevsim ports, with the queue and page-pool counters).
    // The default grouping keeps the machines apart, labelled by machine; the
    // first screen is a chart, the warnings come after it, folded.
    let data = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data");
    let (other, vm) = (data.join("result-v2-mmap.json"), data.join("result-v4-vm73-ports-devmem.json"));
    // The same case as this host's first runs (baseline over lo, 1 CPU), run in
    // the 7.3 guest under TCG, whose sampler came 13.7 s late once in the window.
    let vm_lo = data.join("result-v4-vm73-lo-baseline.json");
    let machines = keep.join("report-machines");
    let o = zcbench(&[
        "report",
        results.to_str().unwrap(),
        other.to_str().unwrap(),
        vm.to_str().unwrap(),
        vm_lo.to_str().unwrap(),
        "--out",
        machines.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", text(&o));
    let host_of = |r: &serde_json::Value| {
        let h = &r["receiver"]["host"];
        (h["hostname"].as_str().unwrap().to_string(), h["kernel"].as_str().unwrap().to_string())
    };
    let here = host_of(&results_in(&results)[0]);
    let there = host_of(&serde_json::from_str(&std::fs::read_to_string(&other).unwrap()).unwrap());
    let same_machine = here == there;
    let figs3 = check_files(&machines, if same_machine { 7 } else { 8 }, usize::from(!same_machine));
    let labels: Vec<String> = csv::Reader::from_path(machines.join("summary.csv"))
        .unwrap()
        .records()
        .map(|r| r.unwrap()[1].to_string())
        .collect();
    let mmap: Vec<&String> = labels.iter().filter(|l| l.starts_with("mmap · tx zerocopy · 1 CPU")).collect();
    if same_machine {
        eprintln!("this host is the machine the tests/data mmap run came from ({there:?}): one mmap series");
        assert_eq!(mmap.len(), 1, "{labels:?}");
    } else {
        assert_eq!(mmap.len(), 2, "one mmap series per machine: {labels:?}");
        for (host, kernel) in [&here, &there] {
            let named = |l: &&&String| l.contains(kernel.as_str()) || l.contains(host.as_str());
            assert!(mmap.iter().any(|l| named(&l)), "no series labelled {host} / {kernel}: {mmap:?}");
        }
    }
    assert!(labels.iter().any(|l| l.contains("zcvm") && l.contains("kernel 7.3")), "{labels:?}");
    let baseline: Vec<&String> = labels.iter().filter(|l| l.starts_with("baseline · tx copy · 1 CPU")).collect();
    assert_eq!(baseline.len(), 2, "the same case on this host and in the VM, one series each: {labels:?}");
    assert!(
        baseline.iter().any(|l| l.contains("zcvm")),
        "the VM's baseline series is not named by machine: {baseline:?}"
    );
    for id in ["netdev-queues", "netdev-page-pools", "softirqs", "interval-cdf"] {
        assert!(figs3.contains(id), "{id} not drawn from the VM's run: {figs3:?}");
    }
    let html3 = std::fs::read_to_string(machines.join("index.html")).unwrap();
    let tp = html3.split("id=\"fig-throughput\"").nth(1).unwrap().split("</figure>").next().unwrap();
    assert!(tp.contains("7.3.4"), "the throughput bars are not named by machine");
    let page3 = browser.check(&machines.join("index.html"), &keep.join("machines.png"));
    assert!(page3.problems.is_empty(), "browser found problems: {:#?}", page3.problems);
    let drawn3: BTreeSet<String> =
        page3.figures.iter().filter(|(_, w, h)| *w > 200.0 && *h > 150.0).map(|(id, _, _)| id.clone()).collect();
    assert_eq!(drawn3, figs3, "figures the browser drew vs figures/");
    let fs = &page3.first_screen;
    assert!(fs.figure_top < 900.0, "no chart on the first screen (first at {} px)", fs.figure_top);
    if let Some(w) = fs.warnings_top {
        assert!(w >= 900.0 && w > fs.figure_top, "warnings at {w} px, on the first screen");
        assert!(
            fs.warning_lines > 0 && fs.warning_lines_shown == 0,
            "warning lines not folded: {} of {} shown",
            fs.warning_lines_shown,
            fs.warning_lines
        );
    }
    assert!(!page3.warnings.is_empty(), "two kernels and an older build: no warning at all");
    assert!(
        html3.contains("result-v4-vm73-lo-baseline.json: the receiver+sender was sampled 13.7 s late"),
        "the VM run's pause is not among the biased runs"
    );
    eprintln!("two machines: {}\nscreenshot: {}", machines.display(), keep.join("machines.png").display());

    // A page that does have a console error, a broken image, a figure without
    // its drawing and a warning list unfolded: the same checks must catch all four.
    let bad = keep.join("bad");
    std::fs::create_dir_all(&bad).unwrap();
    let broken = html
        .replacen("<main>", "<main><img src=\"missing.png\" alt=\"x\"><script>console.error(\"boom\")</script>", 1)
        .replacen("<figure id=\"fig-throughput\"", "<figure id=\"fig-throughput\" hidden", 1)
        .replacen("<details>", "<details open>", 1);
    std::fs::write(bad.join("index.html"), broken).unwrap();
    let page = browser.check(&bad.join("index.html"), &bad.join("screenshot.png"));
    let all = page.problems.join("\n");
    assert!(all.contains("console error: boom"), "{all}");
    assert!(all.contains("broken image") && all.contains("missing.png"), "{all}");
    assert!(page.figures.iter().any(|(id, w, _)| id == "throughput" && *w == 0.0), "{:?}", page.figures);
    assert!(page.first_screen.warning_lines_shown > 0, "an unfolded warning list was not seen");

    // The same files with a baseline no series has, and only copying series:
    // the ratio and zero-copy figures become notes.
    let copy_only = tmpdir("report-copy-only");
    for e in std::fs::read_dir(&results).unwrap() {
        let p = e.unwrap().path();
        if std::fs::read_to_string(&p).unwrap().contains("\"mode\": \"baseline\"") {
            std::fs::copy(&p, copy_only.join(p.file_name().unwrap())).unwrap();
        }
    }
    let out2 = keep.join("report-copy-only");
    let o = zcbench(&["report", copy_only.to_str().unwrap(), "--out", out2.to_str().unwrap(), "--baseline", "uring"]);
    assert!(o.status.success(), "{}", text(&o));
    let figs2 = check_files(&out2, 2, 0);
    let html2 = std::fs::read_to_string(out2.join("index.html")).unwrap();
    assert!(html2.contains("data-absent=\"zero-copy\"") && !figs2.contains("zero-copy"), "{figs2:?}");
    for absent in ["power", "roi-power", "syscall-costs"] {
        assert!(html2.contains(&format!("data-absent=\"{absent}\"")), "no note for absent {absent}");
    }
    assert!(figs2.contains("roi-cpu") && !figs2.iter().any(|f| f.starts_with("power")), "{figs2:?}");
    assert!(html2.contains("data-absent=\"ratio\"") && html2.contains("No uring series"), "{figs2:?}");
    assert!(!html2.contains("differ in their environment"), "one host, one build, no profile: nothing differs");
    let _ = std::fs::remove_dir_all(&copy_only);
}

/// Every result file under `dir`, as JSON.
fn results_in(dir: &Path) -> Vec<serde_json::Value> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(results_in(&p));
        } else if p.extension().is_some_and(|x| x == "json") {
            out.push(serde_json::from_str(&std::fs::read_to_string(&p).unwrap()).unwrap());
        }
    }
    out
}

/// The softirq, perf and NIC-queue figures against what the results under
/// `results` hold (whatever this host could measure): a figure when some run
/// has the data, a note the browser shows when none has, never both.
fn new_figures_or_notes(results: &Path, figures: &BTreeSet<String>, html: &str, page: &Page) {
    let runs = results_in(results);
    let sides = |r: &serde_json::Value| [r["receiver"].clone(), r["sender"].clone()];
    let counted =
        |event: &str| {
            runs.iter().flat_map(sides).any(|s| {
                s["perf"]["cores"].as_array().into_iter().flatten().any(|c| {
                    c["counters"].as_array().unwrap().iter().any(|x| x["event"] == event && x["value"].is_u64())
                })
            })
        };
    let mut uncounted = Vec::new();
    for event in ["cycles", "instructions", "cache-misses", "context-switches", "page-faults", "cpu-migrations"] {
        let id = format!("perf-{event}");
        if counted(event) {
            assert!(figures.contains(&id), "{event} was counted but {id} is not drawn: {figures:?}");
        } else {
            assert!(!figures.contains(&id), "{id} drawn though no run counted {event}");
            uncounted.push(event);
        }
    }
    if !uncounted.is_empty() {
        assert!(page.absent.contains(&"perf".to_string()), "no perf note shown: {:?}", page.absent);
        let note = html.split("data-absent=\"perf\"").nth(1).unwrap().split("</div>").next().unwrap();
        for e in &uncounted {
            assert!(note.contains(&format!("{e} (")), "the note does not name {e}: {note}");
        }
    }
    for (id, block) in [("netdev-queues", "qstats"), ("netdev-page-pools", "page_pools")] {
        let has =
            runs.iter().any(|r| r["receiver"]["netdev"][block]["items"].as_array().is_some_and(|a| !a.is_empty()));
        assert_eq!(figures.contains(id), has, "{id}: drawn vs data");
        assert_eq!(page.absent.contains(&id.to_string()), !has, "{id}: note vs data ({:?})", page.absent);
    }
}

/// `zcbench report` on bad input: exit 2 with what is wrong.
#[test]
fn report_refuses_what_it_cannot_read() {
    let dir = tmpdir("report-bad");
    let out = dir.join("out");
    let newer = dir.join("newer.json");
    std::fs::write(&newer, r#"{"schema_version": 99, "zcbench": {}}"#).unwrap();
    let o = zcbench(&["report", newer.to_str().unwrap(), "--out", out.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).contains("schema version 99 was written by a newer zcbench"), "{}", text(&o));
    let empty = dir.join("empty");
    std::fs::create_dir_all(&empty).unwrap();
    let o = zcbench(&["report", empty.to_str().unwrap(), "--out", out.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o).contains("no zcbench result files"), "{}", text(&o));
    // An --out directory holding something else is not overwritten.
    let data = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/result-v2-netns.json");
    let o = zcbench(&["report", data.to_str().unwrap(), "--out", empty.parent().unwrap().to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o).contains("is not a zcbench report"), "{}", text(&o));
    let _ = std::fs::remove_dir_all(&dir);
}

/// Headless Chromium driven over the DevTools protocol (on a loopback port).
struct Browser {
    path: PathBuf,
}

/// What the browser saw on a page.
struct Page {
    problems: Vec<String>,
    /// Figure id, drawn width and height in CSS pixels.
    figures: Vec<(String, f64, f64)>,
    warnings: Vec<String>,
    /// Notes of figures not drawn (`data-absent` ids) the browser shows.
    absent: Vec<String>,
    first_screen: FirstScreen,
}

/// Where things are on the page as loaded (CSS pixels from the top; the
/// window is 1280 × 900).
struct FirstScreen {
    figure_top: f64,
    warnings_top: Option<f64>,
    /// Lines in the warnings' folded lists, and how many of them show unfolded.
    warning_lines: usize,
    warning_lines_shown: usize,
}

#[path = "common/cdp.rs"]
mod cdp;

impl Browser {
    fn find() -> Option<Browser> {
        let path = ["/usr/bin/chromium", "/usr/bin/chromium-browser"].iter().map(PathBuf::from).find(|p| p.exists());
        if path.is_none() {
            eprintln!("SKIPPED: no chromium (scripts/test installs Debian's chromium)");
        }
        path.map(|path| Browser { path })
    }

    fn check(&self, page: &Path, screenshot: &Path) -> Page {
        cdp::check(&self.path, page, screenshot)
    }
}
