//! The whole benchmark: a backend, then for each route count every selected target started
//! on the proxy core, rounds of wrk interleaved across targets, medians, ratios, targets.
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::Context as _;

use crate::configs::{dynamic_config_yaml, nginx_conf, traefik_static_yaml, write};
use crate::process::{Spawned, free_loopback_address};
use crate::report::{self, Round, Scenario, TargetKind, TargetResult, format_scenario};
use crate::routes::RouteSet;
use crate::wrk::Load;
use crate::{BACKEND_BODY, apply_time, procfs};

/// Where the programs under test are.
#[derive(Debug, Clone)]
pub struct Tools {
    pub wrk: PathBuf,
    pub nginx: Option<PathBuf>,
    pub traefik: Option<PathBuf>,
    /// This benchmark's own binary: re-executed as `serve-mesh` and `serve-backend`.
    pub bench: PathBuf,
}

#[derive(Debug, Clone)]
pub struct Settings {
    pub duration: Duration,
    pub warmup: Duration,
    pub rounds: usize,
    pub connections: usize,
    pub routers: Vec<usize>,
    /// Proxies to measure (the direct backend run is added to the first scenario).
    pub proxies: Vec<TargetKind>,
    pub proxy_cpu: usize,
    pub load_cpu: usize,
    pub mesh_threads: usize,
    pub apply_routers: usize,
    pub start_timeout: Duration,
    /// Scheduling niceness for this process and every child (0: unchanged). A negative value
    /// keeps unrelated work on a shared machine from landing in the middle of a round.
    pub nice: i32,
    pub tools: Tools,
}

/// A target started and serving the scenario's route.
struct Running {
    kind: TargetKind,
    address: SocketAddr,
    /// `None` for the direct run: nothing to account CPU to.
    process: Option<Spawned>,
}

impl Running {
    /// The processes whose CPU time is the target's: nginx's master and workers.
    fn pids(&self) -> Vec<u32> {
        let Some(process) = &self.process else {
            return Vec::new();
        };
        let mut pids = vec![process.pid()];
        if self.kind == TargetKind::Nginx {
            pids.extend(procfs::children(process.pid()));
        }
        pids
    }

    /// The process whose memory is reported: nginx's worker (as in the reference figures).
    fn rss_pid(&self) -> Option<u32> {
        let process = self.process.as_ref()?;
        if self.kind == TargetKind::Nginx
            && let Some(worker) = procfs::children(process.pid()).into_iter().next()
        {
            return Some(worker);
        }
        Some(process.pid())
    }

    fn cpu_time(&self) -> Option<Duration> {
        let pids = self.pids();
        if pids.is_empty() {
            return None;
        }
        pids.iter().map(|&pid| procfs::cpu_time(pid).ok()).sum()
    }
}

/// Runs everything and prints as it goes. Errors only for what makes the whole run
/// meaningless (no wrk, no backend); a target that fails is reported in its table.
pub fn run(settings: &Settings) -> anyhow::Result<()> {
    print_header(settings);
    pin_this_process(settings.load_cpu)?;
    if settings.nice != 0 {
        set_niceness(settings.nice)?;
    }
    let dir = tempfile::Builder::new().prefix("mesh-bench-").tempdir()?;

    let backend_address = free_loopback_address()?;
    let mut backend = Spawned::start(
        "backend",
        settings.load_cpu,
        &settings.tools.bench,
        ["serve-backend", "--listen", &backend_address.to_string()],
        &[],
        dir.path(),
    )?;
    backend.wait_serving(
        backend_address,
        "backend",
        BACKEND_BODY,
        settings.start_timeout,
    )?;

    let mut scenarios = Vec::new();
    let smallest = settings.routers.iter().copied().min().unwrap_or(1);
    for &count in &settings.routers {
        let routes = RouteSet::new(count, backend_address);
        let scenario_dir = dir.path().join(format!("routers-{count}"));
        std::fs::create_dir_all(&scenario_dir)?;
        let mut kinds = Vec::new();
        if count == smallest {
            kinds.push(TargetKind::Direct);
        }
        kinds.extend(settings.proxies.iter().copied());
        println!(
            "\n== {count} Host() router(s), request to the last-declared host {} ==",
            routes.target_host()
        );
        let scenario = run_scenario(settings, &routes, &kinds, &scenario_dir);
        print!("{}", format_scenario(&scenario));
        scenarios.push(scenario);
    }
    drop(backend);

    println!("\n== apply time (in-process Proxy::apply, median of 5) ==");
    let apply = match apply_time::measure(settings.apply_routers, 5) {
        Ok(timing) => {
            println!(
                "{} routers: first apply {:.1} ms (CPU {:.1} ms, Mesh's own figure {:.1} ms); \
                 re-apply while serving {:.1} ms",
                timing.routers,
                ms(timing.first),
                ms(timing.first_cpu),
                ms(timing.reported),
                ms(timing.again)
            );
            Some(timing)
        }
        Err(err) => {
            println!("not measured: {err:#}");
            None
        }
    };

    println!("\n== Mesh idle RSS ==");
    for scenario in &scenarios {
        let idle = scenario.summary(TargetKind::Mesh).and_then(|s| s.idle_rss);
        match idle {
            Some(bytes) => println!(
                "{} router(s): {:.1} MB",
                scenario.routers,
                report::megabytes(bytes)
            ),
            None => println!("{} router(s): not measured", scenario.routers),
        }
    }

    println!("\n== targets ==");
    print!(
        "{}",
        report::format_checks(&report::evaluate(&scenarios, apply.as_ref()))
    );
    println!("\nload average at the end: {}", load_average());
    Ok(())
}

