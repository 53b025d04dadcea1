//! `mesh-dev-cluster`: a real local Kubernetes apiserver with Mesh running against it, for
//! trying Mesh (and `kubectl mesh`) without a cluster.
//!
//! Starts the harness control plane (etcd + kube-apiserver from
//! `tests/harness/build-control-plane.sh`) in the foreground, installs Mesh's CRDs, writes an
//! admin kubeconfig, applies manifest folders, runs `mesh run` against it and waits for
//! Ctrl-C / SIGTERM; then stops mesh, the apiserver and etcd.
//!
//! ```text
//! cargo build -p mesh-operator --bin mesh && cargo build -p mesh-tests --bins
//! target/debug/mesh-dev-cluster --apply examples/quickstart
//! ```

mod args;
mod backends;
mod manifests;
mod preflight;

use std::process::{Command, ExitCode};
use std::time::Duration;

use anyhow::Context as _;
use clap::Parser as _;
use mesh_tests::{ControlPlane, ControlPlaneOptions, ManagedProcess, Pod, crd_dir};
use tokio::signal::unix::{SignalKind, signal};

use crate::args::Args;

/// Namespace of mesh's leader-election Lease, as in the Helm chart.
const CONTROLLER_NAMESPACE: &str = "mesh-system";
/// How long mesh, the apiserver and etcd each get to exit on SIGTERM before SIGKILL.
const STOP_GRACE: Duration = Duration::from_secs(10);
/// How long mesh may take to open its admin API on a loaded machine.
const MESH_START_LIMIT: Duration = Duration::from_secs(60);
const POLL: Duration = Duration::from_millis(100);

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse();
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_target(false)
        // The harness's own warnings only: kube's client logs every refused connection
        // while the apiserver starts.
        .with_env_filter(tracing_subscriber::EnvFilter::new("mesh_tests=warn"))
        .init();
    match run(args).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("mesh-dev-cluster: error: {error:#}");
            ExitCode::FAILURE
        }
    }
}

/// Everything that lives until shutdown; dropping it stops and removes all of it.
struct DevCluster {
    // Declaration order is drop order: mesh and the backends before the control plane.
    mesh: Option<ManagedProcess>,
    pods: Vec<Pod>,
    plane: ControlPlane,
    kubeconfig_out: std::path::PathBuf,
}

async fn run(args: Args) -> anyhow::Result<()> {
    // Installed first: a Ctrl-C during start-up also stops what has started so far.
    let mut interrupt = signal(SignalKind::interrupt()).context("listening for SIGINT")?;
    let mut terminate = signal(SignalKind::terminate()).context("listening for SIGTERM")?;

    let checked = preflight::check(&args)?;
    let cluster = tokio::select! {
        cluster = start(&args, checked) => cluster?,
        _ = interrupt.recv() => { say("interrupted during start-up; stopping"); return Ok(()) }
        _ = terminate.recv() => { say("terminated during start-up; stopping"); return Ok(()) }
    };
    print_instructions(&args, &cluster);

    let mut cluster = cluster;
    let mesh_crashed = tokio::select! {
        _ = interrupt.recv() => None,
        _ = terminate.recv() => None,
        status = wait_for_exit(cluster.mesh.as_mut()) => Some(status),
    };
    if let Some(status) = &mesh_crashed {
        eprintln!(
            "mesh-dev-cluster: mesh exited on its own ({status}); its last log lines:\n{}",
            cluster
                .mesh
                .as_ref()
                .map(|mesh| mesh.log_tail(30))
                .unwrap_or_default()
        );
    }
    say("stopping mesh, kube-apiserver and etcd");
    shut_down(cluster);
    say("stopped");
    match mesh_crashed {
        None => Ok(()),
        Some(status) => anyhow::bail!("mesh exited with {status}"),
    }
}

async fn start(args: &Args, checked: preflight::Checked) -> anyhow::Result<DevCluster> {
    say("starting etcd and kube-apiserver (a cold start takes up to a minute)");
    let plane = ControlPlane::start_custom(
        checked.binaries,
        args.data_dir.as_deref(),
        ControlPlaneOptions::default(),
    )
    .await
    .context("starting the control plane")?;
    let crds = plane
        .install_crds(&crd_dir())
        .await
        .context("installing Mesh's CRDs")?;
    say(&format!(
        "apiserver {} ready, {} CRDs installed",
        plane.server_url(),
        crds.len()
    ));
    let client = plane.admin_client().await?;
    mesh_tests::ensure_namespace(&client, CONTROLLER_NAMESPACE).await?;
    write_kubeconfig(&plane, &checked.kubeconfig_out)?;

    let mut cluster = DevCluster {
        mesh: None,
        pods: Vec::new(),
        plane,
        kubeconfig_out: checked.kubeconfig_out,
    };
    for dir in &args.apply {
        manifests::apply_folder(&client, dir).await?;
    }
    for service in &args.backends {
        cluster.pods.push(backends::start(&client, service).await?);
    }
    if let Some(mesh_binary) = checked.mesh_binary {
        cluster.mesh = Some(start_mesh(args, &cluster.plane, &mesh_binary).await?);
    }
    Ok(cluster)
}

