//! Service-level middlewares: they run for every router that uses the service (after the
//! router's own), and a service whose middleware cannot be used disables those routers.
use http::StatusCode;

use crate::support::{EchoBackend, TestProxy, admin_json, get, http1_client};

#[tokio::test]
async fn service_middlewares_apply_to_every_router_using_the_service() {
    let backend = EchoBackend::start("app").await;
    let proxy = TestProxy::start().await;
    let report = proxy.apply_yaml(&format!(
        r#"
http:
  routers:
    one: {{rule: "Host(`one.test`)", service: app}}
    two: {{rule: "Host(`two.test`)", service: app, middlewares: [strip]}}
    direct: {{rule: "Host(`direct.test`)", service: plain}}
  middlewares:
    prefix: {{addPrefix: {{prefix: /v2}}}}
    team: {{headers: {{customRequestHeaders: {{X-Team: blue}}, customResponseHeaders: {{X-Served-By: app}}}}}}
    strip: {{stripPrefix: {{prefixes: [/api]}}}}
  services:
    app:
      middlewares: [prefix, team]
      loadBalancer: {{servers: [{{url: "{url}"}}]}}
    plain:
      loadBalancer: {{servers: [{{url: "{url}"}}]}}
"#,
        url = backend.url()
    ));
    assert!(
        report.routers.values().all(|r| r.errors.is_empty()),
        "{report:?}"
    );
    let client = http1_client();

    let one = get(&client, proxy.web(), "one.test", "/users").await;
    assert_eq!(one.status, StatusCode::OK);
    assert_eq!(one.body, "app GET /v2/users");
    assert_eq!(one.headers["seen-team"], "blue");
    assert_eq!(one.headers["x-served-by"], "app");

    // The router's middleware runs first: /api is stripped, then the service adds /v2.
    let two = get(&client, proxy.web(), "two.test", "/api/users").await;
    assert_eq!(two.body, "app GET /v2/users");
    assert_eq!(two.headers["seen-team"], "blue");

    // The same servers through another service: no service middleware.
    let direct = get(&client, proxy.web(), "direct.test", "/users").await;
    assert_eq!(direct.body, "app GET /users");
    assert!(direct.headers.get("x-served-by").is_none());
}

#[tokio::test]
async fn service_middlewares_of_a_child_apply_inside_a_weighted_parent() {
    let backend = EchoBackend::start("child").await;
    let proxy = TestProxy::start().await;
    proxy.apply_yaml(&format!(
        r#"
http:
  routers:
    app: {{rule: "Host(`app.test`)", service: parent}}
  middlewares:
    prefix: {{addPrefix: {{prefix: /child}}}}
  services:
    parent: {{weighted: {{services: [{{name: child}}]}}}}
    child:
      middlewares: [prefix]
      loadBalancer: {{servers: [{{url: "{}"}}]}}
"#,
        backend.url()
    ));
    let answer = get(&http1_client(), proxy.web(), "app.test", "/x").await;
    assert_eq!(answer.body, "child GET /child/x");
}

#[tokio::test]
async fn an_unknown_service_middleware_disables_the_routers_using_it() {
    let backend = EchoBackend::start("app").await;
    let proxy = TestProxy::start().await;
    proxy.apply_yaml(&format!(
        r#"
http:
  routers:
    one: {{rule: "Host(`one.test`)", service: app}}
    two: {{rule: "Host(`two.test`)", service: parent}}
    auth: {{rule: "Host(`auth.test`)", service: guarded}}
  middlewares:
    both: {{addPrefix: {{prefix: /a}}, replacePath: {{path: /b}}}}
  services:
    app:
      middlewares: [ghost]
      loadBalancer: {{servers: [{{url: "{url}"}}]}}
    parent: {{weighted: {{services: [{{name: app}}]}}}}
    guarded:
      middlewares: [both]
      loadBalancer: {{servers: [{{url: "{url}"}}]}}
"#,
        url = backend.url()
    ));

    let (_, one) = admin_json(&proxy, "/api/http/routers/one").await;
    assert_eq!(one["status"], "disabled", "{one}");
    assert_eq!(one["problems"][0]["reason"], "MiddlewareNotFound", "{one}");
    assert_eq!(
        one["error"][0],
        "service `app`: service-level middleware `ghost` does not exist"
    );
    let (_, two) = admin_json(&proxy, "/api/http/routers/two").await;
    assert_eq!(two["status"], "disabled", "{two}");
    assert_eq!(
        two["error"][0], "service `parent`: service `app` is invalid",
        "{two}"
    );
    // A middleware that cannot be used is refused, never skipped: it may be an auth check.
    let (_, auth) = admin_json(&proxy, "/api/http/routers/auth").await;
    assert_eq!(auth["status"], "disabled", "{auth}");
    assert_eq!(auth["problems"][0]["reason"], "MiddlewareInvalid", "{auth}");
    let (_, service) = admin_json(&proxy, "/api/http/services/app").await;
    assert_eq!(service["status"], "disabled", "{service}");
    assert_eq!(
        service["error"][0],
        "service-level middleware `ghost` does not exist"
    );

    let client = http1_client();
    for host in ["one.test", "two.test", "auth.test"] {
        let answer = get(&client, proxy.web(), host, "/").await;
        assert_eq!(answer.status, StatusCode::NOT_FOUND, "{host}");
    }
}
