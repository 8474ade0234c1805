//! The environment section (one column per distinct environment) and the
//! warnings when compared series, or the runs of one series, differ in it.

use super::doc::{Item, Section, Table, Warning};
use super::env::{Difference, Env, differences, env_of, within};
use super::figures::Ctx;
use crate::results::stats::{describe_pauses, pauses};

fn describe(d: &Difference) -> String {
    let vals: Vec<String> = d.values.iter().map(|(v, who)| format!("{v} ({})", who.join(", "))).collect();
    format!("{}: {}", d.fact, vals.join(" vs "))
}

/// Each series' environment (from its first run), tagged with its label.
fn series_envs(ctx: &Ctx) -> Vec<(String, Env)> {
    ctx.series.iter().enumerate().map(|(i, s)| (ctx.labels[i].clone(), env_of(s.first(), ctx.keys))).collect()
}

/// Warnings, most important first: for each series one short list (runs
/// measured under biasing conditions, then environment differences between
/// its runs), series with biased runs first; then how the compared series
/// differ from each other.
pub fn warnings(ctx: &Ctx) -> Vec<Warning> {
    let mut per_series: Vec<(usize, Warning)> = Vec::new();
    for (i, s) in ctx.series.iter().enumerate() {
        let mut biased = Vec::new();
        for run in &s.runs {
            let name =
                run.path.file_name().map_or_else(|| run.path.display().to_string(), |f| f.to_string_lossy().into());
            for side in std::iter::once(&run.r.receiver).chain(run.r.sender.iter()) {
                if side.cut_short {
                    biased.push(format!(
                        "{name}: the {} was cut short (the flow ended before the measured window did)",
                        side.role
                    ));
                }
                if let Some(p) = describe_pauses(&pauses(side)) {
                    biased.push(format!("{name}: the {} was {p}", side.role));
                }
                if side.layout.oversubscribed {
                    biased.push(format!(
                        "{name}: the {} layout shares a core between the sender and the measured cores",
                        side.role
                    ));
                }
            }
        }
        let differ = within(s, ctx.keys);
        if biased.is_empty() && differ.is_empty() {
            continue;
        }
        let mut what = Vec::new();
        if !biased.is_empty() {
            what.push(format!("{} measured under conditions that bias them", plural(biased.len(), "run")));
        }
        if !differ.is_empty() {
            what.push(format!("its runs differ in their environment ({})", plural(differ.len(), "fact")));
        }
        let n = biased.len();
        let mut lines = biased;
        lines.extend(differ.iter().map(describe));
        per_series.push((n, Warning { title: format!("Series \"{}\": {}", ctx.labels[i], what.join("; ")), lines }));
    }
    per_series.sort_by_key(|w| std::cmp::Reverse(w.0));
    let mut out: Vec<Warning> = per_series.into_iter().map(|(_, w)| w).collect();
    let across = differences(&series_envs(ctx));
    if !across.is_empty() {
        out.push(Warning {
            title: "The compared series differ in their environment or flow settings".into(),
            lines: across.iter().map(describe).collect(),
        });
    }
    out
}

fn plural(n: usize, what: &str) -> String {
    if n == 1 { format!("1 {what}") } else { format!("{n} {what}s") }
}

/// An environment, the labels of the series in it, and the first one's index.
pub type EnvGroup = (Env, Vec<String>, usize);

/// Distinct environments among the series (each: the environment, the labels
/// of its series, the first series' index), and each series' environment number.
pub fn groups(ctx: &Ctx) -> (Vec<EnvGroup>, Vec<usize>) {
    let mut distinct: Vec<EnvGroup> = Vec::new();
    let mut of = Vec::new();
    for (i, (who, e)) in series_envs(ctx).into_iter().enumerate() {
        match distinct.iter_mut().position(|(x, _, _)| *x == e) {
            Some(k) => {
                distinct[k].1.push(who);
                of.push(k + 1);
            }
            None => {
                distinct.push((e, vec![who], i));
                of.push(distinct.len());
            }
        }
    }
    (distinct, of)
}

/// The environment table(s) and the settings each environment's first run applied.
pub fn section(ctx: &Ctx) -> Section {
    let envs = series_envs(ctx);
    let (distinct, _) = groups(ctx);
    let mut items = Vec::new();
    let differing: Vec<String> = differences(&envs).into_iter().map(|d| d.fact).collect();
    let name = |k: usize| if distinct.len() == 1 { "value".to_string() } else { format!("environment {}", k + 1) };
    let mut headers = vec!["fact".to_string()];
    headers.extend((0..distinct.len()).map(name));
    let mut t = Table { headers, rows: Vec::new() };
    if distinct.len() > 1 {
        let mut row = vec!["series".to_string()];
        row.extend(distinct.iter().map(|(_, w, _)| w.join(", ")));
        t.rows.push(row);
    }
    let facts: Vec<String> =
        distinct.iter().flat_map(|(e, _, _)| e.0.iter().map(|(n, _)| n.clone())).fold(Vec::new(), |mut v, n| {
            if !v.contains(&n) {
                v.push(n);
            }
            v
        });
    // The facts that differ first.
    let (differ, same): (Vec<String>, Vec<String>) = facts.into_iter().partition(|f| differing.contains(f));
    for f in differ.into_iter().chain(same) {
        let mark = if differing.contains(&f) { " ⚠ differs" } else { "" };
        let mut row = vec![format!("{f}{mark}")];
        row.extend(distinct.iter().map(|(e, _, _)| e.get(&f).unwrap_or("not recorded").to_string()));
        t.rows.push(row);
    }
    items.push(Item::Table {
        title: "Environment of each series' first run (facts that are group keys are left out)".into(),
        table: t,
    });
    for (k, (_, _, i)) in distinct.iter().enumerate() {
        let run = &ctx.series[*i].runs[0];
        let mut c = Table::new(&["side", "setting", "namespace", "before", "asked", "read back", "written"]);
        let sides = std::iter::once(&run.r.receiver).chain(run.r.sender.iter());
        for side in sides {
            for ch in &side.changes {
                c.rows.push(vec![
                    side.role.clone(),
                    ch.setting.clone(),
                    ch.netns.clone().unwrap_or_else(|| "host".into()),
                    ch.old.clone(),
                    ch.new.clone(),
                    ch.read_back.clone(),
                    if ch.changed { "yes" } else { "no (already so)" }.into(),
                ]);
            }
        }
        let title =
            format!("Host settings applied for the run (and restored after it), {}: {}", name(k), run.path.display());
        items.push(if c.rows.is_empty() {
            Item::Note(format!("{title}: none"))
        } else {
            Item::Table { title, table: c }
        });
    }
    Section { id: "environment".into(), title: "Environment".into(), items }
}
