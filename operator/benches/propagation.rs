//! Propagation benchmark: how long from a change reaching Mesh's world (what a watch event
//! delivers) to (a) the new route answering through the proxy and (b) its status being
//! published, with 100 and 1,000 IngressRoutes already present; and the process's memory
//! with 1,000 and 10,000 IngressRoutes.
//!
//! A program, not a test: it prints figures and asserts nothing.
//!
//! ```text
//! cargo bench -p mesh-operator --bench propagation [-- --samples 50 --routes 100,1000 --memory 1000,10000]
//! ```
//!
//! The apiserver leg (write -> watch event) is not included: it is the apiserver's, and the
//! end-to-end tests cover it functionally.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use kube::api::DynamicObject;
use mesh_operator::dataplane;
use mesh_operator::options::ProviderOptions;
use mesh_operator::pipeline::{Pipeline, Rebuild};
use mesh_operator::snapshot::{ObjectKind, ObjectRef};
use mesh_operator::status::{StatusBatch, StatusBoard};
use mesh_operator::world::World;
use mesh_proxy::config::{EntryPoint, StaticConfig};
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

const SOURCE: u32 = 1;

struct Settings {
    samples: usize,
    routes: Vec<usize>,
    memory: Vec<usize>,
}

fn settings() -> Settings {
    let mut settings = Settings {
        samples: 50,
        routes: vec![100, 1000],
        memory: vec![1000, 10_000],
    };
    let args: Vec<String> = std::env::args().collect();
    let list = |text: &str| -> Vec<usize> {
        text.split(',')
            .filter_map(|n| n.trim().parse().ok())
            .collect()
    };
    for pair in args.windows(2) {
        match pair[0].as_str() {
            "--samples" => settings.samples = pair[1].parse().unwrap_or(settings.samples),
            "--routes" => settings.routes = list(&pair[1]),
            "--memory" => settings.memory = list(&pair[1]),
            _ => {}
        }
    }
    settings
}

fn object(value: serde_json::Value) -> DynamicObject {
    serde_json::from_value(value).expect("benchmark objects are well-formed")
}

fn backend_objects(port: u16) -> Vec<DynamicObject> {
    vec![
        object(json!({"apiVersion": "v1", "kind": "Service",
            "metadata": {"name": "backend", "namespace": "bench"},
            "spec": {"ports": [{"name": "http", "port": 80}]}})),
        object(
            json!({"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
            "metadata": {"name": "backend-1", "namespace": "bench",
                "labels": {"kubernetes.io/service-name": "backend"}},
            "addressType": "IPv4", "ports": [{"name": "http", "port": port}],
            "endpoints": [{"addresses": ["127.0.0.1"], "conditions": {"ready": true}}]}),
        ),
    ]
}

fn route(name: &str) -> DynamicObject {
    object(
        json!({"apiVersion": "mesh.io/v1alpha1", "kind": "IngressRoute",
        "metadata": {"name": name, "namespace": "bench", "generation": 1},
        "spec": {"entryPoints": ["web"], "routes": [{"match": format!("Host(`{name}.bench`)"),
            "kind": "Rule", "services": [{"name": "backend", "port": 80}]}]}}),
    )
}

/// A minimal keep-alive HTTP/1.1 server answering 200 to everything.
async fn backend() -> std::io::Result<u16> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let port = listener.local_addr()?.port();
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut buffer = vec![0u8; 4096];
                let mut pending = Vec::new();
                loop {
                    let Ok(read) = stream.read(&mut buffer).await else {
                        return;
                    };
                    if read == 0 {
                        return;
                    }
                    pending.extend_from_slice(&buffer[..read]);
                    while let Some(end) = pending.windows(4).position(|w| w == b"\r\n\r\n") {
                        pending.drain(..end + 4);
                        let answer = b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok";
                        if stream.write_all(answer).await.is_err() {
                            return;
                        }
                    }
                }
            });
        }
    });
    Ok(port)
}

/// The status code of `GET /` with `host`, or 0 when nothing answered.
async fn status_of(web: SocketAddr, host: &str) -> u16 {
    let Ok(mut stream) = TcpStream::connect(web).await else {
        return 0;
    };
    let request = format!("GET / HTTP/1.1\r\nhost: {host}\r\nconnection: close\r\n\r\n");
    if stream.write_all(request.as_bytes()).await.is_err() {
        return 0;
    }
    let mut head = [0u8; 12];
    if stream.read_exact(&mut head).await.is_err() {
        return 0;
    }
    std::str::from_utf8(&head[9..12])
        .ok()
        .and_then(|code| code.parse().ok())
        .unwrap_or(0)
}

fn rss_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|rest| {
            rest.trim()
                .trim_end_matches("kB")
                .trim()
                .parse::<f64>()
                .ok()
        })
        .map_or(0.0, |kib| kib / 1024.0)
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = ((p / 100.0) * (sorted.len() - 1) as f64).round() as usize;
    sorted[rank.min(sorted.len() - 1)]
}

fn millis(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1e3
}

struct Bench {
    world: World,
    board: StatusBoard,
    web: SocketAddr,
    rebuilds: watch::Receiver<Rebuild>,
    pipeline: tokio::task::JoinHandle<()>,
    running: Option<mesh_proxy::RunningProxy>,
}

impl Drop for Bench {
    fn drop(&mut self) {
        self.pipeline.abort();
        if let Some(running) = self.running.take() {
            running.shutdown();
        }
    }
}

