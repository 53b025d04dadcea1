//! `kubectl mesh routes` and `kubectl mesh certs` against a running `mesh run --manifests`:
//! directly with `--admin-url`, and through the apiserver's pod proxy to a controller "pod"
//! (a network namespace of the harness whose Pod object says Running with its address).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

use k8s_openapi::api::core::v1::{Pod, ServiceAccount};
use kube::api::{Api, Patch, PatchParams, PostParams};
use mesh_tests::{ManagedProcess, free_loopback_ports, workspace_root};
use serde_json::{Value, json};

use crate::operator_support::{PATIENCE, mesh_binary};

/// The plugin binary: `$KUBECTL_MESH_BIN`, else built with Cargo once per test process
/// (a no-op when up to date) next to the `mesh` binary.
fn kubectl_mesh_binary() -> anyhow::Result<PathBuf> {
    static BINARY: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    BINARY
        .get_or_init(|| {
            if let Some(path) = std::env::var_os("KUBECTL_MESH_BIN") {
                return Ok(PathBuf::from(path));
            }
            let mesh = mesh_binary().map_err(|error| format!("{error:#}"))?;
            let binary = mesh.with_file_name("kubectl-mesh");
            let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
            let output = Command::new(cargo)
                .current_dir(workspace_root())
                .args(["build", "-p", "mesh-tui", "--bin", "kubectl-mesh"])
                .output()
                .map_err(|error| error.to_string())?;
            if !output.status.success() && !binary.is_file() {
                return Err(format!(
                    "building kubectl-mesh failed:\n{}",
                    String::from_utf8_lossy(&output.stderr)
                ));
            }
            Ok(binary)
        })
        .clone()
        .map_err(|message| anyhow::anyhow!(message))
}

/// Standard output, standard error and exit code of `kubectl mesh ARGS`.
fn kubectl_mesh(args: &[&str]) -> anyhow::Result<(String, String, Option<i32>)> {
    let output: Output = Command::new(kubectl_mesh_binary()?)
        .args(args)
        .env_remove("MESH_ADMIN_URL")
        .env_remove("KUBECONFIG")
        .env("NO_COLOR", "1")
        .output()?;
    Ok((
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
        output.status.code(),
    ))
}

/// A self-signed certificate for `web.example.test`, valid until 2031-05-06, as PEM texts.
fn certificate() -> anyhow::Result<(String, String)> {
    let key = rcgen::KeyPair::generate()?;
    let mut params = rcgen::CertificateParams::new(vec!["web.example.test".to_owned()])?;
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "web.example.test");
    params.not_after = rcgen::date_time_ymd(2031, 5, 6);
    let cert = params.self_signed(&key)?;
    Ok((cert.pem(), key.serialize_pem()))
}

/// A folder with an HTTP route, a TLS route whose certificate is a Secret, a route whose
/// middleware is missing, and a TCP route.
fn manifests(dir: &Path) -> anyhow::Result<()> {
    let (cert, key) = certificate()?;
    let secret = json!({
        "apiVersion": "v1", "kind": "Secret", "type": "kubernetes.io/tls",
        "metadata": {"name": "web-tls"},
        "stringData": {"tls.crt": cert, "tls.key": key},
    });
    std::fs::write(dir.join("secret.json"), serde_json::to_vec(&secret)?)?;
    std::fs::write(
        dir.join("routes.yaml"),
        r#"
apiVersion: v1
kind: Service
metadata: {name: app}
spec:
  ports: [{name: http, port: 80, targetPort: 8080}]
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: app-1
  labels: {kubernetes.io/service-name: app}
addressType: IPv4
ports: [{name: http, port: 8080, protocol: TCP}]
endpoints: [{addresses: [127.0.0.1], conditions: {ready: true}}]
---
apiVersion: mesh.io/v1alpha1
kind: Middleware
metadata: {name: strip}
spec:
  stripPrefix: {prefixes: [/api]}
---
apiVersion: mesh.io/v1alpha1
kind: IngressRoute
metadata: {name: web}
spec:
  entryPoints: [web]
  routes:
    - match: Host(`web.example.test`)
      kind: Rule
      middlewares: [{name: strip}]
      services: [{name: app, port: 80}]
---
apiVersion: mesh.io/v1alpha1
kind: IngressRoute
metadata: {name: secure}
spec:
  entryPoints: [websecure]
  routes:
    - match: Host(`web.example.test`)
      kind: Rule
      services: [{name: app, port: 80}]
  tls: {secretName: web-tls}
---
apiVersion: mesh.io/v1alpha1
kind: IngressRouteTCP
metadata: {name: db}
spec:
  entryPoints: [websecure]
  routes:
    - match: HostSNI(`db.example.test`)
      services: [{name: app, port: 80}]
  tls: {passthrough: true}
"#,
    )?;
    Ok(())
}

