//! Multi-layer routing (`parentRefs`) through real sockets: children are matched after the
//! parent's middlewares, and every shape error shows in the admin API while the rest serves.
use http::StatusCode;

use crate::support::{EchoBackend, TestProxy, access_log_lines, admin_json, get, http1_client};

#[tokio::test]
async fn children_see_what_the_parent_middlewares_did() {
    let users = EchoBackend::start("users").await;
    let orders = EchoBackend::start("orders").await;
    let proxy = TestProxy::start().await;
    let report = proxy.apply_yaml(&format!(
        r#"
http:
  routers:
    site:
      rule: Host(`p.test`)
      middlewares: [api-prefix, team]
    users:
      rule: PathPrefix(`/api/users`)
      service: users
      parentRefs: [site]
    orders:
      rule: PathPrefix(`/api/orders`)
      service: orders
      parentRefs: [site]
  middlewares:
    api-prefix: {{addPrefix: {{prefix: /api}}}}
    team: {{headers: {{customRequestHeaders: {{X-Team: blue}}, customResponseHeaders: {{X-Served-By: mesh}}}}}}
  services:
    users: {{loadBalancer: {{servers: [{{url: "{}"}}]}}}}
    orders: {{loadBalancer: {{servers: [{{url: "{}"}}]}}}}
"#,
        users.url(),
        orders.url()
    ));
    assert!(report.is_clean(), "{report:?}");
    let client = http1_client();

    // The children only match `/api/...`: the request reaches them through addPrefix.
    let answer = get(&client, proxy.web(), "p.test", "/users/7").await;
    assert_eq!(
        (answer.status, answer.body.as_str()),
        (StatusCode::OK, "users GET /api/users/7")
    );
    assert_eq!(answer.headers["seen-team"], "blue");
    assert_eq!(answer.headers["x-served-by"], "mesh");
    let answer = get(&client, proxy.web(), "p.test", "/orders").await;
    assert_eq!(answer.body, "orders GET /api/orders");

    // The parent matches, no child does: 404, and another host never reaches the parent.
    for (host, path) in [("p.test", "/other"), ("q.test", "/users/7")] {
        let answer = get(&client, proxy.web(), host, path).await;
        assert_eq!(answer.status, StatusCode::NOT_FOUND, "{host}{path}");
        assert_eq!(answer.body, "404 page not found\n");
    }

    // The child that served is the router counted.
    let (_, router) = admin_json(&proxy, "/api/http/routers/users").await;
    assert_eq!(router["status"], "enabled");
    assert_eq!(router["parentRefs"][0], "site");
    // A child answers where its root does.
    assert_eq!(router["using"], serde_json::json!(["web"]));
    assert_eq!(router["stats"]["requests"], 1);
    assert_eq!(router["stats"]["2xx"], 1);
    let (_, router) = admin_json(&proxy, "/api/http/routers/orders").await;
    assert_eq!(router["stats"]["requests"], 1);
}

#[tokio::test]
async fn the_root_decides_logging_and_metrics_and_the_child_is_named() {
    let backend = EchoBackend::start("app").await;
    let (proxy, path) = TestProxy::with_access_log("parents", false).await;
    let report = proxy.apply_yaml(&format!(
        r#"
http:
  routers:
    quiet-root: {{rule: "Host(`quiet.test`)"}}
    quiet-child: {{rule: "PathPrefix(`/`)", service: app, parentRefs: [quiet-root]}}
    logged-root: {{rule: "Host(`logged.test`)", middlewares: [api-prefix], observability: {{accessLogs: true}}}}
    logged-child: {{rule: "PathPrefix(`/api`)", service: app, parentRefs: [logged-root]}}
  middlewares:
    api-prefix: {{addPrefix: {{prefix: /api}}}}
  services:
    app: {{loadBalancer: {{servers: [{{url: "{}"}}]}}}}
"#,
        backend.url()
    ));
    assert!(report.is_clean(), "{report:?}");
    let client = http1_client();
    get(&client, proxy.web(), "quiet.test", "/not-logged").await;
    let answer = get(&client, proxy.web(), "logged.test", "/x").await;
    assert_eq!(answer.body, "app GET /api/x");

    let (text, lines) = access_log_lines(&path).await;
    assert_eq!(lines.len(), 1, "{text}");
    let entry = &lines[0];
    assert_eq!(entry["RouterName"], "logged-child");
    assert_eq!(entry["ServiceName"], "app");
    // Logged as the client sent it.
    assert_eq!(entry["RequestPath"], "/x");
    assert_eq!(entry["DownstreamStatus"], 200);

    // The root's metrics toggle holds for its children too.
    let report = proxy.apply_yaml(&format!(
        r#"
http:
  routers:
    dark-root: {{rule: "Host(`dark.test`)", observability: {{metrics: false}}}}
    dark-child: {{rule: "PathPrefix(`/`)", service: app, parentRefs: [dark-root]}}
  services:
    app: {{loadBalancer: {{servers: [{{url: "{}"}}]}}}}
"#,
        backend.url()
    ));
    assert!(report.is_clean(), "{report:?}");
    assert_eq!(
        get(&client, proxy.web(), "dark.test", "/").await.status,
        StatusCode::OK
    );
    let (_, router) = admin_json(&proxy, "/api/http/routers/dark-child").await;
    assert_eq!(router["status"], "enabled");
    assert_eq!(
        router["stats"]["requests"].as_u64().unwrap_or_default(),
        0,
        "{router}"
    );
}

