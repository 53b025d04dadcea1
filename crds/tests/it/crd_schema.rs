//! The generated CRDs: names, printer columns, status subresource, and schemas the
//! apiserver accepts and that reject what the reference says is invalid.

use mesh_crds::Kind;
use serde_json::{Value, json};

use crate::schema_check::{object_problems, structural_problems};

fn crd_json(kind: Kind) -> Value {
    let crd = mesh_crds::all_crds()
        .into_iter()
        .find(|crd| crd.spec.names.kind == kind.as_str())
        .unwrap_or_else(|| panic!("no CRD for {kind}"));
    serde_json::to_value(crd).expect("CRD serializes")
}

pub fn schema(kind: Kind) -> Value {
    crd_json(kind)["spec"]["versions"][0]["schema"]["openAPIV3Schema"].clone()
}

/// The schema node at a dotted path of property names (`[]` steps into array items).
fn node(kind: Kind, path: &str) -> Value {
    let mut current = schema(kind);
    for step in path.split('.') {
        current = if step == "[]" {
            current["items"].clone()
        } else {
            current["properties"][step].clone()
        };
        assert!(
            !current.is_null(),
            "{kind}: no schema at {path} (stopped at {step})"
        );
    }
    current
}

#[test]
fn one_crd_per_kind_in_kind_order() {
    let kinds: Vec<String> = mesh_crds::all_crds()
        .into_iter()
        .map(|crd| crd.spec.names.kind)
        .collect();
    let expected: Vec<String> = Kind::ALL.iter().map(|kind| kind.to_string()).collect();
    assert_eq!(kinds, expected);
}

#[test]
fn names_scope_short_names_and_category() {
    for kind in Kind::ALL {
        let crd = crd_json(kind);
        let spec = &crd["spec"];
        assert_eq!(
            crd["metadata"]["name"],
            format!("{}.mesh.io", kind.plural()),
            "{kind}"
        );
        assert_eq!(spec["group"], "mesh.io");
        assert_eq!(spec["scope"], "Namespaced");
        assert_eq!(spec["names"]["plural"], kind.plural());
        assert_eq!(
            spec["names"]["shortNames"],
            json!([kind.short_name()]),
            "{kind}"
        );
        assert_eq!(spec["names"]["categories"], json!(["mesh"]), "{kind}");
        assert_eq!(spec["versions"].as_array().map(Vec::len), Some(1));
        assert_eq!(spec["versions"][0]["name"], "v1alpha1");
        assert_eq!(spec["versions"][0]["served"], true);
        assert_eq!(spec["versions"][0]["storage"], true);
    }
    let short_names: Vec<&str> = Kind::ALL.iter().map(|kind| kind.short_name()).collect();
    assert_eq!(
        short_names,
        [
            "ir", "irt", "iru", "mw", "mwt", "tsvc", "tlso", "tlss", "stp", "stpt"
        ]
    );
}

#[test]
fn every_kind_has_the_status_subresource_and_a_status_schema() {
    for kind in Kind::ALL {
        let crd = crd_json(kind);
        assert_eq!(
            crd["spec"]["versions"][0]["subresources"]["status"],
            json!({}),
            "{kind}"
        );
        let conditions = node(kind, "status.conditions");
        assert_eq!(conditions["x-kubernetes-list-type"], "map", "{kind}");
        assert_eq!(
            conditions["x-kubernetes-list-map-keys"],
            json!(["type"]),
            "{kind}"
        );
        let item = &conditions["items"];
        for field in ["type", "status", "reason", "message", "lastTransitionTime"] {
            assert!(
                item["required"]
                    .as_array()
                    .is_some_and(|r| r.contains(&json!(field))),
                "{kind}: {field}"
            );
        }
        assert_eq!(item["properties"]["observedGeneration"]["type"], "integer");
        assert_eq!(
            item["properties"]["status"]["enum"],
            json!(["True", "False", "Unknown"]),
            "{kind}"
        );
        assert!(
            item["properties"]["reason"]["pattern"].is_string(),
            "{kind}: reason is CamelCase"
        );
        assert_eq!(node(kind, "status.observedGeneration")["type"], "integer");
        let has_routes = schema(kind)["properties"]["status"]["properties"]
            .get("routes")
            .is_some();
        assert_eq!(
            has_routes,
            kind.has_route_status(),
            "{kind}: status.routes only on IngressRoute*"
        );
    }
}

