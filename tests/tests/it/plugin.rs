//! `kubectl mesh` against the harness: `status` (table, JSON, through the real kubectl),
//! `describe`, `check`, and what the user sees when the cluster is unreachable, refuses
//! them, or has no Mesh CRDs.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::Duration;

use k8s_openapi::api::core::v1::Event;
use kube::api::{Api, DynamicObject, ListParams};
use mesh_tests::{ControlPlane, apply_yaml, free_loopback_ports};
use serde_json::Value;

use crate::operator_routing::{route_yaml, service_yaml};
use crate::operator_support::{
    Mesh, PATIENCE, locate_or_build, mesh_resource, ready, wait_for_ready,
};

/// The `kubectl-mesh` binary: `$KUBECTL_MESH_BIN`, else built once per test process.
fn plugin_binary() -> anyhow::Result<PathBuf> {
    static BINARY: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    BINARY
        .get_or_init(|| {
            locate_or_build("KUBECTL_MESH_BIN", "mesh-tui", "kubectl-mesh")
                .map_err(|error| format!("{error:#}"))
        })
        .clone()
        .map_err(|message| anyhow::anyhow!(message))
}

/// What one run printed, and how it ended.
struct Run {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

impl std::fmt::Display for Run {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "exit {:?}\n--- stdout\n{}--- stderr\n{}",
            self.code, self.stdout, self.stderr
        )
    }
}

/// `kubectl-mesh --kubeconfig KUBECONFIG ARGS...` with a clean environment for its flags.
async fn plugin(kubeconfig: &Path, args: &[&str]) -> anyhow::Result<Run> {
    let output = tokio::process::Command::new(plugin_binary()?)
        .arg(format!("--kubeconfig={}", kubeconfig.display()))
        .args(args)
        .env_remove("MESH_CONTROLLER_NAMESPACE")
        .env_remove("MESH_ADMIN_URL")
        .env("NO_COLOR", "1")
        .output()
        .await?;
    Ok(Run {
        code: output.status.code(),
        stdout: String::from_utf8(output.stdout)?,
        stderr: String::from_utf8(output.stderr)?,
    })
}

/// A table as rows of cells (cells are at least three spaces apart), checking on the way
/// that every cell starts under its header.
fn cells(table: &str) -> Vec<Vec<String>> {
    // (start, text) of each cell, searching on from the end of the previous one.
    fn split(line: &str) -> Vec<(usize, String)> {
        let mut found = Vec::new();
        let mut from = 0;
        for cell in line.split("   ").map(str::trim).filter(|c| !c.is_empty()) {
            let at = from + line[from..].find(cell).unwrap_or(0);
            from = at + cell.len();
            found.push((at, cell.to_string()));
        }
        found
    }
    let mut lines = table.lines();
    let header = split(lines.next().unwrap_or_default());
    std::iter::once(table.lines().next().unwrap_or_default())
        .chain(lines)
        .map(|line| {
            let mut row = Vec::new();
            for (index, (at, cell)) in split(line).into_iter().enumerate() {
                assert_eq!(
                    header.get(index).map(|h| h.0),
                    Some(at),
                    "cell {cell:?} is not under its header in:\n{table}"
                );
                row.push(cell);
            }
            // An empty last cell (a message-less row) prints nothing.
            row.resize(header.len(), String::new());
            row
        })
        .collect()
}

