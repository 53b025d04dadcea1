//! Two `mesh` replicas: both serve traffic, exactly one (the Lease holder) writes status and
//! Events; when it dies the other takes over and writes.

use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::events::v1::Event;
use kube::api::{Api, DynamicObject, ListParams, Patch, PatchParams};
use mesh_tests::apply_yaml;
use serde_json::json;

use crate::operator_routing::route_yaml;
use crate::operator_support::{Mesh, PATIENCE, mesh_resource, wait_for_ready};

async fn is_leader(mesh: &Mesh) -> Option<bool> {
    mesh.api_status().await.ok()?["leader"].as_bool()
}

/// Waits until exactly one of `replicas` says it leads; returns its index.
async fn wait_for_single_leader(replicas: &[&Mesh]) -> anyhow::Result<usize> {
    let deadline = tokio::time::Instant::now() + PATIENCE;
    loop {
        let mut leaders = Vec::new();
        for (index, mesh) in replicas.iter().enumerate() {
            if is_leader(mesh).await == Some(true) {
                leaders.push(index);
            }
        }
        if leaders.len() == 1 {
            return Ok(leaders[0]);
        }
        anyhow::ensure!(
            tokio::time::Instant::now() < deadline,
            "leaders: {leaders:?}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
}

/// Who reported the Events about `object` with `reason`.
async fn reporters(events: &Api<Event>, object: &str, reason: &str) -> anyhow::Result<Vec<String>> {
    Ok(events
        .list(&ListParams::default())
        .await?
        .items
        .into_iter()
        .filter(|e| e.regarding.as_ref().and_then(|r| r.name.as_deref()) == Some(object))
        .filter(|e| e.reason.as_deref() == Some(reason))
        .filter_map(|e| e.reporting_instance)
        .collect())
}

/// Waits (with a deadline) until some replica reported `reason` about `object`, then says who:
/// the Event is written after the status, so reading once right after the flip can miss it.
async fn wait_for_reporters(
    events: &Api<Event>,
    object: &str,
    reason: &str,
) -> anyhow::Result<Vec<String>> {
    let deadline = tokio::time::Instant::now() + PATIENCE;
    loop {
        let found = reporters(events, object, reason).await?;
        if !found.is_empty() {
            return Ok(found);
        }
        anyhow::ensure!(
            tokio::time::Instant::now() < deadline,
            "no {reason} Event about {object}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn one_replica_writes_status_and_the_other_takes_over() -> anyhow::Result<()> {
    let (plane, client, ns) = crate::admin_in_fresh_namespace().await?;
    let _pod =
        crate::operator_support::backend_behind_service(&client, &ns, "ha-0", "whoami").await?;
    let host = format!("ha.{ns}.test");
    apply_yaml(&client, &route_yaml("web", &host, "whoami", 80), &ns).await?;

    let first = Mesh::start(plane, &ns, "replica-a", &[]).await?;
    let second = Mesh::start(plane, &ns, "replica-b", &[]).await?;
    // Both replicas serve traffic.
    first.wait_for_answer(&host, "/", 200).await?;
    second.wait_for_answer(&host, "/", 200).await?;

    let leader = wait_for_single_leader(&[&first, &second]).await?;
    let (leader, follower, leader_id, follower_id) = if leader == 0 {
        (first, second, "replica-a", "replica-b")
    } else {
        (second, first, "replica-b", "replica-a")
    };
    let leases: Api<Lease> = Api::namespaced(client.clone(), &ns);
    let lease = leases.get("mesh-status").await?;
    assert_eq!(
        lease.spec.and_then(|s| s.holder_identity).as_deref(),
        Some(leader_id),
        "the Lease names the replica that says it leads"
    );

    let routes: Api<DynamicObject> =
        Api::namespaced_with(client.clone(), &ns, &mesh_resource("IngressRoute")?);
    wait_for_ready(&routes, "web", &leader, "True", "Ready").await?;

    // Break the route: the leader alone reports it.
    let broken = json!({"spec": {"routes": [{"match": format!("Host(`{host}`)"), "kind": "Rule",
        "services": [{"name": "gone", "port": 80}]}]}});
    routes
        .patch("web", &PatchParams::default(), &Patch::Merge(&broken))
        .await?;
    wait_for_ready(&routes, "web", &leader, "False", "BackendNotFound").await?;
    let events: Api<Event> = Api::namespaced(client.clone(), &ns);
    assert_eq!(
        wait_for_reporters(&events, "web", "BackendNotFound").await?,
        [leader_id]
    );

    // The leader dies without releasing the Lease; the follower takes over after it expires.
    drop(leader);
    let deadline = tokio::time::Instant::now() + PATIENCE;
    while is_leader(&follower).await != Some(true) {
        anyhow::ensure!(
            tokio::time::Instant::now() < deadline,
            "no takeover:\n{}",
            follower.log_tail(30)
        );
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }

    // The new leader writes: a fix shows up, and a new break is announced by it.
    let fixed = json!({"spec": {"routes": [{"match": format!("Host(`{host}`)"), "kind": "Rule",
        "services": [{"name": "whoami", "port": 80}]}]}});
    routes
        .patch("web", &PatchParams::default(), &Patch::Merge(&fixed))
        .await?;
    wait_for_ready(&routes, "web", &follower, "True", "Ready").await?;
    follower.wait_for_answer(&host, "/", 200).await?;
    let port_broken = json!({"spec": {"routes": [{"match": format!("Host(`{host}`)"), "kind": "Rule",
        "services": [{"name": "whoami", "port": 81}]}]}});
    routes
        .patch("web", &PatchParams::default(), &Patch::Merge(&port_broken))
        .await?;
    wait_for_ready(&routes, "web", &follower, "False", "PortNotFound").await?;
    assert_eq!(
        wait_for_reporters(&events, "web", "PortNotFound").await?,
        [follower_id]
    );
    Ok(())
}