fn ms(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1e3
}

fn run_scenario(
    settings: &Settings,
    routes: &RouteSet,
    kinds: &[TargetKind],
    dir: &Path,
) -> Scenario {
    let host = routes.target_host();
    let mut results: Vec<TargetResult> =
        kinds.iter().map(|&kind| TargetResult::new(kind)).collect();
    let mut running: Vec<Option<Running>> = Vec::new();
    for result in &mut results {
        let started = Instant::now();
        match start_target(settings, result.kind, routes, dir) {
            Ok(target) => {
                eprintln!(
                    "  {} serving {} in {:.2}s",
                    result.kind.name(),
                    host,
                    started.elapsed().as_secs_f64()
                );
                // Let start-up work (Go's GC, lazy allocations) settle before the idle figure.
                std::thread::sleep(Duration::from_millis(500));
                result.idle_rss = target.rss_pid().and_then(|pid| procfs::rss_bytes(pid).ok());
                running.push(Some(target));
            }
            Err(err) => {
                eprintln!("  {}: {err:#}", result.kind.name());
                result.failure = Some(format!("{err:#}"));
                running.push(None);
            }
        }
    }

    for round in 0..settings.rounds {
        for (result, target) in results.iter_mut().zip(&mut running) {
            let Some(live) = target else { continue };
            if round == 0 && !settings.warmup.is_zero() {
                let _ = load(settings, &host, live, settings.warmup).run();
            }
            match measure_round(settings, &host, live) {
                Ok((measured, note)) => {
                    eprintln!(
                        "  round {}: {:<15} {:>8.0} req/s",
                        round + 1,
                        result.kind.name(),
                        measured.requests_per_second
                    );
                    result.rounds.push(measured);
                    if let Some(note) = note {
                        result.failure = Some(note);
                    }
                }
                Err(err) => {
                    eprintln!("  round {}: {}: {err:#}", round + 1, result.kind.name());
                    result.failure = Some(format!("{err:#}"));
                    *target = None;
                }
            }
        }
    }
    Scenario {
        routers: routes.count,
        host,
        results,
    }
}

fn load<'a>(
    settings: &'a Settings,
    host: &'a str,
    target: &Running,
    duration: Duration,
) -> Load<'a> {
    Load {
        wrk: &settings.tools.wrk,
        cpu: settings.load_cpu,
        connections: settings.connections,
        duration,
        host,
        address: target.address,
    }
}

