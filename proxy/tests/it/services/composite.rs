//! Weighted, mirroring and failover services, and how bad service configs are reported.
use std::sync::Arc;

use http::{Method, Request, StatusCode};
use mesh_proxy::body;
use serde_json::json;
use tokio::sync::Semaphore;

use super::backend::{Backend, handler, text};
use super::{build, call, eventually, get, try_build};

fn lb(backend: &Backend) -> serde_json::Value {
    json!({"loadBalancer": {"servers": [{"url": backend.url}]}})
}

fn closed_port_lb() -> serde_json::Value {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port();
    json!({"loadBalancer": {
        "servers": [{"url": format!("http://127.0.0.1:{port}")}],
        "passiveHealthCheck": {"maxFailedAttempts": 1, "failureWindow": "1h"}
    }})
}

#[tokio::test]
async fn weighted_nests_and_follows_weights() {
    let (a, b, c) = (
        Backend::named("a").await,
        Backend::named("b").await,
        Backend::named("c").await,
    );
    let services = build(json!({"services": {
        "top": {"weighted": {"services": [{"name": "inner", "weight": 2}, {"name": "c", "weight": 1}]}},
        "inner": {"weighted": {"services": [{"name": "a"}, {"name": "b"}]}},
        "a": lb(&a), "b": lb(&b), "c": lb(&c),
    }}));
    for _ in 0..30 {
        assert_eq!(
            call(&services, "top", get("/")).await.status,
            StatusCode::OK
        );
    }
    assert_eq!((a.count(), b.count(), c.count()), (10, 10, 10));
}

#[tokio::test]
async fn weighted_skips_a_child_that_is_down() {
    let alive = Backend::named("alive").await;
    let services = build(json!({"services": {
        "top": {"weighted": {"services": [{"name": "dead"}, {"name": "alive"}]}},
        "dead": closed_port_lb(), "alive": lb(&alive),
    }}));
    let mut statuses = Vec::new();
    for _ in 0..6 {
        statuses.push(call(&services, "top", get("/")).await.status);
    }
    // The dead child answers 502 once, is ejected, and the rest go to the live one.
    assert_eq!(
        statuses
            .iter()
            .filter(|s| **s == StatusCode::BAD_GATEWAY)
            .count(),
        1
    );
    assert_eq!(alive.count(), 5);
}

#[tokio::test]
async fn mirrors_get_their_percent_with_the_body() {
    let (main, shadow) = (Backend::named("main").await, Backend::named("shadow").await);
    let services = build(json!({"services": {
        "mirrored": {"mirroring": {"service": "main", "mirrors": [{"name": "shadow", "percent": 50}]}},
        "main": lb(&main), "shadow": lb(&shadow),
    }}));
    for index in 0..10 {
        let request = Request::builder()
            .method(Method::POST)
            .uri("/submit")
            .header(http::header::HOST, "example.com")
            .body(body::full(format!("payload-{index}")))
            .expect("request");
        let answer = call(&services, "mirrored", request).await;
        assert_eq!((answer.status, answer.text()), (StatusCode::OK, "main"));
    }
    eventually(|| shadow.count() == 5).await;
    assert_eq!(main.count(), 10);
    let main_bodies: Vec<_> = main.requests().into_iter().map(|seen| seen.body).collect();
    for seen in shadow.requests() {
        assert_eq!(seen.method, Method::POST);
        assert!(main_bodies.contains(&seen.body), "mirror got the same body");
        assert!(seen.body.starts_with(b"payload-"));
    }
}

