//! The apiserver goes away and comes back: the proxy keeps serving the last configuration
//! meanwhile, then `mesh` resyncs and serves what changed during the outage.
//!
//! `mesh` reaches the apiserver through a TCP relay this test owns: stopping the relay
//! (and cutting its connections) is, for `mesh`, exactly an apiserver that is down.

use std::net::SocketAddr;

use kube::api::{Api, DynamicObject, Patch, PatchParams};
use mesh_tests::{BackendMode, BackendSpec, PodNetwork, apply_yaml, free_loopback_ports};
use serde_json::json;
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

use crate::operator_routing::{route_yaml, service_yaml};
use crate::operator_support::{Mesh, PATIENCE, mesh_resource, wait_for_object, wait_for_ready};

/// Relays `listen` to `upstream` until stopped; every relayed connection dies with it.
struct Relay {
    listen: SocketAddr,
    upstream: SocketAddr,
    task: Option<JoinHandle<()>>,
}

impl Relay {
    async fn start(listen: SocketAddr, upstream: SocketAddr) -> anyhow::Result<Relay> {
        let mut relay = Relay {
            listen,
            upstream,
            task: None,
        };
        relay.resume().await?;
        Ok(relay)
    }

    async fn resume(&mut self) -> anyhow::Result<()> {
        let listener = TcpListener::bind(self.listen).await?;
        let upstream = self.upstream;
        self.task = Some(tokio::spawn(async move {
            let mut connections = tokio::task::JoinSet::new();
            while let Ok((mut inbound, _)) = listener.accept().await {
                connections.spawn(async move {
                    if let Ok(mut outbound) = TcpStream::connect(upstream).await {
                        let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                    }
                });
            }
            // Dropping the set aborts every relayed connection.
            drop(connections);
        }));
        Ok(())
    }

    /// Stops listening and cuts every open connection.
    async fn stop(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
            let _ = task.await;
        }
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}

#[tokio::test]
async fn serves_the_last_config_while_the_apiserver_is_down_then_resyncs() -> anyhow::Result<()> {
    let (plane, client, ns) = crate::admin_in_fresh_namespace().await?;
    let mut pod = PodNetwork::get()?.create_pod("outage-0")?;
    pod.start_backend(&BackendSpec::new(
        crate::backend_binary(),
        "outage-0",
        BackendMode::Http,
        8080,
    ))
    .await?;
    apply_yaml(&client, &service_yaml("whoami", pod.ip()), &ns).await?;
    let before = format!("before.{ns}.test");
    apply_yaml(&client, &route_yaml("web", &before, "whoami", 80), &ns).await?;

    let apiserver: SocketAddr = plane.server_url().trim_start_matches("https://").parse()?;
    let relay_addr = SocketAddr::from(([127, 0, 0, 1], free_loopback_ports(1)?[0]));
    let mut relay = Relay::start(relay_addr, apiserver).await?;
    let endpoint = format!("--endpoint=https://{relay_addr}");
    let mesh = Mesh::start(plane, &ns, "outage", &[&endpoint, "--leader-elect=false"]).await?;

    let routes: Api<DynamicObject> =
        Api::namespaced_with(client.clone(), &ns, &mesh_resource("IngressRoute")?);
    mesh.wait_for_answer(&before, "/", 200).await?;
    wait_for_ready(&routes, "web", &mesh, "True", "Ready").await?;

    // The apiserver "goes down" for mesh; the world changes meanwhile.
    relay.stop().await;
    let after = format!("after.{ns}.test");
    let patch = json!({"spec": {"routes": [{"match": format!("Host(`{after}`)"), "kind": "Rule",
        "services": [{"name": "whoami", "port": 80}]}]}});
    routes
        .patch("web", &PatchParams::default(), &Patch::Merge(&patch))
        .await?;

    // mesh notices the outage, and keeps serving what it had.
    let deadline = tokio::time::Instant::now() + PATIENCE;
    while !mesh.log_tail(200).contains("watch failed") {
        anyhow::ensure!(
            tokio::time::Instant::now() < deadline,
            "mesh never noticed the outage:\n{}",
            mesh.log_tail(30)
        );
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    assert_eq!(
        mesh.get(&before, "/").await?.status,
        200,
        "the last config keeps serving"
    );
    assert_eq!(
        mesh.get(&after, "/").await?.status,
        404,
        "nothing new without the apiserver"
    );

    // Back up: mesh resyncs and serves (and reports) the change made during the outage.
    relay.resume().await?;
    mesh.wait_for_answer(&after, "/", 200).await?;
    mesh.wait_for_answer(&before, "/", 404).await?;
    wait_for_object(
        &routes,
        "web",
        &mesh,
        "observedGeneration 2, Ready",
        |object| {
            object.data["status"]["observedGeneration"] == 2
                && crate::operator_support::ready(object).is_some_and(|(s, _, _)| s == "True")
        },
    )
    .await?;
    Ok(())
}
