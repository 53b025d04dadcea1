//! The admin API: Traefik-shaped listings with per-router problems, counters, metrics,
//! raw data, the operator's status hook, and the access log.
use std::sync::Arc;

use http::StatusCode;

use crate::support::{EchoBackend, TestProxy, access_log_lines, admin_json, get, http1_client};

fn config(url: &str) -> String {
    format!(
        r#"
http:
  routers:
    web-app:
      rule: Host(`app.test`)
      service: app
      middlewares: [strip]
    broken:
      rule: Host(`broken.test`) &&
      service: app
    logged:
      rule: Host(`logged.test`)
      service: app
      observability: {{accessLogs: true}}
  middlewares:
    strip: {{stripPrefix: {{prefixes: [/api]}}}}
    unused-auth: {{forwardAuth: {{address: "http://127.0.0.1:1/auth"}}}}
  services:
    app: {{loadBalancer: {{servers: [{{url: "{url}"}}]}}}}
tls:
  certificates:
    - certFile: "-----BEGIN CERTIFICATE-----"
      keyFile: "-----BEGIN PRIVATE KEY----- secret"
"#
    )
}

#[tokio::test]
async fn admin_endpoints_show_routers_services_middlewares_and_counters() {
    let backend = EchoBackend::start("app").await;
    let proxy = TestProxy::start().await;
    let client = http1_client();
    let unready = get(&client, proxy.admin(), "localhost", "/ready").await;
    assert_eq!(
        (unready.status, unready.body.as_str()),
        (
            StatusCode::SERVICE_UNAVAILABLE,
            "not ready: no configuration applied yet\n"
        )
    );
    proxy.apply_yaml(&config(&backend.url()));
    let ready = get(&client, proxy.admin(), "localhost", "/ready").await;
    assert_eq!((ready.status, ready.body.as_str()), (StatusCode::OK, "OK"));
    for _ in 0..3 {
        assert_eq!(
            get(&client, proxy.web(), "app.test", "/").await.status,
            StatusCode::OK
        );
    }
    assert_eq!(
        get(&client, proxy.web(), "nothing.test", "/").await.status,
        StatusCode::NOT_FOUND
    );

    let ping = get(&client, proxy.admin(), "localhost", "/ping").await;
    assert_eq!((ping.status, ping.body.as_str()), (StatusCode::OK, "OK"));

    let (_, version) = admin_json(&proxy, "/api/version").await;
    assert_eq!(version["Version"], env!("CARGO_PKG_VERSION"));

    let (_, overview) = admin_json(&proxy, "/api/overview").await;
    assert_eq!(
        overview["http"]["routers"],
        serde_json::json!({"total": 3, "warnings": 0, "errors": 1})
    );
    assert_eq!(overview["http"]["middlewares"]["errors"], 1, "{overview}");
    assert_eq!(overview["generation"], 1);

    let (_, entry_points) = admin_json(&proxy, "/api/entrypoints").await;
    assert_eq!(entry_points[0]["name"], "web");
    assert_eq!(entry_points[0]["boundAddress"], proxy.web().to_string());

    let (_, routers) = admin_json(&proxy, "/api/http/routers").await;
    let names: Vec<&str> = routers
        .as_array()
        .expect("list")
        .iter()
        .filter_map(|r| r["name"].as_str())
        .collect();
    assert_eq!(names, ["broken", "logged", "web-app"]);

    let (status, router) = admin_json(&proxy, "/api/http/routers/web-app").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(router["status"], "enabled");
    assert_eq!(router["service"], "app");
    assert_eq!(router["using"], serde_json::json!(["web"]));
    assert_eq!(router["stats"]["requests"], 3);
    assert_eq!(router["stats"]["2xx"], 3);

    let (_, broken) = admin_json(&proxy, "/api/http/routers/broken").await;
    assert_eq!(broken["status"], "disabled");
    assert_eq!(broken["problems"][0]["reason"], "InvalidRule");
    assert!(
        broken["error"][0]
            .as_str()
            .expect("message")
            .contains("column"),
        "{broken}"
    );
    assert_eq!(broken["using"], serde_json::json!([]));

    let (_, disabled) = admin_json(&proxy, "/api/http/routers?status=disabled").await;
    assert_eq!(disabled.as_array().map(Vec::len), Some(1));
    let (_, searched) = admin_json(&proxy, "/api/http/routers?search=logg").await;
    assert_eq!(searched[0]["name"], "logged");

    let (status, missing) = admin_json(&proxy, "/api/http/routers/nope").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(missing["message"], "router not found");

    let (_, service) = admin_json(&proxy, "/api/http/services/app").await;
    assert_eq!(service["status"], "enabled");
    assert_eq!(service["serverStatus"][backend.url()], "UP", "{service}");
    assert_eq!(
        service["usedBy"],
        serde_json::json!(["broken", "logged", "web-app"])
    );
    assert_eq!(service["stats"]["requests"], 3);

    let (_, middlewares) = admin_json(&proxy, "/api/http/middlewares").await;
    assert_eq!(middlewares[0]["name"], "strip");
    assert_eq!(middlewares[0]["type"], "stripPrefix");
    assert_eq!(middlewares[0]["usedBy"], serde_json::json!(["web-app"]));
    assert_eq!(middlewares[1]["status"], "disabled");
    assert!(
        middlewares[1]["error"][0]
            .as_str()
            .expect("message")
            .contains("forwardAuth not supported yet")
    );

    let (_, raw) = admin_json(&proxy, "/api/rawdata").await;
    assert_eq!(
        raw["http"]["routers"]["web-app"]["rule"],
        "Host(`app.test`)"
    );
    assert_eq!(raw["tls"]["certificates"][0]["keyFile"], "<redacted>");
    assert_eq!(raw["generation"], 1);

    let metrics = get(&client, proxy.admin(), "localhost", "/metrics").await;
    assert!(
        metrics
            .body
            .contains("mesh_router_requests_total{router=\"web-app\",code=\"2xx\"} 3\n"),
        "{}",
        metrics.body
    );
    assert!(metrics.body.contains("mesh_config_generation 1\n"));

    let (status, _) = admin_json(&proxy, "/api/unknown").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn counters_survive_an_apply_for_routers_that_keep_their_name() {
    let backend = EchoBackend::start("app").await;
    let proxy = TestProxy::start().await;
    proxy.apply_yaml(&config(&backend.url()));
    let client = http1_client();
    get(&client, proxy.web(), "app.test", "/").await;
    get(&client, proxy.web(), "logged.test", "/").await;
    // Second config: web-app stays, logged goes away.
    proxy.apply_yaml(&config(&backend.url()).replace("logged", "renamed"));
    get(&client, proxy.web(), "app.test", "/").await;

    let (_, kept) = admin_json(&proxy, "/api/http/routers/web-app").await;
    assert_eq!(kept["stats"]["requests"], 2);
    let (_, renamed) = admin_json(&proxy, "/api/http/routers/renamed").await;
    assert_eq!(
        renamed["stats"]["requests"], 0,
        "a new name starts from zero: {renamed}"
    );
    let (status, _) = admin_json(&proxy, "/api/http/routers/logged").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let metrics = get(&client, proxy.admin(), "localhost", "/metrics").await;
    assert!(
        !metrics.body.contains("router=\"logged\""),
        "gone routers leave /metrics"
    );
}

#[tokio::test]
async fn status_endpoint_serves_the_attached_source() {
    let proxy = TestProxy::start().await;
    let (status, body) = admin_json(&proxy, "/api/status").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(
        body["message"]
            .as_str()
            .expect("message")
            .contains("no status source")
    );

    proxy.proxy.set_status_source(Arc::new(
        || serde_json::json!({"default/app": {"Ready": "True"}}),
    ));
    let (status, body) = admin_json(&proxy, "/api/status").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["default/app"]["Ready"], "True");
}

