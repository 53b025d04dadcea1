//! What the benchmark measured, and how it is printed: a table per scenario, the ratios of
//! Mesh to each peer, and the targets section (met / missed, with the figures).
use std::fmt::Write as _;
use std::time::Duration;

use crate::stats::{median, spread};

/// The things measured, in table order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum TargetKind {
    /// wrk straight to the backend: the ceiling of the load side, not a proxy.
    Direct,
    Nginx,
    Traefik,
    Mesh,
}

impl TargetKind {
    pub fn name(self) -> &'static str {
        match self {
            TargetKind::Direct => "backend direct",
            TargetKind::Nginx => "nginx",
            TargetKind::Traefik => "traefik",
            TargetKind::Mesh => "mesh",
        }
    }

    pub fn is_proxy(self) -> bool {
        self != TargetKind::Direct
    }
}

/// One wrk run against one target.
#[derive(Debug, Clone, PartialEq)]
pub struct Round {
    pub requests_per_second: f64,
    pub p50: Duration,
    pub p99: Duration,
    /// Proxy CPU time (user + system) during the run divided by the requests served.
    pub cpu_per_request: Option<Duration>,
    /// Proxy CPU time over wall time: ~1.0 when the proxy's core is the bottleneck.
    pub cpu_share: Option<f64>,
    pub loaded_rss: Option<u64>,
}

/// Every round of one target in one scenario, or why it could not be measured.
#[derive(Debug, Clone, PartialEq)]
pub struct TargetResult {
    pub kind: TargetKind,
    /// RSS after start-up and one request, before any load.
    pub idle_rss: Option<u64>,
    pub rounds: Vec<Round>,
    pub failure: Option<String>,
}

/// Medians over the rounds.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Summary {
    pub requests_per_second: f64,
    pub rps_spread: Option<f64>,
    pub p50_us: f64,
    pub p99_us: f64,
    pub cpu_us_per_request: Option<f64>,
    pub cpu_share: Option<f64>,
    pub idle_rss: Option<u64>,
    pub loaded_rss: Option<u64>,
}

impl TargetResult {
    pub fn new(kind: TargetKind) -> Self {
        TargetResult {
            kind,
            idle_rss: None,
            rounds: Vec::new(),
            failure: None,
        }
    }

    pub fn summary(&self) -> Option<Summary> {
        let collect = |f: &dyn Fn(&Round) -> Option<f64>| -> Vec<f64> {
            self.rounds.iter().filter_map(f).collect()
        };
        let rps = collect(&|r| Some(r.requests_per_second));
        Some(Summary {
            requests_per_second: median(&rps)?,
            rps_spread: spread(&rps),
            p50_us: median(&collect(&|r| Some(micros(r.p50))))?,
            p99_us: median(&collect(&|r| Some(micros(r.p99))))?,
            cpu_us_per_request: median(&collect(&|r| r.cpu_per_request.map(micros))),
            cpu_share: median(&collect(&|r| r.cpu_share)),
            idle_rss: self.idle_rss,
            loaded_rss: median(&collect(&|r| r.loaded_rss.map(|b| b as f64))).map(|b| b as u64),
        })
    }
}

/// All targets for one route count.
#[derive(Debug, Clone, PartialEq)]
pub struct Scenario {
    pub routers: usize,
    pub host: String,
    pub results: Vec<TargetResult>,
}

impl Scenario {
    pub fn summary(&self, kind: TargetKind) -> Option<Summary> {
        self.results.iter().find(|r| r.kind == kind)?.summary()
    }
}

/// The in-process cost of `Proxy::apply` for a number of routers.
#[derive(Debug, Clone, PartialEq)]
pub struct ApplyTiming {
    pub routers: usize,
    /// Median wall time of applying to a fresh proxy.
    pub first: Duration,
    /// Median wall time of applying the same configuration again to a serving proxy.
    pub again: Duration,
    /// Median CPU time (this process, all threads) of a first apply.
    pub first_cpu: Duration,
    /// Mesh's own figure (`ApplyReport::apply_seconds`) for the median first apply.
    pub reported: Duration,
}

fn micros(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1e6
}

pub fn megabytes(bytes: u64) -> f64 {
    bytes as f64 / 1e6
}

fn latency(us: f64) -> String {
    if us >= 1000.0 {
        format!("{:.2}ms", us / 1000.0)
    } else {
        format!("{us:.0}us")
    }
}

fn optional(value: Option<f64>, format: impl Fn(f64) -> String) -> String {
    value.map_or_else(|| "-".to_owned(), format)
}

