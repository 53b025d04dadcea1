//! The Helm chart as a user meets it: `helm lint`, `helm template` of the default and the
//! `ci/*-values.yaml` files accepted by the apiserver (`kubectl apply --dry-run=server`),
//! wrong values refused with a message naming the value, and the Dockerfile building the
//! binary the chart runs.

use std::path::{Path, PathBuf};
use std::process::Output;

use mesh_tests::{ControlPlane, ensure_namespace, workspace_root};
use serde::Deserialize;
use serde_yaml::Value;

/// `helm/mesh` in this checkout.
pub fn chart_dir() -> PathBuf {
    workspace_root().join("helm/mesh")
}

/// The harness's helm, with its caches and config in `home` (tests never share them).
pub fn helm(plane: &ControlPlane, home: &Path) -> tokio::process::Command {
    let mut command = tokio::process::Command::new(&plane.binaries().helm);
    command
        .env("HELM_CACHE_HOME", home.join("cache"))
        .env("HELM_CONFIG_HOME", home.join("config"))
        .env("HELM_DATA_HOME", home.join("data"))
        .arg(format!(
            "--kubeconfig={}",
            plane.admin_kubeconfig().display()
        ));
    command
}

pub fn describe(output: &Output) -> String {
    format!(
        "{}\nstdout:\n{}\nstderr:\n{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// `helm template mesh helm/mesh -n namespace ARGS`; the rendered manifests.
pub async fn template(
    plane: &ControlPlane,
    home: &Path,
    namespace: &str,
    args: &[&str],
) -> anyhow::Result<String> {
    let output = helm(plane, home)
        .args(["template", "mesh"])
        .arg(chart_dir())
        .args(["--namespace", namespace])
        .args(args)
        .output()
        .await?;
    anyhow::ensure!(
        output.status.success(),
        "helm template {args:?} failed: {}",
        describe(&output)
    );
    Ok(String::from_utf8(output.stdout)?)
}

/// The objects of a multi-document YAML text.
pub fn documents(text: &str) -> anyhow::Result<Vec<Value>> {
    let mut objects = Vec::new();
    for document in serde_yaml::Deserializer::from_str(text) {
        let value = Value::deserialize(document)?;
        if !value.is_null() {
            objects.push(value);
        }
    }
    Ok(objects)
}

pub fn kinds(objects: &[Value]) -> Vec<String> {
    let mut kinds: Vec<String> = objects
        .iter()
        .filter_map(|object| object["kind"].as_str().map(String::from))
        .collect();
    kinds.sort();
    kinds
}

pub fn of_kind<'a>(objects: &'a [Value], kind: &str) -> Vec<&'a Value> {
    objects
        .iter()
        .filter(|object| object["kind"].as_str() == Some(kind))
        .collect()
}

fn only<'a>(objects: &'a [Value], kind: &str) -> anyhow::Result<&'a Value> {
    match of_kind(objects, kind).as_slice() {
        [one] => Ok(one),
        other => anyhow::bail!("expected one {kind}, found {}", other.len()),
    }
}

/// The `mesh` container of the rendered Deployment or DaemonSet.
pub fn mesh_container(workload: &Value) -> anyhow::Result<&Value> {
    workload["spec"]["template"]["spec"]["containers"]
        .as_sequence()
        .and_then(|containers| containers.iter().find(|c| c["name"] == "mesh"))
        .ok_or_else(|| anyhow::anyhow!("no mesh container in {workload:?}"))
}

