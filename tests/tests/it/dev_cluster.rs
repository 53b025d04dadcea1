//! `mesh-dev-cluster`, run as a user runs it: its printed KUBECONFIG works with the real
//! kubectl, mesh writes status through it, and SIGTERM stops everything it started.

use std::net::SocketAddr;
use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use mesh_tests::free_loopback_ports;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

use crate::operator_support::{PATIENCE, mesh_binary};

/// A cold control plane on a loaded 2-core machine, plus mesh.
const STARTUP_PATIENCE: Duration = Duration::from_secs(240);
const POLL: Duration = Duration::from_millis(200);

/// A Service with one accepted and one refused (loopback) EndpointSlice, a route to it and
/// a route to a Service that does not exist; in a namespace that does not exist yet.
const FIXTURE: &str = r#"
apiVersion: v1
kind: Service
metadata: {name: echo, namespace: dev-fixture}
spec:
  ports: [{name: http, port: 80, targetPort: 8080}]
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: echo-1
  namespace: dev-fixture
  labels: {kubernetes.io/service-name: echo}
addressType: IPv4
ports: [{name: http, port: 8080}]
endpoints:
  - addresses: ["192.0.2.10"]
    conditions: {ready: true}
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: echo-loopback
  namespace: dev-fixture
  labels: {kubernetes.io/service-name: echo}
addressType: IPv4
ports: [{name: http, port: 8080}]
endpoints:
  - addresses: ["127.0.0.1"]
    conditions: {ready: true}
"#;

const ROUTES: &str = r#"
apiVersion: mesh.io/v1alpha1
kind: IngressRoute
metadata: {name: echo, namespace: dev-fixture}
spec:
  entryPoints: [web]
  routes:
    - match: Host(`echo.localhost`)
      kind: Rule
      services: [{name: echo, port: 80}]
---
apiVersion: mesh.io/v1alpha1
kind: IngressRoute
metadata: {name: broken, namespace: dev-fixture}
spec:
  entryPoints: [web]
  routes:
    - match: Host(`broken.localhost`)
      kind: Rule
      services: [{name: missing, port: 80}]
"#;

#[tokio::test]
async fn dev_cluster_serves_kubectl_and_stops_everything_on_sigterm() -> anyhow::Result<()> {
    let scratch = tempfile::tempdir()?;
    let fixture = scratch.path().join("fixture");
    std::fs::create_dir(&fixture)?;
    std::fs::write(fixture.join("00-service.yaml"), FIXTURE)?;
    std::fs::write(fixture.join("10-routes.yaml"), ROUTES)?;
    let kubeconfig = scratch.path().join("out/kubeconfig");
    let ports = free_loopback_ports(2)?;
    let admin = SocketAddr::from(([127, 0, 0, 1], ports[1]));

    let mut child = Command::new(env!("CARGO_BIN_EXE_mesh-dev-cluster"))
        .arg("--apply")
        .arg(&fixture)
        .arg("--kubeconfig-out")
        .arg(&kubeconfig)
        .arg(format!("--entrypoint=web=127.0.0.1:{}", ports[0]))
        .arg(format!("--admin-addr={admin}"))
        .env("MESH_BIN", mesh_binary()?)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()?;
    let mut output = Output::new(&mut child)?;
    // The last line of the instructions: everything above it has been read.
    output
        .wait_for_line(|line| line.starts_with("Ctrl-C stops"))
        .await?;
    let text = output.text();
    assert!(
        text.lines()
            .any(|line| line == format!("export KUBECONFIG={}", kubeconfig.display())),
        "{text}"
    );
    assert!(
        text.contains("REFUSED  EndpointSlice dev-fixture/echo-loopback (00-service.yaml):")
            && text.contains("loopback"),
        "the refused EndpointSlice is reported with the apiserver's reason:\n{text}"
    );
    assert!(
        text.contains("applied  IngressRoute dev-fixture/echo (10-routes.yaml)"),
        "{text}"
    );
    assert!(
        text.contains(&format!(
            "kubectl mesh status -A --admin-url http://{admin}"
        )),
        "{text}"
    );
    let control_plane = control_plane_addrs(&text)?;

    let rows = wait_for_routes(&kubeconfig, |rows| {
        rows.iter()
            .any(|row| row[..3] == ["dev-fixture", "echo", "True"])
            && rows
                .iter()
                .any(|row| row[..4] == ["dev-fixture", "broken", "False", "BackendNotFound"])
    })
    .await?;
    assert_eq!(rows.len(), 2, "{rows:?}");

    // SAFETY: plain kill(2) on the child we spawned and have not reaped.
    let pid = child.id().ok_or_else(|| anyhow::anyhow!("no pid"))?;
    unsafe {
        libc::kill(pid as libc::pid_t, libc::SIGTERM);
    }
    let status = tokio::time::timeout(PATIENCE, child.wait()).await??;
    let rest = output.rest().await;
    assert!(status.success(), "exit status {status}; output:\n{rest}");
    assert!(rest.contains("mesh-dev-cluster: stopped"), "{rest}");
    for addr in control_plane.iter().chain([&admin]) {
        assert!(
            tokio::net::TcpStream::connect(addr).await.is_err(),
            "{addr} still accepts connections after the exit"
        );
    }
    assert!(
        !kubeconfig.exists(),
        "the kubeconfig of a stopped cluster is removed"
    );
    Ok(())
}

