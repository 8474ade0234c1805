//! Presentation: everything here is derived from result files only. `table`
//! is the terminal table of one run; `run` writes a comparison report of many
//! (HTML, Markdown, SVG/PNG figures, CSV) and prints a compact comparison.

mod chart;
mod compare;
mod csv;
mod doc;
mod env;
mod env_section;
mod figures;
mod html;
mod load;
mod markdown;
mod sections;
mod series;
pub mod table;
mod table_flows;

use crate::domain::{GroupKey, RxMode, name_of};
use crate::error::usage;
use crate::messages;
use anyhow::{Context, Result};
use doc::{Doc, Figure, Item, Rendered, Section};
use std::path::{Path, PathBuf};

pub struct Options {
    pub inputs: Vec<PathBuf>,
    pub out: PathBuf,
    pub group_by: Vec<GroupKey>,
    pub baseline: RxMode,
    pub title: Option<String>,
    /// A skipped input file fails the command (after the report is written).
    pub strict: bool,
}

pub fn run(o: &Options) -> Result<()> {
    let mut keys = Vec::new();
    for k in &o.group_by {
        if !keys.contains(k) {
            keys.push(*k);
        }
    }
    let loaded = load::load(&o.inputs, &o.out)?;
    let files = loaded.runs.len();
    let series = series::group(loaded.runs, &keys);
    let ctx = figures::Ctx::new(&series, &keys, o.baseline);
    let doc = build(&ctx, o, files, &loaded.skipped);
    let rendered = render_all(&doc)?;
    // Stopped before anything is written: an earlier report stays as it was.
    stop_if_interrupted()?;
    prepare_out(&o.out)?;
    write_all(&o.out, &doc, &rendered, &ctx)?;
    for (p, why) in &loaded.skipped {
        messages::warn(&format!("skipped {}: {why}", p.display()));
    }
    if !loaded.skipped.is_empty() {
        messages::warn(&format!(
            "{} of {} files were skipped (named above); the report is of the other {files}",
            loaded.skipped.len(),
            loaded.skipped.len() + files
        ));
    }
    for w in &doc.warnings {
        let lines: Vec<String> = w.lines.iter().map(|l| format!("\n  {l}")).collect();
        messages::warn(&format!("{}:{}", w.title, lines.concat()));
    }
    messages::table(compare::table(&ctx));
    messages::table(format!("report: {}\n", o.out.join("index.html").display()));
    if o.strict && !loaded.skipped.is_empty() {
        return Err(anyhow::anyhow!(
            "--strict: {} input files were skipped (named above); the report was written without them",
            loaded.skipped.len()
        ));
    }
    Ok(())
}

fn stop_if_interrupted() -> Result<()> {
    if crate::signals::interrupted() { Err(anyhow::anyhow!(crate::signals::Interrupted)) } else { Ok(()) }
}

fn build(ctx: &figures::Ctx, o: &Options, files: usize, skipped: &[(PathBuf, String)]) -> Doc {
    let names: Vec<String> = ctx.keys.iter().map(name_of).collect();
    let mut intro = vec![format!(
        "{files} result files in {} series (repeats grouped by {}). Written by zcbench {} ({}) at {}.",
        ctx.series.len(),
        names.join(", "),
        env!("CARGO_PKG_VERSION"),
        env!("ZCBENCH_GIT"),
        humantime::format_rfc3339_seconds(std::time::SystemTime::now())
    )];
    if !ctx.common.is_empty() {
        let c: Vec<&str> = ctx.common.iter().map(|(_, v)| v.as_str()).collect();
        intro.push(format!("Common to all series: {}.", c.join(", ")));
    }
    if !skipped.is_empty() {
        intro.push(format!(
            "{} input files are not results this report can use and were skipped (listed under Result files).",
            skipped.len()
        ));
    }
    let mut sections = sections::sections(ctx);
    sections.push(env_section::section(ctx));
    sections.push(inputs(ctx, skipped));
    Doc {
        title: o.title.clone().unwrap_or_else(|| "zcbench report".into()),
        intro,
        warnings: env_section::warnings(ctx),
        sections,
    }
}

