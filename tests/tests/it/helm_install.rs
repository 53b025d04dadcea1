//! `helm install` of the chart into the harness: every object is created, the chart's
//! ServiceAccount may do exactly what the operator needs (`kubectl auth can-i --as`), and
//! the rendered container command, run outside the cluster with that ServiceAccount's
//! token, reconciles an IngressRoute to Ready.

use std::path::Path;
use std::time::Duration;

use k8s_openapi::api::coordination::v1::Lease;
use kube::api::{Api, DynamicObject};
use mesh_tests::{ControlPlane, ManagedProcess, apply_yaml, free_loopback_ports};
use serde_yaml::Value;

use crate::helm::{chart_dir, describe, documents, helm, kinds, mesh_container, of_kind, strings};
use crate::operator_routing::route_yaml;
use crate::operator_support::{PATIENCE, mesh_binary, mesh_resource, ready};

/// A release name unique to the test's namespace (cluster-scoped objects carry it).
fn release_name(namespace: &str) -> String {
    format!("mesh-{}", namespace.trim_start_matches("test-"))
}

/// `helm install release` into `namespace`; returns helm's output (with NOTES.txt) and the
/// installed manifest.
async fn install(
    plane: &ControlPlane,
    home: &Path,
    release: &str,
    namespace: &str,
    values: &str,
) -> anyhow::Result<(String, String)> {
    let values_file = home.join(format!("{release}-values.yaml"));
    std::fs::write(&values_file, values)?;
    let output = helm(plane, home)
        .args(["install", release])
        .arg(chart_dir())
        .args(["--namespace", namespace, "--skip-crds", "--values"])
        .arg(&values_file)
        .output()
        .await?;
    anyhow::ensure!(
        output.status.success(),
        "helm install: {}",
        describe(&output)
    );
    let notes = String::from_utf8(output.stdout)?;
    let manifest = helm(plane, home)
        .args(["get", "manifest", release, "--namespace", namespace])
        .output()
        .await?;
    anyhow::ensure!(
        manifest.status.success(),
        "helm get manifest: {}",
        describe(&manifest)
    );
    Ok((notes, String::from_utf8(manifest.stdout)?))
}

async fn uninstall(plane: &ControlPlane, home: &Path, release: &str, namespace: &str) {
    let output = helm(plane, home)
        .args([
            "uninstall",
            release,
            "--namespace",
            namespace,
            "--wait=false",
        ])
        .output()
        .await;
    if let Ok(output) = output
        && !output.status.success()
    {
        eprintln!("helm uninstall {release}: {}", describe(&output));
    }
}

/// `kubectl auth can-i VERB RESOURCE ... --as=system:serviceaccount:NS:NAME` as admin.
async fn can_i(plane: &ControlPlane, service_account: &str, args: &[&str]) -> anyhow::Result<bool> {
    let output = tokio::process::Command::new("kubectl")
        .arg(format!(
            "--kubeconfig={}",
            plane.admin_kubeconfig().display()
        ))
        .args(["auth", "can-i"])
        .args(args)
        .arg(format!("--as={service_account}"))
        .output()
        .await?;
    let answer = String::from_utf8_lossy(&output.stdout).trim().to_string();
    let stderr = String::from_utf8_lossy(&output.stderr);
    // A misspelt resource gets "no" plus a warning: refuse it, or a forbidden check
    // would pass for the wrong reason.
    anyhow::ensure!(
        !stderr.contains("doesn't have a resource type"),
        "can-i {args:?}: {stderr}"
    );
    match (output.status.code(), answer.as_str()) {
        (Some(0), "yes") => Ok(true),
        (Some(1), "no") => Ok(false),
        _ => anyhow::bail!("kubectl auth can-i {args:?}: {}", describe(&output)),
    }
}

/// Checks every `(args, expected)` and reports all mismatches at once.
async fn expect_permissions(
    plane: &ControlPlane,
    service_account: &str,
    cases: &[(Vec<String>, bool)],
) -> anyhow::Result<()> {
    let mut wrong = Vec::new();
    for (args, expected) in cases {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        if can_i(plane, service_account, &args).await? != *expected {
            let verdict = if *expected { "forbidden" } else { "allowed" };
            wrong.push(format!("{} is {verdict}", args.join(" ")));
        }
    }
    anyhow::ensure!(
        wrong.is_empty(),
        "{service_account}:\n  {}",
        wrong.join("\n  ")
    );
    Ok(())
}