#[tokio::test]
async fn an_admin_address_in_use_is_refused_before_anything_starts() -> anyhow::Result<()> {
    let taken = std::net::TcpListener::bind("127.0.0.1:0")?;
    let addr = taken.local_addr()?;
    let output = Command::new(env!("CARGO_BIN_EXE_mesh-dev-cluster"))
        .arg(format!("--admin-addr={addr}"))
        .env("MESH_BIN", mesh_binary()?)
        .output()
        .await?;
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.starts_with(&format!(
            "mesh-dev-cluster: error: {addr} for mesh's admin API is not available ("
        )),
        "{stderr}"
    );
    assert!(
        stderr.contains("Choose another address with --admin-addr ADDR"),
        "{stderr}"
    );
    assert!(
        !String::from_utf8_lossy(&output.stdout).contains("starting etcd"),
        "nothing was started"
    );
    Ok(())
}

/// The child's stdout, line by line, and everything read so far.
struct Output {
    lines: tokio::io::Lines<BufReader<tokio::process::ChildStdout>>,
    stderr: tokio::task::JoinHandle<String>,
    seen: Vec<String>,
}

impl Output {
    fn new(child: &mut Child) -> anyhow::Result<Self> {
        let stdout = child
            .stdout
            .take()
            .ok_or_else(|| anyhow::anyhow!("no stdout"))?;
        let mut stderr = child
            .stderr
            .take()
            .ok_or_else(|| anyhow::anyhow!("no stderr"))?;
        let stderr = tokio::spawn(async move {
            let mut text = String::new();
            let _ = tokio::io::AsyncReadExt::read_to_string(&mut stderr, &mut text).await;
            text
        });
        Ok(Self {
            lines: BufReader::new(stdout).lines(),
            stderr,
            seen: Vec::new(),
        })
    }

    async fn wait_for_line(&mut self, wanted: impl Fn(&str) -> bool) -> anyhow::Result<String> {
        let deadline = tokio::time::Instant::now() + STARTUP_PATIENCE;
        loop {
            let next = tokio::time::timeout_at(deadline, self.lines.next_line()).await;
            match next {
                Ok(Ok(Some(line))) => {
                    self.seen.push(line.clone());
                    if wanted(&line) {
                        return Ok(line);
                    }
                }
                Ok(Ok(None)) | Ok(Err(_)) => {
                    anyhow::bail!("output ended early:\n{}", self.rest().await)
                }
                Err(_) => anyhow::bail!(
                    "no such line within {STARTUP_PATIENCE:?}; output so far:\n{}",
                    self.text()
                ),
            }
        }
    }

    fn text(&self) -> String {
        self.seen.join("\n")
    }

    /// Everything, once the child has closed its output (stdout, then stderr).
    async fn rest(&mut self) -> String {
        while let Ok(Some(line)) = self.lines.next_line().await {
            self.seen.push(line);
        }
        let stderr = (&mut self.stderr).await.unwrap_or_default();
        format!("{}\n--- stderr ---\n{stderr}", self.text())
    }
}

/// The apiserver's and etcd's addresses from the `kube-apiserver  https://A  (etcd http://B)`
/// line.
fn control_plane_addrs(text: &str) -> anyhow::Result<Vec<SocketAddr>> {
    let line = text
        .lines()
        .find(|line| line.trim_start().starts_with("kube-apiserver"))
        .ok_or_else(|| anyhow::anyhow!("no kube-apiserver line in:\n{text}"))?;
    line.split(['(', ')', ' '])
        .filter_map(|word| {
            word.strip_prefix("https://")
                .or_else(|| word.strip_prefix("http://"))
        })
        .map(|addr| Ok(addr.parse()?))
        .collect::<anyhow::Result<Vec<_>>>()
        .and_then(|addrs| {
            anyhow::ensure!(addrs.len() == 2, "expected two addresses in {line:?}");
            Ok(addrs)
        })
}

/// Polls `kubectl get ingressroutes -A --no-headers` until `done` holds for its rows
/// (NAMESPACE NAME READY REASON ...); returns them.
async fn wait_for_routes(
    kubeconfig: &Path,
    done: impl Fn(&[Vec<String>]) -> bool,
) -> anyhow::Result<Vec<Vec<String>>> {
    let deadline = tokio::time::Instant::now() + PATIENCE;
    loop {
        let output = Command::new("kubectl")
            .arg(format!("--kubeconfig={}", kubeconfig.display()))
            .args(["get", "ingressroutes", "-A", "--no-headers"])
            .output()
            .await
            .map_err(|error| anyhow::anyhow!("running kubectl (is it on PATH?): {error}"))?;
        let text = String::from_utf8_lossy(&output.stdout).into_owned();
        let rows: Vec<Vec<String>> = text
            .lines()
            .map(|line| line.split_whitespace().map(String::from).collect())
            .filter(|row: &Vec<String>| row.len() >= 4)
            .collect();
        if output.status.success() && done(&rows) {
            return Ok(rows);
        }
        if tokio::time::Instant::now() >= deadline {
            anyhow::bail!(
                "kubectl get ingressroutes -A never showed the expected rows; last output:\n{text}{}",
                String::from_utf8_lossy(&output.stderr)
            );
        }
        tokio::time::sleep(POLL).await;
    }
}
