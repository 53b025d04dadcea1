//! CPU time and resident memory of a process, read from `/proc` (Linux only).
use std::path::PathBuf;
use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum ProcError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: unexpected format ({what})")]
    Format { path: PathBuf, what: &'static str },
}

/// User + system CPU time a process has used so far (all its threads, live and ended).
pub fn cpu_time(pid: u32) -> Result<Duration, ProcError> {
    let path = PathBuf::from(format!("/proc/{pid}/stat"));
    let text = read(&path)?;
    let ticks = parse_stat_cpu_ticks(&text).ok_or(ProcError::Format {
        path,
        what: "no utime/stime fields",
    })?;
    Ok(ticks_to_duration(ticks, clock_ticks_per_second()))
}

/// Resident set size in bytes (`VmRSS`).
pub fn rss_bytes(pid: u32) -> Result<u64, ProcError> {
    let path = PathBuf::from(format!("/proc/{pid}/status"));
    let text = read(&path)?;
    parse_status_rss_kib(&text)
        .map(|kib| kib * 1024)
        .ok_or(ProcError::Format {
            path,
            what: "no VmRSS line",
        })
}

/// The processes whose parent is `pid` (nginx's workers under its master).
pub fn children(pid: u32) -> Vec<u32> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .filter_map(|entry| entry.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|&candidate| {
            std::fs::read_to_string(format!("/proc/{candidate}/stat"))
                .ok()
                .and_then(|stat| parse_stat_parent(&stat))
                == Some(pid)
        })
        .collect()
}

fn read(path: &PathBuf) -> Result<String, ProcError> {
    std::fs::read_to_string(path).map_err(|source| ProcError::Read {
        path: path.clone(),
        source,
    })
}

/// The fields after the command name; the name is in parentheses and may hold spaces or
/// parentheses itself, so the split is at the last `)`.
fn fields_after_comm(stat: &str) -> Option<Vec<&str>> {
    let (_, rest) = stat.rsplit_once(')')?;
    Some(rest.split_ascii_whitespace().collect())
}

/// utime + stime in clock ticks (fields 14 and 15 of `/proc/<pid>/stat`).
fn parse_stat_cpu_ticks(stat: &str) -> Option<u64> {
    let fields = fields_after_comm(stat)?;
    // fields[0] is field 3 (state).
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some(utime + stime)
}

fn parse_stat_parent(stat: &str) -> Option<u32> {
    fields_after_comm(stat)?.get(1)?.parse().ok()
}

fn parse_status_rss_kib(status: &str) -> Option<u64> {
    let line = status.lines().find(|line| line.starts_with("VmRSS:"))?;
    line.split_ascii_whitespace().nth(1)?.parse().ok()
}

fn clock_ticks_per_second() -> u64 {
    // SAFETY: sysconf has no preconditions; it returns -1 when the value is unknown.
    let ticks = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    u64::try_from(ticks).ok().filter(|&t| t > 0).unwrap_or(100)
}

fn ticks_to_duration(ticks: u64, per_second: u64) -> Duration {
    Duration::from_nanos(ticks.saturating_mul(1_000_000_000) / per_second)
}

#[cfg(test)]
mod tests {
    use super::*;

    const STAT: &str = "4242 (nginx: worker) process) S 4241 4241 1 0 -1 4194624 300 0 0 0 \
                        1500 250 0 0 20 0 1 0 123456 10000000 1500 18446744073709551615";

    #[test]
    fn cpu_ticks_are_user_plus_system_even_with_parentheses_in_the_name() {
        assert_eq!(parse_stat_cpu_ticks(STAT), Some(1750));
        assert_eq!(parse_stat_parent(STAT), Some(4241));
    }

    #[test]
    fn truncated_stat_is_not_read_as_zero() {
        assert_eq!(parse_stat_cpu_ticks("1 (x) S 0 1 1"), None);
        assert_eq!(parse_stat_cpu_ticks("garbage"), None);
    }

    #[test]
    fn rss_comes_from_vmrss_in_kib() {
        let status = "Name:\tnginx\nVmHWM:\t  9000 kB\nVmRSS:\t  6144 kB\nThreads:\t1\n";
        assert_eq!(parse_status_rss_kib(status), Some(6144));
        assert_eq!(parse_status_rss_kib("Name:\tkthread\n"), None);
    }

    #[test]
    fn ticks_convert_at_the_kernel_rate() {
        assert_eq!(ticks_to_duration(250, 100), Duration::from_millis(2500));
    }

    #[test]
    fn this_process_has_cpu_time_memory_and_no_unknown_pid() {
        let me = std::process::id();
        assert!(rss_bytes(me).unwrap() > 1024 * 1024);
        cpu_time(me).unwrap();
        let missing = cpu_time(u32::MAX).unwrap_err();
        assert!(
            missing.to_string().contains("/proc/4294967295/stat"),
            "{missing}"
        );
    }

    #[test]
    fn finds_the_children_of_a_process() {
        let mut child = std::process::Command::new("sleep")
            .arg("5")
            .spawn()
            .unwrap();
        let found = children(std::process::id());
        let _ = child.kill();
        let _ = child.wait();
        assert!(found.contains(&child.id()), "{found:?}");
    }
}
