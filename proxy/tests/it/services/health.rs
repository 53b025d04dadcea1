//! Active and passive health checks, and health state across config generations.
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use http::StatusCode;
use mesh_proxy::config::HttpConfig;
use mesh_proxy::service::{ServerStatus, Services};
use serde_json::json;

use super::backend::{Backend, Protocol, handler, text};
use super::{call, eventually, get};

/// A backend whose `/health` answers 200 or 500 as the flag says; other paths answer `name`.
async fn switchable(name: &'static str, healthy: Arc<AtomicBool>) -> Backend {
    Backend::start(handler(move |seen, _| {
        let healthy = healthy.load(Ordering::SeqCst);
        async move {
            match (seen.path.as_str(), healthy) {
                ("/health", true) => text(200, "ok"),
                ("/health", false) => text(500, "sick"),
                _ => text(200, name),
            }
        }
    }))
    .await
}

fn config(value: serde_json::Value) -> HttpConfig {
    serde_json::from_value(value).expect("valid config")
}

fn status_of(services: &Services, service: &str, url: &str) -> Option<ServerStatus> {
    services
        .describe()
        .get(service)?
        .server_status
        .get(url)
        .copied()
}

#[tokio::test]
async fn active_checks_remove_and_restore_a_server() {
    let flaky_health = Arc::new(AtomicBool::new(true));
    let flaky = switchable("flaky", Arc::clone(&flaky_health)).await;
    let steady = switchable("steady", Arc::new(AtomicBool::new(true))).await;
    let http = config(json!({"services": {"svc": {"loadBalancer": {
        "servers": [{"url": flaky.url}, {"url": steady.url}],
        "healthCheck": {"path": "/health", "interval": "50ms", "timeout": "1s"}
    }}}}));
    let (services, errors) = Services::build(&http, None);
    assert!(errors.is_empty(), "{errors:?}");

    flaky_health.store(false, Ordering::SeqCst);
    eventually(|| status_of(&services, "svc", &flaky.url) == Some(ServerStatus::Down)).await;
    for _ in 0..6 {
        assert_eq!(call(&services, "svc", get("/")).await.text(), "steady");
    }

    flaky_health.store(true, Ordering::SeqCst);
    eventually(|| status_of(&services, "svc", &flaky.url) == Some(ServerStatus::Up)).await;
    let mut answers = Vec::new();
    for _ in 0..4 {
        answers.push(call(&services, "svc", get("/")).await.text().to_owned());
    }
    assert!(
        answers.iter().any(|a| a == "flaky"),
        "back in rotation: {answers:?}"
    );
}

#[tokio::test]
async fn all_servers_down_is_503_and_state_survives_a_rebuild() {
    let health = Arc::new(AtomicBool::new(false));
    let backend = switchable("only", Arc::clone(&health)).await;
    let http = config(json!({"services": {"svc": {"loadBalancer": {
        "servers": [{"url": backend.url}],
        "healthCheck": {"path": "/health", "interval": "50ms", "headers": {"X-Probe": "mesh"}, "hostname": "probe.local"}
    }}}}));
    let (first, _) = Services::build(&http, None);
    eventually(|| status_of(&first, "svc", &backend.url) == Some(ServerStatus::Down)).await;
    let answer = call(&first, "svc", get("/")).await;
    assert_eq!(
        (answer.status, answer.text()),
        (StatusCode::SERVICE_UNAVAILABLE, "no available server\n")
    );

    // A new generation starts from the old verdict instead of "up".
    let (second, _) = Services::build(&http, Some(&first));
    drop(first);
    assert_eq!(
        status_of(&second, "svc", &backend.url),
        Some(ServerStatus::Down)
    );
    assert_eq!(
        call(&second, "svc", get("/")).await.status,
        StatusCode::SERVICE_UNAVAILABLE
    );

    let probe = backend
        .requests()
        .into_iter()
        .find(|seen| seen.path == "/health")
        .expect("a probe");
    assert_eq!(probe.headers["x-probe"], "mesh");
    assert_eq!(probe.headers[http::header::HOST], "probe.local");

    // Its checks keep running: the server comes back.
    health.store(true, Ordering::SeqCst);
    eventually(|| status_of(&second, "svc", &backend.url) == Some(ServerStatus::Up)).await;
    assert_eq!(call(&second, "svc", get("/")).await.text(), "only");
}

#[tokio::test]
async fn expected_status_and_check_port_are_honoured() {
    // The check goes to a second backend (another port) that answers 204.
    let checker = Backend::start(handler(|_, _| async { text(204, "") })).await;
    let served = Backend::named("served").await;
    let check_port: u16 = checker
        .url
        .rsplit(':')
        .next()
        .and_then(|p| p.parse().ok())
        .expect("port");
    let http = config(json!({"services": {
        "wants-204": {"loadBalancer": {"servers": [{"url": served.url}],
            "healthCheck": {"path": "/h", "port": check_port, "status": 204, "interval": "50ms"}}},
        "wants-200": {"loadBalancer": {"servers": [{"url": served.url}],
            "healthCheck": {"path": "/h", "port": check_port, "status": 200, "interval": "50ms"}}},
    }}));
    let (services, _) = Services::build(&http, None);
    eventually(|| status_of(&services, "wants-200", &served.url) == Some(ServerStatus::Down)).await;
    eventually(|| checker.count_path("/h") >= 2).await;
    assert_eq!(
        status_of(&services, "wants-204", &served.url),
        Some(ServerStatus::Up)
    );
    assert_eq!(served.count_path("/h"), 0, "checks went to the check port");
}