/// One measured wrk run; the note says what made the round suspicious but still usable.
fn measure_round(
    settings: &Settings,
    host: &str,
    target: &mut Running,
) -> anyhow::Result<(Round, Option<String>)> {
    if let Some(process) = &mut target.process {
        process
            .wait_serving(target.address, host, BACKEND_BODY, Duration::ZERO)
            .context("before the round")?;
    }
    let rss_pid = target.rss_pid();
    let sample_after = settings.duration.mul_f64(0.75);
    let rss_sampler = std::thread::spawn(move || {
        std::thread::sleep(sample_after);
        rss_pid.and_then(|pid| procfs::rss_bytes(pid).ok())
    });
    let cpu_before = target.cpu_time();
    let started = Instant::now();
    let wrk = load(settings, host, target, settings.duration).run()?;
    let wall = started.elapsed();
    let cpu_used = cpu_before
        .zip(target.cpu_time())
        .map(|(before, after)| after.saturating_sub(before));
    let loaded_rss = rss_sampler.join().ok().flatten();

    if wrk.non_success > 0 {
        anyhow::bail!(
            "{} of {} responses were not 2xx/3xx",
            wrk.non_success,
            wrk.requests
        );
    }
    if wrk.requests == 0 {
        anyhow::bail!("no request completed");
    }
    let note =
        (wrk.socket_errors > 0).then(|| format!("{} socket errors in a round", wrk.socket_errors));
    let round = Round {
        requests_per_second: wrk.requests_per_second,
        p50: wrk.p50,
        p99: wrk.p99,
        cpu_per_request: cpu_used.map(|cpu| cpu / u32::try_from(wrk.requests).unwrap_or(u32::MAX)),
        cpu_share: cpu_used.map(|cpu| cpu.as_secs_f64() / wall.as_secs_f64()),
        loaded_rss,
    };
    Ok((round, note))
}

fn start_target(
    settings: &Settings,
    kind: TargetKind,
    routes: &RouteSet,
    dir: &Path,
) -> anyhow::Result<Running> {
    let address = free_loopback_address()?;
    let mut process = match kind {
        TargetKind::Direct => {
            return Ok(Running {
                kind,
                address: routes.backend,
                process: None,
            });
        }
        TargetKind::Nginx => start_nginx(settings, routes, address, dir)?,
        TargetKind::Traefik => start_traefik(settings, routes, address, dir)?,
        TargetKind::Mesh => start_mesh(settings, routes, address, dir)?,
    };
    let host = routes.target_host();
    process.wait_serving(address, &host, BACKEND_BODY, settings.start_timeout)?;
    Ok(Running {
        kind,
        address,
        process: Some(process),
    })
}

const NOT_INSTALLED: &str = "not installed (run bench/install-peers.sh)";

fn start_nginx(
    settings: &Settings,
    routes: &RouteSet,
    address: SocketAddr,
    dir: &Path,
) -> anyhow::Result<Spawned> {
    let nginx = settings
        .tools
        .nginx
        .as_deref()
        .with_context(|| format!("nginx {NOT_INSTALLED}"))?;
    let conf = write(dir, "nginx.conf", &nginx_conf(routes, address, dir))?;
    let (prefix, conf) = (dir.display().to_string(), conf.display().to_string());
    let error_log = dir.join("nginx-startup.log").display().to_string();
    let args = ["-p", &prefix, "-c", &conf, "-e", &error_log];
    Ok(Spawned::start(
        "nginx",
        settings.proxy_cpu,
        nginx,
        args,
        &[],
        dir,
    )?)
}

fn start_traefik(
    settings: &Settings,
    routes: &RouteSet,
    address: SocketAddr,
    dir: &Path,
) -> anyhow::Result<Spawned> {
    let traefik = settings
        .tools
        .traefik
        .as_deref()
        .with_context(|| format!("traefik {NOT_INSTALLED}"))?;
    let dynamic = write(dir, "traefik-dynamic.yml", &dynamic_config_yaml(routes))?;
    let main = write(dir, "traefik.yml", &traefik_static_yaml(address, &dynamic))?;
    let flag = format!("--configFile={}", main.display());
    let env = [("GOMAXPROCS", "1")];
    Ok(Spawned::start(
        "traefik",
        settings.proxy_cpu,
        traefik,
        [flag],
        &env,
        dir,
    )?)
}

fn start_mesh(
    settings: &Settings,
    routes: &RouteSet,
    address: SocketAddr,
    dir: &Path,
) -> anyhow::Result<Spawned> {
    let config = write(dir, "mesh.yml", &dynamic_config_yaml(routes))?;
    let (config, listen) = (config.display().to_string(), address.to_string());
    let threads = settings.mesh_threads.to_string();
    let args = [
        "serve-mesh",
        "--config",
        &config,
        "--listen",
        &listen,
        "--threads",
        &threads,
    ];
    let env = [("RUST_LOG", "warn")];
    Ok(Spawned::start(
        "mesh",
        settings.proxy_cpu,
        &settings.tools.bench,
        args,
        &env,
        dir,
    )?)
}