pub fn strings(value: &Value) -> Vec<String> {
    value
        .as_sequence()
        .map(|items| {
            items
                .iter()
                .filter_map(|item| item.as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default()
}

/// `kubectl apply --server-side --dry-run=server` of `manifests` as admin: what the
/// apiserver (schemas, admission, defaulting) says of them, nothing stored.
async fn server_dry_run(plane: &ControlPlane, manifests: &str) -> anyhow::Result<String> {
    use tokio::io::AsyncWriteExt;
    let mut child = tokio::process::Command::new("kubectl")
        .arg(format!(
            "--kubeconfig={}",
            plane.admin_kubeconfig().display()
        ))
        .args(["apply", "--server-side", "--force-conflicts"])
        .args(["--field-manager=mesh-helm-dry-run", "--dry-run=server"])
        // No --namespace: kubectl refuses objects of other namespaces (namespaced Roles)
        // with one; every namespaced template sets its namespace.
        .args(["-f", "-"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()?;
    let mut stdin = child
        .stdin
        .take()
        .ok_or_else(|| anyhow::anyhow!("no stdin"))?;
    stdin.write_all(manifests.as_bytes()).await?;
    drop(stdin);
    let output = child.wait_with_output().await?;
    anyhow::ensure!(
        output.status.success(),
        "the apiserver refused the rendered chart: {}",
        describe(&output)
    );
    Ok(String::from_utf8(output.stdout)?)
}

/// `helm template` of `ci/<values_file>` (or the defaults), sent to the apiserver in
/// dry-run; returns the rendered objects.
async fn render_and_dry_run(
    plane: &ControlPlane,
    home: &Path,
    namespace: &str,
    values_file: Option<&str>,
) -> anyhow::Result<Vec<Value>> {
    let mut args = Vec::new();
    let path;
    if let Some(file) = values_file {
        path = chart_dir().join("ci").join(file);
        args.push("--values".to_string());
        args.push(path.display().to_string());
    }
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let rendered = template(plane, home, namespace, &args).await?;
    let objects = documents(&rendered)?;
    let answer = server_dry_run(plane, &rendered).await?;
    // Every object was considered by the apiserver, not only the first.
    for object in &objects {
        let kind = object["kind"].as_str().unwrap_or_default().to_lowercase();
        let name = object["metadata"]["name"].as_str().unwrap_or_default();
        let applied = answer.lines().any(|line| {
            let (resource, rest) = line.split_once('/').unwrap_or_default();
            let resource_kind = resource.split('.').next().unwrap_or_default();
            resource_kind == kind && rest == format!("{name} serverside-applied (server dry run)")
        });
        assert!(
            applied,
            "{values_file:?}: the dry run does not mention {kind} {name}:\n{answer}"
        );
    }
    Ok(objects)
}

#[tokio::test]
async fn helm_lint_passes_with_every_values_file() -> anyhow::Result<()> {
    let plane = ControlPlane::shared().await?;
    let home = tempfile::tempdir()?;
    let mut files = vec![None];
    for entry in std::fs::read_dir(chart_dir().join("ci"))? {
        files.push(Some(entry?.path()));
    }
    assert!(files.len() >= 5, "the ci/ value files are missing");
    for file in files {
        let mut lint = helm(plane, home.path());
        lint.args(["lint", "--strict"]).arg(chart_dir());
        if let Some(file) = &file {
            lint.arg("--values").arg(file);
        }
        let output = lint.output().await?;
        assert!(
            output.status.success(),
            "helm lint {file:?}: {}",
            describe(&output)
        );
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert!(
            stdout.contains("1 chart(s) linted, 0 chart(s) failed"),
            "{stdout}"
        );
    }
    Ok(())
}

#[tokio::test]
async fn default_values_render_a_deployment_the_apiserver_accepts() -> anyhow::Result<()> {
    let (plane, _, namespace) = crate::admin_in_fresh_namespace().await?;
    let home = tempfile::tempdir()?;
    let objects = render_and_dry_run(plane, home.path(), &namespace, None).await?;
    assert_eq!(
        kinds(&objects),
        [
            "ClusterRole",
            "ClusterRoleBinding",
            "Deployment",
            "IngressClass",
            "PodDisruptionBudget",
            "Role",
            "RoleBinding",
            "Service",
            "ServiceAccount"
        ]
    );
    let deployment = only(&objects, "Deployment")?;
    assert_eq!(deployment["spec"]["replicas"], 2);
    let pod = &deployment["spec"]["template"]["spec"];
    // Two replicas: spread and kept apart by default.
    assert_eq!(
        pod["topologySpreadConstraints"][0]["topologyKey"],
        "kubernetes.io/hostname"
    );
    assert!(pod["affinity"]["podAntiAffinity"].is_mapping(), "{pod:?}");
    // Secure defaults.
    assert_eq!(pod["securityContext"]["runAsNonRoot"], true);
    assert_eq!(
        pod["securityContext"]["seccompProfile"]["type"],
        "RuntimeDefault"
    );
    let container = mesh_container(deployment)?;
    assert_eq!(container["securityContext"]["readOnlyRootFilesystem"], true);
    assert_eq!(
        container["securityContext"]["allowPrivilegeEscalation"],
        false
    );
    assert_eq!(
        strings(&container["securityContext"]["capabilities"]["drop"]),
        ["ALL"]
    );
    // Probes on the admin port, and a drain that fits in the grace period.
    for (probe, path) in [
        ("startupProbe", "/ping"),
        ("readinessProbe", "/ready"),
        ("livenessProbe", "/ping"),
    ] {
        assert_eq!(container[probe]["httpGet"]["port"], "admin", "{probe}");
        assert_eq!(container[probe]["httpGet"]["path"], path, "{probe}");
    }
    let delay = container["lifecycle"]["preStop"]["sleep"]["seconds"]
        .as_u64()
        .ok_or_else(|| anyhow::anyhow!("no preStop sleep: {container:?}"))?;
    let grace = pod["terminationGracePeriodSeconds"].as_u64().unwrap_or(0);
    assert!(
        delay > 0 && grace > delay,
        "preStop {delay}s, grace {grace}s"
    );
    // Leader election identity from the downward API.
    let env = container["env"].as_sequence().cloned().unwrap_or_default();
    let pod_name = env.iter().find(|e| e["name"] == "POD_NAME");
    assert_eq!(
        pod_name.map(|e| &e["valueFrom"]["fieldRef"]["fieldPath"]),
        Some(&Value::from("metadata.name"))
    );
    let args = strings(&container["args"]);
    for flag in [
        "run",
        "--entrypoint=web=:8000",
        "--entrypoint=websecure=:8443",
        "--admin-addr=0.0.0.0:9000",
        "--leader-elect=true",
        "--log-format=json",
    ] {
        assert!(args.iter().any(|a| a == flag), "{flag} not in {args:?}");
    }
    // A port per entry point on the Service, never the admin port.
    let service = only(&objects, "Service")?;
    assert_eq!(service["spec"]["type"], "LoadBalancer");
    let ports: Vec<(String, u64)> = service["spec"]["ports"]
        .as_sequence()
        .cloned()
        .unwrap_or_default()
        .iter()
        .map(|p| {
            (
                p["name"].as_str().unwrap_or_default().to_string(),
                p["port"].as_u64().unwrap_or(0),
            )
        })
        .collect();
    assert_eq!(
        ports,
        [("web".to_string(), 80), ("websecure".to_string(), 443)]
    );
    let ingress_class = only(&objects, "IngressClass")?;
    assert!(ingress_class["metadata"]["annotations"].is_null());
    Ok(())
}

#[tokio::test]
async fn non_default_values_files_render_what_they_promise() -> anyhow::Result<()> {
    let (plane, admin, namespace) = crate::admin_in_fresh_namespace().await?;
    let home = tempfile::tempdir()?;
    for watched in ["mesh-ci-apps", "mesh-ci-team"] {
        ensure_namespace(&admin, watched).await?;
    }

    let objects = render_and_dry_run(
        plane,
        home.path(),
        &namespace,
        Some("daemonset-values.yaml"),
    )
    .await?;
    assert!(of_kind(&objects, "Deployment").is_empty());
    let daemon_set = only(&objects, "DaemonSet")?;
    assert!(
        daemon_set["spec"]["template"]["spec"]["topologySpreadConstraints"].is_null(),
        "a DaemonSet already has one pod per node"
    );
    let service = only(&objects, "Service")?;
    assert_eq!(service["spec"]["type"], "NodePort");
    assert_eq!(service["spec"]["ports"][0]["nodePort"], 30080);
    assert_eq!(
        service["spec"]["ports"].as_sequence().map(Vec::len),
        Some(1),
        "websecure has expose: false"
    );

    let objects = render_and_dry_run(
        plane,
        home.path(),
        &namespace,
        Some("namespaced-values.yaml"),
    )
    .await?;
    let roles = of_kind(&objects, "Role");
    let mut role_namespaces: Vec<&str> = roles
        .iter()
        .filter_map(|r| r["metadata"]["namespace"].as_str())
        .collect();
    role_namespaces.sort();
    let mut expected = vec!["mesh-ci-apps", "mesh-ci-team", namespace.as_str()];
    expected.sort();
    assert_eq!(
        role_namespaces, expected,
        "a Role per watched namespace + the Lease's"
    );
    let cluster_role = only(&objects, "ClusterRole")?;
    let cluster_resources: Vec<String> = cluster_role["rules"]
        .as_sequence()
        .cloned()
        .unwrap_or_default()
        .iter()
        .flat_map(|rule| strings(&rule["resources"]))
        .collect();
    assert_eq!(cluster_resources, ["nodes", "ingressclasses"]);
    let args = strings(&mesh_container(only(&objects, "Deployment")?)?["args"]);
    assert!(args.contains(&"--namespaces=mesh-ci-apps,mesh-ci-team".to_string()));
    assert!(args.contains(&"--lease-name=mesh-ci-status".to_string()));

    let objects =
        render_and_dry_run(plane, home.path(), &namespace, Some("hpa-values.yaml")).await?;
    let hpa = only(&objects, "HorizontalPodAutoscaler")?;
    assert_eq!(hpa["spec"]["maxReplicas"], 6);
    assert!(only(&objects, "Deployment")?["spec"]["replicas"].is_null());
    assert_eq!(
        only(&objects, "PodDisruptionBudget")?["spec"]["minAvailable"],
        1
    );
    let policy = only(&objects, "NetworkPolicy")?;
    assert_eq!(policy["spec"]["ingress"][1]["ports"][0]["port"], 9000);

    let objects = render_and_dry_run(
        plane,
        home.path(),
        &namespace,
        Some("three-replicas-values.yaml"),
    )
    .await?;
    let deployment = only(&objects, "Deployment")?;
    assert_eq!(deployment["spec"]["replicas"], 3);
    let args = strings(&mesh_container(deployment)?["args"]);
    assert!(args.contains(&"--access-log-format=common".to_string()));
    assert_eq!(
        only(&objects, "IngressClass")?["metadata"]["annotations"]["ingressclass.kubernetes.io/is-default-class"],
        "true"
    );
    assert_eq!(
        only(&objects, "ConfigMap")?["metadata"]["name"],
        "mesh-extra"
    );
    Ok(())
}

/// `helm template` with `args`, expected to fail; its error output.
async fn template_error(
    plane: &ControlPlane,
    home: &Path,
    args: &[&str],
) -> anyhow::Result<String> {
    let output = helm(plane, home)
        .args(["template", "mesh"])
        .arg(chart_dir())
        .args(args)
        .output()
        .await?;
    anyhow::ensure!(
        !output.status.success(),
        "helm template {args:?} should fail: {}",
        describe(&output)
    );
    Ok(String::from_utf8_lossy(&output.stderr).into_owned())
}

#[tokio::test]
async fn a_wrong_value_type_fails_helm_install_with_the_schema_message() -> anyhow::Result<()> {
    let (plane, _, namespace) = crate::admin_in_fresh_namespace().await?;
    let home = tempfile::tempdir()?;
    let values = home.path().join("wrong-values.yaml");
    std::fs::write(&values, "deployment:\n  replicas: \"two\"\n")?;
    let output = helm(plane, home.path())
        .args(["install", "wrong"])
        .arg(chart_dir())
        .args(["--namespace", &namespace, "--skip-crds"])
        .arg("--values")
        .arg(&values)
        .output()
        .await?;
    assert!(!output.status.success(), "{}", describe(&output));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("values don't meet the specifications of the schema"),
        "{stderr}"
    );
    assert!(stderr.contains("/deployment/replicas"), "{stderr}");
    assert!(
        stderr.contains("got string, want integer"),
        "the message names the types: {stderr}"
    );
    // Nothing was installed.
    let listed = helm(plane, home.path())
        .args(["list", "--namespace", &namespace, "--short"])
        .output()
        .await?;
    assert!(listed.status.success(), "{}", describe(&listed));
    assert_eq!(String::from_utf8_lossy(&listed.stdout).trim(), "");

    // A typo in a key is refused too, not silently ignored.
    let stderr = template_error(plane, home.path(), &["--set", "deployment.replica=3"]).await?;
    assert!(
        stderr.contains("additional properties 'replica' not allowed"),
        "{stderr}"
    );
    Ok(())
}

#[tokio::test]
async fn inconsistent_values_fail_with_a_message_naming_them() -> anyhow::Result<()> {
    let plane = ControlPlane::shared().await?;
    let home = tempfile::tempdir()?;
    let cases: [(&[&str], &str); 3] = [
        (
            &[
                "--set",
                "deployment.kind=DaemonSet",
                "--set",
                "autoscaling.enabled=true",
            ],
            "autoscaling.enabled needs deployment.kind=Deployment",
        ),
        (
            &["--set", "deployment.terminationGracePeriodSeconds=5"],
            "deployment.terminationGracePeriodSeconds (5) must be greater than deployment.shutdownDelaySeconds (5)",
        ),
        (
            &["--set", "metrics.prometheus.serviceMonitor.enabled=true"],
            "needs the monitoring.coreos.com/v1 API (ServiceMonitor)",
        ),
    ];
    for (args, message) in cases {
        let stderr = template_error(plane, home.path(), args).await?;
        assert!(stderr.contains(message), "{args:?}: {stderr}");
    }
    // With the Prometheus operator's API present, the ServiceMonitor scrapes the admin port
    // through a Service of its own, not the entry points' Service.
    let rendered = template(
        plane,
        home.path(),
        "mesh-system",
        &[
            "--set",
            "metrics.prometheus.serviceMonitor.enabled=true",
            "--api-versions",
            "monitoring.coreos.com/v1/ServiceMonitor",
        ],
    )
    .await?;
    let objects = documents(&rendered)?;
    let monitor = only(&objects, "ServiceMonitor")?;
    assert_eq!(monitor["spec"]["endpoints"][0]["path"], "/metrics");
    let services = of_kind(&objects, "Service");
    let metrics = services
        .iter()
        .find(|s| s["metadata"]["name"] == "mesh-metrics")
        .ok_or_else(|| anyhow::anyhow!("no metrics Service"))?;
    assert_eq!(metrics["spec"]["ports"][0]["port"], 9000);
    let main = services
        .iter()
        .find(|s| s["metadata"]["name"] == "mesh")
        .ok_or_else(|| anyhow::anyhow!("no Service"))?;
    assert!(
        !serde_yaml::to_string(&main["spec"]["ports"])?.contains("9000"),
        "{main:?}"
    );
    Ok(())
}

/// The instruction of the Dockerfile's lines starting with `keyword` (continuations joined).
fn dockerfile_instructions(text: &str, keyword: &str) -> Vec<String> {
    let joined = text.replace("\\\n", " ");
    joined
        .lines()
        .map(str::trim)
        .filter(|line| line.split_whitespace().next() == Some(keyword))
        .map(|line| line[keyword.len()..].trim().to_string())
        .collect()
}

#[tokio::test]
async fn the_dockerfile_builds_the_binary_the_chart_runs() -> anyhow::Result<()> {
    let plane = ControlPlane::shared().await?;
    let home = tempfile::tempdir()?;
    let dockerfile = std::fs::read_to_string(workspace_root().join("Dockerfile"))?;

    // The build stage builds the workspace's `mesh` binary of package mesh-operator.
    let runs = dockerfile_instructions(&dockerfile, "RUN").join("\n");
    assert!(
        runs.contains("cargo build --release --locked -p mesh-operator --bin mesh"),
        "{runs}"
    );
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let metadata = tokio::process::Command::new(cargo)
        .current_dir(workspace_root())
        .args(["metadata", "--no-deps", "--format-version=1", "--offline"])
        .output()
        .await?;
    anyhow::ensure!(metadata.status.success(), "{}", describe(&metadata));
    let metadata: serde_json::Value = serde_json::from_slice(&metadata.stdout)?;
    let bins: Vec<String> = metadata["packages"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|package| package["name"] == "mesh-operator")
        .flat_map(|package| package["targets"].as_array().cloned().unwrap_or_default())
        .filter(|target| target["kind"][0] == "bin")
        .filter_map(|target| target["name"].as_str().map(String::from))
        .collect();
    assert_eq!(bins, ["mesh"]);

    // The runtime stage: distroless, non-root, the binary where the chart runs it.
    let froms = dockerfile_instructions(&dockerfile, "FROM");
    assert_eq!(froms.len(), 2, "multi-stage: {froms:?}");
    assert!(froms[1].starts_with("gcr.io/distroless/"), "{froms:?}");
    assert_eq!(
        dockerfile_instructions(&dockerfile, "USER"),
        ["65532:65532"]
    );
    let entrypoint = dockerfile_instructions(&dockerfile, "ENTRYPOINT");
    let entrypoint: Vec<String> = serde_json::from_str(&entrypoint.join(""))?;
    let copies = dockerfile_instructions(&dockerfile, "COPY");
    assert!(
        copies
            .iter()
            .any(|copy| copy.starts_with("--from=build") && copy.ends_with(&entrypoint[0])),
        "{copies:?} does not put the binary at {entrypoint:?}"
    );
    let rendered = template(plane, home.path(), "mesh-system", &[]).await?;
    let objects = documents(&rendered)?;
    let container = mesh_container(only(&objects, "Deployment")?)?;
    assert_eq!(strings(&container["command"]), entrypoint);
    assert_eq!(
        container["image"].as_str(),
        Some("mesh:0.1.0"),
        "the image reference defaults to the chart's appVersion"
    );
    let ignored = std::fs::read_to_string(workspace_root().join(".dockerignore"))?;
    assert!(ignored.lines().any(|line| line.trim() == "target"));
    Ok(())
}
