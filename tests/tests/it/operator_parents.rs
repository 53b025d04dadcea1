//! Multi-layer routing end to end: a parent IngressRoute (Host + middleware, no service) and
//! a child (PathPrefix + Service) route real requests to a pod; a child whose parent does
//! not exist says so on its status, and becomes Ready once the parent is created.

use kube::api::{Api, DynamicObject};
use mesh_tests::apply_yaml;

use crate::operator_routing::kubectl;
use crate::operator_support::{Mesh, mesh_resource, ready, wait_for_ready};

/// A service-less IngressRoute on `web` matching Host(`host`), running the `team` middleware.
fn parent_yaml(name: &str, host: &str) -> String {
    format!(
        r#"
apiVersion: mesh.io/v1alpha1
kind: IngressRoute
metadata: {{name: {name}}}
spec:
  entryPoints: [web]
  routes:
    - match: Host(`{host}`)
      middlewares: [{{name: team}}]
"#
    )
}

/// An IngressRoute below `parent` sending PathPrefix(`prefix`) to Service whoami:80.
fn child_yaml(name: &str, parent: &str, prefix: &str) -> String {
    format!(
        r#"
apiVersion: mesh.io/v1alpha1
kind: IngressRoute
metadata: {{name: {name}}}
spec:
  parentRefs: [{{name: {parent}}}]
  routes:
    - match: PathPrefix(`{prefix}`)
      services: [{{name: whoami, port: 80}}]
"#
    )
}

const TEAM_MIDDLEWARE: &str = r#"
apiVersion: mesh.io/v1alpha1
kind: Middleware
metadata: {name: team}
spec:
  headers:
    customRequestHeaders: {X-Team: blue}
"#;

#[tokio::test]
async fn child_routes_serve_below_their_parent_and_wait_for_a_missing_one() -> anyhow::Result<()> {
    let (plane, client, namespace) = crate::admin_in_fresh_namespace().await?;
    let _pod =
        crate::operator_support::backend_behind_service(&client, &namespace, "parents-0", "whoami")
            .await?;
    apply_yaml(&client, TEAM_MIDDLEWARE, &namespace).await?;
    let host = format!("site.{namespace}.test");
    apply_yaml(&client, &parent_yaml("site", &host), &namespace).await?;
    apply_yaml(&client, &child_yaml("api", "site", "/api"), &namespace).await?;
    apply_yaml(
        &client,
        &child_yaml("orphan", "later", "/later"),
        &namespace,
    )
    .await?;

    let mesh = Mesh::start(plane, &namespace, "parents", &[]).await?;

    // The child serves below the parent's Host, after the parent's middleware.
    let answer = mesh.wait_for_answer(&host, "/api/users", 200).await?;
    let body = answer.json()?;
    assert_eq!(body["name"], "parents-0", "served by the pod backend");
    assert_eq!(body["path"], "/api/users");
    assert_eq!(body["headers"]["x-team"][0], "blue", "{body}");
    // The parent matches, no child does; the child alone (another host) is not exposed.
    assert_eq!(mesh.get(&host, "/other").await?.status, 404);
    assert_eq!(mesh.get("elsewhere.test", "/api/users").await?.status, 404);

    let routes: Api<DynamicObject> =
        Api::namespaced_with(client.clone(), &namespace, &mesh_resource("IngressRoute")?);
    for name in ["site", "api"] {
        let route = wait_for_ready(&routes, name, &mesh, "True", "Ready").await?;
        assert_eq!(route.data["status"]["routes"][0]["ready"], true, "{name}");
    }
    // What a user types: READY is True for both.
    let table = kubectl(
        plane.admin_kubeconfig(),
        &["get", "ingressroutes", "-n", &namespace],
    )
    .await?;
    let ready_column = table
        .lines()
        .next()
        .and_then(|header| header.split_whitespace().position(|c| c == "READY"));
    for name in ["site", "api"] {
        let row: Vec<&str> = table
            .lines()
            .map(|line| line.split_whitespace().collect::<Vec<_>>())
            .find(|row| row.first() == Some(&name))
            .unwrap_or_default();
        let cell = ready_column.and_then(|column| row.get(column).copied());
        assert_eq!(cell, Some("True"), "{name} in:\n{table}");
    }

    // The child of a parent that does not exist: refused, and the status names the parent.
    let orphan = wait_for_ready(&routes, "orphan", &mesh, "False", "ParentNotFound").await?;
    let (_, _, message) = ready(&orphan).unwrap_or_default();
    assert!(
        message.contains(&format!("parent IngressRoute {namespace}/later not found")),
        "{message}"
    );
    let later_host = format!("later.{namespace}.test");
    assert_eq!(mesh.get(&later_host, "/later").await?.status, 404);

    // Creating the parent brings the child up.
    apply_yaml(&client, &parent_yaml("later", &later_host), &namespace).await?;
    wait_for_ready(&routes, "orphan", &mesh, "True", "Ready").await?;
    let answer = mesh.wait_for_answer(&later_host, "/later/x", 200).await?;
    assert_eq!(answer.json()?["path"], "/later/x");
    Ok(())
}
