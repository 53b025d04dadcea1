//! Propagation benchmark against a real control plane: from creating an IngressRoute in the
//! apiserver to (a) the route answering through `mesh` and (b) its `Ready=True` status being
//! visible through the apiserver, with 100 and 1,000 IngressRoutes present; and `mesh`'s
//! resident memory at 1,000 and 10,000 IngressRoutes.
//!
//! A program, not a test: it prints figures and asserts nothing.
//!
//! ```text
//! cargo run -p mesh-tests --bin mesh-propagation -- [--samples 30] [--routes 100,1000] [--memory 1000,10000]
//! ```
//! `mesh` and `mesh-test-backend` are built with Cargo first (`$MESH_BIN` overrides `mesh`).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use kube::api::{Api, DynamicObject, PostParams};
use kube::core::{ApiResource, GroupVersionKind};
use mesh_tests::{
    BackendMode, BackendSpec, ControlPlane, ManagedProcess, PodNetwork, apply_yaml, crd_dir,
    create_test_namespace, free_loopback_ports, workspace_root,
};
use serde_json::json;

struct Settings {
    samples: usize,
    routes: Vec<usize>,
    memory: Vec<usize>,
}

fn settings() -> Settings {
    let mut settings = Settings {
        samples: 30,
        routes: vec![100, 1000],
        memory: vec![1000, 10_000],
    };
    let args: Vec<String> = std::env::args().collect();
    let list = |text: &str| {
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

/// Builds `bin` of `package` with Cargo (a no-op when up to date) and returns its path.
fn build(package: &str, bin: &str) -> anyhow::Result<PathBuf> {
    let exe = std::env::current_exe()?;
    let profile_dir = exe
        .parent()
        .ok_or_else(|| anyhow::anyhow!("no directory for {}", exe.display()))?;
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut command = Command::new(cargo);
    command
        .current_dir(workspace_root())
        .args(["build", "-p", package, "--bin", bin]);
    if profile_dir
        .file_name()
        .is_some_and(|name| name == "release")
    {
        command.arg("--release");
    }
    let status = command
        .status()
        .with_context(|| format!("running cargo build for {bin}"))?;
    anyhow::ensure!(status.success(), "building {bin} failed");
    Ok(profile_dir.join(bin))
}

fn ingress_routes() -> ApiResource {
    ApiResource::from_gvk_with_plural(
        &GroupVersionKind::gvk("mesh.io", "v1alpha1", "IngressRoute"),
        "ingressroutes",
    )
}

fn route(name: &str) -> DynamicObject {
    let value = json!({"apiVersion": "mesh.io/v1alpha1", "kind": "IngressRoute", "metadata": {"name": name},
        "spec": {"entryPoints": ["web"], "routes": [{"match": format!("Host(`{name}.bench`)"), "kind": "Rule",
            "services": [{"name": "backend", "port": 80}]}]}});
    serde_json::from_value(value).unwrap_or_else(|_| DynamicObject::new(name, &ingress_routes()))
}

async fn status_of(web: SocketAddr, host: &str) -> u16 {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let Ok(mut stream) = tokio::net::TcpStream::connect(web).await else {
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

fn ready(object: &DynamicObject) -> bool {
    object.data["status"]["conditions"]
        .as_array()
        .is_some_and(|all| {
            all.iter()
                .any(|c| c["type"] == "Ready" && c["status"] == "True")
        })
}

fn rss_mib(pid: u32) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
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

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = ((p / 100.0) * (sorted.len() - 1) as f64).round() as usize;
    sorted[rank.min(sorted.len() - 1)].as_secs_f64() * 1e3
}

/// Creates routes `prefix{from}..prefix{to}`; returns when `mesh` serves the last one.
async fn grow(
    api: &Api<DynamicObject>,
    web: SocketAddr,
    prefix: &str,
    from: usize,
    to: usize,
) -> anyhow::Result<()> {
    for index in from..to {
        api.create(&PostParams::default(), &route(&format!("{prefix}{index}")))
            .await?;
    }
    if to > from {
        let host = format!("{prefix}{}.bench", to - 1);
        let deadline = Instant::now() + Duration::from_secs(300);
        while status_of(web, &host).await != 200 {
            anyhow::ensure!(Instant::now() < deadline, "{host} never served");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        // Samples measure one change against a settled system, not the queue of status
        // writes the bulk creation left behind (writes are rate-limited).
        loop {
            let list = api.list(&Default::default()).await?;
            let pending = list.items.iter().filter(|object| !ready(object)).count();
            if pending == 0 {
                break;
            }
            anyhow::ensure!(
                Instant::now() < deadline,
                "{pending} IngressRoutes never became Ready"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
    Ok(())
}

async fn sample(
    api: &Api<DynamicObject>,
    web: SocketAddr,
    name: &str,
) -> anyhow::Result<(Duration, Duration)> {
    let host = format!("{name}.bench");
    let started = Instant::now();
    api.create(&PostParams::default(), &route(name)).await?;
    let (mut routed, mut visible) = (None, None);
    while routed.is_none() || visible.is_none() {
        if routed.is_none() && status_of(web, &host).await == 200 {
            routed = Some(started.elapsed());
        }
        if visible.is_none() && api.get(name).await.is_ok_and(|object| ready(&object)) {
            visible = Some(started.elapsed());
        }
        anyhow::ensure!(
            started.elapsed() < Duration::from_secs(120),
            "{name} never propagated"
        );
    }
    Ok((routed.unwrap_or_default(), visible.unwrap_or_default()))
}

struct Mesh {
    process: ManagedProcess,
    web: SocketAddr,
    admin: SocketAddr,
}

/// The configuration generation `mesh` reports on `/api/status` (0 before its first build).
async fn generation_of(admin: SocketAddr) -> u64 {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let Ok(mut stream) = tokio::net::TcpStream::connect(admin).await else {
        return 0;
    };
    // HTTP/1.0: the answer ends when the connection closes, never chunked.
    let request = "GET /api/status HTTP/1.0\r\nhost: mesh\r\n\r\n";
    let mut answer = Vec::new();
    if stream.write_all(request.as_bytes()).await.is_err()
        || stream.read_to_end(&mut answer).await.is_err()
    {
        return 0;
    }
    let text = String::from_utf8_lossy(&answer);
    text.split_once("\r\n\r\n")
        .and_then(|(_, body)| serde_json::from_str::<serde_json::Value>(body).ok())
        .and_then(|body| body["generation"].as_u64())
        .unwrap_or(0)
}

/// Waits until `mesh` has listed the cluster and applied its first configuration: its
/// memory before that is the memory of a process still starting, not of an idle one.
async fn wait_first_configuration(mesh: &Mesh) -> anyhow::Result<()> {
    let deadline = Instant::now() + Duration::from_secs(60);
    while generation_of(mesh.admin).await == 0 {
        anyhow::ensure!(
            Instant::now() < deadline,
            "mesh never built a configuration"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Ok(())
}

async fn start_mesh(plane: &ControlPlane, namespace: &str, dir: &Path) -> anyhow::Result<Mesh> {
    let ports = free_loopback_ports(2)?;
    let web = SocketAddr::from(([127, 0, 0, 1], ports[0]));
    let mut command = Command::new(
        std::env::var_os("MESH_BIN")
            .map_or_else(|| build("mesh-operator", "mesh"), |p| Ok(p.into()))?,
    );
    command
        .arg("run")
        .arg(format!(
            "--kubeconfig={}",
            plane.admin_kubeconfig().display()
        ))
        .arg(format!("--namespaces={namespace}"))
        .arg(format!("--entrypoint=web={web}"))
        .arg(format!("--admin-addr=127.0.0.1:{}", ports[1]))
        .arg("--leader-elect=false")
        .env(
            "RUST_LOG",
            std::env::var("MESH_LOG").unwrap_or_else(|_| "warn".into()),
        );
    let process = ManagedProcess::start("mesh", command, &dir.join("mesh.log"))?;
    let admin = SocketAddr::from(([127, 0, 0, 1], ports[1]));
    Ok(Mesh {
        process,
        web,
        admin,
    })
}

async fn world(client: &kube::Client, pod_ip: std::net::Ipv4Addr) -> anyhow::Result<String> {
    let namespace = create_test_namespace(client).await?;
    apply_yaml(
        client,
        &format!(
            "apiVersion: v1\nkind: Service\nmetadata: {{name: backend}}\nspec: {{ports: [{{name: http, port: 80, targetPort: 8080}}]}}\n---\n\
             apiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\nmetadata: {{name: backend-1, labels: {{kubernetes.io/service-name: backend}}}}\n\
             addressType: IPv4\nports: [{{name: http, port: 8080}}]\nendpoints: [{{addresses: [\"{pod_ip}\"], conditions: {{ready: true}}}}]\n"
        ),
        &namespace,
    )
    .await?;
    Ok(namespace)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let settings = settings();
    let backend_binary = build("mesh-tests", "mesh-test-backend")?;
    let plane = ControlPlane::start().await?;
    plane.install_crds(&crd_dir()).await?;
    let client = plane.admin_client().await?;
    let mut pod = PodNetwork::get()?.create_pod("bench-0")?;
    pod.start_backend(&BackendSpec::new(
        &backend_binary,
        "bench-0",
        BackendMode::Http,
        8080,
    ))
    .await?;
    let dir = tempfile::tempdir()?;
    // `MESH_LOG=debug` keeps mesh's log for inspection.
    let dir_path = match std::env::var_os("MESH_LOG") {
        Some(_) => dir.keep(),
        None => dir.path().to_path_buf(),
    };
    println!("logs in {}", dir_path.display());

    println!(
        "Mesh propagation through a real apiserver (create IngressRoute -> route answering / Ready visible)"
    );
    {
        let namespace = world(&client, pod.ip()).await?;
        let api: Api<DynamicObject> =
            Api::namespaced_with(client.clone(), &namespace, &ingress_routes());
        let mesh = start_mesh(&plane, &namespace, &dir_path).await?;
        let mut present = 0;
        for &routes in &settings.routes {
            grow(&api, mesh.web, "r", present, routes).await?;
            present = routes.max(present);
            let mut routed = Vec::new();
            let mut visible = Vec::new();
            for index in 0..settings.samples {
                let (route, status) = sample(&api, mesh.web, &format!("p{routes}-{index}")).await?;
                routed.push(route);
                visible.push(status);
            }
            routed.sort();
            visible.sort();
            println!(
                "{routes:>6} IngressRoutes | route answering p50 {:>7.1} ms p99 {:>7.1} ms | Ready visible p50 {:>7.1} ms p99 {:>7.1} ms | mesh RSS {:.1} MiB",
                percentile(&routed, 50.0),
                percentile(&routed, 99.0),
                percentile(&visible, 50.0),
                percentile(&visible, 99.0),
                rss_mib(mesh.process.pid()),
            );
        }
    }

    if !settings.memory.is_empty() {
        let namespace = world(&client, pod.ip()).await?;
        let api: Api<DynamicObject> =
            Api::namespaced_with(client.clone(), &namespace, &ingress_routes());
        let mesh = start_mesh(&plane, &namespace, &dir_path).await?;
        wait_first_configuration(&mesh).await?;
        println!(
            "memory: mesh idle RSS {:.1} MiB",
            rss_mib(mesh.process.pid())
        );
        let mut present = 0;
        for &routes in &settings.memory {
            grow(&api, mesh.web, "m", present, routes).await?;
            present = routes.max(present);
            // Let status writes settle before reading the figure.
            let probe = format!("m{}", routes.saturating_sub(1));
            let deadline = Instant::now() + Duration::from_secs(300);
            while !api.get(&probe).await.is_ok_and(|object| ready(&object))
                && Instant::now() < deadline
            {
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            println!(
                "memory: {routes:>6} IngressRoutes served -> mesh RSS {:.1} MiB",
                rss_mib(mesh.process.pid())
            );
        }
    }
    Ok(())
}
