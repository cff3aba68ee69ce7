//! Reads a process's memory and CPU time from `/proc` (Linux only).

use std::time::Duration;

/// Resident memory (`VmRSS`) in kB.
#[derive(Debug, Clone, Copy, Default)]
pub struct Memory {
    pub rss_kb: u64,
}

/// Read `VmRSS` from `/proc/PID/status`.
pub fn memory(pid: u32) -> anyhow::Result<Memory> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    Ok(parse_memory(&status))
}

fn parse_memory(status: &str) -> Memory {
    let field = |name: &str| {
        status
            .lines()
            .find_map(|line| line.strip_prefix(name))
            .and_then(|rest| rest.split_whitespace().next())
            .and_then(|kb| kb.parse().ok())
            .unwrap_or(0)
    };
    Memory { rss_kb: field("VmRSS:") }
}

/// User plus system CPU time of a process so far, from `/proc/PID/stat`.
pub fn cpu_time(pid: u32) -> anyhow::Result<Duration> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    let ticks = parse_cpu_ticks(&stat).ok_or_else(|| anyhow::anyhow!("/proc/{pid}/stat has no utime and stime"))?;
    Ok(ticks_to_duration(ticks))
}

/// Returns `utime + stime` in clock ticks. The command name in field 2 may
/// contain spaces and parentheses, so fields are counted after the last `)`:
/// field 3 (state) comes first, utime is field 14 and stime field 15.
fn parse_cpu_ticks(stat: &str) -> Option<u64> {
    let after_name = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some(utime + stime)
}

fn ticks_to_duration(ticks: u64) -> Duration {
    // SAFETY: sysconf only reads a system constant.
    let per_second = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    let per_second = if per_second > 0 { per_second as u64 } else { 100 };
    Duration::from_micros(ticks * 1_000_000 / per_second)
}

/// Read the 1, 5 and 15 minute load averages from `/proc/loadavg`.
pub fn load_average() -> Option<[f64; 3]> {
    let text = std::fs::read_to_string("/proc/loadavg").ok()?;
    let mut values = text.split_whitespace().map(|v| v.parse::<f64>().ok());
    Some([values.next()??, values.next()??, values.next()??])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_ticks_after_odd_command_name() {
        let stat = "1234 (micro cred) (x)) S 1 1234 1234 0 -1 4194560 500 0 0 0 250 75 0 0 20 0 9 0 100 0 0";
        assert_eq!(parse_cpu_ticks(stat), Some(325));
    }

    #[test]
    fn cpu_ticks_of_truncated_line() {
        assert_eq!(parse_cpu_ticks("1234 (microcred) S 1 2"), None);
    }

    #[test]
    fn memory_fields_in_kb() {
        let status = "Name:\tmicrocred\nVmHWM:\t   51200 kB\nVmRSS:\t   40960 kB\nThreads:\t5\n";
        let memory = parse_memory(status);
        assert_eq!(memory.rss_kb, 40960);
    }

    #[test]
    fn own_process_readable() {
        let pid = std::process::id();
        assert!(memory(pid).expect("own status").rss_kb > 0);
        assert!(cpu_time(pid).is_ok());
    }
}
