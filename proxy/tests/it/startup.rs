//! Starting the proxy: bind failures, the empty generation, UDP entry points.
use http::StatusCode;
use mesh_proxy::config::{EntryPoint, StaticConfig};
use mesh_proxy::{Proxy, ServeError};

use crate::support::{TestProxy, admin_json, get, http1_client};

#[tokio::test]
async fn a_taken_port_is_a_clear_error_naming_the_entry_point() {
    let taken = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("binds");
    let address = taken.local_addr().expect("address");
    let mut static_config = StaticConfig {
        admin_address: None,
        ..StaticConfig::default()
    };
    let (name, ep) = EntryPoint::parse_named(&format!("web={address}")).expect("valid flag");
    static_config.entry_points.insert(name, ep);
    let err = Proxy::new(static_config)
        .start()
        .await
        .err()
        .expect("start fails");
    assert!(
        matches!(err, ServeError::Bind { ref name, .. } if name == "web"),
        "{err}"
    );
    assert!(
        err.to_string()
            .starts_with(&format!("entry point `web`: cannot listen on {address}"))
    );
}

#[tokio::test]
async fn before_the_first_apply_everything_is_404_at_generation_0() {
    let proxy = TestProxy::start().await;
    assert_eq!(proxy.proxy.generation(), 0);
    let answer = get(&http1_client(), proxy.web(), "any.test", "/").await;
    assert_eq!(
        (answer.status, answer.body.as_str()),
        (StatusCode::NOT_FOUND, "404 page not found\n")
    );
}

#[tokio::test]
async fn udp_entry_points_are_listed_and_bound_and_http_routers_skip_them() {
    let proxy = TestProxy::start_with(|static_config| {
        let (name, ep) = EntryPoint::parse_named("dns=127.0.0.1:0/udp").expect("valid flag");
        static_config.entry_points.insert(name, ep);
    })
    .await;
    let (_, entry_points) = admin_json(&proxy, "/api/entrypoints/dns").await;
    assert_eq!(entry_points["protocol"], "udp");
    let bound = proxy
        .running
        .entry_point("dns")
        .expect("the UDP entry point is bound");
    assert_eq!(entry_points["boundAddress"], bound.to_string());

    let report = proxy.apply_yaml(
        "http: {routers: {r: {rule: 'Host(`a`)', service: s, entryPoints: [dns]}}, \
         services: {s: {loadBalancer: {servers: [{url: 'http://127.0.0.1:1'}]}}}}",
    );
    let problems: Vec<&str> = report.router_errors("r").iter().map(|p| p.reason).collect();
    assert_eq!(problems, ["NoValidEntryPoint"]);
    assert_eq!(
        report.routers["r"].warnings[0].message,
        "entry point `dns` is a UDP entry point"
    );
}

#[tokio::test]
async fn the_admin_api_only_answers_reads() {
    let proxy = TestProxy::start().await;
    let req = http::Request::post(format!("http://{}/api/rawdata", proxy.admin()))
        .body(http_body_util::Full::new(bytes::Bytes::new()))
        .expect("request");
    let answer = crate::support::send(&http1_client(), req).await;
    assert_eq!(answer.status, StatusCode::METHOD_NOT_ALLOWED);
}

#[tokio::test]
async fn an_unwritable_access_log_stops_the_start_with_its_path() {
    let mut static_config = StaticConfig {
        admin_address: None,
        access_log_path: Some("/nonexistent-dir/mesh/access.log".into()),
        ..StaticConfig::default()
    };
    let (name, ep) = EntryPoint::parse_named("web=127.0.0.1:0").expect("valid flag");
    static_config.entry_points.insert(name, ep);
    let err = Proxy::new(static_config)
        .start()
        .await
        .err()
        .expect("start fails");
    assert!(
        err.to_string()
            .starts_with("access log: cannot open /nonexistent-dir/mesh/access.log"),
        "{err}"
    );
}