/// The table of one scenario and the ratios of Mesh to each peer.
pub fn format_scenario(scenario: &Scenario) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{:<15} {:>10} {:>7} {:>9} {:>9} {:>11} {:>8} {:>9} {:>10}",
        "target", "req/s", "spread", "p50", "p99", "cpu-us/req", "cpu%", "rss idle", "rss load"
    );
    for result in &scenario.results {
        let Some(s) = result.summary() else {
            let why = result.failure.as_deref().unwrap_or("no round completed");
            let _ = writeln!(out, "{:<15} not measured: {why}", result.kind.name());
            continue;
        };
        let _ = writeln!(
            out,
            "{:<15} {:>10.0} {:>7} {:>9} {:>9} {:>11} {:>8} {:>9} {:>10}",
            result.kind.name(),
            s.requests_per_second,
            optional(s.rps_spread, |v| format!("{:.1}%", v * 100.0)),
            latency(s.p50_us),
            latency(s.p99_us),
            optional(s.cpu_us_per_request, |v| format!("{v:.1}")),
            optional(s.cpu_share, |v| format!("{:.0}%", v * 100.0)),
            optional(s.idle_rss.map(megabytes), |v| format!("{v:.1}MB")),
            optional(s.loaded_rss.map(megabytes), |v| format!("{v:.1}MB")),
        );
        if let Some(failure) = &result.failure {
            let _ = writeln!(out, "{:<15} (incomplete: {failure})", "");
        }
    }
    let Some(mesh) = scenario.summary(TargetKind::Mesh) else {
        return out;
    };
    for peer in [TargetKind::Nginx, TargetKind::Traefik] {
        let Some(other) = scenario.summary(peer) else {
            continue;
        };
        let ratio = |a: Option<f64>, b: Option<f64>| match (a, b) {
            (Some(a), Some(b)) if b > 0.0 => format!("{:.2}x", a / b),
            _ => "-".to_owned(),
        };
        let _ = writeln!(
            out,
            "mesh/{:<8} req/s {}  p50 {}  p99 {}  cpu/req {}  rss idle {}  rss load {}",
            peer.name(),
            ratio(
                Some(mesh.requests_per_second),
                Some(other.requests_per_second)
            ),
            ratio(Some(mesh.p50_us), Some(other.p50_us)),
            ratio(Some(mesh.p99_us), Some(other.p99_us)),
            ratio(mesh.cpu_us_per_request, other.cpu_us_per_request),
            ratio(
                mesh.idle_rss.map(|b| b as f64),
                other.idle_rss.map(|b| b as f64)
            ),
            ratio(
                mesh.loaded_rss.map(|b| b as f64),
                other.loaded_rss.map(|b| b as f64)
            ),
        );
    }
    out
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Met,
    Missed,
    /// A figure it needs was not measured (a target failed or was not selected).
    NotMeasured,
}

/// One target of the issue, checked against the figures.
#[derive(Debug, Clone, PartialEq)]
pub struct Check {
    pub goal: String,
    pub verdict: Verdict,
    pub figures: String,
}

impl Check {
    fn compare(
        goal: String,
        measured: Option<(f64, String)>,
        passes: impl Fn(f64) -> bool,
    ) -> Check {
        match measured {
            Some((value, figures)) => Check {
                goal,
                verdict: if passes(value) {
                    Verdict::Met
                } else {
                    Verdict::Missed
                },
                figures,
            },
            None => Check {
                goal,
                verdict: Verdict::NotMeasured,
                figures: "not measured".to_owned(),
            },
        }
    }
}