/// Copies the admin kubeconfig (a `system:masters` user) where the user asked for it.
fn write_kubeconfig(plane: &ControlPlane, path: &std::path::Path) -> anyhow::Result<()> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)
            .with_context(|| format!("creating {}", parent.display()))?;
    }
    std::fs::copy(plane.admin_kubeconfig(), path)
        .with_context(|| format!("writing the kubeconfig {}", path.display()))?;
    Ok(())
}

async fn start_mesh(
    args: &Args,
    plane: &ControlPlane,
    binary: &std::path::Path,
) -> anyhow::Result<ManagedProcess> {
    let mut command = Command::new(binary);
    command
        .arg("run")
        .arg(format!(
            "--kubeconfig={}",
            plane.admin_kubeconfig().display()
        ))
        .args(
            args.entrypoints
                .iter()
                .map(|entrypoint| format!("--entrypoint={entrypoint}")),
        )
        .arg(format!("--admin-addr={}", args.admin_addr))
        .arg(format!("--lease-namespace={CONTROLLER_NAMESPACE}"))
        .args(&args.mesh_args);
    let log = plane.data_dir().join("mesh.log");
    let mut mesh = ManagedProcess::start("mesh", command, &log)?;
    let deadline = tokio::time::Instant::now() + MESH_START_LIMIT;
    loop {
        if let Some(status) = mesh.exit_status() {
            anyhow::bail!(
                "mesh exited with {status} at start-up; last lines of {}:\n{}",
                log.display(),
                mesh.log_tail(30)
            );
        }
        if tokio::net::TcpStream::connect(args.admin_addr)
            .await
            .is_ok()
        {
            return Ok(mesh);
        }
        if tokio::time::Instant::now() > deadline {
            anyhow::bail!(
                "mesh's admin API did not open on {} within {MESH_START_LIMIT:?}; last lines of {}:\n{}",
                args.admin_addr,
                log.display(),
                mesh.log_tail(30)
            );
        }
        tokio::time::sleep(POLL).await;
    }
}

/// Resolves when mesh exits (never without mesh).
async fn wait_for_exit(mesh: Option<&mut ManagedProcess>) -> std::process::ExitStatus {
    let Some(mesh) = mesh else {
        return std::future::pending().await;
    };
    loop {
        if let Some(status) = mesh.exit_status() {
            return status;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

fn shut_down(mut cluster: DevCluster) {
    if let Some(mut mesh) = cluster.mesh.take() {
        mesh.terminate(STOP_GRACE);
    }
    // A kubeconfig of a cluster that is gone only confuses the next kubectl.
    let _ = std::fs::remove_file(&cluster.kubeconfig_out);
    drop(std::mem::take(&mut cluster.pods));
    cluster.plane.shut_down(STOP_GRACE);
}

fn print_instructions(args: &Args, cluster: &DevCluster) {
    let plane = &cluster.plane;
    let admin_url = format!("http://{}", args.admin_addr);
    let mut text = String::new();
    text.push_str("\nMesh dev cluster is up.\n");
    text.push_str(&format!(
        "  kube-apiserver  {}  (etcd {})\n",
        plane.server_url(),
        plane.etcd_url()
    ));
    match &cluster.mesh {
        Some(_) => text.push_str(&format!(
            "  mesh            entry points {}, admin API {admin_url}\n                  log: {}\n",
            args.entrypoints.join(", "),
            plane.data_dir().join("mesh.log").display()
        )),
        None => text.push_str("  mesh            not started (--no-mesh)\n"),
    }
    let kept = if args.data_dir.is_some() {
        "kept at exit"
    } else {
        "removed at exit"
    };
    text.push_str(&format!(
        "  files           {} ({kept})\n\n",
        plane.data_dir().display()
    ));
    text.push_str(&format!(
        "export KUBECONFIG={}\n\nThen try:\n",
        cluster.kubeconfig_out.display()
    ));
    text.push_str("  kubectl get ingressroutes -A\n  kubectl get mesh -A\n");
    if cluster.mesh.is_some() {
        text.push_str(&format!(
            "  kubectl mesh status -A --admin-url {admin_url}\n  kubectl mesh dashboard --admin-url {admin_url}\n  curl -s {admin_url}/api/status\n"
        ));
    }
    text.push_str("\nCtrl-C stops mesh, kube-apiserver and etcd.\n");
    print!("{text}");
    use std::io::Write as _;
    let _ = std::io::stdout().flush();
}

/// A progress line on stdout (flushed: the output may be a pipe).
fn say(line: &str) {
    use std::io::Write as _;
    println!("mesh-dev-cluster: {line}");
    let _ = std::io::stdout().flush();
}
