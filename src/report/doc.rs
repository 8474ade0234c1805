//! The report as a document, before it is written as HTML or Markdown:
//! sections of figures, tables and notes. A figure whose data is absent is an
//! `Absent` item with the reason; it is never drawn.

use super::chart::Plot;

pub struct Table {
    pub headers: Vec<String>,
    pub rows: Vec<Vec<String>>,
}

pub struct Figure {
    /// File name stem under figures/ and the HTML element id.
    pub id: String,
    pub title: String,
    /// What is drawn and how to read it (units, what the whiskers are).
    pub caption: String,
    pub plot: Plot,
    /// The figure's numbers, exact, under it.
    pub table: Option<Table>,
}

pub enum Item {
    Figure(Box<Figure>),
    Table {
        title: String,
        table: Table,
    },
    /// A figure or table left out because its data is not in the results.
    Absent {
        id: String,
        title: String,
        note: String,
    },
    Note(String),
}

pub struct Section {
    pub id: String,
    pub title: String,
    pub items: Vec<Item>,
}

/// A warning shown at the top of every output.
pub struct Warning {
    pub title: String,
    pub lines: Vec<String>,
}

pub struct Doc {
    pub title: String,
    /// One line each: what went in, what series are, what is common to all.
    pub intro: Vec<String>,
    pub warnings: Vec<Warning>,
    pub sections: Vec<Section>,
}

impl Doc {
    /// Where the warnings go: after the first section with a figure (the
    /// study's lead, when there is one, and the first figures come first).
    pub fn warnings_before(&self) -> usize {
        let first = self.sections.iter().position(|s| s.items.iter().any(|i| matches!(i, Item::Figure(_))));
        first.map_or(1, |k| k + 1).min(self.sections.len().saturating_sub(1))
    }

    pub fn figures(&self) -> impl Iterator<Item = &Figure> {
        self.sections.iter().flat_map(|s| s.items.iter()).filter_map(|i| match i {
            Item::Figure(f) => Some(f.as_ref()),
            _ => None,
        })
    }
}

impl Table {
    pub fn new(headers: &[&str]) -> Table {
        Table { headers: headers.iter().map(|h| h.to_string()).collect(), rows: Vec::new() }
    }
}

/// A figure drawn both ways.
pub struct Rendered {
    pub svg: String,
    pub png: Vec<u8>,
}
