//! Scale: applying 10,000 routers, and routing among them.
use std::time::Instant;

use http::StatusCode;
use mesh_proxy::config::service::{Server, ServersLoadBalancer, Service};
use mesh_proxy::config::{Config, Router};

use crate::support::{EchoBackend, TestProxy, get, http1_client};

#[tokio::test]
async fn ten_thousand_routers_apply_and_route() {
    let backend = EchoBackend::start("b").await;
    let proxy = TestProxy::start().await;
    let mut config = Config::default();
    for i in 0..10_000 {
        let name = format!("r{i:05}");
        config.http.routers.insert(
            name.clone(),
            Router {
                rule: format!("Host(`h{i}.test`) && PathPrefix(`/`)"),
                service: name.clone(),
                ..Router::default()
            },
        );
        let servers = ServersLoadBalancer {
            servers: vec![Server::new(backend.url())],
            ..Default::default()
        };
        config
            .http
            .services
            .insert(name, Service::load_balancer(servers));
    }
    let started = Instant::now();
    let report = proxy.proxy.apply(config.clone());
    let first = started.elapsed();
    let started = Instant::now();
    let again = proxy.proxy.apply(config);
    let second = started.elapsed();
    println!(
        "apply of 10,000 routers + services: first {:.1} ms, re-apply {:.1} ms \
         (building the generation alone: {:.1} ms; {} build)",
        first.as_secs_f64() * 1e3,
        second.as_secs_f64() * 1e3,
        again.apply_seconds * 1e3,
        if cfg!(debug_assertions) {
            "debug"
        } else {
            "release"
        }
    );
    assert!(report.is_clean());
    assert_eq!(report.routers.len(), 10_000);

    let client = http1_client();
    for host in ["h0.test", "h5.test", "h9999.test"] {
        let answer = get(&client, proxy.web(), host, "/x").await;
        assert_eq!(answer.status, StatusCode::OK, "{host}");
    }
    assert_eq!(
        get(&client, proxy.web(), "h10000.test", "/x").await.status,
        StatusCode::NOT_FOUND
    );
}