#[tokio::test]
async fn passive_checks_eject_a_failing_server() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port();
    let dead_url = format!("http://127.0.0.1:{port}");
    let alive = Backend::named("alive").await;
    let http = config(json!({"services": {"svc": {"loadBalancer": {
        "servers": [{"url": dead_url}, {"url": alive.url}],
        "passiveHealthCheck": {"maxFailedAttempts": 2, "failureWindow": "1h"}
    }}}}));
    let (services, _) = Services::build(&http, None);
    let mut statuses = Vec::new();
    for _ in 0..10 {
        statuses.push(call(&services, "svc", get("/")).await.status);
    }
    let failures = statuses
        .iter()
        .filter(|s| **s == StatusCode::BAD_GATEWAY)
        .count();
    assert_eq!(failures, 2, "ejected after two failures: {statuses:?}");
    assert_eq!(alive.count(), 8);
    assert_eq!(
        status_of(&services, "svc", &dead_url),
        Some(ServerStatus::Down)
    );
}

/// A gRPC health server: SERVING (1) or NOT_SERVING (2) as the flag says.
async fn grpc_health(serving: Arc<AtomicBool>) -> Backend {
    Backend::start_with(
        Protocol::Http2Only,
        None,
        handler(move |seen, _| {
            let status = if serving.load(Ordering::SeqCst) { 1 } else { 2 };
            async move {
                if seen.path != "/grpc.health.v1.Health/Check" || seen.body.len() != 5 {
                    return text(404, "not a health check");
                }
                let mut trailers = http::HeaderMap::new();
                trailers.insert("grpc-status", http::HeaderValue::from_static("0"));
                let frames = vec![
                    Ok::<_, std::convert::Infallible>(http_body::Frame::data(bytes::Bytes::from(
                        vec![0, 0, 0, 0, 2, 0x08, status],
                    ))),
                    Ok(http_body::Frame::trailers(trailers)),
                ];
                http::Response::builder()
                    .header(http::header::CONTENT_TYPE, "application/grpc")
                    .body(mesh_proxy::body::boxed(http_body_util::StreamBody::new(
                        futures::stream::iter(frames),
                    )))
                    .expect("response")
            }
        }),
    )
    .await
}

#[tokio::test]
async fn grpc_health_checks_follow_the_serving_status() {
    let serving = Arc::new(AtomicBool::new(false));
    let backend = grpc_health(Arc::clone(&serving)).await;
    let http = config(json!({"services": {"svc": {"loadBalancer": {
        "servers": [{"url": backend.url}],
        "healthCheck": {"mode": "grpc", "interval": "50ms"}
    }}}}));
    let (services, errors) = Services::build(&http, None);
    assert!(errors.is_empty(), "{errors:?}");
    eventually(|| status_of(&services, "svc", &backend.url) == Some(ServerStatus::Down)).await;
    serving.store(true, Ordering::SeqCst);
    eventually(|| status_of(&services, "svc", &backend.url) == Some(ServerStatus::Up)).await;
    let probe = backend.requests().pop().expect("a probe");
    assert_eq!(
        probe.headers[http::header::CONTENT_TYPE],
        "application/grpc"
    );
}

#[tokio::test]
async fn a_check_without_answer_in_time_marks_the_server_down() {
    let gate = Arc::new(tokio::sync::Semaphore::new(0));
    let held = Arc::clone(&gate);
    let backend = Backend::start(handler(move |seen, _| {
        let gate = Arc::clone(&held);
        async move {
            if seen.path == "/health" {
                let _permit = gate.acquire().await;
            }
            text(200, "ok")
        }
    }))
    .await;
    let http = config(json!({"services": {"svc": {"loadBalancer": {
        "servers": [{"url": backend.url}],
        "healthCheck": {"path": "/health", "interval": "50ms", "timeout": "100ms"}
    }}}}));
    let (services, _) = Services::build(&http, None);
    eventually(|| status_of(&services, "svc", &backend.url) == Some(ServerStatus::Down)).await;
    assert_eq!(
        call(&services, "svc", get("/")).await.status,
        StatusCode::SERVICE_UNAVAILABLE
    );
    gate.add_permits(1000);
    eventually(|| status_of(&services, "svc", &backend.url) == Some(ServerStatus::Up)).await;
}

#[tokio::test]
async fn redirects_are_followed_unless_disabled() {
    // `/health` redirects to `/sick`, which fails: following makes the server down.
    let backend = Backend::start(handler(|seen, _| async move {
        match seen.path.as_str() {
            "/health" | "/health?stays" => http::Response::builder()
                .status(302)
                .header(http::header::LOCATION, "/sick")
                .body(mesh_proxy::body::empty())
                .expect("response"),
            "/sick" => text(500, "sick"),
            _ => text(200, "ok"),
        }
    }))
    .await;
    let http = config(json!({"services": {
        "follows": {"loadBalancer": {"servers": [{"url": backend.url}],
            "healthCheck": {"path": "/health", "interval": "50ms"}}},
        "stays": {"loadBalancer": {"servers": [{"url": backend.url}],
            "healthCheck": {"path": "/health?stays", "interval": "50ms", "followRedirects": false}}},
    }}));
    let (services, _) = Services::build(&http, None);
    eventually(|| status_of(&services, "follows", &backend.url) == Some(ServerStatus::Down)).await;
    eventually(|| backend.count_path("/health?stays") >= 2).await;
    assert_eq!(
        status_of(&services, "stays", &backend.url),
        Some(ServerStatus::Up),
        "302 counts as up"
    );
}