#[test]
fn route_status_is_bounded_and_keyed_by_index() {
    for kind in [
        Kind::IngressRoute,
        Kind::IngressRouteTCP,
        Kind::IngressRouteUDP,
    ] {
        let routes = node(kind, "status.routes");
        assert_eq!(routes["maxItems"], 64);
        assert_eq!(routes["x-kubernetes-list-map-keys"], json!(["index"]));
        let properties = routes["items"]["properties"]
            .as_object()
            .expect("route status properties");
        let mut names: Vec<&str> = properties.keys().map(String::as_str).collect();
        names.sort_unstable();
        assert_eq!(names, ["index", "message", "ready", "reason", "router"]);
    }
}

#[test]
fn printer_columns() {
    const READY: &str = ".status.conditions[?(@.type==\"Ready\")]";
    for kind in Kind::ALL {
        let crd = crd_json(kind);
        let columns = crd["spec"]["versions"][0]["additionalPrinterColumns"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        let summary: Vec<(String, String, i64)> = columns
            .iter()
            .map(|column| {
                (
                    column["name"].as_str().unwrap_or_default().to_string(),
                    column["jsonPath"].as_str().unwrap_or_default().to_string(),
                    column["priority"].as_i64().unwrap_or(0),
                )
            })
            .collect();
        let mut expected = vec![
            ("Ready".to_string(), format!("{READY}.status"), 0),
            ("Reason".to_string(), format!("{READY}.reason"), 0),
        ];
        if kind.has_route_status() {
            expected.push((
                "EntryPoints".to_string(),
                ".spec.entryPoints".to_string(),
                0,
            ));
        }
        expected.push((
            "Age".to_string(),
            ".metadata.creationTimestamp".to_string(),
            0,
        ));
        expected.push(("Message".to_string(), format!("{READY}.message"), 1));
        assert_eq!(summary, expected, "{kind}");
        assert_eq!(
            columns
                .iter()
                .find(|c| c["name"] == "Age")
                .map(|c| c["type"].clone()),
            Some(json!("date"))
        );
    }
}

#[test]
fn schemas_are_structural() {
    for kind in Kind::ALL {
        let problems = structural_problems(&schema(kind));
        assert!(problems.is_empty(), "{kind}:\n{}", problems.join("\n"));
    }
}

#[test]
fn structural_check_catches_what_the_apiserver_refuses() {
    let bad = json!({
        "type": "object",
        "properties": {
            "untyped": {},
            "nullable": { "type": "string", "nullable": true },
            "referenced": { "$ref": "#/definitions/X" },
            "wrongDefault": { "type": "integer", "default": "ten" },
            "typedBranch": { "type": "string", "anyOf": [{ "type": "string" }] },
            "intOrString": { "x-kubernetes-int-or-string": true, "anyOf": [{}, {}] },
            "cel": {
                "type": "object",
                "properties": { "a": { "type": "string" } },
                "x-kubernetes-validations": [{ "rule": "has(self.b)" }],
            },
        },
    });
    let problems = structural_problems(&bad).join("\n");
    for expected in [
        "untyped: no `type`",
        "nullable: has `nullable`",
        "referenced: has `$ref`",
        "wrongDefault: default \"ten\"",
        "typedBranch.anyOf[0]: `type` inside",
        "intOrString: int-or-string anyOf",
        "uses self.b",
    ] {
        assert!(
            problems.contains(expected),
            "missing {expected:?} in:\n{problems}"
        );
    }
}

#[test]
fn ports_are_int_or_string() {
    for (kind, path) in [
        (Kind::IngressRoute, "spec.routes.[].services.[].port"),
        (Kind::IngressRouteTCP, "spec.routes.[].services.[].port"),
        (Kind::IngressRouteUDP, "spec.routes.[].services.[].port"),
        (Kind::TraefikService, "spec.weighted.services.[].port"),
    ] {
        let port = node(kind, path);
        assert_eq!(port["x-kubernetes-int-or-string"], true, "{kind} {path}");
        assert_eq!(
            port["anyOf"],
            json!([{ "type": "integer" }, { "type": "string" }])
        );
    }
}

#[test]
fn durations_are_int_or_string_with_the_go_pattern() {
    for (kind, path) in [
        (
            Kind::ServersTransport,
            "spec.forwardingTimeouts.dialTimeout",
        ),
        (
            Kind::ServersTransport,
            "spec.forwardingTimeouts.pingTimeout",
        ),
        (Kind::ServersTransportTCP, "spec.dialTimeout"),
        (Kind::ServersTransportTCP, "spec.terminationDelay"),
        (Kind::Middleware, "spec.retry.initialInterval"),
        (Kind::Middleware, "spec.circuitBreaker.checkPeriod"),
        (Kind::Middleware, "spec.rateLimit.period"),
        (Kind::Middleware, "spec.rateLimit.redis.readTimeout"),
        (
            Kind::IngressRoute,
            "spec.routes.[].services.[].healthCheck.interval",
        ),
        (
            Kind::IngressRoute,
            "spec.routes.[].services.[].passiveHealthCheck.failureWindow",
        ),
    ] {
        let duration = node(kind, path);
        assert_eq!(
            duration["x-kubernetes-int-or-string"], true,
            "{kind} {path}"
        );
        assert_eq!(
            duration["pattern"],
            mesh_crds::DURATION_PATTERN,
            "{kind} {path}"
        );
    }
}

#[test]
fn reference_defaults_are_in_the_schema() {
    for (kind, path, default) in [
        (
            Kind::IngressRoute,
            "spec.routes.[].services.[].passHostHeader",
            json!(true),
        ),
        (
            Kind::IngressRoute,
            "spec.routes.[].services.[].weight",
            json!(1),
        ),
        (
            Kind::IngressRoute,
            "spec.routes.[].services.[].healthCheck.interval",
            json!("30s"),
        ),
        (
            Kind::IngressRoute,
            "spec.routes.[].services.[].healthCheck.timeout",
            json!("5s"),
        ),
        (
            Kind::IngressRoute,
            "spec.routes.[].services.[].responseForwarding.flushInterval",
            json!("100ms"),
        ),
        (
            Kind::IngressRoute,
            "spec.routes.[].services.[].sticky.cookie.path",
            json!("/"),
        ),
        (
            Kind::IngressRouteTCP,
            "spec.routes.[].services.[].weight",
            json!(1),
        ),
        (
            Kind::Middleware,
            "spec.ipAllowList.rejectStatusCode",
            json!(403),
        ),
        (Kind::Middleware, "spec.basicAuth.realm", json!("traefik")),
        (Kind::Middleware, "spec.rateLimit.burst", json!(1)),
        (Kind::Middleware, "spec.rateLimit.period", json!("1s")),
        (
            Kind::Middleware,
            "spec.circuitBreaker.responseCode",
            json!(503),
        ),
        (
            Kind::Middleware,
            "spec.compress.minResponseBodyBytes",
            json!(1024),
        ),
        (
            Kind::Middleware,
            "spec.buffering.memRequestBodyBytes",
            json!(1_048_576),
        ),
        (
            Kind::Middleware,
            "spec.retry.maxRequestBodyBytes",
            json!(2_097_152),
        ),
        (Kind::Middleware, "spec.forwardAuth.maxBodySize", json!(-1)),
        (
            Kind::ServersTransport,
            "spec.forwardingTimeouts.dialTimeout",
            json!("30s"),
        ),
        (
            Kind::ServersTransport,
            "spec.forwardingTimeouts.idleConnTimeout",
            json!("90s"),
        ),
        (
            Kind::ServersTransportTCP,
            "spec.dialKeepAlive",
            json!("15s"),
        ),
        (
            Kind::ServersTransportTCP,
            "spec.terminationDelay",
            json!("100ms"),
        ),
        (
            Kind::TraefikService,
            "spec.failover.errors.maxRequestBodyBytes",
            json!(-1),
        ),
    ] {
        assert_eq!(node(kind, path)["default"], default, "{kind} {path}");
    }
}

#[test]
fn enums_follow_the_reference() {
    for (kind, path, values) in [
        (Kind::IngressRoute, "spec.routes.[].kind", json!(["Rule"])),
        (
            Kind::IngressRoute,
            "spec.routes.[].services.[].kind",
            json!(["Service", "TraefikService"]),
        ),
        (
            Kind::IngressRoute,
            "spec.routes.[].services.[].strategy",
            json!(["wrr", "p2c", "hrw", "leasttime", "RoundRobin"]),
        ),
        (
            Kind::IngressRoute,
            "spec.routes.[].observability.traceVerbosity",
            json!(["minimal", "detailed"]),
        ),
        (
            Kind::IngressRouteTCP,
            "spec.routes.[].syntax",
            json!(["v3", "v2"]),
        ),
        (
            Kind::TLSOption,
            "spec.clientAuth.clientAuthType",
            json!([
                "NoClientCert",
                "RequestClientCert",
                "RequireAnyClientCert",
                "VerifyClientCertIfGiven",
                "RequireAndVerifyClientCert"
            ]),
        ),
    ] {
        assert_eq!(node(kind, path)["enum"], values, "{kind} {path}");
    }
}

#[test]
fn required_fields() {
    for (kind, path, required) in [
        (Kind::IngressRoute, "spec", json!(["routes"])),
        (Kind::IngressRoute, "spec.routes.[]", json!(["match"])),
        (
            Kind::IngressRoute,
            "spec.routes.[].middlewares.[]",
            json!(["name"]),
        ),
        (Kind::IngressRouteTCP, "spec.routes.[]", json!(["match"])),
        (
            Kind::IngressRouteTCP,
            "spec.routes.[].services.[]",
            json!(["name", "port"]),
        ),
        (Kind::IngressRouteUDP, "spec", json!(["routes"])),
        (
            Kind::IngressRouteUDP,
            "spec.routes.[].services.[]",
            json!(["name", "port"]),
        ),
        (
            Kind::TraefikService,
            "spec.failover",
            json!(["fallback", "service"]),
        ),
        (
            Kind::TLSStore,
            "spec.certificates.[]",
            json!(["secretName"]),
        ),
    ] {
        assert_eq!(node(kind, path)["required"], required, "{kind} {path}");
    }
    for kind in Kind::ALL {
        assert_eq!(schema(kind)["required"], json!(["spec"]), "{kind}");
    }
}

#[test]
fn middleware_covers_every_reference_key() {
    let spec = node(Kind::Middleware, "spec");
    let mut keys: Vec<&str> = spec["properties"]
        .as_object()
        .expect("properties")
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort_unstable();
    let mut expected = vec![
        "addPrefix",
        "stripPrefix",
        "stripPrefixRegex",
        "replacePath",
        "replacePathRegex",
        "chain",
        "ipWhiteList",
        "ipAllowList",
        "headers",
        "encodedCharacters",
        "errors",
        "rateLimit",
        "redirectRegex",
        "redirectScheme",
        "basicAuth",
        "digestAuth",
        "forwardAuth",
        "inFlightReq",
        "buffering",
        "circuitBreaker",
        "compress",
        "passTLSClientCert",
        "retry",
        "contentType",
        "grpcWeb",
        "plugin",
    ];
    expected.sort_unstable();
    assert_eq!(keys, expected);

    let tcp = node(Kind::MiddlewareTCP, "spec");
    let mut tcp_keys: Vec<&str> = tcp["properties"]
        .as_object()
        .expect("properties")
        .keys()
        .map(String::as_str)
        .collect();
    tcp_keys.sort_unstable();
    assert_eq!(tcp_keys, ["inFlightConn", "ipAllowList", "ipWhiteList"]);

    let plugin_config = node(Kind::Middleware, "spec.plugin")["additionalProperties"].clone();
    assert_eq!(plugin_config["x-kubernetes-preserve-unknown-fields"], true);
}

fn with_spec(kind: Kind, spec: Value) -> Value {
    json!({ "apiVersion": "mesh.io/v1alpha1", "kind": kind.as_str(), "metadata": { "name": "x" }, "spec": spec })
}

fn problems(kind: Kind, spec: Value) -> String {
    object_problems(&with_spec(kind, spec), &schema(kind)).join("\n")
}

#[test]
fn add_prefix_must_start_with_a_slash() {
    assert_eq!(
        problems(
            Kind::Middleware,
            json!({ "addPrefix": { "prefix": "/api" } })
        ),
        ""
    );
    let report = problems(
        Kind::Middleware,
        json!({ "addPrefix": { "prefix": "api" } }),
    );
    assert!(
        report.contains("spec.addPrefix: violates CEL rule"),
        "{report}"
    );
    let node = node(Kind::Middleware, "spec.addPrefix");
    assert_eq!(
        node["x-kubernetes-validations"][0]["message"],
        "must start with a '/'"
    );
}

#[test]
fn root_ca_cannot_name_both_a_secret_and_a_config_map() {
    let both = json!({ "rootCAs": [{ "secret": "ca", "configMap": "ca" }] });
    let report = problems(Kind::ServersTransport, both);
    assert!(
        report.contains("spec.rootCAs[0]: violates CEL rule"),
        "{report}"
    );
    assert_eq!(
        problems(
            Kind::ServersTransport,
            json!({ "rootCAs": [{ "secret": "ca" }] })
        ),
        ""
    );

    let tcp_both = json!({ "tls": { "rootCAs": [{ "secret": "ca", "configMap": "ca" }] } });
    let report = problems(Kind::ServersTransportTCP, tcp_both);
    assert!(
        report.contains("spec.tls.rootCAs[0]: violates CEL rule"),
        "{report}"
    );
}

#[test]
fn invalid_objects_are_rejected_with_the_field_named() {
    let cases = [
        (
            Kind::IngressRoute,
            json!({ "routes": [{ "kind": "Rule" }] }),
            "spec.routes[0]: missing required field match",
        ),
        (
            Kind::IngressRoute,
            json!({}),
            "spec: missing required field routes",
        ),
        (
            Kind::IngressRoute,
            json!({ "routes": [{ "match": "Host(`a`)", "kind": "Regex" }] }),
            "spec.routes[0].kind",
        ),
        (
            Kind::IngressRoute,
            json!({ "routes": [{ "match": "Host(`a`)", "services": [{ "name": "s", "port": 1.5 }] }] }),
            "spec.routes[0].services[0].port: 1.5 is neither",
        ),
        (
            Kind::IngressRoute,
            json!({ "routes": [{ "match": "Host(`a`)", "services": [{ "name": "s", "port": 80, "weight": -1 }] }] }),
            "weight: -1 is below the minimum",
        ),
        (
            Kind::IngressRoute,
            json!({ "routes": [], "unknownField": 1 }),
            "spec.unknownField: unknown field",
        ),
        (
            Kind::ServersTransportTCP,
            json!({ "dialTimeout": "10 seconds" }),
            "spec.dialTimeout: \"10 seconds\" does not match",
        ),
        (
            Kind::Middleware,
            json!({ "errors": { "status": ["5xx"] } }),
            "spec.errors.status[0]",
        ),
        (
            Kind::TLSOption,
            json!({ "clientAuth": { "clientAuthType": "Always" } }),
            "clientAuthType",
        ),
    ];
    for (kind, spec, expected) in cases {
        let report = problems(kind, spec.clone());
        assert!(
            report.contains(expected),
            "{kind} {spec}: expected {expected:?} in {report:?}"
        );
    }
}

#[test]
fn durations_accept_seconds_and_go_strings() {
    for value in [json!(42), json!("42ms"), json!("1m30s"), json!("10µs")] {
        assert_eq!(
            problems(Kind::ServersTransportTCP, json!({ "dialTimeout": value })),
            "",
            "{value}"
        );
    }
}