#[tokio::test]
async fn a_stuck_mirror_never_delays_the_main_response() {
    let gate = Arc::new(Semaphore::new(0));
    let held = Arc::clone(&gate);
    let stuck = Backend::start(handler(move |_, _| {
        let gate = Arc::clone(&held);
        async move {
            let _permit = gate.acquire().await;
            text(500, "mirror")
        }
    }))
    .await;
    let main = Backend::named("main").await;
    let services = build(json!({"services": {
        "mirrored": {"mirroring": {"service": "main", "mirrors": [{"name": "stuck", "percent": 100}]}},
        "main": lb(&main), "stuck": lb(&stuck),
    }}));
    for _ in 0..3 {
        let answer = call(&services, "mirrored", get("/")).await;
        assert_eq!((answer.status, answer.text()), (StatusCode::OK, "main"));
    }
    eventually(|| stuck.count() == 3).await;
    gate.add_permits(3);
}

#[tokio::test]
async fn bodies_above_max_body_size_are_not_mirrored() {
    let (main, shadow) = (Backend::named("main").await, Backend::named("shadow").await);
    let services = build(json!({"services": {
        "mirrored": {"mirroring": {"service": "main", "maxBodySize": 8,
                                   "mirrors": [{"name": "shadow", "percent": 100}]}},
        "main": lb(&main), "shadow": lb(&shadow),
    }}));
    let post = |text: &'static str| {
        Request::builder()
            .method(Method::POST)
            .uri("/")
            .body(body::full(text))
            .expect("request")
    };
    assert_eq!(
        call(&services, "mirrored", post("a body far above eight bytes"))
            .await
            .status,
        StatusCode::OK
    );
    assert_eq!(
        call(&services, "mirrored", post("small")).await.status,
        StatusCode::OK
    );
    eventually(|| shadow.count() == 1).await;
    assert_eq!(shadow.requests()[0].body, "small");
    let main_bodies: Vec<_> = main.requests().into_iter().map(|seen| seen.body).collect();
    assert_eq!(
        main_bodies,
        vec!["a body far above eight bytes", "small"],
        "main gets every body whole"
    );
}

#[tokio::test]
async fn failover_uses_the_fallback_when_main_is_down() {
    let backup = Backend::named("backup").await;
    let services = build(json!({"services": {
        "fo": {"failover": {"service": "main", "fallback": "backup"}},
        "main": closed_port_lb(), "backup": lb(&backup),
    }}));
    // The first request discovers main is down (502); the next ones fail over.
    assert_eq!(
        call(&services, "fo", get("/")).await.status,
        StatusCode::BAD_GATEWAY
    );
    for _ in 0..3 {
        let answer = call(&services, "fo", get("/")).await;
        assert_eq!((answer.status, answer.text()), (StatusCode::OK, "backup"));
    }
    let state = &services.describe()["fo"];
    assert!(
        state.available,
        "failover is available through its fallback"
    );
    assert!(!services.describe()["main"].available);
}

#[tokio::test]
async fn failover_replays_the_request_on_listed_statuses() {
    let main = Backend::start(handler(|seen, _| async move {
        if seen.path == "/broken" {
            text(503, "main broken")
        } else {
            text(200, "main")
        }
    }))
    .await;
    let backup = Backend::start(handler(|seen, _| async move { text(200, seen.body) })).await;
    let services = build(json!({"services": {
        "fo": {"failover": {"service": "main", "fallback": "backup", "errors": {"status": ["500-504"]}}},
        "main": lb(&main), "backup": lb(&backup),
    }}));
    let post = |path: &str| {
        Request::builder()
            .method(Method::POST)
            .uri(path)
            .body(body::full("replayed body"))
            .expect("request")
    };
    let answer = call(&services, "fo", post("/broken")).await;
    assert_eq!(
        (answer.status, answer.text()),
        (StatusCode::OK, "replayed body")
    );
    let answer = call(&services, "fo", post("/fine")).await;
    assert_eq!((answer.status, answer.text()), (StatusCode::OK, "main"));
    assert_eq!(backup.count(), 1);
}

