//! `mesh run` against the control plane: Service + EndpointSlice (a backend in a pod) +
//! IngressRoute -> requests routed, and the IngressRoute reports Ready=True.

use kube::api::{Api, DynamicObject, Patch, PatchParams};
use mesh_tests::apply_yaml;
use serde_json::json;

use crate::operator_support::{
    Mesh, condition, mesh_resource, ready, wait_for_object, wait_for_ready,
};

/// Service `name` (port 80 -> 8080) whose EndpointSlice lists the pod at `ip`.
pub fn service_yaml(name: &str, ip: std::net::Ipv4Addr) -> String {
    format!(
        r#"
apiVersion: v1
kind: Service
metadata: {{name: {name}}}
spec:
  ports: [{{name: http, port: 80, targetPort: 8080}}]
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: {name}-1
  labels: {{kubernetes.io/service-name: {name}}}
addressType: IPv4
ports: [{{name: http, port: 8080}}]
endpoints:
  - addresses: ["{ip}"]
    conditions: {{ready: true}}
"#
    )
}

/// An IngressRoute sending Host(`host`) to Service `service`:`port`.
pub fn route_yaml(name: &str, host: &str, service: &str, port: u16) -> String {
    format!(
        r#"
apiVersion: mesh.io/v1alpha1
kind: IngressRoute
metadata: {{name: {name}}}
spec:
  entryPoints: [web]
  routes:
    - match: Host(`{host}`)
      kind: Rule
      services: [{{name: {service}, port: {port}}}]
"#
    )
}

pub async fn kubectl(kubeconfig: &std::path::Path, args: &[&str]) -> anyhow::Result<String> {
    let output = tokio::process::Command::new("kubectl")
        .arg(format!("--kubeconfig={}", kubeconfig.display()))
        .args(args)
        .output()
        .await?;
    anyhow::ensure!(
        output.status.success(),
        "kubectl {} failed: {}",
        args.join(" "),
        String::from_utf8_lossy(&output.stderr)
    );
    Ok(String::from_utf8(output.stdout)?)
}

#[tokio::test]
async fn routes_requests_to_pod_backends_and_reports_ready() -> anyhow::Result<()> {
    let (plane, client, namespace) = crate::admin_in_fresh_namespace().await?;
    let _pod =
        crate::operator_support::backend_behind_service(&client, &namespace, "whoami-0", "whoami")
            .await?;
    let host = format!("whoami.{namespace}.test");
    apply_yaml(
        &client,
        &route_yaml("whoami", &host, "whoami", 80),
        &namespace,
    )
    .await?;

    let mesh = Mesh::start(plane, &namespace, "routing", &[]).await?;
    let answer = mesh.wait_for_answer(&host, "/hello", 200).await?;
    let body = answer.json()?;
    assert_eq!(body["name"], "whoami-0", "served by the pod backend");
    assert_eq!(body["path"], "/hello");
    assert_eq!(mesh.get("unknown.test", "/").await?.status, 404);

    let routes: Api<DynamicObject> =
        Api::namespaced_with(client.clone(), &namespace, &mesh_resource("IngressRoute")?);
    let route = wait_for_ready(&routes, "whoami", &mesh, "True", "Ready").await?;
    assert_eq!(route.data["status"]["observedGeneration"], 1);
    for type_ in ["Accepted", "ResolvedRefs", "Programmed"] {
        let found = condition(&route, type_).unwrap_or_else(|| panic!("{type_} is set"));
        assert_eq!(found["status"], "True", "{type_}: {found}");
    }
    let programmed = condition(&route, "Programmed").map(|c| c["message"].clone());
    assert!(
        programmed
            .as_ref()
            .and_then(|m| m.as_str())
            .is_some_and(|m| m.starts_with("config generation ")),
        "{programmed:?}"
    );
    assert!(
        condition(&route, "Degraded").is_none(),
        "Degraded only while True"
    );
    assert_eq!(route.data["status"]["routes"][0]["ready"], true);

    // What a user types: the printer columns show the verdict.
    let table = kubectl(
        plane.admin_kubeconfig(),
        &["get", "ingressroute", "whoami", "-n", &namespace],
    )
    .await?;
    let mut lines = table.lines();
    let header: Vec<&str> = lines
        .next()
        .unwrap_or_default()
        .split_whitespace()
        .collect();
    let row: Vec<&str> = lines
        .next()
        .unwrap_or_default()
        .split_whitespace()
        .collect();
    let ready_column = header
        .iter()
        .position(|c| *c == "READY")
        .expect("a READY column");
    assert_eq!(row[ready_column], "True", "{table}");

    // A spec change is served and observed: observedGeneration follows.
    let new_host = format!("renamed.{namespace}.test");
    let patch = json!({"spec": {"routes": [{"match": format!("Host(`{new_host}`)"), "kind": "Rule",
        "services": [{"name": "whoami", "port": 80}]}]}});
    routes
        .patch("whoami", &PatchParams::default(), &Patch::Merge(&patch))
        .await?;
    mesh.wait_for_answer(&new_host, "/", 200).await?;
    mesh.wait_for_answer(&host, "/", 404).await?;
    let route = wait_for_object(&routes, "whoami", &mesh, "observedGeneration 2", |object| {
        object.data["status"]["observedGeneration"] == 2
    })
    .await?;
    assert_eq!(ready(&route).map(|r| r.0), Some("True".into()));

    // /api/status serves the same verdict.
    let served = mesh.api_status().await?;
    let objects = served["objects"].as_array().cloned().unwrap_or_default();
    assert!(
        objects
            .iter()
            .any(|o| o["name"] == "whoami" && o["namespace"] == namespace.as_str()),
        "{served:#}"
    );
    assert_eq!(served["leader"], true);
    Ok(())
}