#[tokio::test]
async fn access_log_follows_the_router_toggle() {
    let backend = EchoBackend::start("app").await;
    let (proxy, path) = TestProxy::with_access_log("access", false).await;
    proxy.apply_yaml(&config(&backend.url()));
    let client = http1_client();
    get(&client, proxy.web(), "app.test", "/not-logged").await;
    // No router takes it, and access logs are off by default: not logged either.
    let unrouted = get(&client, proxy.web(), "nobody.test", "/").await;
    assert_eq!(unrouted.status, StatusCode::NOT_FOUND);
    get(&client, proxy.web(), "logged.test", "/logged?x=1").await;

    let (text, lines) = access_log_lines(&path).await;
    assert_eq!(lines.len(), 1, "{text}");
    let entry = &lines[0];
    assert_eq!(entry["RouterName"], "logged");
    assert_eq!(entry["RequestPath"], "/logged?x=1");
    assert_eq!(entry["DownstreamStatus"], 200);
    assert_eq!(entry["entryPointName"], "web");
    assert_eq!(entry["ServiceName"], "app");
}

#[tokio::test]
async fn requests_no_router_takes_are_logged_when_access_logs_are_on() {
    let backend = EchoBackend::start("app").await;
    let (proxy, path) = TestProxy::with_access_log("unrouted", true).await;
    proxy.apply_yaml(&config(&backend.url()));
    let client = http1_client();
    let answer = get(&client, proxy.web(), "nobody.test", "/missing").await;
    assert_eq!(answer.status, StatusCode::NOT_FOUND);

    let (text, lines) = access_log_lines(&path).await;
    assert_eq!(lines.len(), 1, "{text}");
    let entry = &lines[0];
    assert_eq!(entry["RouterName"], "-");
    assert_eq!(entry["ServiceName"], "-");
    assert_eq!(entry["RequestHost"], "nobody.test");
    assert_eq!(entry["RequestPath"], "/missing");
    assert_eq!(entry["DownstreamStatus"], 404);
    assert_eq!(entry["entryPointName"], "web");
}

