//! index.html: one self-contained page. Figures are inline SVG; there is no
//! script and nothing is fetched, so it reads the same offline, printed, or
//! attached to a mail. maud escapes every text it is given.

use super::doc::{Doc, Item, Rendered, Table};
use maud::{DOCTYPE, Markup, PreEscaped, html};

const STYLE: &str = r#"
body { font-family: "DejaVu Sans", "Helvetica Neue", Arial, sans-serif; color: #1a1a1a; margin: 0; background: #fff; }
main { max-width: 1240px; margin: 0 auto; padding: 16px 24px 48px; }
h1 { font-size: 1.6em; margin: 0.4em 0; }
h2 { font-size: 1.25em; border-bottom: 1px solid #ccc; padding-bottom: 4px; margin-top: 1.8em; }
h3 { font-size: 1.05em; margin: 1.2em 0 0.4em; }
p.intro { margin: 0.2em 0; }
nav { margin: 1em 0; font-size: 0.95em; }
nav a { margin-right: 1em; }
.warning { border: 2px solid #b35900; background: #fff4e5; padding: 8px 14px; margin: 12px 0; }
.warning h2 { border: none; margin: 0.2em 0; color: #8a4500; font-size: 1.1em; }
.warning summary { cursor: pointer; margin: 0.2em 0; }
.absent { border-left: 4px solid #999; background: #f4f4f4; padding: 6px 12px; margin: 12px 0; }
.note { font-style: italic; }
figure { margin: 16px 0 8px; page-break-inside: avoid; break-inside: avoid; }
figure svg { max-width: 100%; height: auto; display: block; }
figcaption { font-size: 0.92em; color: #333; margin-top: 4px; }
table { border-collapse: collapse; margin: 8px 0 16px; font-size: 0.88em; }
th, td { border: 1px solid #ccc; padding: 3px 8px; text-align: left; vertical-align: top; }
th { background: #eee; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
.wide { overflow-x: auto; }
@media print { main { max-width: none; padding: 0; } nav { display: none; } h2 { page-break-after: avoid; } }
"#;

pub fn escape(s: &str) -> String {
    html! { (s) }.into_string()
}

/// Cells that are numbers (possibly with their spread) are right-aligned.
fn numeric(s: &str) -> bool {
    s == "—" || s.split(" (").next().is_some_and(|n| n.parse::<f64>().is_ok())
}

fn table(t: &Table) -> Markup {
    html! {
        div.wide {
            table {
                thead { tr { @for h in &t.headers { th { (h) } } } }
                tbody {
                    @for row in &t.rows {
                        tr { @for c in row { @if numeric(c) { td.num { (c) } } @else { td { (c) } } } }
                    }
                }
            }
        }
    }
}

/// The SVG as it goes inline (plotters writes no XML prolog): labelled for
/// screen readers, and allowed to grow to 1.25 times its pixel size, which
/// matches its text to the page's (plotters' SVG text is 1/1.24 of the PNG's).
fn inline_svg(svg: &str, title: &str, width: u32) -> PreEscaped<String> {
    let attrs = format!(
        "<svg role=\"img\" aria-label=\"{}\" style=\"width: 100%; max-width: {}px; height: auto\" ",
        escape(title),
        width * 5 / 4
    );
    PreEscaped(svg.replacen("<svg ", &attrs, 1))
}

/// The warnings, one folded list each (the title says what and how many; the
/// lines open on a click), placed after the first section with a figure so
/// that the page's first screen is a figure (or the study's lead).
fn warnings(doc: &Doc) -> Markup {
    html! {
        section.warning id="warnings" role="alert" {
            h2 { "⚠ Warnings" }
            @for w in &doc.warnings {
                details {
                    summary { (w.title) " (" (w.lines.len()) ")" }
                    ul { @for l in &w.lines { li { (l) } } }
                }
            }
        }
    }
}

pub fn page(doc: &Doc, rendered: &[Rendered]) -> String {
    let mut svgs = rendered.iter();
    let body = html! {
        h1 { (doc.title) }
        @for line in &doc.intro { p.intro { (line) } }
        @if !doc.warnings.is_empty() {
            p.intro { a href="#warnings" { "⚠ " (doc.warnings.len()) " warnings" } " (below the first figures): read them before trusting a comparison." }
        }
        nav {
            @for s in &doc.sections { a href={ "#" (s.id) } { (s.title) } " " }
            @if !doc.warnings.is_empty() { a href="#warnings" { "Warnings" } }
        }
        @for (i, s) in doc.sections.iter().enumerate() {
            @if i == doc.warnings_before() && !doc.warnings.is_empty() { (warnings(doc)) }
            section id=(s.id) {
                h2 { (s.title) }
                @for item in &s.items {
                    @match item {
                        Item::Figure(f) => {
                            figure id={ "fig-" (f.id) } data-figure=(f.id) {
                                h3 { (f.title) }
                                (svgs.next().map_or(PreEscaped(String::new()), |r| inline_svg(&r.svg, &f.title, f.plot.size().0)))
                                figcaption { (f.caption) }
                            }
                            @if let Some(t) = &f.table { (table(t)) }
                        }
                        Item::Table { title, table: t } => { h3 { (title) } (table(t)) }
                        Item::Absent { id, title, note } => {
                            div.absent id={ "absent-" (id) } data-absent=(id) {
                                strong { (title) ": not drawn. " } (note)
                            }
                        }
                        Item::Note(n) => { p.note { (n) } }
                    }
                }
            }
        }
    };
    let page = html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                meta name="generator" content={ "zcbench " (env!("CARGO_PKG_VERSION")) };
                title { (doc.title) }
                style { (PreEscaped(STYLE)) }
            }
            body { main { (body) } }
        }
    };
    page.into_string()
}
