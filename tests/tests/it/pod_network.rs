//! Pods: backends in network namespaces, reachable from the root namespace over veth.

use std::net::IpAddr;

use mesh_tests::{BackendMode, BackendSpec, HarnessError, PodNetwork};

use crate::backend_binary;
use crate::http_client;

fn ip(args: &[&str]) -> std::process::Output {
    std::process::Command::new("ip")
        .args(args)
        .output()
        .expect("ip is installed (PodNetwork checked it)")
}

#[tokio::test]
async fn a_backend_in_a_pod_answers_over_the_veth() -> anyhow::Result<()> {
    let network = PodNetwork::get()?;
    let mut pod = network.create_pod("web-0")?;
    let addr = pod
        .start_backend(&BackendSpec::new(
            backend_binary(),
            "web-0",
            BackendMode::Http,
            8080,
        ))
        .await?;
    assert_eq!(addr.ip(), IpAddr::V4(pod.ip()));
    assert!(!pod.ip().is_loopback());

    let answer = http_client::get(&format!("http://{addr}/hello")).await?;
    assert_eq!(answer.status, 200);
    let body = answer.json()?;
    assert_eq!(body["name"], "web-0");
    assert_eq!(body["path"], "/hello");
    // The request came from the root namespace's side of the veth.
    let peer: std::net::SocketAddr = body["peer"].as_str().unwrap_or_default().parse()?;
    assert_eq!(peer.ip(), IpAddr::V4(network.gateway()));
    Ok(())
}

#[tokio::test]
async fn pods_get_distinct_addresses_and_their_own_backends() -> anyhow::Result<()> {
    let network = PodNetwork::get()?;
    let mut first = network.create_pod("a")?;
    let mut second = network.create_pod("b")?;
    assert_ne!(first.ip(), second.ip());
    assert_ne!(first.netns(), second.netns());

    let first_addr = first
        .start_backend(&BackendSpec::new(
            backend_binary(),
            "a",
            BackendMode::Http,
            80,
        ))
        .await?;
    let second_addr = second
        .start_backend(&BackendSpec::new(
            backend_binary(),
            "b",
            BackendMode::Http,
            80,
        ))
        .await?;
    assert_eq!(
        http_client::get(&format!("http://{first_addr}/"))
            .await?
            .json()?["name"],
        "a"
    );
    assert_eq!(
        http_client::get(&format!("http://{second_addr}/"))
            .await?
            .json()?["name"],
        "b"
    );
    Ok(())
}

#[tokio::test]
async fn udp_echo_works_inside_a_pod() -> anyhow::Result<()> {
    let network = PodNetwork::get()?;
    let mut pod = network.create_pod("dns")?;
    let spec = BackendSpec::new(backend_binary(), "dns", BackendMode::UdpEcho, 5353).announce();
    let addr = pod.start_backend(&spec).await?;

    let socket = tokio::net::UdpSocket::bind("0.0.0.0:0").await?;
    socket.send_to(b"query", addr).await?;
    let mut buffer = [0u8; 64];
    let (len, from) = socket.recv_from(&mut buffer).await?;
    assert_eq!(&buffer[..len], b"dns query");
    assert_eq!(from, addr);
    Ok(())
}

#[tokio::test]
async fn dropping_a_pod_removes_its_namespace_and_veth() -> anyhow::Result<()> {
    let network = PodNetwork::get()?;
    let mut pod = network.create_pod("short-lived")?;
    pod.start_backend(&BackendSpec::new(
        backend_binary(),
        "short-lived",
        BackendMode::TcpEcho,
        7000,
    ))
    .await?;
    let (netns, link) = (pod.netns().to_string(), pod.root_link().to_string());
    assert!(String::from_utf8_lossy(&ip(&["netns", "list"]).stdout).contains(&netns));
    assert!(ip(&["link", "show", &link]).status.success());

    drop(pod);
    let namespaces = String::from_utf8_lossy(&ip(&["netns", "list"]).stdout).into_owned();
    assert!(
        !namespaces
            .lines()
            .any(|line| line.split_whitespace().next() == Some(netns.as_str())),
        "{namespaces}"
    );
    assert!(
        !ip(&["link", "show", &link]).status.success(),
        "veth {link} survived"
    );
    Ok(())
}

#[tokio::test]
async fn a_backend_that_cannot_start_reports_why() -> anyhow::Result<()> {
    let network = PodNetwork::get()?;
    let mut pod = network.create_pod("broken")?;
    let spec = BackendSpec::new("/nonexistent/mesh-backend", "broken", BackendMode::Http, 80);
    let error = pod
        .start_backend(&spec)
        .await
        .expect_err("the binary does not exist");
    let message = error.to_string();
    assert!(matches!(error, HarnessError::StartUp { .. }), "{message}");
    assert!(
        message.starts_with("backend broken did not start: exited with"),
        "{message}"
    );
    assert!(
        message.contains("/nonexistent/mesh-backend"),
        "ip netns exec's complaint is shown: {message}"
    );
    Ok(())
}
