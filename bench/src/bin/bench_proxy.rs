//! `bench-proxy`: Mesh against nginx and Traefik, same route, same backend, same load, one
//! run. See docs/benchmarks.md. The `serve-*` subcommands are how the benchmark starts its
//! own children; they are not meant to be run by hand.
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context as _;
use clap::{Parser, Subcommand};
use mesh_bench::duration::{parse_duration, parse_duration_or_zero};
use mesh_bench::report::TargetKind;
use mesh_bench::run::{Settings, Tools};

/// mimalloc instead of glibc's malloc: fewer instructions per allocation on the request
/// path (docs/performance.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Debug, Parser)]
#[command(
    name = "bench-proxy",
    about = "Benchmark Mesh against nginx and Traefik on this machine",
    args_conflicts_with_subcommands = true
)]
struct Cli {
    #[command(subcommand)]
    child: Option<Child>,
    #[command(flatten)]
    bench: BenchArgs,
}

#[derive(Debug, clap::Args)]
struct BenchArgs {
    /// Length of each measured wrk run (whole seconds).
    #[arg(long, default_value = "8s", value_parser = parse_duration)]
    duration: Duration,
    /// Unmeasured wrk run before each target's first round.
    #[arg(long, default_value = "2s", value_parser = parse_duration_or_zero)]
    warmup: Duration,
    /// Measured runs per target; the median is reported.
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u64).range(1..))]
    rounds: u64,
    /// wrk connections (one wrk thread).
    #[arg(long, default_value_t = 50)]
    connections: usize,
    /// Route counts to run, one scenario each.
    #[arg(long, value_delimiter = ',', default_value = "1,10000")]
    routers: Vec<usize>,
    /// Proxies to measure.
    #[arg(long, value_delimiter = ',', default_value = "nginx,traefik,mesh")]
    proxies: Vec<ProxyName>,
    /// Core of the proxy under test.
    #[arg(long, default_value_t = 1)]
    proxy_cpu: usize,
    /// Core of wrk, the backend and this program.
    #[arg(long, default_value_t = 0)]
    load_cpu: usize,
    /// Mesh's runtime threads (1: tokio current-thread runtime).
    #[arg(long, default_value_t = 1)]
    mesh_threads: usize,
    /// Router count of the in-process apply measurement.
    #[arg(long, default_value_t = 10_000)]
    apply_routers: usize,
    /// How long a target may take to serve the route after it starts.
    #[arg(long, default_value = "120s", value_parser = parse_duration)]
    start_timeout: Duration,
    /// Niceness of the benchmark and all its children, e.g. -10 on a machine shared with
    /// other work (negative values need root).
    #[arg(long, default_value_t = 0, allow_hyphen_values = true)]
    nice: i32,
    #[arg(long, default_value = "wrk")]
    wrk: PathBuf,
    /// Default: `nginx` on PATH, else /usr/sbin/nginx.
    #[arg(long)]
    nginx: Option<PathBuf>,
    /// Default: ~/.cache/mesh-bench/venv/bin/traefik, else `traefik` on PATH.
    #[arg(long)]
    traefik: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum ProxyName {
    Nginx,
    Traefik,
    Mesh,
}

#[derive(Debug, Subcommand)]
enum Child {
    /// Mesh serving a dynamic configuration file (started by the benchmark).
    #[command(hide = true)]
    ServeMesh {
        #[arg(long)]
        config: PathBuf,
        #[arg(long)]
        listen: SocketAddr,
        #[arg(long, default_value_t = 1)]
        threads: usize,
    },
    /// The 12-byte backend (started by the benchmark).
    #[command(hide = true)]
    ServeBackend {
        #[arg(long)]
        listen: SocketAddr,
    },
}

fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    match cli.child {
        Some(Child::ServeMesh {
            config,
            listen,
            threads,
        }) => mesh_bench::serve_mesh::run(&config, listen, threads),
        Some(Child::ServeBackend { listen }) => mesh_bench::backend::run(listen),
        None => mesh_bench::run::run(&settings(cli.bench)?),
    }
}

fn settings(args: BenchArgs) -> anyhow::Result<Settings> {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    anyhow::ensure!(
        args.proxy_cpu != args.load_cpu && args.proxy_cpu < cores && args.load_cpu < cores,
        "the proxy and the load need two different cores among the {cores} available \
         (got --proxy-cpu {} --load-cpu {})",
        args.proxy_cpu,
        args.load_cpu
    );
    let wrk = find_program(&args.wrk).with_context(|| {
        format!(
            "{} not found: run bench/install-peers.sh",
            args.wrk.display()
        )
    })?;
    let nginx = args
        .nginx
        .or_else(|| find_program(Path::new("nginx")))
        .or_else(|| Some(PathBuf::from("/usr/sbin/nginx")).filter(|p| p.is_file()));
    let venv_traefik = std::env::var_os("HOME")
        .map(|home| PathBuf::from(home).join(".cache/mesh-bench/venv/bin/traefik"))
        .filter(|p| p.is_file());
    let traefik = args
        .traefik
        .or(venv_traefik)
        .or_else(|| find_program(Path::new("traefik")));
    let proxies = args
        .proxies
        .iter()
        .map(|name| match name {
            ProxyName::Nginx => TargetKind::Nginx,
            ProxyName::Traefik => TargetKind::Traefik,
            ProxyName::Mesh => TargetKind::Mesh,
        })
        .collect();
    Ok(Settings {
        duration: args.duration,
        warmup: args.warmup,
        rounds: usize::try_from(args.rounds).unwrap_or(1),
        connections: args.connections.max(1),
        routers: args.routers,
        proxies,
        proxy_cpu: args.proxy_cpu,
        load_cpu: args.load_cpu,
        mesh_threads: args.mesh_threads.max(1),
        apply_routers: args.apply_routers.max(1),
        start_timeout: args.start_timeout,
        nice: args.nice,
        tools: Tools {
            wrk,
            nginx,
            traefik,
            bench: std::env::current_exe().context("cannot locate this program for re-exec")?,
        },
    })
}

/// `program` itself when it holds a `/`, else its first match on PATH.
fn find_program(program: &Path) -> Option<PathBuf> {
    if program.components().count() > 1 {
        return Some(program.to_path_buf()).filter(|p| p.is_file());
    }
    std::env::split_paths(&std::env::var_os("PATH")?)
        .map(|dir| dir.join(program))
        .find(|candidate| candidate.is_file())
}
