//! Running `mesh` as a separate process against the shared control plane, and waiting for
//! what it should produce (routes answering, conditions on objects).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::Duration;

use bytes::Bytes;
use http::Request;
use http_body_util::Full;
use kube::api::{Api, DynamicObject};
use kube::discovery::ApiResource;
use mesh_tests::{ControlPlane, ManagedProcess, free_loopback_ports, workspace_root};
use serde_json::Value;

use crate::http_client::{self, Answer};

/// How long an eventual outcome may take before the test gives up (a guard, not a
/// performance assertion: a loaded 2-core machine must not fail the suite).
pub const PATIENCE: Duration = Duration::from_secs(60);
const POLL: Duration = Duration::from_millis(100);

/// The `mesh` binary: `$MESH_BIN`, else built with Cargo once per test process (a no-op
/// when up to date) into this workspace's target directory.
pub fn mesh_binary() -> anyhow::Result<PathBuf> {
    static BINARY: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    BINARY
        .get_or_init(|| {
            locate_or_build("MESH_BIN", "mesh-operator", "mesh")
                .map_err(|error| format!("{error:#}"))
        })
        .clone()
        .map_err(|message| anyhow::anyhow!(message))
}

/// Binary `bin` of workspace package `package`: the path in `$env_var`, else built with
/// Cargo (a no-op when up to date) into this workspace's target directory.
pub fn locate_or_build(env_var: &str, package: &str, bin: &str) -> anyhow::Result<PathBuf> {
    if let Some(path) = std::env::var_os(env_var) {
        return Ok(PathBuf::from(path));
    }
    // target/<profile>/deps/<test binary> -> target/<profile>/<bin>
    let exe = std::env::current_exe()?;
    let profile_dir = exe
        .parent()
        .and_then(Path::parent)
        .ok_or_else(|| anyhow::anyhow!("unexpected test binary location {}", exe.display()))?;
    let binary = profile_dir.join(bin);
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut build = Command::new(cargo);
    build
        .current_dir(workspace_root())
        .args(["build", "-p", package, "--bin", bin]);
    if profile_dir
        .file_name()
        .is_some_and(|name| name == "release")
    {
        build.arg("--release");
    }
    let output = build.output()?;
    if !output.status.success() && !binary.is_file() {
        anyhow::bail!(
            "building {bin} failed:\n{}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    anyhow::ensure!(binary.is_file(), "no {bin} binary at {}", binary.display());
    Ok(binary)
}

/// A running `mesh run` against the shared control plane.
pub struct Mesh {
    process: ManagedProcess,
    pub web: SocketAddr,
    pub admin: SocketAddr,
    _dir: tempfile::TempDir,
}

impl Mesh {
    /// Starts `mesh run` watching `namespace` (admin credentials; leader election in
    /// `namespace`) with `extra` flags, and waits until its admin API answers.
    pub async fn start(
        plane: &ControlPlane,
        namespace: &str,
        identity: &str,
        extra: &[&str],
    ) -> anyhow::Result<Mesh> {
        let ports = free_loopback_ports(3)?;
        let web = SocketAddr::from(([127, 0, 0, 1], ports[0]));
        let admin = SocketAddr::from(([127, 0, 0, 1], ports[1]));
        let websecure = SocketAddr::from(([127, 0, 0, 1], ports[2]));
        let dir = tempfile::tempdir()?;
        let mut command = Command::new(mesh_binary()?);
        command
            .arg("run")
            .arg(format!(
                "--kubeconfig={}",
                plane.admin_kubeconfig().display()
            ))
            .arg(format!("--namespaces={namespace}"))
            .arg(format!("--entrypoint=web={web}"))
            .arg(format!("--entrypoint=websecure={websecure}"))
            .arg(format!("--admin-addr={admin}"))
            .arg(format!("--lease-namespace={namespace}"))
            .arg(format!("--identity={identity}"))
            .arg("--lease-duration-secs=4")
            .args(extra)
            .env("RUST_LOG", "info,mesh_operator=debug");
        let process = ManagedProcess::start(
            format!("mesh {identity}"),
            command,
            &dir.path().join(format!("mesh-{identity}.log")),
        )?;
        let mut mesh = Mesh {
            process,
            web,
            admin,
            _dir: dir,
        };
        mesh.wait_for_admin().await?;
        Ok(mesh)
    }

    async fn wait_for_admin(&mut self) -> anyhow::Result<()> {
        let deadline = tokio::time::Instant::now() + PATIENCE;
        loop {
            if let Some(status) = self.process.exit_status() {
                anyhow::bail!("mesh exited with {status}:\n{}", self.log_tail(40));
            }
            if tokio::net::TcpStream::connect(self.admin).await.is_ok() {
                return Ok(());
            }
            anyhow::ensure!(
                tokio::time::Instant::now() < deadline,
                "mesh's admin API never answered:\n{}",
                self.log_tail(40)
            );
            tokio::time::sleep(POLL).await;
        }
    }

    pub fn log_tail(&self, lines: usize) -> String {
        self.process.log_tail(lines)
    }

    /// `GET http://<host><path>` through the `web` entry point.
    pub async fn get(&self, host: &str, path: &str) -> anyhow::Result<Answer> {
        let request = Request::get(format!("http://{}{path}", self.web))
            .header(http::header::HOST, host)
            .body(Full::<Bytes>::default())?;
        http_client::send(request, false).await
    }

    /// Waits until `GET host/path` answers `status`; returns that answer.
    pub async fn wait_for_answer(
        &self,
        host: &str,
        path: &str,
        status: u16,
    ) -> anyhow::Result<Answer> {
        let deadline = tokio::time::Instant::now() + PATIENCE;
        loop {
            let last = self.get(host, path).await;
            if let Ok(answer) = &last
                && answer.status.as_u16() == status
            {
                return last;
            }
            if tokio::time::Instant::now() >= deadline {
                let seen = match last {
                    Ok(answer) => format!("{} {}", answer.status, answer.text()),
                    Err(error) => format!("{error:#}"),
                };
                anyhow::bail!(
                    "{host}{path} never answered {status} (last: {seen})\nmesh log:\n{}",
                    self.log_tail(40)
                );
            }
            tokio::time::sleep(POLL).await;
        }
    }

    /// `/api/status` of this replica.
    pub async fn api_status(&self) -> anyhow::Result<Value> {
        http_client::get(&format!("http://{}/api/status", self.admin))
            .await?
            .json()
    }
}

/// The `mesh.io` ApiResource of `kind` (`IngressRoute`, `Middleware`, ...).
pub fn mesh_resource(kind: &str) -> anyhow::Result<ApiResource> {
    let found = crate::kinds::KINDS
        .iter()
        .find(|candidate| candidate.kind == kind)
        .ok_or_else(|| anyhow::anyhow!("no Mesh kind {kind}"))?;
    Ok(found.api_resource())
}

/// The condition of `type_` in an object's status.
pub fn condition<'a>(object: &'a DynamicObject, type_: &str) -> Option<&'a Value> {
    object.data["status"]["conditions"]
        .as_array()?
        .iter()
        .find(|condition| condition["type"] == type_)
}

