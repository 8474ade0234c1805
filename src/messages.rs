//! The one home for what zcbench says. Every line it prints goes through
//! here, with one prefix convention, and the `--quiet` / `--json` rules are
//! decided here once (`init`):
//!
//! | what | stream | prefix | --quiet | --json |
//! |---|---|---|---|---|
//! | interval line ([`interval`]) | stdout | — | not shown | on stderr |
//! | note: what zcbench did or decided ([`note`]) | stderr | `zcbench: ` | not shown | shown |
//! | warning ([`warn`]) | stderr | `zcbench: warning: ` | shown | shown |
//! | table: a command's human output ([`table`]) | stdout | — | not shown | not shown |
//! | data: what was asked for, e.g. JSON ([`data`]) | stdout | — | shown | shown |
//! | stream: `--json-stream`'s interval object ([`stream`]) | stdout | — | shown | — |
//! | error, its final form ([`fail`]) | stderr | `zcbench: <kind>: ` | shown | shown |
//!
//! Nothing here writes on the caller's thread: each stream has a printer
//! thread fed by a queue. An interval line, a note or a warning that finds
//! [`QUEUE_LINES`] lines still waiting (the reader is stuck: a stopped pager, a
//! full pipe, a slow ssh session) is dropped and counted ([`dropped`]), never
//! waited for, so the sampler's clock, the end of the window, the data path's
//! stop and Ctrl-C never wait for output. Tables, data and errors are never
//! dropped; [`finish`] waits for them at the end, for as long as the reader
//! takes, unless a signal says to stop waiting.
//!
//! A leaf: it imports nothing from the crate, so every layer may use it.

use std::collections::VecDeque;
use std::io::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Condvar, Mutex, OnceLock};
use std::time::{Duration, Instant};

/// Lines that may wait for a stuck reader per stream before more are dropped:
/// at `--interval 1s` minutes of interval lines, at 10 ms a few seconds, and
/// tens of KiB of memory at most.
pub const QUEUE_LINES: usize = 256;

/// How the command line asked zcbench to speak.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Rules {
    /// `--quiet`: nothing but warnings, errors and the data asked for.
    pub quiet: bool,
    /// `--json` (and the server, whose stdout carries nothing): stdout carries
    /// data only; interval lines go to stderr, tables are not shown.
    pub json: bool,
    /// `--json-stream` (implies `json`): an interval object a line on stdout.
    pub stream: bool,
}

static RULES: OnceLock<Rules> = OnceLock::new();

/// Told when a reader closes a stream that a droppable line (an interval line,
/// a note, a warning: what a run prints while it runs) was going to.
static ON_CLOSED: OnceLock<fn(&str)> = OnceLock::new();

/// Who to tell when a reader closes stdout or stderr under a running flow
/// (`which` is "stdout" or "stderr"); set once. Where SIGPIPE's default action
/// would have ended the process, this lets the caller stop the run instead.
pub fn when_closed(tell: fn(which: &str)) {
    let _ = ON_CLOSED.set(tell);
}

/// Decide the rules, once, before anything is said (later calls change nothing).
pub fn init(rules: Rules) {
    let _ = RULES.set(rules);
}

fn rules() -> Rules {
    RULES.get().copied().unwrap_or_default()
}

/// One interval line while the flow runs (`text` makes it, newline included,
/// only when it is shown).
pub fn interval(text: impl FnOnce() -> String) {
    let r = rules();
    if !r.quiet {
        (if r.json { stderr() } else { stdout() }).push(text(), true);
    }
}

/// `--json-stream`: one JSON object for this interval (`text` makes it, one
/// line with its newline, only when streaming). Dropped like an interval line
/// when the reader is stuck: the measurement never waits for it.
pub fn stream(text: impl FnOnce() -> String) {
    if rules().stream {
        stdout().push(text(), true);
    }
}

/// Whether `--json-stream` asked for a stream of JSON objects on stdout.
pub fn streaming() -> bool {
    rules().stream
}

/// What zcbench did or decided on the user's behalf: "zcbench: MSG".
pub fn note(msg: &str) {
    if !rules().quiet {
        stderr().push(format!("zcbench: {msg}\n"), true);
    }
}

/// Something the user should know about the run or the host: "zcbench: warning: MSG".
pub fn warn(msg: &str) {
    stderr().push(format!("zcbench: warning: {msg}\n"), true);
}

