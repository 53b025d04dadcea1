//! Idle upstream connections: closed by Mesh once `idleConnTimeout` passes, reused before,
//! and no more kept per server than `maxIdleConnsPerHost`.
use std::sync::Arc;
use std::time::Duration;

use serde_json::json;
use tokio::sync::Barrier;

use super::backend::{Backend, handler, text};
use super::{build, call, eventually, get};

/// Longest wait for something that must happen; the tests never assert a duration.
const BOUND: Duration = Duration::from_secs(10);

fn services_with_transport(
    backend: &Backend,
    transport: serde_json::Value,
) -> mesh_proxy::service::Services {
    build(json!({
        "services": {"svc": {"loadBalancer": {
            "servers": [{"url": backend.url}], "serversTransport": "pool"
        }}},
        "serversTransports": {"pool": transport},
    }))
}

#[tokio::test]
async fn an_idle_connection_is_closed_when_the_idle_timeout_passes() {
    let backend = Backend::named("idle").await;
    let services = services_with_transport(
        &backend,
        json!({"forwardingTimeouts": {"idleConnTimeout": "300ms"}}),
    );
    assert_eq!(call(&services, "svc", get("/")).await.text(), "idle");
    assert_eq!(backend.connections(), 1);
    // Nothing else happens: only the pool's own timer can close the connection.
    tokio::time::timeout(BOUND, eventually(|| backend.closed_connections() == 1))
        .await
        .expect("the idle connection is closed by the proxy");
}

#[tokio::test]
async fn a_connection_is_reused_before_the_idle_timeout() {
    let backend = Backend::named("warm").await;
    let services = services_with_transport(
        &backend,
        json!({"forwardingTimeouts": {"idleConnTimeout": "300ms"}}),
    );
    for _ in 0..3 {
        assert_eq!(call(&services, "svc", get("/")).await.text(), "warm");
    }
    assert_eq!(
        backend.connections(),
        1,
        "one connection for back-to-back requests"
    );
    assert_eq!(backend.closed_connections(), 0);
}

#[tokio::test]
async fn no_more_idle_connections_than_max_idle_conns_per_host_are_kept() {
    // Both requests are answered only once both arrived: two connections are needed.
    let together = Arc::new(Barrier::new(2));
    let backend = Backend::start(handler(move |_, _| {
        let together = Arc::clone(&together);
        async move {
            together.wait().await;
            text(200, "pair")
        }
    }))
    .await;
    let services = services_with_transport(&backend, json!({"maxIdleConnsPerHost": 1}));
    let (first, second) = tokio::join!(
        call(&services, "svc", get("/1")),
        call(&services, "svc", get("/2"))
    );
    assert_eq!((first.text(), second.text()), ("pair", "pair"));
    assert_eq!(backend.connections(), 2);
    // The default idle timeout is 90s: this close comes from the limit.
    tokio::time::timeout(BOUND, eventually(|| backend.closed_connections() == 1))
        .await
        .expect("the connection over the limit is closed");
    let (third, fourth) = tokio::join!(
        call(&services, "svc", get("/3")),
        call(&services, "svc", get("/4"))
    );
    assert_eq!((third.text(), fourth.text()), ("pair", "pair"));
    assert_eq!(
        backend.connections(),
        3,
        "the kept connection served one of them"
    );
}