/// `(status, reason, message)` of the object's Ready condition, if any.
pub fn ready(object: &DynamicObject) -> Option<(String, String, String)> {
    let ready = condition(object, "Ready")?;
    let text = |field: &str| ready[field].as_str().unwrap_or_default().to_owned();
    Some((text("status"), text("reason"), text("message")))
}

/// Waits until object `name` satisfies `check`; returns it. The error shows the last
/// status seen and the mesh log.
pub async fn wait_for_object(
    api: &Api<DynamicObject>,
    name: &str,
    mesh: &Mesh,
    what: &str,
    check: impl Fn(&DynamicObject) -> bool,
) -> anyhow::Result<DynamicObject> {
    let deadline = tokio::time::Instant::now() + PATIENCE;
    loop {
        let object = api.get_opt(name).await?;
        if let Some(object) = &object
            && check(object)
        {
            return Ok(object.clone());
        }
        if tokio::time::Instant::now() >= deadline {
            let status = object
                .map(|o| o.data["status"].clone())
                .unwrap_or(Value::Null);
            anyhow::bail!(
                "{name}: never {what}; last status: {status:#}\nmesh log:\n{}",
                mesh.log_tail(40)
            );
        }
        tokio::time::sleep(POLL).await;
    }
}

/// Waits until `name`'s Ready condition has `status` and `reason`; returns the object.
pub async fn wait_for_ready(
    api: &Api<DynamicObject>,
    name: &str,
    mesh: &Mesh,
    status: &str,
    reason: &str,
) -> anyhow::Result<DynamicObject> {
    wait_for_object(
        api,
        name,
        mesh,
        &format!("Ready={status} ({reason})"),
        |object| ready(object).is_some_and(|(s, r, _)| s == status && r == reason),
    )
    .await
}

/// A pod running the test backend (HTTP on port 8080, answering as `pod_name`) and a
/// Service `service` in `namespace` whose endpoint is that pod, on port 80.
pub async fn backend_behind_service(
    client: &kube::Client,
    namespace: &str,
    pod_name: &str,
    service: &str,
) -> anyhow::Result<mesh_tests::Pod> {
    let mut pod = mesh_tests::PodNetwork::get()?.create_pod(pod_name)?;
    let spec = mesh_tests::BackendSpec::new(
        crate::backend_binary(),
        pod_name,
        mesh_tests::BackendMode::Http,
        8080,
    );
    pod.start_backend(&spec).await?;
    let yaml = crate::operator_routing::service_yaml(service, pod.ip());
    mesh_tests::apply_yaml(client, &yaml, namespace).await?;
    Ok(pod)
}
