//! The load tool: wrk (closed loop, one thread), its command line and its report.
use std::net::SocketAddr;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use crate::duration::wrk_seconds;

/// What one wrk run measured.
#[derive(Debug, Clone, PartialEq)]
pub struct WrkReport {
    pub requests: u64,
    pub requests_per_second: f64,
    pub p50: Duration,
    pub p99: Duration,
    /// Responses that were not 2xx/3xx: a misrouted or failing target, never a valid run.
    pub non_success: u64,
    /// connect + read + write + timeout errors.
    pub socket_errors: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum WrkError {
    #[error("cannot run {program}: {source}")]
    Spawn {
        program: String,
        #[source]
        source: std::io::Error,
    },
    #[error("wrk failed ({status}): {stderr}")]
    Failed {
        status: std::process::ExitStatus,
        stderr: String,
    },
    #[error("wrk report has no {what}:\n{output}")]
    Unreadable { what: &'static str, output: String },
}

/// One load run's settings.
#[derive(Debug, Clone)]
pub struct Load<'a> {
    pub wrk: &'a Path,
    pub cpu: usize,
    pub connections: usize,
    pub duration: Duration,
    pub host: &'a str,
    pub address: SocketAddr,
}

impl Load<'_> {
    /// `taskset -c CPU wrk -t1 -cN -dS --latency -H 'Host: ..' http://ADDR/`.
    pub fn command(&self) -> Command {
        let mut command = Command::new("taskset");
        command
            .arg("-c")
            .arg(self.cpu.to_string())
            .arg(self.wrk)
            .arg("-t1")
            .arg(format!("-c{}", self.connections))
            .arg(format!("-d{}s", wrk_seconds(self.duration)))
            .arg("--latency")
            .arg("-H")
            .arg(format!("Host: {}", self.host))
            .arg(format!("http://{}/", self.address));
        command
    }

    /// Runs wrk to the end and reads its report.
    pub fn run(&self) -> Result<WrkReport, WrkError> {
        let output = self.command().output().map_err(|source| WrkError::Spawn {
            program: self.wrk.display().to_string(),
            source,
        })?;
        if !output.status.success() {
            return Err(WrkError::Failed {
                status: output.status,
                stderr: String::from_utf8_lossy(&output.stderr).trim().to_owned(),
            });
        }
        parse_report(&String::from_utf8_lossy(&output.stdout))
    }
}

/// Reads wrk's text report (with `--latency`).
pub fn parse_report(output: &str) -> Result<WrkReport, WrkError> {
    let missing = |what| WrkError::Unreadable {
        what,
        output: output.to_owned(),
    };
    let mut requests = None;
    let mut requests_per_second = None;
    let mut p50 = None;
    let mut p99 = None;
    let mut non_success = 0;
    let mut socket_errors = 0;
    for line in output.lines().map(str::trim) {
        if let Some(rate) = line.strip_prefix("Requests/sec:") {
            requests_per_second = rate.trim().parse::<f64>().ok();
        } else if let Some((count, _)) = line.split_once(" requests in ") {
            requests = count.trim().parse::<u64>().ok();
        } else if let Some(value) = line.strip_prefix("50%") {
            p50 = parse_latency(value.trim());
        } else if let Some(value) = line.strip_prefix("99%") {
            p99 = parse_latency(value.trim());
        } else if let Some(count) = line.strip_prefix("Non-2xx or 3xx responses:") {
            non_success = count.trim().parse().map_err(|_| missing("non-2xx count"))?;
        } else if let Some(errors) = line.strip_prefix("Socket errors:") {
            socket_errors = errors
                .split(',')
                .filter_map(|part| part.split_ascii_whitespace().nth(1)?.parse::<u64>().ok())
                .sum();
        }
    }
    Ok(WrkReport {
        requests: requests.ok_or_else(|| missing("request count"))?,
        requests_per_second: requests_per_second.ok_or_else(|| missing("Requests/sec"))?,
        p50: p50.ok_or_else(|| missing("50% latency (was --latency given?)"))?,
        p99: p99.ok_or_else(|| missing("99% latency (was --latency given?)"))?,
        non_success,
        socket_errors,
    })
}

