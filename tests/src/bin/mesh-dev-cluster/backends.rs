//! `--backend [NS/]SERVICE`: a real endpoint for a Service in a cluster without kubelets.
//!
//! The test backend runs in a pod network namespace (the apiserver refuses loopback
//! addresses in EndpointSlices) and an EndpointSlice names its address, as the endpoint
//! controller would for a pod.

use anyhow::Context as _;
use k8s_openapi::api::core::v1::Service;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use kube::api::Api;
use mesh_tests::{BackendMode, BackendSpec, Pod, PodNetwork, apply_yaml, backend_binary};

use crate::say;

/// Starts the backend for `target` (`NS/NAME` or `NAME` in `default`); the pod (and its
/// backend) lives as long as the returned value.
pub async fn start(client: &kube::Client, target: &str) -> anyhow::Result<Pod> {
    let (namespace, name) = target.split_once('/').unwrap_or(("default", target));
    let service = Api::<Service>::namespaced(client.clone(), namespace)
        .get_opt(name)
        .await
        .with_context(|| format!("--backend {target}: reading Service {namespace}/{name}"))?
        .ok_or_else(|| {
            anyhow::anyhow!(
                "--backend {target}: there is no Service {namespace}/{name} (create it, e.g. with --apply)"
            )
        })?;
    let (port_name, target_port) = first_target_port(&service).ok_or_else(|| {
        anyhow::anyhow!("--backend {target}: Service {namespace}/{name} has no port")
    })?;

    let mut pod = PodNetwork::get()?.create_pod(name)?;
    let spec = BackendSpec::new(backend_binary()?, name, BackendMode::Http, target_port);
    let addr = pod.start_backend(&spec).await?;
    apply_yaml(
        client,
        &endpoint_slice_yaml(name, port_name.as_deref(), addr),
        namespace,
    )
    .await
    .with_context(|| format!("--backend {target}: applying its EndpointSlice"))?;
    say(&format!(
        "Service {namespace}/{name}: test backend at http://{addr} (network namespace {}), EndpointSlice {name}-dev-cluster",
        pod.netns()
    ));
    Ok(pod)
}

/// The name and the number of the first port's targetPort (a named targetPort, which only a
/// pod could resolve, falls back to the port itself).
fn first_target_port(service: &Service) -> Option<(Option<String>, u16)> {
    let port = service.spec.as_ref()?.ports.as_ref()?.first()?;
    let number = match &port.target_port {
        Some(IntOrString::Int(number)) => *number,
        _ => port.port,
    };
    Some((port.name.clone(), u16::try_from(number).ok()?))
}

fn endpoint_slice_yaml(
    service: &str,
    port_name: Option<&str>,
    addr: std::net::SocketAddr,
) -> String {
    let name_line = port_name
        .map(|name| format!("name: {name}, "))
        .unwrap_or_default();
    format!(
        r#"
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: {service}-dev-cluster
  labels: {{kubernetes.io/service-name: {service}}}
addressType: IPv4
ports: [{{{name_line}port: {port}, protocol: TCP}}]
endpoints:
  - addresses: ["{ip}"]
    conditions: {{ready: true, serving: true}}
"#,
        port = addr.port(),
        ip = addr.ip(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn service(ports: serde_json::Value) -> Service {
        serde_json::from_value(serde_json::json!({
            "metadata": {"name": "whoami"},
            "spec": {"ports": ports}
        }))
        .expect("a Service")
    }

    #[test]
    fn the_backend_listens_on_the_first_numeric_target_port() {
        let numeric =
            service(serde_json::json!([{"name": "http", "port": 80, "targetPort": 8081}]));
        assert_eq!(
            first_target_port(&numeric),
            Some((Some("http".into()), 8081))
        );
        let named = service(serde_json::json!([{"port": 80, "targetPort": "web"}]));
        assert_eq!(first_target_port(&named), Some((None, 80)));
        assert_eq!(first_target_port(&service(serde_json::json!([]))), None);
    }

    #[test]
    fn the_endpoint_slice_names_the_service_and_the_port() {
        let yaml = endpoint_slice_yaml(
            "whoami",
            Some("http"),
            "10.213.7.2:8081".parse().expect("addr"),
        );
        let slice: serde_json::Value = serde_yaml::from_str(&yaml).expect("yaml");
        assert_eq!(
            slice["metadata"]["labels"]["kubernetes.io/service-name"],
            "whoami"
        );
        assert_eq!(
            slice["ports"][0],
            serde_json::json!({"name": "http", "port": 8081, "protocol": "TCP"})
        );
        assert_eq!(slice["endpoints"][0]["addresses"][0], "10.213.7.2");
    }
}
