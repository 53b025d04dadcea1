//! Server load balancer: wrr, p2c, sticky cookies, headers, pooling, error answers.
use std::collections::HashMap;
use std::sync::Arc;

use http::StatusCode;
use serde_json::json;
use tokio::sync::Semaphore;

use super::backend::{Backend, handler, text};
use super::{build, call, eventually, get};

fn servers(backends: &[&Backend]) -> serde_json::Value {
    backends.iter().map(|b| json!({"url": b.url})).collect()
}

#[tokio::test]
async fn wrr_shares_requests_by_weight() {
    let (a, b, c) = (
        Backend::named("a").await,
        Backend::named("b").await,
        Backend::named("c").await,
    );
    let services = build(json!({"services": {"svc": {"loadBalancer": {"servers": [
        {"url": a.url, "weight": 3}, {"url": b.url, "weight": 1}, {"url": c.url, "weight": 0}
    ]}}}}));
    let mut seen: HashMap<String, usize> = HashMap::new();
    for _ in 0..40 {
        let answer = call(&services, "svc", get("/")).await;
        assert_eq!(answer.status, StatusCode::OK);
        *seen.entry(answer.text().to_owned()).or_default() += 1;
    }
    assert_eq!(seen.get("a"), Some(&30));
    assert_eq!(seen.get("b"), Some(&10));
    assert_eq!(seen.get("c"), None, "weight 0 is never chosen");
}

#[tokio::test]
async fn p2c_avoids_the_server_with_requests_in_flight() {
    let gate = Arc::new(Semaphore::new(0));
    let slow_gate = Arc::clone(&gate);
    let slow = Backend::start(handler(move |_, _| {
        let gate = Arc::clone(&slow_gate);
        async move {
            let _permit = gate.acquire().await;
            text(200, "slow")
        }
    }))
    .await;
    let fast = Backend::named("fast").await;
    let services = Arc::new(build(json!({"services": {"svc": {"loadBalancer": {
        "strategy": "p2c", "servers": servers(&[&slow, &fast])
    }}}})));
    let mut pending = Vec::new();
    for _ in 0..20 {
        let services = Arc::clone(&services);
        let request = tokio::spawn(async move { call(&services, "svc", get("/")).await });
        let before = slow.count() + fast.count();
        eventually(|| slow.count() + fast.count() > before).await;
        pending.push(request);
    }
    // Once the slow server holds one request, the idle one always wins the comparison.
    assert!(
        slow.count() <= 1,
        "slow server got {} requests",
        slow.count()
    );
    assert!(fast.count() >= 19);
    gate.add_permits(20);
    for request in pending {
        assert_eq!(request.await.expect("joined").status, StatusCode::OK);
    }
}

#[tokio::test]
async fn sticky_cookies_pin_both_levels() {
    let backends = [
        Backend::named("a1").await,
        Backend::named("a2").await,
        Backend::named("b1").await,
        Backend::named("b2").await,
    ];
    let sticky = |name: &str| json!({"cookie": {"name": name}});
    let services = build(json!({"services": {
        "wrr1": {"weighted": {"services": [{"name": "whoami1"}, {"name": "whoami2"}],
                              "sticky": sticky("lvl1")}},
        "whoami1": {"loadBalancer": {"servers": servers(&[&backends[0], &backends[1]]), "sticky": sticky("lvl2")}},
        "whoami2": {"loadBalancer": {"servers": servers(&[&backends[2], &backends[3]]), "sticky": sticky("lvl2")}},
    }}));

    let first = call(&services, "wrr1", get("/")).await;
    let cookies = first.cookies();
    assert_eq!(cookies.len(), 2, "one cookie per level: {cookies:?}");
    let lvl1 = cookies
        .iter()
        .find(|c| c.starts_with("lvl1="))
        .expect("lvl1 cookie");
    assert!(lvl1 == "lvl1=whoami1" || lvl1 == "lvl1=whoami2", "{lvl1}");
    assert!(cookies.iter().any(|c| c.starts_with("lvl2=")));

    for _ in 0..10 {
        let mut request = get("/");
        request.headers_mut().insert(
            http::header::COOKIE,
            cookies.join("; ").parse().expect("cookie header"),
        );
        let again = call(&services, "wrr1", request).await;
        assert_eq!(again.text(), first.text(), "both cookies pin the server");
        assert!(
            again.cookies().is_empty(),
            "an honoured cookie is not set again"
        );
    }

    // Only the first level pinned: same child service, server chosen by its balancer.
    let child_prefix = if lvl1.ends_with('1') { "a" } else { "b" };
    for _ in 0..4 {
        let mut request = get("/");
        request
            .headers_mut()
            .insert(http::header::COOKIE, lvl1.parse().expect("cookie"));
        let answer = call(&services, "wrr1", request).await;
        assert!(
            answer.text().starts_with(child_prefix),
            "{} not in {child_prefix}*",
            answer.text()
        );
    }
}