/// Waits until the operator has recorded a Warning Event with `reason` about `name`.
async fn wait_for_event(
    client: &kube::Client,
    namespace: &str,
    name: &str,
    reason: &str,
) -> anyhow::Result<()> {
    let events: Api<Event> = Api::namespaced(client.clone(), namespace);
    let params = ListParams::default().fields(&format!("involvedObject.name={name}"));
    let deadline = tokio::time::Instant::now() + PATIENCE;
    loop {
        let list = events.list(&params).await?;
        if list
            .items
            .iter()
            .any(|e| e.reason.as_deref() == Some(reason))
        {
            return Ok(());
        }
        anyhow::ensure!(
            tokio::time::Instant::now() < deadline,
            "no {reason} Event about {name} in {namespace}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// A kubeconfig at `path` for the harness admin acting as `user` (impersonation), who
/// has no rights at all.
fn impersonating_kubeconfig(admin: &Path, user: &str, path: &Path) -> anyhow::Result<()> {
    let mut config: serde_yaml::Value = serde_yaml::from_str(&std::fs::read_to_string(admin)?)?;
    let auth = config["users"][0]["user"]
        .as_mapping_mut()
        .ok_or_else(|| anyhow::anyhow!("the admin kubeconfig has no user"))?;
    auth.insert("as".into(), user.into());
    std::fs::write(path, serde_yaml::to_string(&config)?)?;
    Ok(())
}

#[tokio::test]
async fn status_describe_and_check_show_what_the_operator_wrote() -> anyhow::Result<()> {
    let (plane, client, ns) = crate::admin_in_fresh_namespace().await?;
    let ip: std::net::Ipv4Addr = "192.0.2.10".parse()?;
    apply_yaml(&client, &service_yaml("api", ip), &ns).await?;
    apply_yaml(&client, &route_yaml("good", "good.example", "api", 80), &ns).await?;
    apply_yaml(
        &client,
        &route_yaml("broken", "broken.example", "missing", 80),
        &ns,
    )
    .await?;
    let mesh = Mesh::start(plane, &ns, "plugin", &[]).await?;
    let routes: Api<DynamicObject> =
        Api::namespaced_with(client.clone(), &ns, &mesh_resource("IngressRoute")?);
    let good = wait_for_ready(&routes, "good", &mesh, "True", "Ready").await?;
    let broken = wait_for_ready(&routes, "broken", &mesh, "False", "BackendNotFound").await?;
    let message = |object: &DynamicObject| ready(object).map(|(_, _, m)| m).unwrap_or_default();
    let kubeconfig = plane.admin_kubeconfig();

    // The table: problems first, every column under its header; ages vary, so masked.
    let run = plugin(kubeconfig, &["status", "-n", &ns]).await?;
    assert_eq!(run.code, Some(0), "{run}");
    let mut rows = cells(&run.stdout);
    for row in rows.iter_mut().skip(1) {
        row[5] = "<age>".into();
    }
    let golden: Vec<Vec<String>> = [
        vec![
            "KIND",
            "NAMESPACE",
            "NAME",
            "READY",
            "REASON",
            "AGE",
            "MESSAGE",
        ],
        vec![
            "IngressRoute",
            &ns,
            "broken",
            "False",
            "BackendNotFound",
            "<age>",
            &message(&broken),
        ],
        vec![
            "IngressRoute",
            &ns,
            "good",
            "True",
            "Ready",
            "<age>",
            &message(&good),
        ],
    ]
    .iter()
    .map(|row| row.iter().map(|c| c.to_string()).collect())
    .collect();
    assert_eq!(rows, golden, "{run}");
    assert!(message(&broken).contains("missing"), "{}", message(&broken));

    let run = plugin(
        kubeconfig,
        &[
            "status",
            "-n",
            &ns,
            "--problems",
            "--no-headers",
            "--kind",
            "ir",
        ],
    )
    .await?;
    assert_eq!(run.code, Some(0), "{run}");
    assert_eq!(run.stdout.lines().count(), 1, "{run}");
    assert!(run.stdout.starts_with("IngressRoute   "), "{run}");

    // JSON: a List of rows with stable field names.
    let run = plugin(kubeconfig, &["status", "-n", &ns, "-o", "json"]).await?;
    assert_eq!(run.code, Some(0), "{run}");
    let list: Value = serde_json::from_str(&run.stdout)?;
    assert_eq!(list["kind"], "List");
    let items = list["items"].as_array().cloned().unwrap_or_default();
    let names: Vec<&str> = items.iter().filter_map(|i| i["name"].as_str()).collect();
    assert_eq!(names, ["broken", "good"], "{run}");
    assert_eq!(items[0]["kind"], "IngressRoute");
    assert_eq!(items[0]["namespace"], ns.as_str());
    assert_eq!(items[0]["ready"], "False");
    assert_eq!(items[0]["reason"], "BackendNotFound");
    assert_eq!(items[0]["severity"], "Error");
    assert_eq!(items[0]["routes"][0]["ready"], false);
    assert_eq!(items[1]["ready"], "True");
    assert!(
        items[1]["conditions"]
            .as_array()
            .is_some_and(|c| c.iter().any(|c| c["type"] == "Programmed")),
        "{run}"
    );

    // describe: the conditions, the route's verdict and the Event.
    wait_for_event(&client, &ns, "broken", "BackendNotFound").await?;
    let run = plugin(kubeconfig, &["describe", "ir/broken", "-n", &ns]).await?;
    assert_eq!(run.code, Some(0), "{run}");
    let text = &run.stdout;
    assert!(text.contains("Name:         broken\n"), "{run}");
    assert!(
        text.contains("Ready:        False (BackendNotFound)"),
        "{run}"
    );
    let conditions = text
        .split("\nConditions:\n")
        .nth(1)
        .and_then(|rest| rest.split("\n\n").next())
        .unwrap_or_default();
    assert!(
        conditions
            .lines()
            .any(|l| l.trim_start().starts_with("Ready ") && l.contains("BackendNotFound")),
        "{run}"
    );
    assert!(
        text.contains("routes[0]  not ready: BackendNotFound"),
        "{run}"
    );
    let events = text.split("\nEvents:\n").nth(1).unwrap_or_default();
    assert!(
        events
            .lines()
            .any(|l| l.contains("Warning") && l.contains("BackendNotFound")),
        "{run}"
    );

    let run = plugin(kubeconfig, &["describe", "ir/nope", "-n", &ns]).await?;
    assert_eq!(run.code, Some(2), "{run}");
    assert!(
        run.stderr.contains(&format!(
            "error: IngressRoute nope not found in namespace {ns}"
        )),
        "{run}"
    );

    // check: the CRD group passes; no controller pods in this namespace is a failure.
    let run = plugin(kubeconfig, &["check", "--controller-namespace", &ns]).await?;
    assert_eq!(run.code, Some(1), "{run}");
    let crd_group = run
        .stdout
        .split("mesh-crds\n---------\n")
        .nth(1)
        .and_then(|rest| rest.split("\n\n").next())
        .unwrap_or_default();
    assert_eq!(crd_group.lines().count(), 10, "{run}");
    assert!(crd_group.lines().all(|l| l.starts_with("√ ")), "{run}");
    assert!(
        run.stdout.contains("√ can reach the apiserver at https://"),
        "{run}"
    );
    assert!(
        run.stdout.contains(&format!(
            "× no controller pods found with selector app.kubernetes.io/name=mesh in namespace {ns}"
        )),
        "{run}"
    );
    assert!(
        run.stdout.ends_with("Status check results are ×\n"),
        "{run}"
    );

    // Plugin discovery: `kubectl mesh` finds kubectl-mesh on PATH.
    let bin = tempfile::tempdir()?;
    std::os::unix::fs::symlink(plugin_binary()?, bin.path().join("kubectl-mesh"))?;
    let path = std::env::join_paths(std::iter::once(bin.path().to_path_buf()).chain(
        std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default()),
    ))?;
    let output = tokio::process::Command::new("kubectl")
        .args(["mesh", "status", "-n", &ns, "--no-headers"])
        .arg(format!("--kubeconfig={}", kubeconfig.display()))
        .env("PATH", path)
        .output()
        .await?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "kubectl mesh: {stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let first: Vec<&str> = stdout
        .lines()
        .next()
        .unwrap_or_default()
        .split_whitespace()
        .collect();
    assert_eq!(
        first[..5],
        [
            "IngressRoute",
            ns.as_str(),
            "broken",
            "False",
            "BackendNotFound"
        ],
        "{stdout}"
    );
    Ok(())
}

#[tokio::test]
async fn an_unreachable_cluster_is_named_with_a_hint_and_exit_2() -> anyhow::Result<()> {
    let port = free_loopback_ports(1)?[0];
    let dir = tempfile::tempdir()?;
    let kubeconfig = dir.path().join("config");
    std::fs::write(
        &kubeconfig,
        format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: gone\n  cluster: {{server: 'https://127.0.0.1:{port}', insecure-skip-tls-verify: true}}\n\
             users:\n- name: u\n  user: {{token: t}}\ncontexts:\n- name: gone\n  context: {{cluster: gone, user: u}}\ncurrent-context: gone\n"
        ),
    )?;
    let run = plugin(&kubeconfig, &["status"]).await?;
    assert_eq!(run.code, Some(2), "{run}");
    assert!(
        run.stderr.starts_with(&format!(
            "error: no cluster reachable at https://127.0.0.1:{port}"
        )),
        "{run}"
    );
    assert!(
        run.stderr
            .contains("hint: is the apiserver of context `gone` running?"),
        "{run}"
    );
    assert!(run.stdout.is_empty(), "{run}");

    let run = plugin(&dir.path().join("absent"), &["status"]).await?;
    assert_eq!(run.code, Some(2), "{run}");
    assert!(run.stderr.contains("does not exist"), "{run}");

    let run = plugin(&kubeconfig, &["--context", "other", "status"]).await?;
    assert_eq!(run.code, Some(2), "{run}");
    assert!(
        run.stderr
            .contains("error: context `other` is not in the kubeconfig"),
        "{run}"
    );
    Ok(())
}

#[tokio::test]
async fn a_user_without_rights_is_told_the_verb_and_resource() -> anyhow::Result<()> {
    let (plane, _client, ns) = crate::admin_in_fresh_namespace().await?;
    let dir = tempfile::tempdir()?;
    let kubeconfig = dir.path().join("nobody");
    impersonating_kubeconfig(plane.admin_kubeconfig(), "mesh-test-nobody", &kubeconfig)?;

    let run = plugin(&kubeconfig, &["status", "-n", &ns]).await?;
    assert_eq!(run.code, Some(2), "{run}");
    assert!(
        run.stderr.starts_with(&format!(
            "error: permission denied: cannot list ingressroutes.mesh.io in namespace {ns}"
        )),
        "{run}"
    );
    assert!(
        run.stderr
            .contains("hint: ask for a Role or ClusterRole granting `list`"),
        "{run}"
    );

    let run = plugin(&kubeconfig, &["describe", "mw/auth", "-n", &ns]).await?;
    assert_eq!(run.code, Some(2), "{run}");
    assert!(
        run.stderr
            .contains(&format!("cannot get middlewares.mesh.io in namespace {ns}")),
        "{run}"
    );
    Ok(())
}

#[tokio::test]
async fn a_cluster_without_the_crds_says_how_to_install_them() -> anyhow::Result<()> {
    let plane = ControlPlane::start().await?;
    let kubeconfig = plane.admin_kubeconfig();

    let run = plugin(kubeconfig, &["status", "-A"]).await?;
    assert_eq!(run.code, Some(2), "{run}");
    assert!(
        run.stderr.starts_with(&format!(
            "error: Mesh's CRDs are not installed in the cluster at {}",
            plane.server_url().trim_end_matches('/')
        )),
        "{run}"
    );
    assert!(
        run.stderr.contains("kubectl apply -f helm/mesh/crds"),
        "{run}"
    );

    let run = plugin(kubeconfig, &["check"]).await?;
    assert_eq!(run.code, Some(1), "{run}");
    assert!(
        run.stdout
            .contains("× ingressroutes.mesh.io is not installed\n    hint: install them"),
        "{run}"
    );

    // Before installing, the same cluster is fine: an admin, and no CRDs in the way.
    let run = plugin(kubeconfig, &["check", "--pre"]).await?;
    assert_eq!(run.code, Some(0), "{run}");
    assert!(
        run.stdout
            .contains("√ can create customresourcedefinitions.apiextensions.k8s.io"),
        "{run}"
    );
    assert!(
        run.stdout
            .contains("√ no CRDs of group mesh.io are installed yet"),
        "{run}"
    );
    Ok(())
}