fn case(args: &str, expected: bool) -> (Vec<String>, bool) {
    (
        args.split_whitespace().map(String::from).collect(),
        expected,
    )
}

#[tokio::test]
async fn helm_install_creates_every_object_with_exactly_the_permissions_needed()
-> anyhow::Result<()> {
    let (plane, _, namespace) = crate::admin_in_fresh_namespace().await?;
    let home = tempfile::tempdir()?;
    let release = release_name(&namespace);
    let values = format!(
        "ingressClass: {{name: {release}}}
autoscaling: {{enabled: true}}
networkPolicy: {{enabled: true}}
extraObjects:
  - apiVersion: v1
    kind: ConfigMap
    metadata: {{name: '{{{{ .Release.Name }}}}-extra'}}
    data: {{note: extra}}
"
    );
    let (notes, manifest) = install(plane, home.path(), &release, &namespace, &values).await?;
    let result = async {
        for hint in ["kubectl mesh check", "kubectl get mesh -A"] {
            assert!(notes.contains(hint), "NOTES.txt lacks `{hint}`:\n{notes}");
        }
        let objects = documents(&manifest)?;
        assert_eq!(
            kinds(&objects),
            [
                "ClusterRole",
                "ClusterRoleBinding",
                "ConfigMap",
                "Deployment",
                "HorizontalPodAutoscaler",
                "IngressClass",
                "NetworkPolicy",
                "PodDisruptionBudget",
                "Role",
                "RoleBinding",
                "Service",
                "ServiceAccount"
            ]
        );
        // Every object of the release exists in the cluster.
        let mut found = 0;
        for object in &objects {
            let kind = object["kind"].as_str().unwrap_or_default();
            let name = object["metadata"]["name"].as_str().unwrap_or_default();
            let output = tokio::process::Command::new("kubectl")
                .arg(format!(
                    "--kubeconfig={}",
                    plane.admin_kubeconfig().display()
                ))
                .args(["get", kind, name, "--namespace", &namespace, "-o", "name"])
                .output()
                .await?;
            assert!(
                output.status.success(),
                "{kind} {name}: {}",
                describe(&output)
            );
            found += 1;
        }
        assert_eq!(found, objects.len());

        let service_account = format!("system:serviceaccount:{namespace}:{release}");
        let lease = format!("leases.coordination.k8s.io/mesh-status -n {namespace}");
        let mut cases = vec![
            // The world, cluster-wide.
            case("list ingressroutes.mesh.io -A", true),
            case("watch middlewares.mesh.io -A", true),
            case("get tlsstores.mesh.io -n default", true),
            case("watch services -A", true),
            case("list endpointslices.discovery.k8s.io -A", true),
            case("watch secrets -A", true),
            case("get configmaps -n kube-system", true),
            case("watch ingresses.networking.k8s.io -A", true),
            case("list ingressclasses.networking.k8s.io", true),
            case("watch nodes", true),
            // Status and Events.
            case("patch ingressroutes.mesh.io --subresource=status -A", true),
            case(
                "update serverstransporttcps.mesh.io --subresource=status -A",
                true,
            ),
            case(
                "patch ingresses.networking.k8s.io --subresource=status -A",
                true,
            ),
            case("create events -n default", true),
            case("create events.events.k8s.io -n default", true),
            // Its own Lease, in the release namespace.
            case(
                &format!("create leases.coordination.k8s.io -n {namespace}"),
                true,
            ),
            case(&format!("get {lease}"), true),
            case(&format!("patch {lease}"), true),
            // Nothing else.
            case("create secrets -n default", false),
            case("delete ingressroutes.mesh.io -n default", false),
            case("update ingressroutes.mesh.io -n default", false),
            case("patch middlewares.mesh.io -n default", false),
            case("patch services -n default", false),
            case("create endpointslices.discovery.k8s.io -n default", false),
            case("list pods -A", false),
            case("create deployments.apps -n default", false),
            case("create ingressclasses.networking.k8s.io", false),
            case("delete events -n default", false),
            case(&format!("delete {lease}"), false),
            case(
                &format!("get leases.coordination.k8s.io/other -n {namespace}"),
                false,
            ),
            case("create leases.coordination.k8s.io -n default", false),
            case("bind clusterroles.rbac.authorization.k8s.io", false),
            case("impersonate serviceaccounts -A", false),
        ];
        // Statuses of every kind, never their specs.
        for kind in &crate::kinds::KINDS {
            cases.push(case(
                &format!("patch {}.mesh.io --subresource=status -A", kind.plural),
                true,
            ));
            cases.push(case(&format!("update {}.mesh.io -A", kind.plural), false));
        }
        expect_permissions(plane, &service_account, &cases).await
    }
    .await;
    uninstall(plane, home.path(), &release, &namespace).await;
    result
}