#[tokio::test]
async fn pass_host_header_on_and_off() {
    let echo_host = || {
        handler(|seen, _| async move {
            let host = seen
                .headers
                .get(http::header::HOST)
                .and_then(|h| h.to_str().ok())
                .unwrap_or("");
            text(200, host.to_owned())
        })
    };
    let backend = Backend::start(echo_host()).await;
    let services = build(json!({"services": {
        "kept": {"loadBalancer": {"servers": servers(&[&backend])}},
        "replaced": {"loadBalancer": {"servers": servers(&[&backend]), "passHostHeader": false}},
    }}));
    assert_eq!(
        call(&services, "kept", get("/")).await.text(),
        "example.com"
    );
    let authority = backend.url.trim_start_matches("http://");
    assert_eq!(
        call(&services, "replaced", get("/")).await.text(),
        authority
    );
}

#[tokio::test]
async fn forwarded_headers_and_hop_by_hop_rules() {
    let backend = Backend::named("ok").await;
    let services =
        build(json!({"services": {"svc": {"loadBalancer": {"servers": servers(&[&backend])}}}}));
    let mut request = get("/path?q=1");
    let headers = request.headers_mut();
    headers.insert("x-forwarded-for", "203.0.113.1".parse().expect("value"));
    headers.insert(
        http::header::CONNECTION,
        "x-private".parse().expect("value"),
    );
    headers.insert("x-private", "secret".parse().expect("value"));
    headers.insert("x-end-to-end", "kept".parse().expect("value"));
    assert_eq!(call(&services, "svc", request).await.status, StatusCode::OK);

    let seen = backend.requests().pop().expect("one request");
    assert_eq!(seen.path, "/path?q=1");
    let header = |name: &str| {
        seen.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    assert_eq!(
        header("x-forwarded-for").as_deref(),
        Some("203.0.113.1, 127.0.0.9")
    );
    assert_eq!(header("x-real-ip").as_deref(), Some("127.0.0.9"));
    assert_eq!(header("x-forwarded-proto").as_deref(), Some("http"));
    assert_eq!(header("x-forwarded-host").as_deref(), Some("example.com"));
    assert_eq!(header("x-forwarded-port").as_deref(), Some("80"));
    assert!(header("x-forwarded-server").is_some());
    assert_eq!(header("x-private"), None, "named by Connection: hop-by-hop");
    assert_eq!(header("x-end-to-end").as_deref(), Some("kept"));
}

#[tokio::test]
async fn connections_are_pooled_and_survive_a_rebuild() {
    let backend = Backend::named("ok").await;
    let config: mesh_proxy::config::HttpConfig = serde_json::from_value(json!({
        "services": {"svc": {"loadBalancer": {"servers": servers(&[&backend])}}}
    }))
    .expect("valid");
    let (first, errors) = mesh_proxy::service::Services::build(&config, None);
    assert!(errors.is_empty());
    for _ in 0..5 {
        assert_eq!(call(&first, "svc", get("/")).await.status, StatusCode::OK);
    }
    let (second, _) = mesh_proxy::service::Services::build(&config, Some(&first));
    drop(first);
    for _ in 0..5 {
        assert_eq!(call(&second, "svc", get("/")).await.status, StatusCode::OK);
    }
    assert_eq!(backend.count(), 10);
    assert_eq!(
        backend.connections(),
        1,
        "one pooled connection for all ten requests"
    );
}

#[tokio::test]
async fn unreachable_server_is_502_with_a_plain_text_body() {
    // Bind then drop: the port is closed and nothing listens on it.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port();
    let services = build(json!({"services": {"svc": {"loadBalancer": {"servers": [
        {"url": format!("http://127.0.0.1:{port}")}
    ]}}}}));
    let answer = call(&services, "svc", get("/")).await;
    assert_eq!(answer.status, StatusCode::BAD_GATEWAY);
    assert_eq!(answer.text(), "bad gateway\n");
    assert_eq!(
        answer.headers[http::header::CONTENT_TYPE],
        "text/plain; charset=utf-8"
    );
}

#[tokio::test]
async fn no_servers_is_503_no_available_server() {
    let services = build(json!({"services": {"empty": {"loadBalancer": {"servers": []}}}}));
    let answer = call(&services, "empty", get("/")).await;
    assert_eq!(answer.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(answer.text(), "no available server\n");
}

#[tokio::test]
async fn slow_response_headers_are_504() {
    let gate = Arc::new(Semaphore::new(0));
    let held = Arc::clone(&gate);
    let backend = Backend::start(handler(move |_, _| {
        let gate = Arc::clone(&held);
        async move {
            let _permit = gate.acquire().await;
            text(200, "late")
        }
    }))
    .await;
    let services = build(json!({
        "services": {"svc": {"loadBalancer": {"servers": servers(&[&backend]), "serversTransport": "quick"}}},
        "serversTransports": {"quick": {"forwardingTimeouts": {"responseHeaderTimeout": "100ms"}}},
    }));
    let answer = call(&services, "svc", get("/")).await;
    assert_eq!(answer.status, StatusCode::GATEWAY_TIMEOUT);
    assert_eq!(answer.text(), "gateway timeout\n");
    gate.add_permits(1);
}

#[tokio::test]
async fn fenced_servers_only_serve_their_sticky_sessions() {
    let (live, leaving) = (
        Backend::named("live").await,
        Backend::named("leaving").await,
    );
    let sticky = json!({"cookie": {"name": "srv"}});
    let before = build(json!({"services": {"svc": {"loadBalancer": {
        "servers": servers(&[&leaving]), "sticky": sticky
    }}}}));
    let pinned = call(&before, "svc", get("/")).await.cookies();
    assert_eq!(pinned.len(), 1);

    // The endpoint is terminating: still listed, but fenced.
    let after = build(json!({"services": {"svc": {"loadBalancer": {
        "servers": [{"url": live.url}, {"url": leaving.url, "fenced": true}], "sticky": sticky
    }}}}));
    for _ in 0..4 {
        assert_eq!(call(&after, "svc", get("/")).await.text(), "live");
    }
    let mut request = get("/");
    request
        .headers_mut()
        .insert(http::header::COOKIE, pinned[0].parse().expect("cookie"));
    assert_eq!(call(&after, "svc", request).await.text(), "leaving");
}

#[tokio::test]
async fn a_sticky_cookie_for_a_dead_server_is_replaced() {
    let live = Backend::named("live").await;
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port();
    let dead_url = format!("http://127.0.0.1:{port}");
    let services = build(json!({"services": {"svc": {"loadBalancer": {
        "servers": [{"url": dead_url}, {"url": live.url}],
        "sticky": {"cookie": {"name": "srv"}},
        "passiveHealthCheck": {"maxFailedAttempts": 1, "failureWindow": "1h"}
    }}}}));
    // Pin to the dead server by its URL, eject it, then ask again with the stale cookie.
    let stale = format!("srv={dead_url}");
    let with_cookie = || {
        let mut request = get("/");
        request
            .headers_mut()
            .insert(http::header::COOKIE, stale.parse().expect("cookie"));
        request
    };
    assert_eq!(
        call(&services, "svc", with_cookie()).await.status,
        StatusCode::BAD_GATEWAY
    );
    let answer = call(&services, "svc", with_cookie()).await;
    assert_eq!(answer.text(), "live");
    let renewed = answer.cookies();
    assert_eq!(renewed.len(), 1);
    assert_ne!(renewed[0], stale);
}