/// Children inherit the niceness, so the backend, wrk and every proxy run at the same one.
/// With autogroup scheduling (the default on most kernels) a niceness only weighs inside the
/// session's group, so the benchmark also starts a session of its own and sets that group's
/// niceness; other sessions' work then gets a smaller share of the cores.
fn set_niceness(nice: i32) -> anyhow::Result<()> {
    // SAFETY: setsid and setpriority have no memory preconditions; who = 0 is the calling
    // thread, the only one this process has at this point. setsid fails harmlessly when this
    // process already leads a process group.
    let status = unsafe {
        libc::setsid();
        libc::setpriority(libc::PRIO_PROCESS, 0, nice)
    };
    if status != 0 {
        anyhow::bail!(
            "cannot set niceness {nice}: {}",
            std::io::Error::last_os_error()
        );
    }
    let autogroup = Path::new("/proc/self/autogroup");
    if autogroup.exists() {
        std::fs::write(autogroup, nice.to_string())
            .with_context(|| format!("cannot set the niceness of {}", autogroup.display()))?;
    }
    Ok(())
}

/// Keeps this process (and the threads it starts) off the proxy core.
fn pin_this_process(cpu: usize) -> anyhow::Result<()> {
    // SAFETY: a zeroed cpu_set_t is the empty set; CPU_SET and sched_setaffinity only touch
    // the set we own, and pid 0 means the calling thread.
    let status = unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        libc::CPU_SET(cpu, &mut set);
        libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set)
    };
    if status != 0 {
        anyhow::bail!(
            "cannot pin the benchmark to cpu{cpu}: {}",
            std::io::Error::last_os_error()
        );
    }
    Ok(())
}

fn print_header(settings: &Settings) {
    let cpu_model = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|info| {
            info.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, model)| model.trim().to_owned())
        })
        .unwrap_or_else(|| "unknown".to_owned());
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    println!(
        "Mesh proxy benchmark — {}",
        command_line("date", &["-u", "+%Y-%m-%d %H:%M UTC"])
    );
    println!(
        "machine: {} x {cpu_model}, kernel {}",
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        kernel.trim()
    );
    let first_words = |text: String| {
        text.split_whitespace()
            .take(2)
            .collect::<Vec<_>>()
            .join(" ")
    };
    let traefik = tool_output(settings.tools.traefik.as_deref(), &["version"]).map(|text| {
        let version = text
            .lines()
            .find_map(|line| line.trim().strip_prefix("Version:"));
        format!("traefik {}", version.unwrap_or("unknown").trim())
    });
    println!(
        "versions: mesh {}, {}, {}, {}",
        env!("CARGO_PKG_VERSION"),
        tool_output(Some(&settings.tools.wrk), &["-v"]).map_or_else(not_installed, first_words),
        tool_output(settings.tools.nginx.as_deref(), &["-v"]).map_or_else(not_installed, |text| {
            text.trim().trim_start_matches("nginx version: ").to_owned()
        }),
        traefik.unwrap_or_else(not_installed),
    );
    println!(
        "method: wrk -t1 -c{} -d{}s --latency + backend on cpu{}; proxy alone on cpu{} \
         (nginx 1 worker, Traefik GOMAXPROCS=1, Mesh {} runtime thread(s)); {} round(s), \
         median; {}s warm-up",
        settings.connections,
        crate::duration::wrk_seconds(settings.duration),
        settings.load_cpu,
        settings.proxy_cpu,
        settings.mesh_threads,
        settings.rounds,
        settings.warmup.as_secs_f64(),
    );
    if settings.nice != 0 {
        println!(
            "niceness of every process of the benchmark: {}",
            settings.nice
        );
    }
    println!("load average at the start: {}", load_average());
}

fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|text| {
            text.split_whitespace()
                .take(3)
                .collect::<Vec<_>>()
                .join(" ")
        })
        .unwrap_or_else(|_| "unknown".to_owned())
}

fn command_line(program: &str, args: &[&str]) -> String {
    Command::new(program)
        .args(args)
        .output()
        .map(|out| String::from_utf8_lossy(&out.stdout).trim().to_owned())
        .unwrap_or_default()
}

fn not_installed() -> String {
    "not installed".to_owned()
}

/// What a tool prints for its version (wrk and nginx print it on stderr).
fn tool_output(program: Option<&Path>, args: &[&str]) -> Option<String> {
    let output = Command::new(program?).args(args).output().ok()?;
    let text = [output.stdout, output.stderr].concat();
    Some(String::from_utf8_lossy(&text).into_owned())
}