/// The container's environment as a process outside the cluster gets it: plain values as
/// they are, the downward API's pod name and namespace filled in.
fn container_env(
    container: &Value,
    pod_name: &str,
    namespace: &str,
) -> anyhow::Result<Vec<(String, String)>> {
    let mut env = Vec::new();
    for variable in container["env"].as_sequence().into_iter().flatten() {
        let name = variable["name"].as_str().unwrap_or_default().to_string();
        let value = if let Some(value) = variable["value"].as_str() {
            value.to_string()
        } else {
            match variable["valueFrom"]["fieldRef"]["fieldPath"].as_str() {
                Some("metadata.name") => pod_name.to_string(),
                Some("metadata.namespace") => namespace.to_string(),
                other => anyhow::bail!("env {name}: no outside value for {other:?}"),
            }
        };
        env.push((name, value));
    }
    Ok(env)
}

/// Polls `check` until it returns `Some`, or fails after PATIENCE with `what` and the log.
async fn eventually<T, F, Fut>(
    process: &mut ManagedProcess,
    what: &str,
    check: F,
) -> anyhow::Result<T>
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<Option<T>>>,
{
    let deadline = tokio::time::Instant::now() + PATIENCE;
    let mut last = String::new();
    loop {
        if let Some(status) = process.exit_status() {
            anyhow::bail!("mesh exited with {status}:\n{}", process.log_tail(40));
        }
        match check().await {
            Ok(Some(value)) => return Ok(value),
            Ok(None) => {}
            Err(error) => last = format!("{error:#}"),
        }
        anyhow::ensure!(
            tokio::time::Instant::now() < deadline,
            "never {what} (last error: {last})\nmesh log:\n{}",
            process.log_tail(40)
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test]
async fn the_rendered_command_with_the_charts_token_reconciles_an_ingress_route()
-> anyhow::Result<()> {
    let (plane, admin, namespace) = crate::admin_in_fresh_namespace().await?;
    let apps = mesh_tests::create_test_namespace(&admin).await?;
    let home = tempfile::tempdir()?;
    let release = release_name(&namespace);
    let ports = free_loopback_ports(3)?;
    // Namespaced RBAC (the operator watches `apps` only), ports free on this machine.
    let values = format!(
        "ingressClass: {{name: {release}}}
providers: {{namespaces: [{apps}]}}
ports:
  web: {{port: {web}}}
  websecure: {{port: {websecure}}}
admin: {{port: {admin_port}}}
logs: {{format: text, level: 'info,mesh_operator=debug'}}
",
        web = ports[0],
        websecure = ports[1],
        admin_port = ports[2],
    );
    let (_, manifest) = install(plane, home.path(), &release, &namespace, &values).await?;
    let service_account = format!("system:serviceaccount:{namespace}:{release}");
    let result = async {
        expect_permissions(
            plane,
            &service_account,
            &[
                case(&format!("list ingressroutes.mesh.io -n {apps}"), true),
                case(
                    &format!("patch ingressroutes.mesh.io --subresource=status -n {apps}"),
                    true,
                ),
                case(&format!("watch secrets -n {apps}"), true),
                case(&format!("create events.events.k8s.io -n {apps}"), true),
                case("watch nodes", true),
                case("list ingressclasses.networking.k8s.io", true),
                case("list ingressroutes.mesh.io -A", false),
                case("list ingressroutes.mesh.io -n default", false),
                case(&format!("list services -n {namespace}"), false),
                case("watch secrets -A", false),
            ],
        )
        .await?;

        let objects = documents(&manifest)?;
        let deployment = of_kind(&objects, "Deployment")
            .first()
            .copied()
            .ok_or_else(|| anyhow::anyhow!("no Deployment in the release"))?;
        let container = mesh_container(deployment)?;
        let command = strings(&container["command"]);
        anyhow::ensure!(
            command.len() == 1 && command[0].ends_with("/mesh"),
            "unexpected command {command:?}"
        );
        let args = strings(&container["args"]);
        let pod_name = format!("{release}-7d4b9c-x2k8p");
        let env = container_env(container, &pod_name, &namespace)?;

        // What a pod has and a process outside lacks: the apiserver's address, the
        // ServiceAccount's token and the cluster CA (the in-cluster configuration).
        let token = crate::operator_routing::kubectl(
            plane.admin_kubeconfig(),
            &[
                "create",
                "token",
                &release,
                "-n",
                &namespace,
                "--duration=1h",
            ],
        )
        .await?;
        let token_file = home.path().join("token");
        std::fs::write(&token_file, token.trim())?;
        let ca_file = plane
            .admin_kubeconfig()
            .parent()
            .map(|dir| dir.join("ca.crt"))
            .ok_or_else(|| anyhow::anyhow!("no harness directory"))?;
        let mut process_command = std::process::Command::new(mesh_binary()?);
        process_command
            .args(&args)
            .arg(format!("--endpoint={}", plane.server_url()))
            .arg(format!("--token={}", token_file.display()))
            .arg(format!("--cert-auth-file-path={}", ca_file.display()))
            .env_remove("KUBECONFIG")
            .envs(env);
        let mut process = ManagedProcess::start(
            "mesh (helm)",
            process_command,
            &home.path().join("mesh.log"),
        )?;

        let _pod =
            crate::operator_support::backend_behind_service(&admin, &apps, "helm-0", "whoami")
                .await?;
        let host = format!("helm.{apps}.test");
        apply_yaml(&admin, &route_yaml("web", &host, "whoami", 80), &apps).await?;

        let routes: Api<DynamicObject> =
            Api::namespaced_with(admin.clone(), &apps, &mesh_resource("IngressRoute")?);
        let status = eventually(&mut process, "Ready=True", || async {
            let route = routes.get("web").await?;
            Ok(ready(&route).filter(|(status, _, _)| status == "True"))
        })
        .await?;
        assert_eq!(status.1, "Ready", "{status:?}");

        // The pod name from the downward API is the Lease holder.
        let leases: Api<Lease> = Api::namespaced(admin.clone(), &namespace);
        let holder = eventually(&mut process, "held the Lease", || async {
            let lease = leases.get_opt("mesh-status").await?;
            Ok(lease.and_then(|l| l.spec).and_then(|s| s.holder_identity))
        })
        .await?;
        assert_eq!(holder, pod_name);

        // And it routes: the web entry point of the rendered flags answers for the host.
        let url = format!("http://127.0.0.1:{}/", ports[0]);
        let answer = eventually(&mut process, "answered 200", || async {
            let request = http::Request::get(&url)
                .header(http::header::HOST, &host)
                .body(http_body_util::Full::<bytes::Bytes>::default())?;
            let answer = crate::http_client::send(request, false).await?;
            Ok((answer.status == http::StatusCode::OK).then_some(answer))
        })
        .await?;
        assert_eq!(
            answer.json()?["name"],
            "helm-0",
            "served by the pod backend"
        );

        // The readiness probe's endpoint says ready once that configuration is served.
        let probe = http::Request::get(format!("http://127.0.0.1:{}/ready", ports[2]))
            .body(http_body_util::Full::<bytes::Bytes>::default())?;
        let probed = crate::http_client::send(probe, false).await?;
        assert_eq!(probed.status, http::StatusCode::OK, "readiness on /ready");
        Ok(())
    }
    .await;
    uninstall(plane, home.path(), &release, &namespace).await;
    result
}