async fn start(backend_port: u16) -> anyhow::Result<Bench> {
    let board = StatusBoard::new();
    let static_config = StaticConfig {
        entry_points: [EntryPoint::parse_named("web=127.0.0.1:0")?]
            .into_iter()
            .collect(),
        admin_address: Some("127.0.0.1:0".parse()?),
        ..StaticConfig::default()
    };
    let (data_plane, running) = dataplane::start(static_config, board.clone()).await?;
    let web = running
        .entry_point("web")
        .ok_or_else(|| anyhow::anyhow!("no web entry point"))?;
    let world = World::new();
    world.replace_source(SOURCE, backend_objects(backend_port));
    let (batches, _) = watch::channel(StatusBatch::default());
    let (rebuilds, rebuilds_rx) = watch::channel(Rebuild::default());
    let pipeline = Pipeline {
        world: world.clone(),
        options: ProviderOptions::default(),
        throttle: Duration::ZERO,
        data_plane,
        board: board.clone(),
        batches,
        rebuilds,
    };
    let pipeline = tokio::spawn(pipeline.run());
    Ok(Bench {
        world,
        board,
        web,
        rebuilds: rebuilds_rx,
        pipeline,
        running: Some(running),
    })
}

impl Bench {
    /// Adds routes `prefix{from}..prefix{to}` and waits until the pipeline has built them.
    async fn load(&mut self, prefix: &str, from: usize, to: usize) -> anyhow::Result<Duration> {
        let started = Instant::now();
        for index in from..to {
            self.world
                .upsert(SOURCE, route(&format!("{prefix}{index}")));
        }
        let target = self.world.version();
        self.rebuilds
            .wait_for(|rebuild| rebuild.world_version >= target)
            .await?;
        Ok(started.elapsed())
    }

    fn ready(&self, name: &str) -> bool {
        let object = ObjectRef {
            kind: ObjectKind::IngressRoute,
            namespace: "bench".into(),
            name: name.into(),
        };
        self.board.status_of(&object).is_some_and(|status| {
            status["conditions"].as_array().is_some_and(|all| {
                all.iter()
                    .any(|c| c["type"] == "Ready" && c["status"] == "True")
            })
        })
    }

    /// One sample: (time to the route answering, time to its status being published).
    async fn probe(&self, name: &str) -> anyhow::Result<(Duration, Duration)> {
        let host = format!("{name}.bench");
        let started = Instant::now();
        self.world.upsert(SOURCE, route(name));
        let (mut routed, mut published) = (None, None);
        while routed.is_none() || published.is_none() {
            if routed.is_none() && status_of(self.web, &host).await == 200 {
                routed = Some(started.elapsed());
            }
            if published.is_none() && self.ready(name) {
                published = Some(started.elapsed());
            }
            anyhow::ensure!(
                started.elapsed() < Duration::from_secs(60),
                "{name} never propagated"
            );
            tokio::task::yield_now().await;
        }
        Ok((routed.unwrap_or_default(), published.unwrap_or_default()))
    }
}

async fn propagation(routes: usize, samples: usize, backend_port: u16) -> anyhow::Result<()> {
    let mut bench = start(backend_port).await?;
    let load_time = bench.load("r", 0, routes).await?;
    let mut routed = Vec::with_capacity(samples);
    let mut published = Vec::with_capacity(samples);
    for sample in 0..samples {
        let (route, status) = bench.probe(&format!("probe{sample}")).await?;
        routed.push(route);
        published.push(status);
    }
    let rebuild = *bench.rebuilds.borrow();
    routed.sort();
    published.sort();
    println!(
        "{routes:>6} IngressRoutes | route answering p50 {:>7.2} ms p99 {:>7.2} ms | status published p50 {:>7.2} ms p99 {:>7.2} ms | \
         last rebuild: translate {:.2} ms, proxy apply {:.2} ms | initial load {:.0} ms",
        millis(percentile(&routed, 50.0)),
        millis(percentile(&routed, 99.0)),
        millis(percentile(&published, 50.0)),
        millis(percentile(&published, 99.0)),
        millis(rebuild.translate),
        millis(rebuild.apply),
        millis(load_time),
    );
    Ok(())
}

async fn memory(counts: &[usize], backend_port: u16) -> anyhow::Result<()> {
    let idle = rss_mib();
    let mut bench = start(backend_port).await?;
    println!(
        "memory: process RSS {idle:.1} MiB before starting, {:.1} MiB with the proxy idle",
        rss_mib()
    );
    let mut loaded = 0;
    for &count in counts {
        let took = bench.load("m", loaded, count).await?;
        loaded = count.max(loaded);
        let rebuild = *bench.rebuilds.borrow();
        println!(
            "rebuild at {count:>6} IngressRoutes: translate {:.1} ms, proxy apply {:.1} ms (load {:.0} ms)",
            millis(rebuild.translate),
            millis(rebuild.apply),
            millis(took)
        );
        let probe = format!("m{}", count - 1);
        anyhow::ensure!(
            status_of(bench.web, &format!("{probe}.bench")).await == 200,
            "{probe} not served"
        );
        println!(
            "memory: {count:>6} IngressRoutes served -> RSS {:.1} MiB",
            rss_mib()
        );
    }
    Ok(())
}

fn main() -> anyhow::Result<()> {
    let settings = settings();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let backend_port = backend().await?;
        // Memory first, while the process holds nothing else.
        if !settings.memory.is_empty() {
            memory(&settings.memory, backend_port).await?;
        }
        println!("Mesh propagation (in-process: world change -> proxy serving / status published)");
        for &routes in &settings.routes {
            propagation(routes, settings.samples, backend_port).await?;
        }
        Ok(())
    })
}