/// The targets, each with a verdict and the figures behind it.
pub fn evaluate(scenarios: &[Scenario], apply: Option<&ApplyTiming>) -> Vec<Check> {
    let mut checks = Vec::new();
    for scenario in scenarios {
        let n = scenario.routers;
        let mesh = scenario.summary(TargetKind::Mesh);
        let nginx = scenario.summary(TargetKind::Nginx);
        let traefik = scenario.summary(TargetKind::Traefik);
        let pair = |peer: Option<Summary>, field: fn(&Summary) -> Option<f64>| {
            let (m, p) = (field(&mesh?)?, field(&peer?)?);
            (p > 0.0).then_some((m / p, m, p))
        };
        let rps = |s: &Summary| Some(s.requests_per_second);
        let cpu = |s: &Summary| s.cpu_us_per_request;
        let p99 = |s: &Summary| Some(s.p99_us);
        checks.push(Check::compare(
            format!("req/s Mesh >= 0.9x nginx ({n} routers)"),
            pair(nginx, rps).map(|(r, m, p)| (r, format!("{r:.2}x ({m:.0} vs {p:.0} req/s)"))),
            |r| r >= 0.9,
        ));
        checks.push(Check::compare(
            format!("req/s Mesh >= 3x Traefik ({n} routers)"),
            pair(traefik, rps).map(|(r, m, p)| (r, format!("{r:.2}x ({m:.0} vs {p:.0} req/s)"))),
            |r| r >= 3.0,
        ));
        checks.push(Check::compare(
            format!("CPU/request Mesh <= 1.2x nginx ({n} routers)"),
            pair(nginx, cpu).map(|(r, m, p)| (r, format!("{r:.2}x ({m:.1} vs {p:.1} us)"))),
            |r| r <= 1.2,
        ));
        checks.push(Check::compare(
            format!("p99 Mesh <= 1.5x nginx ({n} routers)"),
            pair(nginx, p99)
                .map(|(r, m, p)| (r, format!("{r:.2}x ({} vs {})", latency(m), latency(p)))),
            |r| r <= 1.5,
        ));
    }
    let smallest = scenarios.iter().min_by_key(|s| s.routers);
    let largest = scenarios
        .iter()
        .max_by_key(|s| s.routers)
        .filter(|s| s.routers > 1);
    if let (Some(small), Some(large)) = (smallest, largest) {
        let figures = small
            .summary(TargetKind::Mesh)
            .zip(large.summary(TargetKind::Mesh))
            .filter(|(s, _)| s.requests_per_second > 0.0)
            .map(|(s, l)| {
                let (s, l) = (s.requests_per_second, l.requests_per_second);
                (l / s, format!("{:.2}x ({l:.0} vs {s:.0} req/s)", l / s))
            });
        checks.push(Check::compare(
            format!(
                "Mesh req/s at {} routers >= 0.9x at {}",
                large.routers, small.routers
            ),
            figures,
            |r| r >= 0.9,
        ));
    }
    if let Some(small) = smallest {
        let idle = small.summary(TargetKind::Mesh).and_then(|s| s.idle_rss);
        checks.push(Check::compare(
            format!("Mesh idle RSS <= 20 MB ({} routers)", small.routers),
            idle.map(|b| (megabytes(b), format!("{:.1} MB", megabytes(b)))),
            |mb| mb <= 20.0,
        ));
    }
    if let Some(large) = largest {
        let mesh = large.summary(TargetKind::Mesh);
        let worst = mesh.and_then(|s| match (s.idle_rss, s.loaded_rss) {
            (Some(i), Some(l)) => Some((i.max(l), i, l)),
            _ => None,
        });
        checks.push(Check::compare(
            format!(
                "Mesh RSS <= 100 MB at {} routers (idle and loaded)",
                large.routers
            ),
            worst.map(|(w, i, l)| {
                (
                    megabytes(w),
                    format!("idle {:.1} MB, loaded {:.1} MB", megabytes(i), megabytes(l)),
                )
            }),
            |mb| mb <= 100.0,
        ));
    }
    if let Some(apply) = apply {
        let ms = apply.first.as_secs_f64() * 1e3;
        checks.push(Check::compare(
            format!("apply of {} routers < 100 ms", apply.routers),
            Some((
                ms,
                format!(
                    "{ms:.1} ms (again: {:.1} ms)",
                    apply.again.as_secs_f64() * 1e3
                ),
            )),
            |ms| ms < 100.0,
        ));
    }
    checks
}