#[tokio::test]
async fn tcp_and_udp_sections_show_their_state() {
    let proxy = TestProxy::start().await;
    proxy.apply_yaml(
        r#"
tcp:
  routers:
    db: {rule: "HostSNI(`*`)", service: missing, entryPoints: [web]}
udp:
  routers:
    dns: {service: resolver}
"#,
    );
    let (_, routers) = admin_json(&proxy, "/api/tcp/routers").await;
    assert_eq!(routers[0]["name"], "db");
    assert_eq!(routers[0]["status"], "disabled", "{routers}");
    assert!(
        !routers[0]["error"].as_array().expect("errors").is_empty(),
        "{routers}"
    );
    let (_, overview) = admin_json(&proxy, "/api/overview").await;
    assert_eq!(overview["tcp"]["routers"]["errors"], 1, "{overview}");

    let (status, dns) = admin_json(&proxy, "/api/udp/routers/dns").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        dns["status"], "disabled",
        "its service does not exist: {dns}"
    );
    assert_eq!(overview["udp"]["routers"]["errors"], 1, "{overview}");
    let (status, _) = admin_json(&proxy, "/api/tcp/routers/nope").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn metrics_can_be_turned_off_per_router() {
    let backend = EchoBackend::start("app").await;
    let proxy = TestProxy::start().await;
    proxy.apply_yaml(&format!(
        r#"
http:
  routers:
    quiet: {{rule: "Host(`quiet.test`)", service: app, observability: {{metrics: false}}}}
  services:
    app: {{loadBalancer: {{servers: [{{url: "{}"}}]}}}}
"#,
        backend.url()
    ));
    let answer = get(&http1_client(), proxy.web(), "quiet.test", "/").await;
    assert_eq!(answer.status, StatusCode::OK);
    let (_, router) = admin_json(&proxy, "/api/http/routers/quiet").await;
    assert!(
        router["stats"].is_null(),
        "no counters for a router with metrics off: {router}"
    );
    let metrics = get(&http1_client(), proxy.admin(), "localhost", "/metrics").await;
    assert!(
        !metrics.body.contains("router=\"quiet\""),
        "{}",
        metrics.body
    );
}