/// `mesh run --manifests` on the given addresses, its admin API answering `/ping`.
struct LocalMesh {
    process: ManagedProcess,
    admin: SocketAddr,
    _dir: tempfile::TempDir,
}

impl LocalMesh {
    async fn start(
        command: Command,
        admin: SocketAddr,
        dir: tempfile::TempDir,
    ) -> anyhow::Result<LocalMesh> {
        let process =
            ManagedProcess::start("mesh manifests", command, &dir.path().join("mesh.log"))?;
        let mut mesh = LocalMesh {
            process,
            admin,
            _dir: dir,
        };
        mesh.wait_for_programmed().await?;
        Ok(mesh)
    }

    /// Waits until `/ping` answers and the folder's routes are served (generation > 0).
    async fn wait_for_programmed(&mut self) -> anyhow::Result<()> {
        let deadline = tokio::time::Instant::now() + PATIENCE;
        let url = format!("http://{}/api/overview", self.admin);
        loop {
            if let Some(status) = self.process.exit_status() {
                anyhow::bail!("mesh exited with {status}:\n{}", self.process.log_tail(40));
            }
            let ping = crate::http_client::get(&format!("http://{}/ping", self.admin)).await;
            if ping.is_ok_and(|answer| answer.status.is_success())
                && let Ok(answer) = crate::http_client::get(&url).await
                && let Ok(overview) = answer.json()
                && overview["http"]["routers"]["total"].as_u64().unwrap_or(0) >= 2
            {
                return Ok(());
            }
            anyhow::ensure!(
                tokio::time::Instant::now() < deadline,
                "mesh never served the manifests:\n{}",
                self.process.log_tail(40)
            );
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
    }
}

/// `mesh run --manifests` on free loopback ports.
async fn local_mesh() -> anyhow::Result<LocalMesh> {
    let dir = tempfile::tempdir()?;
    manifests(dir.path())?;
    let ports = free_loopback_ports(3)?;
    let admin = SocketAddr::from(([127, 0, 0, 1], ports[2]));
    let mut command = Command::new(mesh_binary()?);
    command
        .arg("run")
        .arg(format!("--manifests={}", dir.path().display()))
        .arg(format!("--entrypoint=web=127.0.0.1:{}", ports[0]))
        .arg(format!("--entrypoint=websecure=127.0.0.1:{}", ports[1]))
        .arg(format!("--admin-addr={admin}"));
    LocalMesh::start(command, admin, dir).await
}

/// The table's lines with runs of spaces squeezed, so a column width does not matter.
fn squeezed(table: &str) -> Vec<String> {
    table
        .lines()
        .map(|line| line.split_whitespace().collect::<Vec<_>>().join(" "))
        .collect()
}

#[tokio::test]
async fn routes_and_certs_read_a_local_mesh_run() -> anyhow::Result<()> {
    let mesh = local_mesh().await?;
    let url = format!("http://{}", mesh.admin);

    let (stdout, stderr, code) = kubectl_mesh(&["routes", "--admin-url", &url])?;
    assert_eq!(code, Some(0), "{stdout}{stderr}");
    assert!(
        stderr.is_empty(),
        "no warning with one controller: {stderr}"
    );
    let lines = squeezed(&stdout);
    assert_eq!(lines[0], "HTTP ROUTERS");
    assert_eq!(
        lines[1],
        "ENTRYPOINTS NAME RULE PRIORITY SERVICE MIDDLEWARES TLS STATE REQUESTS ERRORS"
    );
    assert!(lines.iter().any(|l| l == "TCP ROUTERS"), "{stdout}");

    let (stdout, _, code) = kubectl_mesh(&[
        "routes",
        "--admin-url",
        &url,
        "--protocol",
        "tcp",
        "-o",
        "json",
    ])?;
    assert_eq!(code, Some(0));
    let list: Value = serde_json::from_str(&stdout)?;
    assert_eq!(list["kind"], "List");
    let routers = &list["items"];
    assert_eq!(routers.as_array().map(Vec::len), Some(1), "{list:#}");
    assert_eq!(routers[0]["protocol"], "tcp");
    assert_eq!(routers[0]["tls"], "tls(passthrough)");
    assert_eq!(routers[0]["controllers"], json!([url]));

    let (stdout, stderr, code) = kubectl_mesh(&["certs", "--admin-url", &url])?;
    assert_eq!(code, Some(0), "{stdout}{stderr}");
    let lines = squeezed(&stdout);
    assert_eq!(
        lines[0],
        "SUBJECT SANS NOT AFTER DAYS LEFT ISSUER SOURCE ROUTERS"
    );
    assert!(
        lines[1].starts_with("web.example.test web.example.test 2031-05-06 "),
        "{stdout}"
    );
    assert!(
        lines[1].contains("CN=web.example.test Secret default/web-tls default-secure-"),
        "the TLS route's router uses it: {stdout}"
    );

    let (stdout, _, code) = kubectl_mesh(&["certs", "--admin-url", &url, "-o", "json"])?;
    assert_eq!(code, Some(0));
    let certs: Value = serde_json::from_str(&stdout)?;
    let web = &certs["items"][0];
    assert_eq!(web["source"], "Secret default/web-tls");
    assert_eq!(web["notAfter"], "2031-05-06T00:00:00Z");
    assert!(
        web["daysLeft"].as_i64().is_some_and(|days| days > 0),
        "{web}"
    );
    assert!(!stdout.contains("PRIVATE KEY"), "{stdout}");
    Ok(())
}

#[tokio::test]
async fn routes_reach_a_controller_pod_through_the_apiserver() -> anyhow::Result<()> {
    let (plane, client, namespace) = crate::admin_in_fresh_namespace().await?;
    let network = mesh_tests::PodNetwork::get()?;
    let pod = network.create_pod("mesh-0")?;

    // `mesh run --manifests` inside the pod's network namespace, admin API on the pod IP.
    let dir = tempfile::tempdir()?;
    manifests(dir.path())?;
    let admin = SocketAddr::from((pod.ip(), 9000));
    let mut command = pod.command(mesh_binary()?);
    command
        .arg("run")
        .arg(format!("--manifests={}", dir.path().display()))
        .arg("--entrypoint=web=0.0.0.0:8000")
        .arg("--entrypoint=websecure=0.0.0.0:8443")
        .arg("--admin-addr=0.0.0.0:9000");
    let _mesh = LocalMesh::start(command, admin, dir).await?;

    // The Pod object the plugin finds: Running, with the network namespace's address.
    let accounts: Api<ServiceAccount> = Api::namespaced(client.clone(), &namespace);
    let account: ServiceAccount = serde_json::from_value(json!({"metadata": {"name": "default"}}))?;
    // No controller-manager runs in the harness: the Pod's ServiceAccount must be made here.
    let created = accounts.create(&PostParams::default(), &account).await;
    if created.is_err() && crate::api_error_code(&created) != Some(409) {
        created?;
    }
    let pods: Api<Pod> = Api::namespaced(client.clone(), &namespace);
    let object: Pod = serde_json::from_value(json!({
        "metadata": {"name": "mesh-0", "labels": {"app.kubernetes.io/name": "mesh"}},
        "spec": {"containers": [{"name": "mesh", "image": "mesh:test"}]},
    }))?;
    pods.create(&PostParams::default(), &object).await?;
    let ip = pod.ip().to_string();
    pods.patch_status(
        "mesh-0",
        &PatchParams::default(),
        &Patch::Merge(json!({"status": {
            "phase": "Running", "podIP": ip, "podIPs": [{"ip": ip}],
        }})),
    )
    .await?;

    let kubeconfig = plane.admin_kubeconfig().display().to_string();
    let (stdout, stderr, code) = kubectl_mesh(&[
        "routes",
        "--kubeconfig",
        &kubeconfig,
        "--controller-namespace",
        &namespace,
        "-o",
        "wide",
    ])?;
    assert_eq!(code, Some(0), "{stdout}{stderr}");
    let lines = squeezed(&stdout);
    assert_eq!(lines[0], "HTTP ROUTERS");
    assert!(lines[1].ends_with("ERRORS CONTROLLERS"), "{stdout}");
    assert!(
        lines
            .iter()
            .any(|line| line.starts_with("web default-web-") && line.ends_with(" mesh-0")),
        "{stdout}"
    );

    // No pod matches another selector: a connection error with the hint.
    let (_, stderr, code) = kubectl_mesh(&[
        "routes",
        "--kubeconfig",
        &kubeconfig,
        "--controller-namespace",
        &namespace,
        "--controller-selector",
        "app.kubernetes.io/name=nothing",
    ])?;
    assert_eq!(code, Some(2));
    assert_eq!(
        stderr,
        format!(
            "error: no Mesh controller pods match app.kubernetes.io/name=nothing in {namespace}\n\
             hint: use --controller-namespace/--controller-selector, or --admin-url for a local mesh run\n"
        )
    );
    Ok(())
}