/// A command's human output (a result table, a report's path, a study summary).
pub fn table(text: String) {
    let r = rules();
    if !r.quiet && !r.json {
        stdout().push(text, false);
    }
}

/// What was asked for on stdout (JSON), or what must not be lost.
pub fn data(text: String) {
    stdout().push(text, false);
}

/// The final form of an error: "zcbench: KIND: MSG".
pub fn fail(kind: &str, msg: &str) {
    stderr().push(format!("zcbench: {kind}: {msg}\n"), false);
}

/// `--quiet`: for what draws itself (a progress bar).
pub fn quiet() -> bool {
    rules().quiet
}

/// Whether a JSON document goes to stdout (`--json`).
pub fn json() -> bool {
    rules().json
}

/// Lines dropped so far because a reader did not keep up.
pub fn dropped() -> u64 {
    [&STDOUT, &STDERR].iter().filter_map(|s| s.get()).map(|s| s.dropped.load(Ordering::Relaxed)).sum()
}

/// Wait until everything queued is written. `give_up` is asked every 50 ms;
/// `limit` bounds the wait. False when lines are left unwritten (counted as
/// dropped), because of either.
pub fn finish(give_up: impl Fn() -> bool, limit: Option<Duration>) -> bool {
    let until = limit.map(|l| Instant::now() + l);
    [&STDOUT, &STDERR].iter().filter_map(|s| s.get()).all(|s| s.drain(&give_up, until))
}

/// A line's text and whether it may be dropped.
type Line = (String, bool);

#[derive(Default)]
struct Queue {
    lines: VecDeque<Line>,
    /// Droppable lines in `lines`.
    droppable: usize,
    /// The printer is writing a line it took.
    busy: bool,
    /// The stream failed (closed pipe): nothing more can be written.
    dead: bool,
}

/// One output stream: its queue and its printer thread.
struct Stream {
    /// "stdout" or "stderr".
    which: &'static str,
    queue: Mutex<Queue>,
    /// Signals new lines to the printer and progress to `drain`.
    changed: Condvar,
    dropped: AtomicU64,
    capacity: usize,
}

static STDOUT: OnceLock<Stream> = OnceLock::new();
static STDERR: OnceLock<Stream> = OnceLock::new();

fn stdout() -> &'static Stream {
    Stream::get_or_start(&STDOUT, "stdout", || Box::new(std::io::stdout()))
}

fn stderr() -> &'static Stream {
    Stream::get_or_start(&STDERR, "stderr", || Box::new(std::io::stderr()))
}

impl Stream {
    fn new(which: &'static str, capacity: usize) -> Stream {
        Stream {
            which,
            queue: Mutex::new(Queue::default()),
            changed: Condvar::new(),
            dropped: AtomicU64::new(0),
            capacity,
        }
    }

