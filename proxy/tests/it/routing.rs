//! Routing through real sockets: host/path rules, 404/400, middlewares, bad routers.
use http::StatusCode;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::support::{EchoBackend, TestProxy, get, http1_client};

#[tokio::test]
async fn routes_by_host_and_path_and_runs_middlewares() {
    let a = EchoBackend::start("a").await;
    let b = EchoBackend::start("b").await;
    let proxy = TestProxy::start().await;
    let report = proxy.apply_yaml(&format!(
        r#"
http:
  routers:
    site-a:
      rule: Host(`a.test`)
      service: a
    api-b:
      rule: Host(`b.test`) && PathPrefix(`/api`)
      service: b
      middlewares: [strip-api, team]
  middlewares:
    strip-api: {{stripPrefix: {{prefixes: [/api]}}}}
    team: {{headers: {{customRequestHeaders: {{X-Team: blue}}, customResponseHeaders: {{X-Served-By: mesh}}}}}}
  services:
    a: {{loadBalancer: {{servers: [{{url: "{}"}}]}}}}
    b: {{loadBalancer: {{servers: [{{url: "{}"}}]}}}}
"#,
        a.url(),
        b.url()
    ));
    assert!(report.is_clean(), "{report:?}");
    let client = http1_client();

    let answer = get(&client, proxy.web(), "a.test", "/x?y=1").await;
    assert_eq!(
        (answer.status, answer.body.as_str()),
        (StatusCode::OK, "a GET /x?y=1")
    );

    let answer = get(&client, proxy.web(), "B.test:8000", "/api/users").await;
    assert_eq!(answer.body, "b GET /users");
    assert_eq!(answer.headers["seen-forwarded-prefix"], "/api");
    assert_eq!(answer.headers["seen-team"], "blue");
    assert_eq!(answer.headers["x-served-by"], "mesh");

    for (host, path) in [("b.test", "/other"), ("c.test", "/")] {
        let answer = get(&client, proxy.web(), host, path).await;
        assert_eq!(answer.status, StatusCode::NOT_FOUND, "{host}{path}");
        assert_eq!(answer.body, "404 page not found\n");
    }
}

#[tokio::test]
async fn longer_rules_win_unless_a_priority_is_set() {
    let long = EchoBackend::start("long").await;
    let short = EchoBackend::start("short").await;
    let proxy = TestProxy::start().await;
    proxy.apply_yaml(&format!(
        r#"
http:
  routers:
    catch-all: {{rule: "PathPrefix(`/`)", service: short}}
    specific: {{rule: "Host(`p.test`) && PathPrefix(`/api`)", service: long}}
    forced: {{rule: "PathPrefix(`/api/forced`)", service: short, priority: 1000}}
  services:
    long: {{loadBalancer: {{servers: [{{url: "{}"}}]}}}}
    short: {{loadBalancer: {{servers: [{{url: "{}"}}]}}}}
"#,
        long.url(),
        short.url()
    ));
    let client = http1_client();
    assert_eq!(
        get(&client, proxy.web(), "p.test", "/api/x").await.headers["x-backend"],
        "long"
    );
    assert_eq!(
        get(&client, proxy.web(), "p.test", "/else").await.headers["x-backend"],
        "short"
    );
    // `specific` has the longer rule, but `forced` has an explicit, higher priority.
    assert_eq!(
        get(&client, proxy.web(), "p.test", "/api/forced")
            .await
            .headers["x-backend"],
        "short"
    );
}

#[tokio::test]
async fn malformed_percent_encoding_is_a_400() {
    let backend = EchoBackend::start("a").await;
    let proxy = TestProxy::start().await;
    proxy.apply_yaml(&format!(
        "http: {{routers: {{r: {{rule: 'PathPrefix(`/`)', service: s}}}}, services: {{s: {{loadBalancer: {{servers: [{{url: '{}'}}]}}}}}}}}",
        backend.url()
    ));
    let mut stream = tokio::net::TcpStream::connect(proxy.web())
        .await
        .expect("connects");
    stream
        .write_all(b"GET /a%zz HTTP/1.1\r\nHost: x.test\r\nConnection: close\r\n\r\n")
        .await
        .expect("writes");
    let mut raw = String::new();
    stream.read_to_string(&mut raw).await.expect("reads");
    assert!(raw.starts_with("HTTP/1.1 400"), "{raw}");
    assert!(raw.ends_with("400 Bad Request\n"), "{raw}");
}

