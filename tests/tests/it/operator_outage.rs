//! The apiserver is stopped and started again: the proxy keeps serving the last
//! configuration meanwhile, then `mesh` re-establishes its watches and serves (and reports)
//! what changes after the restart.
//!
//! The test owns a private control plane: the shared one cannot be stopped under the
//! other tests. Its kube-apiserver process is killed and started again with the same etcd,
//! port, certificates and tokens, so `mesh` keeps its kubeconfig.

use std::time::Duration;

use kube::api::{Api, DynamicObject, Patch, PatchParams};
use mesh_tests::{ControlPlane, apply_yaml, crd_dir, create_test_namespace};
use serde_json::json;

use crate::operator_routing::route_yaml;
use crate::operator_support::{
    Mesh, PATIENCE, mesh_resource, ready, wait_for_object, wait_for_ready,
};

#[tokio::test]
async fn serves_the_last_config_while_the_apiserver_is_stopped_then_resyncs() -> anyhow::Result<()>
{
    let mut plane = ControlPlane::start().await?;
    plane.install_crds(&crd_dir()).await?;
    let client = plane.admin_client().await?;
    let ns = create_test_namespace(&client).await?;
    let _pod =
        crate::operator_support::backend_behind_service(&client, &ns, "outage-0", "whoami").await?;
    let before = format!("before.{ns}.test");
    apply_yaml(&client, &route_yaml("web", &before, "whoami", 80), &ns).await?;

    let mesh = Mesh::start(&plane, &ns, "outage", &["--leader-elect=false"]).await?;
    let routes: Api<DynamicObject> =
        Api::namespaced_with(client.clone(), &ns, &mesh_resource("IngressRoute")?);
    mesh.wait_for_answer(&before, "/", 200).await?;
    wait_for_ready(&routes, "web", &mesh, "True", "Ready").await?;

    plane.stop_apiserver();
    // mesh notices the outage, and keeps serving what it had.
    let deadline = tokio::time::Instant::now() + PATIENCE;
    while !mesh.log_tail(200).contains("watch failed") {
        anyhow::ensure!(
            tokio::time::Instant::now() < deadline,
            "mesh never noticed the outage:\n{}",
            mesh.log_tail(30)
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    for _ in 0..3 {
        assert_eq!(
            mesh.get(&before, "/").await?.status,
            200,
            "the last config keeps serving while the apiserver is down"
        );
    }

    // Back up (same etcd, port and certificates): changes made after the restart reach mesh.
    plane.start_apiserver().await?;
    let client = plane.admin_client().await?;
    let routes: Api<DynamicObject> =
        Api::namespaced_with(client.clone(), &ns, &mesh_resource("IngressRoute")?);
    let late = format!("late.{ns}.test");
    apply_yaml(&client, &route_yaml("late", &late, "whoami", 80), &ns).await?;
    let after = format!("after.{ns}.test");
    let patch = json!({"spec": {"routes": [{"match": format!("Host(`{after}`)"), "kind": "Rule",
        "services": [{"name": "whoami", "port": 80}]}]}});
    routes
        .patch("web", &PatchParams::default(), &Patch::Merge(&patch))
        .await?;

    mesh.wait_for_answer(&late, "/", 200).await?;
    mesh.wait_for_answer(&after, "/", 200).await?;
    mesh.wait_for_answer(&before, "/", 404).await?;
    wait_for_ready(&routes, "late", &mesh, "True", "Ready").await?;
    wait_for_object(
        &routes,
        "web",
        &mesh,
        "observedGeneration 2, Ready",
        |object| {
            object.data["status"]["observedGeneration"] == 2
                && ready(object).is_some_and(|(status, _, _)| status == "True")
        },
    )
    .await?;
    Ok(())
}