    fn get_or_start(
        cell: &'static OnceLock<Stream>,
        which: &'static str,
        open: fn() -> Box<dyn Write + Send>,
    ) -> &'static Stream {
        let mut fresh = false;
        let s = cell.get_or_init(|| {
            fresh = true;
            Stream::new(which, QUEUE_LINES)
        });
        if fresh {
            let started = std::thread::Builder::new().name(format!("zcb-{which}")).spawn(move || s.print(open()));
            if started.is_err() {
                // No printer: every line counts as dropped from now on.
                s.lock().dead = true;
            }
        }
        s
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Queue> {
        self.queue.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Queue a line; a droppable one is counted and dropped when the queue is full.
    fn push(&self, text: String, droppable: bool) {
        let mut q = self.lock();
        if q.dead || (droppable && q.droppable >= self.capacity) {
            self.dropped.fetch_add(1, Ordering::Relaxed);
            return;
        }
        q.droppable += usize::from(droppable);
        q.lines.push_back((text, droppable));
        drop(q);
        self.changed.notify_all();
    }

    /// The printer thread: write each line, in order, forever.
    fn print(&self, mut out: Box<dyn Write + Send>) {
        loop {
            let mut q = self.lock();
            let (text, droppable) = loop {
                match q.lines.pop_front() {
                    Some(l) => break l,
                    None => q = self.changed.wait(q).unwrap_or_else(|p| p.into_inner()),
                }
            };
            q.droppable -= usize::from(droppable);
            q.busy = true;
            drop(q);
            let written = out.write_all(text.as_bytes()).and_then(|_| out.flush());
            let ok = written.is_ok();
            if droppable
                && written.is_err_and(|e| e.kind() == std::io::ErrorKind::BrokenPipe)
                && let Some(tell) = ON_CLOSED.get()
            {
                tell(self.which);
            }
            let mut q = self.lock();
            q.busy = false;
            if !ok {
                // A closed reader: this line and every later one are lost.
                q.dead = true;
                let lost = 1 + q.lines.len() as u64;
                q.lines.clear();
                q.droppable = 0;
                self.dropped.fetch_add(lost, Ordering::Relaxed);
            }
            drop(q);
            self.changed.notify_all();
        }
    }

    fn drain(&self, give_up: &dyn Fn() -> bool, until: Option<Instant>) -> bool {
        let mut q = self.lock();
        while !q.lines.is_empty() || q.busy {
            if give_up() || until.is_some_and(|u| Instant::now() >= u) {
                self.dropped.fetch_add(q.lines.len() as u64 + u64::from(q.busy), Ordering::Relaxed);
                return false;
            }
            q = self.changed.wait_timeout(q, Duration::from_millis(50)).unwrap_or_else(|p| p.into_inner()).0;
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::sync::mpsc;

    /// A reader that takes nothing until told to, then everything.
    struct Stuck {
        go: mpsc::Receiver<()>,
        open: bool,
        got: Arc<Mutex<String>>,
    }

    impl Write for Stuck {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            if !self.open {
                let _ = self.go.recv();
                self.open = true;
            }
            self.got.lock().unwrap().push_str(&String::from_utf8_lossy(b));
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    fn stuck(capacity: usize) -> (&'static Stream, mpsc::Sender<()>, Arc<Mutex<String>>) {
        let s: &'static Stream = Box::leak(Box::new(Stream::new("test", capacity)));
        let (tx, go) = mpsc::channel();
        let got = Arc::new(Mutex::new(String::new()));
        let out = Stuck { go, open: false, got: got.clone() };
        std::thread::spawn(move || s.print(Box::new(out)));
        (s, tx, got)
    }

    #[test]
    fn a_stuck_reader_costs_dropped_lines_never_a_wait() {
        let (s, go, got) = stuck(4);
        let t0 = Instant::now();
        s.push("0\n".into(), true);
        while !s.lock().busy {
            std::thread::yield_now();
        }
        for i in 1..100 {
            s.push(format!("{i}\n"), true);
        }
        s.push("result\n".into(), false);
        assert!(t0.elapsed() < Duration::from_millis(100), "pushing waited for the reader");
        // One line is with the stuck writer, four wait: the other 95 are counted.
        assert_eq!(s.dropped.load(Ordering::Relaxed), 95);
        assert!(!s.drain(&|| false, Some(Instant::now() + Duration::from_millis(100))), "nothing can drain yet");
        let _ = go.send(());
        assert!(s.drain(&|| false, Some(Instant::now() + Duration::from_secs(5))));
        let got = got.lock().unwrap().clone();
        assert!(got.starts_with("0\n") && got.ends_with("result\n"), "{got}");
        assert_eq!(got.lines().count(), 6, "in order, the dropped ones missing: {got}");
    }

    #[test]
    fn giving_up_on_a_stuck_reader_counts_what_was_left() {
        let (s, _go, _) = stuck(8);
        for _ in 0..3 {
            s.push("x\n".into(), false);
        }
        let t0 = Instant::now();
        assert!(!s.drain(&|| t0.elapsed() > Duration::from_millis(120), None));
        assert!(t0.elapsed() < Duration::from_millis(500));
        assert_eq!(s.dropped.load(Ordering::Relaxed), 3, "the line being written and the two after it");
    }

    #[test]
    fn a_closed_reader_loses_lines_without_blocking_anyone() {
        struct Closed;
        impl Write for Closed {
            fn write(&mut self, _: &[u8]) -> std::io::Result<usize> {
                Err(std::io::ErrorKind::BrokenPipe.into())
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
        let s: &'static Stream = Box::leak(Box::new(Stream::new("test", 4)));
        std::thread::spawn(move || s.print(Box::new(Closed)));
        s.push("a\n".into(), false);
        assert!(s.drain(&|| false, Some(Instant::now() + Duration::from_secs(5))));
        s.push("b\n".into(), false);
        assert_eq!(s.dropped.load(Ordering::Relaxed), 2);
    }
}