/// wrk prints latencies as `572.23us`, `1.02ms`, `2.00s`, `1.50m`.
fn parse_latency(text: &str) -> Option<Duration> {
    let split = text.find(|c: char| c.is_ascii_alphabetic())?;
    let (number, unit) = text.split_at(split);
    let value: f64 = number.trim().parse().ok()?;
    let micros = match unit {
        "us" => value,
        "ms" => value * 1e3,
        "s" => value * 1e6,
        "m" => value * 60e6,
        _ => return None,
    };
    (micros.is_finite() && micros >= 0.0).then(|| Duration::from_nanos((micros * 1e3) as u64))
}

#[cfg(test)]
mod tests {
    use super::*;

    const REPORT: &str = "Running 8s test @ http://127.0.0.1:18081/
  1 threads and 50 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency   572.23us  120.10us   5.23ms   89.12%
    Req/Sec    87.45k     2.10k   90.12k    72.00%
  Latency Distribution
     50%  550.00us
     75%  600.00us
     90%  700.00us
     99%    1.02ms
  696123 requests in 8.00s, 100.00MB read
Requests/sec:  87012.34
Transfer/sec:     12.50MB
";

    #[test]
    fn reads_rate_count_and_percentiles() {
        let report = parse_report(REPORT).unwrap();
        assert_eq!(report.requests, 696_123);
        assert!((report.requests_per_second - 87_012.34).abs() < 1e-6);
        assert_eq!(report.p50, Duration::from_micros(550));
        assert_eq!(report.p99, Duration::from_micros(1020));
        assert_eq!((report.non_success, report.socket_errors), (0, 0));
    }

    #[test]
    fn counts_failed_responses_and_socket_errors() {
        let failing = REPORT.replace(
            "Requests/sec:",
            "  Non-2xx or 3xx responses: 12\n  Socket errors: connect 1, read 2, write 0, timeout 3\nRequests/sec:",
        );
        let report = parse_report(&failing).unwrap();
        assert_eq!(report.non_success, 12);
        assert_eq!(report.socket_errors, 6);
    }

    #[test]
    fn report_without_latency_distribution_is_an_error() {
        let without: String = REPORT
            .lines()
            .filter(|l| !l.trim_start().starts_with("99%"))
            .collect::<Vec<_>>()
            .join("\n");
        let err = parse_report(&without).unwrap_err();
        assert!(err.to_string().contains("99% latency"), "{err}");
        let err = parse_report("unable to connect to 127.0.0.1:1 Connection refused").unwrap_err();
        assert!(err.to_string().contains("request count"), "{err}");
    }

    #[test]
    fn latency_units() {
        assert_eq!(parse_latency("2.00s"), Some(Duration::from_secs(2)));
        assert_eq!(parse_latency("1.50m"), Some(Duration::from_secs(90)));
        assert_eq!(parse_latency("12.5us"), Some(Duration::from_nanos(12_500)));
        assert_eq!(parse_latency("12.5"), None);
        assert_eq!(parse_latency("3.0h"), None);
    }

    #[test]
    fn command_pins_wrk_and_sets_the_host() {
        let load = Load {
            wrk: Path::new("/usr/bin/wrk"),
            cpu: 0,
            connections: 50,
            duration: Duration::from_secs(8),
            host: "h9999.bench.test",
            address: "127.0.0.1:18081".parse().unwrap(),
        };
        let command = load.command();
        let args: Vec<_> = command
            .get_args()
            .map(|a| a.to_string_lossy().into_owned())
            .collect();
        assert_eq!(command.get_program(), "taskset");
        assert_eq!(
            args,
            [
                "-c",
                "0",
                "/usr/bin/wrk",
                "-t1",
                "-c50",
                "-d8s",
                "--latency",
                "-H",
                "Host: h9999.bench.test",
                "http://127.0.0.1:18081/"
            ]
        );
    }
}
