//! Tables without a figure: system call counts per GiB moved.

use super::{Ctx, cell};
use crate::report::doc::{Item, Table};
use crate::results::schema::RunResult;

const GIB: f64 = (1u64 << 30) as f64;

/// Calls per GiB of the path's own bytes (the whole flow, warm-up included,
/// as the counters are).
fn per_gib(calls: u64, bytes: u64) -> Option<f64> {
    (bytes > 0).then(|| calls as f64 * GIB / bytes as f64)
}

fn share(part: u64, all: u64) -> Option<f64> {
    (all > 0).then(|| part as f64 / all as f64)
}

type Get = fn(&RunResult) -> Option<f64>;

pub fn syscalls(ctx: &Ctx) -> Item {
    let cols: [(&str, Get, f64, usize); 8] = [
        ("rx calls / GiB", |r| r.receiver.rx.as_ref().and_then(|x| per_gib(x.calls, x.bytes)), 1.0, 0),
        ("rx errors %", |r| r.receiver.rx.as_ref().and_then(|x| share(x.errors, x.calls)), 100.0, 1),
        ("rx polls / GiB", |r| r.receiver.rx.as_ref().and_then(|x| per_gib(x.polls, x.bytes)), 1.0, 0),
        (
            "rx io_uring CQEs / GiB",
            |r| r.receiver.rx.as_ref().and_then(|x| per_gib(x.uring.as_ref()?.cqes, x.bytes)),
            1.0,
            0,
        ),
        ("tx calls / GiB", |r| tx(r).and_then(|x| per_gib(x.calls, x.bytes)), 1.0, 0),
        ("tx errors %", |r| tx(r).and_then(|x| share(x.errors, x.calls)), 100.0, 1),
        ("tx polls / GiB", |r| tx(r).and_then(|x| per_gib(x.polls, x.bytes)), 1.0, 0),
        ("tx completions / GiB", |r| tx(r).and_then(|x| per_gib(x.completions, x.bytes)), 1.0, 0),
    ];
    let mut headers = vec!["series", "runs"];
    headers.extend(cols.iter().map(|c| c.0));
    let mut t = Table::new(&headers);
    for (i, s) in ctx.series.iter().enumerate() {
        let mut row = vec![ctx.labels[i].clone(), s.runs.len().to_string()];
        row.extend(cols.iter().map(|(_, f, scale, digits)| cell(&s.metric(f), *scale, *digits)));
        t.rows.push(row);
    }
    Item::Table {
        title:
            "System calls per GiB, as each data path counted them (errors include EAGAIN; — : not counted by that path)"
                .into(),
        table: t,
    }
}

fn tx(r: &RunResult) -> Option<&crate::results::schema::TxStats> {
    r.sender.as_ref().unwrap_or(&r.receiver).tx.as_ref()
}