/// Which files each series is made of, in run order.
fn inputs(ctx: &figures::Ctx, skipped: &[(PathBuf, String)]) -> Section {
    let mut t = doc::Table::new(&["series", "run", "timestamp", "file", "schema", "Gbit/s"]);
    for (i, s) in ctx.series.iter().enumerate() {
        for (k, r) in s.runs.iter().enumerate() {
            t.rows.push(vec![
                ctx.labels[i].clone(),
                (k + 1).to_string(),
                r.r.timestamp.clone(),
                r.path.display().to_string(),
                r.r.schema_version.to_string(),
                format!("{:.3}", r.r.summary.gbps),
            ]);
        }
    }
    let mut items = vec![Item::Table { title: "Runs of each series, in run order".into(), table: t }];
    if !skipped.is_empty() {
        let mut t = doc::Table::new(&["file", "why it was skipped"]);
        t.rows = skipped.iter().map(|(p, why)| vec![p.display().to_string(), why.clone()]).collect();
        items.push(Item::Table { title: "Input files skipped".into(), table: t });
    }
    Section { id: "inputs".into(), title: "Result files".into(), items }
}

/// Draw every figure as SVG and PNG, on as many threads as there are cores.
fn render_all(doc: &Doc) -> Result<Vec<Rendered>> {
    let figs: Vec<&Figure> = doc.figures().collect();
    let one = |f: &Figure| -> Result<Rendered> {
        stop_if_interrupted()?;
        let svg = f.plot.svg().with_context(|| format!("figure {}", f.id))?;
        let png = f.plot.png().with_context(|| format!("figure {}", f.id))?;
        Ok(Rendered { svg: with_title(&svg, &f.title), png })
    };
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get()).clamp(1, 8);
    let chunk = figs.len().div_ceil(threads).max(1);
    std::thread::scope(|s| {
        let handles: Vec<_> =
            figs.chunks(chunk).map(|part| s.spawn(move || part.iter().map(|f| one(f)).collect::<Vec<_>>())).collect();
        let mut out = Vec::new();
        for h in handles {
            let part = h.join().map_err(|_| anyhow::anyhow!("a figure-drawing thread panicked"))?;
            for r in part {
                out.push(r?);
            }
        }
        Ok(out)
    })
}

/// An SVG with a `<title>` (shown as a tooltip, read by screen readers).
fn with_title(svg: &str, title: &str) -> String {
    match svg.find('>') {
        Some(end) => format!("{}>\n<title>{}</title>{}", &svg[..end], html::escape(title), &svg[end + 1..]),
        None => svg.to_string(),
    }
}

/// The output directory: created, or an earlier report in it cleared of its
/// figures; anything else there is refused rather than overwritten.
fn prepare_out(out: &Path) -> Result<()> {
    if out.exists() {
        let empty = std::fs::read_dir(out).with_context(|| format!("reading {}", out.display()))?.next().is_none();
        if !empty && !out.join("index.html").exists() {
            return Err(usage(format!(
                "{} exists and is not a zcbench report (no index.html): choose another --out",
                out.display()
            )));
        }
        let figs = out.join("figures");
        if figs.is_dir() {
            for e in std::fs::read_dir(&figs).with_context(|| format!("reading {}", figs.display()))?.flatten() {
                let p = e.path();
                if p.extension().is_some_and(|x| x == "svg" || x == "png") {
                    std::fs::remove_file(&p).with_context(|| format!("removing the earlier figure {}", p.display()))?;
                }
            }
        }
    }
    std::fs::create_dir_all(out.join("figures")).with_context(|| format!("creating {}", out.join("figures").display()))
}

fn write(path: &Path, bytes: &[u8]) -> Result<()> {
    std::fs::write(path, bytes).with_context(|| format!("writing {}", path.display()))
}

fn write_all(out: &Path, doc: &Doc, rendered: &[Rendered], ctx: &figures::Ctx) -> Result<()> {
    for (f, r) in doc.figures().zip(rendered) {
        write(&out.join("figures").join(format!("{}.svg", f.id)), r.svg.as_bytes())?;
        write(&out.join("figures").join(format!("{}.png", f.id)), &r.png)?;
    }
    write(&out.join("index.html"), html::page(doc, rendered).as_bytes())?;
    write(&out.join("report.md"), markdown::page(doc).as_bytes())?;
    let csv = csv::summary(ctx)?;
    write(&out.join("summary.csv"), csv.as_bytes())
}

/// A real result file of tests/data, for the report's unit tests.
#[cfg(test)]
pub(crate) fn test_data(name: &str) -> crate::results::schema::RunResult {
    crate::results::read(&Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data").join(name)).unwrap()
}
