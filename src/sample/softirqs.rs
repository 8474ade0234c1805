//! NET_RX and NET_TX softirq counts per core from /proc/softirqs.

/// Per CPU number: (NET_RX, NET_TX) since boot.
pub fn parse(text: &str) -> Result<Vec<(usize, u64, u64)>, String> {
    let mut lines = text.lines();
    let header = lines.next().ok_or("empty /proc/softirqs")?;
    let cpus: Vec<usize> = header
        .split_whitespace()
        .map(|c| c.strip_prefix("CPU").and_then(|n| n.parse().ok()).ok_or(format!("unexpected column '{c}'")))
        .collect::<Result<_, _>>()?;
    let row = |name: &str| -> Result<Vec<u64>, String> {
        let l = text.lines().find(|l| l.trim_start().starts_with(name)).ok_or(format!("no {name} row"))?;
        l.split_whitespace().skip(1).map(|v| v.parse().map_err(|_| format!("{name}: '{v}' is not a count"))).collect()
    };
    let (rx, tx) = (row("NET_RX:")?, row("NET_TX:")?);
    Ok(cpus
        .iter()
        .enumerate()
        .map(|(i, &c)| (c, rx.get(i).copied().unwrap_or(0), tx.get(i).copied().unwrap_or(0)))
        .collect())
}

pub fn read() -> Result<Vec<(usize, u64, u64)>, String> {
    let t = std::fs::read_to_string("/proc/softirqs").map_err(|e| format!("reading /proc/softirqs: {e}"))?;
    parse(&t)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_kernel_format_and_the_real_file() {
        let t = "                    CPU0       CPU1\n          HI:          0          0\n      NET_TX:         66        202\n      NET_RX:    2600233    4288005\n";
        assert_eq!(parse(t).unwrap(), vec![(0, 2_600_233, 66), (1, 4_288_005, 202)]);
        let real = read().unwrap();
        let online = crate::sys::cpu::online_cpus().unwrap();
        assert!(online.iter().all(|c| real.iter().any(|r| r.0 == *c)), "{real:?}");
    }
}
