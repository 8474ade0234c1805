//! report.md: the same sections, tables and notes as the page, with the PNG
//! figures, for a mailing-list post or a pull request.

use super::doc::{Doc, Item, Table};

/// Text that Markdown shows as it is, inside a line (a table cell, a
/// heading, after a list marker): result files are data from outside (a
/// hostname, a kernel string, a sysctl value, a `--title`), so no HTML tag or
/// entity, emphasis, link, code span or table break may come through. `<`,
/// `>` and `&` become entities, the characters CommonMark and Python-Markdown
/// both take as inline syntax are backslash-escaped, newlines become spaces.
fn cell(s: &str) -> String {
    let mut o = String::with_capacity(s.len() + 8);
    for c in s.trim().chars() {
        match c {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '\n' | '\r' => o.push(' '),
            '\\' | '`' | '*' | '_' | '[' | ']' | '|' | '#' | '!' => {
                o.push('\\');
                o.push(c);
            }
            c => o.push(c),
        }
    }
    o
}

/// The same at the start of a line, where "- x", "+ x", "1. x", "1) x" would
/// start a list and a line of only '-' or '=' would underline the one above.
fn line(s: &str) -> String {
    let mut o = cell(s);
    let digits = o.chars().take_while(char::is_ascii_digit).count();
    let mut rest = o[digits..].chars();
    let (next, then) = (rest.next(), rest.next());
    let spaced = matches!(then, None | Some(' ' | '\t'));
    match next {
        Some('-' | '+') if digits == 0 && spaced => o.insert(0, '\\'),
        Some('.' | ')') if (1..=9).contains(&digits) && spaced => o.insert(digits, '\\'),
        Some('-' | '=') if digits == 0 && o.trim_end().chars().all(|c| c == '-' || c == '=') => {
            o.replace_range(..1, if o.starts_with('-') { "&#45;" } else { "&#61;" })
        }
        _ => {}
    }
    o
}

fn table(t: &Table, o: &mut String) {
    o.push_str(&format!("| {} |\n", t.headers.iter().map(|h| cell(h)).collect::<Vec<_>>().join(" | ")));
    o.push_str(&format!("|{}\n", "---|".repeat(t.headers.len())));
    for r in &t.rows {
        o.push_str(&format!("| {} |\n", r.iter().map(|c| cell(c)).collect::<Vec<_>>().join(" | ")));
    }
    o.push('\n');
}

/// One folded list per warning (GitHub renders `<details>` in Markdown).
fn warnings(doc: &Doc, o: &mut String) {
    if doc.warnings.is_empty() {
        return;
    }
    o.push_str("## ⚠ Warnings\n\n");
    for w in &doc.warnings {
        o.push_str(&format!("<details><summary>{} ({})</summary>\n\n", cell(&w.title), w.lines.len()));
        for l in &w.lines {
            o.push_str(&format!("- {}\n", line(l)));
        }
        o.push_str("\n</details>\n\n");
    }
}

pub fn page(doc: &Doc) -> String {
    let mut o = format!("# {}\n\n", cell(&doc.title));
    for l in &doc.intro {
        o.push_str(&format!("{}\n", line(l)));
    }
    o.push('\n');
    if !doc.warnings.is_empty() {
        o.push_str(&format!("⚠ {} warnings, after the first figures.\n\n", doc.warnings.len()));
    }
    for (i, s) in doc.sections.iter().enumerate() {
        if i == doc.warnings_before() {
            warnings(doc, &mut o);
        }
        o.push_str(&format!("## {}\n\n", cell(&s.title)));
        for item in &s.items {
            match item {
                Item::Figure(f) => {
                    o.push_str(&format!("### {}\n\n", cell(&f.title)));
                    o.push_str(&format!("![{}](figures/{}.png)\n\n", cell(&f.title), f.id));
                    o.push_str(&format!("{}\n\n", line(&f.caption)));
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

#[cfg(test)]
mod tests {
    use super::*;

    /// Hostile text is shown as text; ordinary text stays readable as it is.
    #[test]
    fn text_is_escaped_only_where_markdown_would_read_it() {
        assert_eq!(cell("<b>x</b> | y & z"), "&lt;b&gt;x&lt;/b&gt; \\| y &amp; z");
        assert_eq!(cell("[a](javascript:x) *b* `c` #d"), "\\[a\\](javascript:x) \\*b\\* \\`c\\` \\#d");
        assert_eq!(cell("12.409"), "12.409");
        assert_eq!(line("12.409 Gbit/s"), "12.409 Gbit/s");
        assert_eq!(line("1. x"), "1\\. x");
        assert_eq!(line("- x"), "\\- x");
        assert_eq!(line("-5 W"), "-5 W");
        assert_eq!(line("---"), "&#45;--");
        assert_eq!(line("=="), "&#61;=");
        assert_eq!(cell("a\nb"), "a b");
    }
}