#[tokio::test]
async fn broken_services_are_reported_and_the_rest_still_work() {
    let backend = Backend::named("ok").await;
    let (services, errors) = try_build(json!({"services": {
        "good": lb(&backend),
        "bad-url": {"loadBalancer": {"servers": [{"url": "ftp://x"}]}},
        "no-kind": {},
        "missing-child": {"weighted": {"services": [{"name": "ghost"}]}},
        "loop-a": {"failover": {"service": "loop-b", "fallback": "good"}},
        "loop-b": {"weighted": {"services": [{"name": "loop-a"}]}},
        "bad-transport": {"loadBalancer": {"servers": [{"url": backend.url}], "serversTransport": "nope"}},
        "bad-status": {"failover": {"service": "good", "fallback": "good", "errors": {"status": ["5xx"]}}},
        "parent-of-broken": {"weighted": {"services": [{"name": "bad-url"}]}},
    }}));
    let messages: std::collections::BTreeMap<_, _> = errors
        .iter()
        .map(|e| (e.service.as_str(), e.to_string()))
        .collect();
    let expect = |service: &str, fragment: &str| {
        let message = messages
            .get(service)
            .unwrap_or_else(|| panic!("no error for {service}: {messages:?}"));
        assert!(
            message.contains(fragment),
            "{service}: `{message}` lacks `{fragment}`"
        );
        assert!(
            services.get(service).is_none(),
            "{service} must not be served"
        );
    };
    expect(
        "bad-url",
        "servers[0]: server URL `ftp://x` has unsupported scheme `ftp`",
    );
    expect("no-kind", "no service type set");
    expect("missing-child", "service `ghost` does not exist");
    expect("loop-a", "recursion detected");
    expect("loop-b", "recursion detected");
    expect("bad-transport", "serversTransport `nope` does not exist");
    expect("bad-status", "invalid status `5xx`");
    expect("parent-of-broken", "service `bad-url` is invalid");
    assert_eq!(errors.len(), 8);
    assert_eq!(
        call(&services, "good", get("/")).await.status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn mirror_body_false_sends_mirrors_an_empty_body() {
    let (main, shadow) = (Backend::named("main").await, Backend::named("shadow").await);
    let services = build(json!({"services": {
        "mirrored": {"mirroring": {"service": "main", "mirrorBody": false,
                                   "mirrors": [{"name": "shadow", "percent": 100}]}},
        "main": lb(&main), "shadow": lb(&shadow),
    }}));
    let request = Request::builder()
        .method(Method::PUT)
        .uri("/doc")
        .header(http::header::CONTENT_LENGTH, "12")
        .body(body::full("the document"))
        .expect("request");
    assert_eq!(call(&services, "mirrored", request).await.text(), "main");
    eventually(|| shadow.count() == 1).await;
    let copy = &shadow.requests()[0];
    assert_eq!(
        (copy.method.clone(), copy.path.as_str()),
        (Method::PUT, "/doc")
    );
    assert!(copy.body.is_empty());
    assert_eq!(main.requests()[0].body, "the document");
}

#[tokio::test]
async fn failover_does_not_replay_bodies_above_the_limit() {
    let main = Backend::start(handler(|_, _| async { text(503, "main broken") })).await;
    let backup = Backend::named("backup").await;
    let services = build(json!({"services": {
        "fo": {"failover": {"service": "main", "fallback": "backup",
                            "errors": {"status": ["503"], "maxRequestBodyBytes": 4}}},
        "main": lb(&main), "backup": lb(&backup),
    }}));
    let post = |text: &'static str| {
        Request::builder()
            .method(Method::POST)
            .uri("/")
            .body(body::full(text))
            .expect("request")
    };
    let big = call(&services, "fo", post("far more than four bytes")).await;
    assert_eq!(
        (big.status, big.text()),
        (StatusCode::SERVICE_UNAVAILABLE, "main broken")
    );
    assert_eq!(main.requests()[0].body, "far more than four bytes");
    let small = call(&services, "fo", post("tiny")).await;
    assert_eq!((small.status, small.text()), (StatusCode::OK, "backup"));
    assert_eq!(backup.count(), 1);
}
