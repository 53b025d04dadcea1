//! `mesh run --manifests DIR`: no cluster, the folder is the world. The quickstart example
//! routes a request and explains its broken route; editing the folder is picked up.

use std::net::SocketAddr;
use std::process::Command;

use mesh_tests::{BackendMode, BackendSpec, ManagedProcess, free_loopback_ports, workspace_root};
use serde_json::Value;

use crate::http_client;
use crate::operator_support::{PATIENCE, mesh_binary};

/// The Ready condition of `name` in `/api/status`, as (status, reason, message).
fn ready_in(body: &Value, name: &str) -> Option<(String, String, String)> {
    let object = body["objects"]
        .as_array()?
        .iter()
        .find(|o| o["name"] == name)?;
    let ready = object["status"]["conditions"]
        .as_array()?
        .iter()
        .find(|c| c["type"] == "Ready")?;
    let text = |field: &str| ready[field].as_str().unwrap_or_default().to_owned();
    Some((text("status"), text("reason"), text("message")))
}

async fn wait_for_status(
    admin: SocketAddr,
    name: &str,
    status: &str,
    reason: &str,
    log: &ManagedProcess,
) -> anyhow::Result<String> {
    let deadline = tokio::time::Instant::now() + PATIENCE;
    loop {
        let body = match http_client::get(&format!("http://{admin}/api/status")).await {
            Ok(answer) => answer.json().unwrap_or(Value::Null),
            Err(_) => Value::Null,
        };
        if let Some((s, r, message)) = ready_in(&body, name)
            && s == status
            && r == reason
        {
            return Ok(message);
        }
        anyhow::ensure!(
            tokio::time::Instant::now() < deadline,
            "{name} never Ready={status} ({reason}); last /api/status: {body:#}\nmesh log:\n{}",
            log.log_tail(30)
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn quickstart_routes_and_explains_and_follows_edits() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let ports = free_loopback_ports(3)?;
    let (backend_port, web_port, admin_port) = (ports[0], ports[1], ports[2]);
    let backend = BackendSpec::new(
        crate::backend_binary(),
        "quickstart",
        BackendMode::Http,
        backend_port,
    )
    .start_on_loopback(dir.path())
    .await?;

    // The quickstart as shipped, with its backend moved to a free port.
    let manifests = dir.path().join("manifests");
    std::fs::create_dir(&manifests)?;
    for entry in std::fs::read_dir(workspace_root().join("examples/quickstart"))? {
        let path = entry?.path();
        if path.extension().is_some_and(|ext| ext == "yaml") {
            let text = std::fs::read_to_string(&path)?.replace("8081", &backend_port.to_string());
            std::fs::write(manifests.join(path.file_name().unwrap_or_default()), text)?;
        }
    }

    let mut command = Command::new(mesh_binary()?);
    command
        .arg("run")
        .arg("--manifests")
        .arg(&manifests)
        .arg(format!("--entrypoint=web=127.0.0.1:{web_port}"))
        .arg(format!("--admin-addr=127.0.0.1:{admin_port}"));
    let mesh = ManagedProcess::start("mesh manifests", command, &dir.path().join("mesh.log"))?;
    let admin = SocketAddr::from(([127, 0, 0, 1], admin_port));

    let message = wait_for_status(admin, "api", "False", "BackendNotFound", &mesh).await?;
    assert_eq!(
        message,
        "routes[0].services[0]: Service default/api not found"
    );
    wait_for_status(admin, "whoami", "True", "Ready", &mesh).await?;
    wait_for_status(admin, "quickstart-headers", "True", "Ready", &mesh).await?;

    let request = http::Request::get(format!("http://127.0.0.1:{web_port}/hello"))
        .header(http::header::HOST, "whoami.localhost")
        .body(http_body_util::Full::<bytes::Bytes>::default())?;
    let answer = http_client::send(request, false).await?;
    assert_eq!(answer.status, 200);
    assert_eq!(answer.json()?["name"], "quickstart");
    assert_eq!(
        answer
            .headers
            .get("x-served-by")
            .and_then(|v| v.to_str().ok()),
        Some("mesh")
    );

    // Adding the missing Service to the folder fixes the broken route.
    std::fs::write(
        manifests.join("40-api-service.yaml"),
        format!(
            "apiVersion: v1\nkind: Service\nmetadata: {{name: api}}\nspec: {{ports: [{{name: http, port: 80}}]}}\n---\n\
             apiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\nmetadata: {{name: api-1, labels: {{kubernetes.io/service-name: api}}}}\n\
             addressType: IPv4\nports: [{{name: http, port: {backend_port}}}]\nendpoints: [{{addresses: [127.0.0.1], conditions: {{ready: true}}}}]\n"
        ),
    )?;
    wait_for_status(admin, "api", "True", "Ready", &mesh).await?;

    // A malformed document is reported in the log and hides nothing else.
    std::fs::write(
        manifests.join("50-broken.yaml"),
        "apiVersion: mesh.io/v1alpha1\nkind: [unterminated\n",
    )?;
    std::fs::remove_file(manifests.join("30-broken-route.yaml"))?;
    let deadline = tokio::time::Instant::now() + PATIENCE;
    loop {
        let body = http_client::get(&format!("http://{admin}/api/status"))
            .await?
            .json()?;
        if ready_in(&body, "api").is_none() {
            assert!(ready_in(&body, "whoami").is_some(), "{body:#}");
            break;
        }
        anyhow::ensure!(
            tokio::time::Instant::now() < deadline,
            "the deleted route stayed: {body:#}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(
        mesh.log_tail(50).contains("50-broken.yaml"),
        "{}",
        mesh.log_tail(50)
    );
    drop(backend);
    Ok(())
}
