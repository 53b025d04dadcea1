//! Client-IP and latency aware balancing through a started proxy: the highestRandomWeight
//! service, and the `hrw` and `leasttime` strategies of a servers load balancer. Clients bind
//! to distinct 127.0.0.x source addresses so the proxy sees distinct client IPs.
use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

use http::{Response, StatusCode};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use mesh_proxy::body;

use crate::support::{EchoBackend, TestClient, TestProxy, admin_json, get, serve_backend};

/// A client whose connections come from `127.0.0.{last}`.
fn client_from(last: u8) -> TestClient {
    let mut connector = HttpConnector::new();
    connector.set_local_address(Some(IpAddr::V4(Ipv4Addr::new(127, 0, 0, last))));
    Client::builder(TokioExecutor::new()).build(connector)
}

/// The backend that answered one request from `client`, with the status.
async fn backend_of(proxy: &TestProxy, client: &TestClient) -> (StatusCode, String) {
    let answer = get(client, proxy.web(), "app.test", "/").await;
    let backend = answer
        .headers
        .get("x-backend")
        .and_then(|value| value.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    (answer.status, backend)
}

/// For each of `clients` source addresses: the backends seen over `rounds` requests.
async fn backends_per_client(
    proxy: &TestProxy,
    clients: std::ops::RangeInclusive<u8>,
    rounds: usize,
) -> BTreeMap<u8, Vec<String>> {
    let mut seen = BTreeMap::new();
    for last in clients {
        let client = client_from(last);
        let mut backends = Vec::with_capacity(rounds);
        for _ in 0..rounds {
            let (status, backend) = backend_of(proxy, &client).await;
            assert_eq!(status, StatusCode::OK, "client 127.0.0.{last}");
            backends.push(backend);
        }
        seen.insert(last, backends);
    }
    seen
}

fn hrw_config(a: &EchoBackend, b: &EchoBackend, weights: (u32, u32)) -> String {
    format!(
        r#"
http:
  routers:
    app: {{rule: "Host(`app.test`)", service: hrw}}
  services:
    hrw:
      highestRandomWeight:
        services: [{{name: a, weight: {}}}, {{name: b, weight: {}}}]
    a: {{loadBalancer: {{servers: [{{url: "{}"}}]}}}}
    b: {{loadBalancer: {{servers: [{{url: "{}"}}]}}}}
"#,
        weights.0,
        weights.1,
        a.url(),
        b.url()
    )
}

#[tokio::test]
async fn highest_random_weight_keeps_each_client_on_one_child() {
    let (a, b) = (EchoBackend::start("a").await, EchoBackend::start("b").await);
    let proxy = TestProxy::start().await;
    let report = proxy.apply_yaml(&hrw_config(&a, &b, (1, 1)));
    assert!(report.routers["app"].errors.is_empty(), "{report:?}");

    let seen = backends_per_client(&proxy, 2..=41, 4).await;
    for (client, backends) in &seen {
        assert!(
            backends.iter().all(|backend| *backend == backends[0]),
            "client 127.0.0.{client} moved between children: {backends:?}"
        );
    }
    let on_a = seen.values().filter(|backends| backends[0] == "a").count();
    assert!(
        (5..=35).contains(&on_a),
        "40 clients over two equal children: {on_a} on a"
    );

    let (_, service) = admin_json(&proxy, "/api/http/services/hrw").await;
    assert_eq!(service["state"]["kind"], "highestRandomWeight", "{service}");
    assert_eq!(service["status"], "enabled", "{service}");
}

#[tokio::test]
async fn highest_random_weight_shares_follow_weights() {
    let (a, b) = (EchoBackend::start("a").await, EchoBackend::start("b").await);
    let proxy = TestProxy::start().await;
    proxy.apply_yaml(&hrw_config(&a, &b, (1, 9)));
    let seen = backends_per_client(&proxy, 2..=101, 1).await;
    let on_b = seen.values().filter(|backends| backends[0] == "b").count();
    // Expected 90 of 100; equal weights would give about 50.
    assert!(on_b >= 75, "weight 9 of 10 got {on_b} of 100 clients");
    proxy.apply_yaml(&hrw_config(&a, &b, (0, 1)));
    let seen = backends_per_client(&proxy, 2..=21, 1).await;
    assert!(
        seen.values().all(|backends| backends[0] == "b"),
        "a child of weight 0 is never chosen: {seen:?}"
    );
}

#[tokio::test]
async fn highest_random_weight_skips_a_child_that_is_down_and_503_when_none_is_up() {
    let alive = EchoBackend::start("alive").await;
    let closed = closed_port();
    let proxy = TestProxy::start().await;
    let config = |alive: &str| {
        format!(
            r#"
http:
  routers:
    app: {{rule: "Host(`app.test`)", service: hrw}}
  services:
    hrw:
      highestRandomWeight:
        services: [{{name: dead}}, {{name: alive}}]
    dead:
      loadBalancer:
        servers: [{{url: "http://127.0.0.1:{closed}"}}]
        passiveHealthCheck: {{maxFailedAttempts: 1, failureWindow: 1h}}
    alive:
      loadBalancer:
        servers: [{{url: "{alive}"}}]
        passiveHealthCheck: {{maxFailedAttempts: 1, failureWindow: 1h}}
"#
        )
    };
    proxy.apply_yaml(&config(&alive.url()));
    // Find a client the dead child owns: its first request fails and ejects the child,
    // then the same client is served by the live one.
    let mut moved = None;
    for last in 2..=60 {
        let client = client_from(last);
        let (status, _) = backend_of(&proxy, &client).await;
        if status == StatusCode::BAD_GATEWAY {
            moved = Some(client);
            break;
        }
    }
    let client = moved.expect("some client hashes to the dead child");
    for _ in 0..3 {
        assert_eq!(
            backend_of(&proxy, &client).await,
            (StatusCode::OK, "alive".to_owned())
        );
    }

    // The live child's server goes away too (a new, closed address): once it has failed,
    // no child is available and the answer is 503.
    proxy.apply_yaml(&config(&format!("http://127.0.0.1:{}", closed_port())));
    let client = client_from(7);
    let (first, _) = backend_of(&proxy, &client).await;
    assert_eq!(first, StatusCode::BAD_GATEWAY);
    let answer = get(&client, proxy.web(), "app.test", "/").await;
    assert_eq!(
        (answer.status, answer.body.as_str()),
        (StatusCode::SERVICE_UNAVAILABLE, "no available server\n")
    );
}

#[tokio::test]
async fn highest_random_weight_with_a_missing_child_disables_its_routers() {
    let a = EchoBackend::start("a").await;
    let proxy = TestProxy::start().await;
    proxy.apply_yaml(&format!(
        r#"
http:
  routers:
    app: {{rule: "Host(`app.test`)", service: hrw}}
  services:
    hrw: {{highestRandomWeight: {{services: [{{name: a}}, {{name: ghost}}]}}}}
    a: {{loadBalancer: {{servers: [{{url: "{}"}}]}}}}
"#,
        a.url()
    ));
    let (_, router) = admin_json(&proxy, "/api/http/routers/app").await;
    assert_eq!(router["status"], "disabled", "{router}");
    assert_eq!(
        router["error"][0], "service `hrw`: service `ghost` does not exist",
        "{router}"
    );
    let answer = get(&client_from(2), proxy.web(), "app.test", "/").await;
    assert_eq!(answer.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn hrw_strategy_keeps_each_client_on_one_server_and_skips_fenced_ones() {
    let (a, b, c) = (
        EchoBackend::start("a").await,
        EchoBackend::start("b").await,
        EchoBackend::start("c").await,
    );
    let proxy = TestProxy::start().await;
    let config = |fenced_c: bool| {
        format!(
            r#"
http:
  routers:
    app: {{rule: "Host(`app.test`)", service: app}}
  services:
    app:
      loadBalancer:
        strategy: hrw
        servers:
          - {{url: "{}"}}
          - {{url: "{}", weight: 2}}
          - {{url: "{}", fenced: {fenced_c}}}
"#,
            a.url(),
            b.url(),
            c.url()
        )
    };
    proxy.apply_yaml(&config(false));
    let seen = backends_per_client(&proxy, 2..=201, 2).await;
    for (client, backends) in &seen {
        assert!(
            backends.iter().all(|backend| *backend == backends[0]),
            "client 127.0.0.{client} moved between servers: {backends:?}"
        );
    }
    let count = |name: &str| seen.values().filter(|b| b[0] == name).count();
    assert!(
        count("a") > 0 && count("c") > 0 && count("b") > count("a"),
        "a={} b={} c={}",
        count("a"),
        count("b"),
        count("c")
    );

    // Fencing c moves only c's clients.
    proxy.apply_yaml(&config(true));
    let after = backends_per_client(&proxy, 2..=201, 1).await;
    for (client, backends) in &seen {
        let now = &after[client][0];
        if backends[0] == "c" {
            assert_ne!(now, "c", "client 127.0.0.{client} still on a fenced server");
        } else {
            assert_eq!(
                *now, backends[0],
                "client 127.0.0.{client} moved needlessly"
            );
        }
    }
}

#[tokio::test]
async fn leasttime_prefers_the_fast_server() {
    let fast = EchoBackend::start("fast").await;
    let slow = serve_backend(|_| async {
        tokio::time::sleep(Duration::from_millis(150)).await;
        let mut response = Response::new(body::full("slow"));
        response
            .headers_mut()
            .insert("x-backend", http::HeaderValue::from_static("slow"));
        Ok(response)
    })
    .await;
    let proxy = TestProxy::start().await;
    let config = |other_router: &str| {
        format!(
            r#"
http:
  routers:
    app: {{rule: "Host(`app.test`)", service: app}}
    {other_router}: {{rule: "Host(`other.test`)", service: app}}
  services:
    app:
      loadBalancer:
        strategy: leasttime
        servers: [{{url: "{}"}}, {{url: "{}"}}]
"#,
            slow.url(),
            fast.url()
        )
    };
    proxy.apply_yaml(&config("first"));
    let client = client_from(2);
    let count = async |requests: usize| {
        let mut counts = BTreeMap::<String, usize>::new();
        for _ in 0..requests {
            let (status, backend) = backend_of(&proxy, &client).await;
            assert_eq!(status, StatusCode::OK);
            *counts.entry(backend).or_default() += 1;
        }
        counts
    };
    let counts = count(20).await;
    // Each server is tried once while unmeasured; then the fast one wins every time.
    assert_eq!(counts.get("slow"), Some(&1), "{counts:?}");
    assert_eq!(counts.get("fast"), Some(&19), "{counts:?}");

    // A new configuration keeps the averages: the slow server is not tried again.
    proxy.apply_yaml(&config("second"));
    let counts = count(10).await;
    assert_eq!(counts.get("fast"), Some(&10), "{counts:?}");
}

fn closed_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map(|addr| addr.port())
        .expect("an ephemeral port")
}