pub fn format_checks(checks: &[Check]) -> String {
    let mut out = String::new();
    for check in checks {
        let verdict = match check.verdict {
            Verdict::Met => "met",
            Verdict::Missed => "MISSED",
            Verdict::NotMeasured => "n/a",
        };
        let _ = writeln!(out, "  [{verdict:^6}] {:<56} {}", check.goal, check.figures);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round(rps: f64, p99_us: u64, cpu_us: u64) -> Round {
        Round {
            requests_per_second: rps,
            p50: Duration::from_micros(p99_us / 2),
            p99: Duration::from_micros(p99_us),
            cpu_per_request: Some(Duration::from_micros(cpu_us)),
            cpu_share: Some(0.99),
            loaded_rss: Some(8_000_000),
        }
    }

    fn result(kind: TargetKind, rounds: Vec<Round>, idle: u64) -> TargetResult {
        TargetResult {
            kind,
            idle_rss: Some(idle),
            rounds,
            failure: None,
        }
    }

    fn scenario(routers: usize, mesh_rps: f64, mesh_idle: u64) -> Scenario {
        Scenario {
            routers,
            host: "h0.bench.test".into(),
            results: vec![
                result(
                    TargetKind::Nginx,
                    vec![round(90_000.0, 1000, 11)],
                    6_000_000,
                ),
                result(
                    TargetKind::Traefik,
                    vec![round(18_000.0, 10_000, 55)],
                    87_000_000,
                ),
                result(
                    TargetKind::Mesh,
                    vec![
                        round(mesh_rps, 1200, 12),
                        round(mesh_rps + 2.0, 1400, 12),
                        round(mesh_rps - 2.0, 1300, 30),
                    ],
                    mesh_idle,
                ),
            ],
        }
    }

    fn verdict(checks: &[Check], goal_start: &str) -> Verdict {
        checks
            .iter()
            .find(|c| c.goal.starts_with(goal_start))
            .map(|c| c.verdict)
            .unwrap()
    }

    #[test]
    fn summary_takes_the_median_of_each_figure() {
        let s = scenario(1, 85_000.0, 4_000_000)
            .summary(TargetKind::Mesh)
            .unwrap();
        assert_eq!(s.requests_per_second, 85_000.0);
        assert_eq!(s.p99_us, 1300.0);
        assert_eq!(s.cpu_us_per_request, Some(12.0));
    }

    #[test]
    fn targets_met_and_missed_follow_the_figures() {
        let scenarios = [
            scenario(1, 85_000.0, 4_000_000),
            scenario(10_000, 70_000.0, 30_000_000),
        ];
        let apply = ApplyTiming {
            routers: 10_000,
            first: Duration::from_millis(150),
            again: Duration::from_millis(90),
            first_cpu: Duration::from_millis(150),
            reported: Duration::from_millis(149),
        };
        let checks = evaluate(&scenarios, Some(&apply));
        assert_eq!(
            verdict(&checks, "req/s Mesh >= 0.9x nginx (1 routers)"),
            Verdict::Met
        );
        assert_eq!(
            verdict(&checks, "req/s Mesh >= 0.9x nginx (10000 routers)"),
            Verdict::Missed
        );
        assert_eq!(
            verdict(&checks, "req/s Mesh >= 3x Traefik (1 routers)"),
            Verdict::Met
        );
        assert_eq!(
            verdict(&checks, "CPU/request Mesh <= 1.2x nginx (1 routers)"),
            Verdict::Met
        );
        assert_eq!(
            verdict(&checks, "p99 Mesh <= 1.5x nginx (1 routers)"),
            Verdict::Met
        );
        assert_eq!(
            verdict(&checks, "Mesh req/s at 10000 routers"),
            Verdict::Missed
        );
        assert_eq!(verdict(&checks, "Mesh idle RSS <= 20 MB"), Verdict::Met);
        assert_eq!(verdict(&checks, "Mesh RSS <= 100 MB"), Verdict::Met);
        assert_eq!(verdict(&checks, "apply of 10000 routers"), Verdict::Missed);
        let scale = checks
            .iter()
            .find(|c| c.goal.starts_with("Mesh req/s at"))
            .unwrap();
        assert_eq!(scale.figures, "0.82x (70000 vs 85000 req/s)");
    }

    #[test]
    fn a_failed_target_is_not_measured_never_met() {
        let mut only = scenario(1, 85_000.0, 4_000_000);
        only.results.retain(|r| r.kind != TargetKind::Mesh);
        only.results.push(TargetResult {
            failure: Some("Mesh exited".into()),
            ..TargetResult::new(TargetKind::Mesh)
        });
        let checks = evaluate(&[only.clone()], None);
        assert!(
            checks.iter().all(|c| c.verdict == Verdict::NotMeasured),
            "{checks:#?}"
        );
        let table = format_scenario(&only);
        assert!(
            table.contains("mesh            not measured: Mesh exited"),
            "{table}"
        );
        assert!(!table.contains("mesh/"), "{table}");
    }

    #[test]
    fn table_prints_ratios_against_each_peer() {
        let table = format_scenario(&scenario(1, 90_000.0, 4_000_000));
        assert!(table.contains("mesh/nginx    req/s 1.00x"), "{table}");
        assert!(table.contains("mesh/traefik  req/s 5.00x"), "{table}");
        assert!(table.contains("1.30ms"), "{table}");
    }
}
