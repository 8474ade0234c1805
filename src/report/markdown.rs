//! report.md: the same sections, tables and notes as the page, with the PNG
//! figures, for a mailing-list post or a pull request.

use super::doc::{Doc, Item, Table};

/// Text safe inside a Markdown table cell or paragraph.
fn cell(s: &str) -> String {
    s.replace('\\', "\\\\").replace('|', "\\|").replace('\n', " ")
}

fn table(t: &Table, o: &mut String) {
    o.push_str(&format!("| {} |\n", t.headers.iter().map(|h| cell(h)).collect::<Vec<_>>().join(" | ")));
    o.push_str(&format!("|{}\n", "---|".repeat(t.headers.len())));
    for r in &t.rows {
        o.push_str(&format!("| {} |\n", r.iter().map(|c| cell(c)).collect::<Vec<_>>().join(" | ")));
    }
    o.push('\n');
}

pub fn page(doc: &Doc) -> String {
    let mut o = format!("# {}\n\n", cell(&doc.title));
    for l in &doc.intro {
        o.push_str(&format!("{}\n", cell(l)));
    }
    o.push('\n');
    for w in &doc.warnings {
        o.push_str(&format!("> **⚠ {}**\n>\n", cell(&w.title)));
        for l in &w.lines {
            o.push_str(&format!("> - {}\n", cell(l)));
        }
        o.push('\n');
    }
    for s in &doc.sections {
        o.push_str(&format!("## {}\n\n", cell(&s.title)));
        for item in &s.items {
            match item {
                Item::Figure(f) => {
                    o.push_str(&format!("### {}\n\n", cell(&f.title)));
                    o.push_str(&format!("![{}](figures/{}.png)\n\n", cell(&f.title), f.id));
                    o.push_str(&format!("{}\n\n", cell(&f.caption)));
                    if let Some(t) = &f.table {
                        table(t, &mut o);
                    }
                }
                Item::Table { title, table: t } => {
                    o.push_str(&format!("### {}\n\n", cell(title)));
                    table(t, &mut o);
                }
                Item::Absent { title, note, .. } => {
                    o.push_str(&format!("*{}: not drawn.* {}\n\n", cell(title), cell(note)))
                }
                Item::Note(n) => o.push_str(&format!("*{}*\n\n", cell(n))),
            }
        }
    }
    o
}
