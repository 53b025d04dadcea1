//! Fixed data for the dashboard's tests: a small cluster with one of each state, two
//! controllers (one out of step), and a fixed `now`.

use chrono::{DateTime, Duration, TimeZone, Utc};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use mesh_crds::status::RouteStatus;

use super::app::App;
use super::theme::Theme;
use crate::model::{
    CertRow, ControllerSet, ControllerView, EntryPointRow, MiddlewareRow, Protocol, Resource,
    RouterRow, ServerRow, ServiceRow,
};

pub fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 1, 10, 12, 0, 0)
        .single()
        .unwrap_or_default()
}

fn condition(type_: &str, status: &str, reason: &str, message: &str) -> Condition {
    Condition {
        type_: type_.into(),
        status: status.into(),
        reason: reason.into(),
        message: message.into(),
        last_transition_time: Time(k8s_openapi::jiff::Timestamp::UNIX_EPOCH),
        observed_generation: Some(1),
    }
}

fn route(router: &str, ready: bool, reason: Option<&str>) -> RouteStatus {
    RouteStatus {
        index: 0,
        router: router.into(),
        ready,
        reason: reason.map(Into::into),
        message: reason.map(|_| "service default/missing does not exist".into()),
    }
}

fn resource(
    kind: &str,
    name: &str,
    conditions: Vec<Condition>,
    routes: Vec<RouteStatus>,
) -> Resource {
    Resource {
        kind: kind.into(),
        group: "mesh.io".into(),
        namespace: "default".into(),
        name: name.into(),
        generation: Some(1),
        observed_generation: Some(1),
        created: Some(now() - Duration::days(3)),
        conditions,
        routes,
        object: serde_json::json!({
            "apiVersion": "mesh.io/v1alpha1",
            "kind": kind,
            "metadata": {"name": name, "namespace": "default"},
        }),
    }
}

pub fn resources() -> Vec<Resource> {
    let ready = || condition("Ready", "True", "Ready", "served by the proxy");
    vec![
        resource(
            "IngressRoute",
            "web",
            vec![ready()],
            vec![route("default-web-0", true, None)],
        ),
        resource(
            "IngressRoute",
            "broken",
            vec![condition(
                "Ready",
                "False",
                "BackendNotFound",
                "service default/missing does not exist",
            )],
            vec![route("", false, Some("BackendNotFound"))],
        ),
        resource(
            "Middleware",
            "strip",
            vec![
                ready(),
                condition(
                    "Degraded",
                    "True",
                    "FellBack",
                    "prefix list empty, passing through",
                ),
            ],
            vec![],
        ),
        resource("TLSOption", "pending", vec![], vec![]),
        resource(
            "IngressRouteTCP",
            "db",
            vec![ready()],
            vec![route("default-db-0", true, None)],
        ),
    ]
}

fn router(protocol: Protocol, name: &str, rule: &str, service: &str, state: &str) -> RouterRow {
    RouterRow {
        protocol,
        name: name.into(),
        entry_points: vec!["web".into()],
        rule: rule.into(),
        priority: 0,
        service: service.into(),
        middlewares: Vec::new(),
        tls: String::new(),
        state: state.into(),
        problems: Vec::new(),
        requests: 0,
        server_errors: 0,
    }
}

pub fn controllers() -> ControllerSet {
    let mut web = router(
        Protocol::Http,
        "default-web-0",
        "Host(`web.example.com`)",
        "default-web-80",
        "enabled",
    );
    web.middlewares = vec!["default-strip".into()];
    web.requests = 1500;
    web.server_errors = 15;
    let mut api = router(
        Protocol::Http,
        "default-api-0",
        "PathPrefix(`/api`)",
        "default-api-80",
        "disabled",
    );
    api.problems = vec!["service default-api-80 does not exist".into()];
    let db = router(
        Protocol::Tcp,
        "default-db-0",
        "HostSNI(`*`)",
        "default-db-5432",
        "enabled",
    );
    let server = |url: &str, status: &str| ServerRow {
        url: url.into(),
        status: status.into(),
    };
    let primary = ControllerView {
        name: "mesh-7d9f-abc".into(),
        generation: 7,
        version: "0.1.0".into(),
        entry_points: vec![
            EntryPointRow {
                name: "web".into(),
                address: ":80".into(),
                protocol: "http".into(),
            },
            EntryPointRow {
                name: "websecure".into(),
                address: ":443".into(),
                protocol: "http".into(),
            },
        ],
        routers: vec![web, api, db],
        services: vec![
            ServiceRow {
                protocol: Protocol::Http,
                name: "default-web-80".into(),
                type_: "loadBalancer".into(),
                state: "enabled".into(),
                servers: vec![
                    server("http://10.0.0.1:80", "UP"),
                    server("http://10.0.0.2:80", "DOWN"),
                ],
                used_by: vec!["default-web-0".into()],
            },
            ServiceRow {
                protocol: Protocol::Tcp,
                name: "default-db-5432".into(),
                type_: "loadBalancer".into(),
                state: "enabled".into(),
                servers: vec![server("10.0.0.9:5432", "UP")],
                used_by: vec!["default-db-0".into()],
            },
        ],
        middlewares: vec![MiddlewareRow {
            protocol: Protocol::Http,
            name: "default-strip".into(),
            type_: "stripPrefix".into(),
            state: "enabled".into(),
            problems: Vec::new(),
        }],
        certificates: vec![
            cert("web.example.com", 60),
            cert("soon.example.com", 5),
            cert("old.example.com", -2),
        ],
        error: None,
    };
    let lagging = ControllerView {
        name: "mesh-7d9f-def".into(),
        generation: 6,
        version: "0.1.0".into(),
        ..primary.clone()
    };
    let third = ControllerView {
        name: "mesh-7d9f-ghi".into(),
        ..primary.clone()
    };
    ControllerSet {
        controllers: vec![primary, lagging, third],
        lease_holder: Some("mesh-7d9f-abc".into()),
    }
}

fn cert(host: &str, days: i64) -> CertRow {
    CertRow {
        subject: format!("CN={host}"),
        sans: vec![host.into()],
        issuer: "CN=test-ca".into(),
        not_before: Some(now() - Duration::days(30)),
        not_after: Some(now() + Duration::days(days) + Duration::hours(1)),
        source: format!("Secret default/{}", host.split('.').next().unwrap_or(host)),
        ..CertRow::default()
    }
}

/// A dashboard that has received one snapshot and a few polls (the web router
/// growing by 40, 80, 20 and 60 requests a second).
pub fn app(color: bool) -> App {
    let mut app = App::new(
        Theme { color },
        "kind-mesh".into(),
        std::time::Duration::from_secs(1),
        now(),
    );
    app.on_resources(resources());
    let mut set = controllers();
    app.on_controllers(set.clone());
    for growth in [40, 80, 20, 60] {
        set.controllers[0].routers[0].requests += growth;
        app.on_controllers(set.clone());
    }
    app
}