#[tokio::test]
async fn redirect_middleware_answers_without_calling_the_service() {
    let backend = EchoBackend::start("a").await;
    let proxy = TestProxy::start().await;
    proxy.apply_yaml(&format!(
        r#"
http:
  routers:
    r: {{rule: "Host(`r.test`)", service: s, middlewares: [to-https]}}
  middlewares:
    to-https: {{redirectScheme: {{scheme: https, permanent: true}}}}
  services:
    s: {{loadBalancer: {{servers: [{{url: "{}"}}]}}}}
"#,
        backend.url()
    ));
    let answer = get(&http1_client(), proxy.web(), "r.test", "/path?q=1").await;
    assert_eq!(answer.status, StatusCode::MOVED_PERMANENTLY);
    assert_eq!(answer.headers["location"], "https://r.test/path?q=1");
    assert!(answer.headers.get("x-backend").is_none());
}

#[tokio::test]
async fn bad_routers_are_reported_and_never_block_the_good_ones() {
    let backend = EchoBackend::start("good").await;
    let proxy = TestProxy::start().await;
    let report = proxy.apply_yaml(&format!(
        r#"
http:
  routers:
    good: {{rule: "Host(`good.test`)", service: s}}
    bad-rule: {{rule: "Hots(`x.test`)", service: s}}
    no-service: {{rule: "Host(`ns.test`)", service: missing}}
    no-middleware: {{rule: "Host(`nm.test`)", service: s, middlewares: [ghost]}}
    unsupported: {{rule: "Host(`auth.test`)", service: s, middlewares: [auth]}}
    too-high: {{rule: "Host(`p.test`)", service: s, priority: 9223372036854775000}}
    half-known: {{rule: "Host(`half.test`)", service: s, entryPoints: [web, nope]}}
  middlewares:
    auth: {{basicAuth: {{users: ["u:h"]}}}}
  services:
    s: {{loadBalancer: {{servers: [{{url: "{}"}}]}}}}
"#,
        backend.url()
    ));
    let reasons = |name: &str| -> Vec<&str> {
        report
            .router_errors(name)
            .iter()
            .map(|p| p.reason)
            .collect()
    };
    assert_eq!(reasons("good"), Vec::<&str>::new());
    assert_eq!(reasons("bad-rule"), ["InvalidRule"]);
    assert!(
        report.router_errors("bad-rule")[0]
            .message
            .contains("column 1"),
        "{report:?}"
    );
    assert_eq!(reasons("no-service"), ["ServiceNotFound"]);
    assert_eq!(reasons("no-middleware"), ["MiddlewareNotFound"]);
    assert_eq!(reasons("unsupported"), ["UnsupportedMiddleware"]);
    assert_eq!(
        report.router_errors("unsupported")[0].message,
        "middleware `auth`: middleware type basicAuth not supported yet"
    );
    assert_eq!(reasons("too-high"), ["PriorityTooLarge"]);
    assert_eq!(reasons("half-known"), Vec::<&str>::new());
    assert_eq!(
        report.routers["half-known"].warnings[0].reason,
        "UnknownEntryPoint"
    );

    let client = http1_client();
    assert_eq!(
        get(&client, proxy.web(), "good.test", "/").await.status,
        StatusCode::OK
    );
    assert_eq!(
        get(&client, proxy.web(), "half.test", "/").await.status,
        StatusCode::OK
    );
    for host in ["x.test", "ns.test", "nm.test", "auth.test", "p.test"] {
        assert_eq!(
            get(&client, proxy.web(), host, "/").await.status,
            StatusCode::NOT_FOUND,
            "{host}"
        );
    }
}