#[tokio::test]
async fn three_layers_route_through_an_intermediate_router() {
    let items = EchoBackend::start("items").await;
    let fallback = EchoBackend::start("fallback").await;
    let proxy = TestProxy::start().await;
    let report = proxy.apply_yaml(&format!(
        r#"
http:
  routers:
    root: {{rule: "Host(`three.test`)"}}
    v1: {{rule: "PathPrefix(`/v1`)", middlewares: [strip-v1], parentRefs: [root]}}
    items: {{rule: "PathPrefix(`/items`)", service: items, parentRefs: [v1]}}
    rest: {{rule: "PathPrefix(`/`)", service: fallback, parentRefs: [v1]}}
  middlewares:
    strip-v1: {{stripPrefix: {{prefixes: [/v1]}}}}
  services:
    items: {{loadBalancer: {{servers: [{{url: "{}"}}]}}}}
    fallback: {{loadBalancer: {{servers: [{{url: "{}"}}]}}}}
"#,
        items.url(),
        fallback.url()
    ));
    assert!(report.is_clean(), "{report:?}");
    let client = http1_client();

    let answer = get(&client, proxy.web(), "three.test", "/v1/items/3").await;
    assert_eq!(answer.body, "items GET /items/3");
    assert_eq!(answer.headers["seen-forwarded-prefix"], "/v1");
    // Longer rules first inside the sub-index too: `/` only takes what `/items` does not.
    let answer = get(&client, proxy.web(), "three.test", "/v1/other").await;
    assert_eq!(answer.body, "fallback GET /other");
    // The root matches, the intermediate router does not: no child matched, 404.
    let answer = get(&client, proxy.web(), "three.test", "/v2/items").await;
    assert_eq!(answer.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn shape_errors_disable_only_the_routers_concerned() {
    let good = EchoBackend::start("good").await;
    let proxy = TestProxy::start().await;
    let report = proxy.apply_yaml(&format!(
        r#"
http:
  routers:
    site: {{rule: "Host(`ok.test`)"}}
    fine: {{rule: "PathPrefix(`/fine`)", service: good, parentRefs: [site]}}
    with-entry-point: {{rule: "PathPrefix(`/ep`)", service: good, parentRefs: [site], entryPoints: [web]}}
    with-tls: {{rule: "PathPrefix(`/tls`)", service: good, parentRefs: [site], tls: {{}}}}
    with-observability: {{rule: "PathPrefix(`/obs`)", service: good, parentRefs: [site], observability: {{metrics: false}}}}
    orphan: {{rule: "PathPrefix(`/orphan`)", service: good, parentRefs: [ghost]}}
    lonely: {{rule: "Host(`lonely.test`)"}}
    both: {{rule: "Host(`both.test`)", service: good}}
    below-both: {{rule: "PathPrefix(`/`)", service: good, parentRefs: [both]}}
    loop-a: {{rule: "PathPrefix(`/a`)", parentRefs: [loop-b]}}
    loop-b: {{rule: "PathPrefix(`/b`)", parentRefs: [loop-a]}}
    below-loop: {{rule: "PathPrefix(`/`)", service: good, parentRefs: [loop-a]}}
    plain: {{rule: "Host(`plain.test`)", service: good}}
  services:
    good: {{loadBalancer: {{servers: [{{url: "{}"}}]}}}}
"#,
        good.url()
    ));
    let expected = [
        ("with-entry-point", "InvalidChildRouter", "entryPoints"),
        ("with-tls", "InvalidChildRouter", "tls"),
        ("with-observability", "InvalidChildRouter", "observability"),
        (
            "orphan",
            "ParentNotFound",
            "parent router `ghost` does not exist",
        ),
        (
            "lonely",
            "NoService",
            "the router has no service and no child routers",
        ),
        ("both", "ServiceWithChildren", "`below-both`"),
        ("below-both", "ParentUnreachable", "`both`"),
        ("loop-a", "RecursionDetected", "cycle"),
        ("loop-b", "RecursionDetected", "cycle"),
        ("below-loop", "ParentUnreachable", "`loop-a`"),
    ];
    for (name, reason, fragment) in expected {
        let errors = report.router_errors(name);
        assert_eq!(errors.len(), 1, "{name}: {errors:?}");
        let (_, router) = admin_json(&proxy, &format!("/api/http/routers/{name}")).await;
        assert_eq!(router["status"], "disabled", "{name}: {router}");
        assert_eq!(router["problems"][0]["reason"], reason, "{name}: {router}");
        let message = router["error"][0].as_str().unwrap_or_default();
        assert!(message.contains(fragment), "{name}: {message}");
    }
    for name in ["site", "fine", "plain"] {
        assert!(report.router_errors(name).is_empty(), "{name}: {report:?}");
    }

    let client = http1_client();
    let answer = get(&client, proxy.web(), "ok.test", "/fine").await;
    assert_eq!(answer.body, "good GET /fine");
    let answer = get(&client, proxy.web(), "plain.test", "/").await;
    assert_eq!(answer.body, "good GET /");
    // Disabled children are absent from their parent's index; disabled roots from the table.
    for (host, path) in [
        ("ok.test", "/ep"),
        ("ok.test", "/orphan"),
        ("lonely.test", "/"),
        ("both.test", "/"),
    ] {
        let answer = get(&client, proxy.web(), host, path).await;
        assert_eq!(answer.status, StatusCode::NOT_FOUND, "{host}{path}");
    }

    // Fixing the config in the next apply brings the child back.
    let report = proxy.apply_yaml(&format!(
        r#"
http:
  routers:
    site: {{rule: "Host(`ok.test`)"}}
    orphan: {{rule: "PathPrefix(`/orphan`)", service: good, parentRefs: [site]}}
  services:
    good: {{loadBalancer: {{servers: [{{url: "{}"}}]}}}}
"#,
        good.url()
    ));
    assert!(report.is_clean(), "{report:?}");
    let answer = get(&client, proxy.web(), "ok.test", "/orphan").await;
    assert_eq!(answer.body, "good GET /orphan");
}
