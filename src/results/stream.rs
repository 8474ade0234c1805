//! `--json-stream`: the run as JSON objects, one a line, in iperf3 3.17's
//! convention (`{"event": ..., "data": ...}`), so a tool can follow a long run
//! line by line: an "interval" object per sampler interval as it ends, then
//! one "end" object holding the result (or a `--repeat` series).

use super::Interval;
use serde::Serialize;

#[derive(Serialize)]
struct Event<'a, T: Serialize> {
    event: &'a str,
    data: T,
}

/// One interval as the sampler took it on the receiver: its sample (bytes,
/// Gbit/s, every core's time, TCP_INFO, power, flows), which cores are the
/// app and net cores, the sender's busy share and retransmits so far.
#[derive(Serialize)]
struct IntervalData<'a> {
    #[serde(flatten)]
    sample: &'a super::schema::Sample,
    app_cpu: usize,
    net_cpu: usize,
    sender_busy: Option<f64>,
    retransmits: Option<u32>,
}

fn line<T: Serialize>(event: &str, data: T) -> serde_json::Result<String> {
    let mut s = serde_json::to_string(&Event { event, data })?;
    s.push('\n');
    Ok(s)
}

/// The "interval" line (newline included). A value JSON cannot hold (a NaN
/// the kernel's counters made) becomes an "error" line instead of a lost one.
pub fn interval(i: &Interval<'_>) -> String {
    let data = IntervalData {
        sample: i.rx,
        app_cpu: i.rx_layout.app_cpu,
        net_cpu: i.rx_layout.net_cpu,
        sender_busy: i.sender_busy,
        retransmits: i.retransmits,
    };
    line("interval", data).unwrap_or_else(|e| {
        format!(
            "{{\"event\":\"error\",\"data\":{}}}\n",
            serde_json::Value::String(format!("interval at {} s: {e}", i.rx.t_s))
        )
    })
}

/// The "end" line holding the result or series (newline included).
pub fn end<T: Serialize>(result: &T) -> serde_json::Result<String> {
    line("end", result)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A real result's samples stream as one parseable line each, and the end
    /// line holds the whole result back.
    #[test]
    fn every_line_is_one_json_object() {
        let r = crate::results::read(
            &std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/result-v4-netns-mmap-flows4.json"),
        )
        .unwrap();
        assert!(!r.receiver.samples.is_empty());
        for s in &r.receiver.samples {
            let i = Interval { rx: s, rx_layout: &r.receiver.layout, sender_busy: Some(0.5), retransmits: None };
            let l = interval(&i);
            assert_eq!(l.matches('\n').count(), 1, "{l}");
            let v: serde_json::Value = serde_json::from_str(&l).unwrap();
            assert_eq!(v["event"], "interval");
            assert_eq!(v["data"]["rx_bytes"], s.rx_bytes);
            assert_eq!(v["data"]["flows"].as_array().map(Vec::len), Some(s.flows.len()));
        }
        let e = end(&r).unwrap();
        assert_eq!(e.matches('\n').count(), 1);
        let v: serde_json::Value = serde_json::from_str(&e).unwrap();
        assert_eq!(v["event"], "end");
        let back: crate::results::schema::RunResult = serde_json::from_value(v["data"].clone()).unwrap();
        assert_eq!(back, r);
    }
}
