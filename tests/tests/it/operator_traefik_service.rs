//! `mesh run` against the control plane: an IngressRoute to a highestRandomWeight
//! TraefikService over two pod backends. The client keeps its backend, and the TraefikService
//! reports Ready=True.

use kube::api::{Api, DynamicObject};
use mesh_tests::{PodNetwork, apply_yaml};

use crate::operator_support::{Mesh, condition, mesh_resource, wait_for_ready};

#[tokio::test]
async fn highest_random_weight_routes_each_client_to_one_backend() -> anyhow::Result<()> {
    let (plane, client, namespace) = crate::admin_in_fresh_namespace().await?;
    let _network = PodNetwork::get()?;
    let mut pods = Vec::new();
    for name in ["hrw-0", "hrw-1"] {
        let pod = crate::operator_support::backend_behind_service(&client, &namespace, name, name)
            .await?;
        pods.push(pod);
    }
    let host = format!("hrw.{namespace}.test");
    apply_yaml(
        &client,
        &format!(
            r#"
apiVersion: mesh.io/v1alpha1
kind: TraefikService
metadata: {{name: hrw}}
spec:
  highestRandomWeight:
    services:
      - {{name: hrw-0, port: 80, weight: 10}}
      - {{name: hrw-1, port: 80, weight: 20}}
---
apiVersion: mesh.io/v1alpha1
kind: IngressRoute
metadata: {{name: hrw}}
spec:
  entryPoints: [web]
  routes:
    - match: Host(`{host}`)
      kind: Rule
      services: [{{name: hrw, kind: TraefikService}}]
"#
        ),
        &namespace,
    )
    .await?;

    let mesh = Mesh::start(plane, &namespace, "hrw", &[]).await?;
    let first = mesh.wait_for_answer(&host, "/", 200).await?.json()?;
    let chosen = first["name"].clone();
    assert!(
        chosen == "hrw-0" || chosen == "hrw-1",
        "served by a pod: {first}"
    );
    // One client IP: every request lands on the same backend.
    for _ in 0..10 {
        let answer = mesh.get(&host, "/").await?;
        assert_eq!(answer.status, 200);
        assert_eq!(answer.json()?["name"], chosen);
    }

    let services: Api<DynamicObject> = Api::namespaced_with(
        client.clone(),
        &namespace,
        &mesh_resource("TraefikService")?,
    );
    let service = wait_for_ready(&services, "hrw", &mesh, "True", "Ready").await?;
    for type_ in ["Accepted", "ResolvedRefs", "Programmed"] {
        let found = condition(&service, type_).unwrap_or_else(|| panic!("{type_} is set"));
        assert_eq!(found["status"], "True", "{type_}: {found}");
    }
    let routes: Api<DynamicObject> =
        Api::namespaced_with(client, &namespace, &mesh_resource("IngressRoute")?);
    wait_for_ready(&routes, "hrw", &mesh, "True", "Ready").await?;
    drop(pods);
    Ok(())
}
