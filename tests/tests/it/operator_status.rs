//! Every failure the operator explains, seen on the object itself: the expected
//! condition, reason and message, other routes unaffected, and Ready again once the cause
//! is fixed.

use k8s_openapi::api::events::v1::Event;
use kube::api::{Api, DynamicObject, ListParams, Patch, PatchParams};
use mesh_tests::apply_yaml;
use serde_json::json;

use crate::operator_routing::{route_yaml, service_yaml};
use crate::operator_support::{
    Mesh, PATIENCE, condition, mesh_resource, ready, wait_for_object, wait_for_ready,
};

/// Waits for Ready=`status` with `reason` and a message containing every `needles`.
async fn expect(
    routes: &Api<DynamicObject>,
    mesh: &Mesh,
    name: &str,
    (status, reason): (&str, &str),
    needles: &[&str],
) -> anyhow::Result<DynamicObject> {
    let object = wait_for_ready(routes, name, mesh, status, reason).await?;
    let (_, _, message) = ready(&object).unwrap_or_default();
    for needle in needles {
        assert!(
            message.contains(needle),
            "{name}: Ready message {message:?} lacks {needle:?}"
        );
    }
    Ok(object)
}

/// Waits for condition `type_` to be `status` with `reason`; returns its message.
async fn expect_condition(
    routes: &Api<DynamicObject>,
    mesh: &Mesh,
    name: &str,
    type_: &str,
    (status, reason): (&str, &str),
) -> anyhow::Result<String> {
    let object = wait_for_object(
        routes,
        name,
        mesh,
        &format!("{type_}={status} ({reason})"),
        |object| {
            condition(object, type_).is_some_and(|c| c["status"] == status && c["reason"] == reason)
        },
    )
    .await?;
    Ok(condition(&object, type_)
        .and_then(|c| c["message"].as_str())
        .unwrap_or_default()
        .to_owned())
}

fn route_with(
    name: &str,
    route: serde_json::Value,
    tls: Option<serde_json::Value>,
) -> serde_json::Value {
    let mut spec = json!({"entryPoints": ["web"], "routes": [route]});
    if let Some(tls) = tls {
        spec["entryPoints"] = json!(["websecure"]);
        spec["tls"] = tls;
    }
    json!({"apiVersion": "mesh.io/v1alpha1", "kind": "IngressRoute", "metadata": {"name": name}, "spec": spec})
}

fn rule(host: &str) -> serde_json::Value {
    json!({"match": format!("Host(`{host}`)"), "kind": "Rule", "services": [{"name": "whoami", "port": 80}]})
}

async fn apply_json(
    client: &kube::Client,
    object: &serde_json::Value,
    namespace: &str,
) -> anyhow::Result<()> {
    apply_yaml(client, &serde_yaml::to_string(object)?, namespace).await?;
    Ok(())
}

fn self_signed(host: &str) -> anyhow::Result<(String, String)> {
    let certified = rcgen::generate_simple_self_signed(vec![host.to_owned()])?;
    Ok((certified.cert.pem(), certified.signing_key.serialize_pem()))
}

#[tokio::test]
async fn each_failure_gets_its_reason_and_recovers_when_fixed() -> anyhow::Result<()> {
    let (plane, client, ns) = crate::admin_in_fresh_namespace().await?;
    let pod =
        crate::operator_support::backend_behind_service(&client, &ns, "status-0", "whoami").await?;
    let healthy_host = format!("healthy.{ns}.test");
    apply_yaml(
        &client,
        &route_yaml("healthy", &healthy_host, "whoami", 80),
        &ns,
    )
    .await?;

    // One object per failure path.
    apply_yaml(
        &client,
        &route_yaml("svc-missing", &format!("a.{ns}.test"), "ghost", 80),
        &ns,
    )
    .await?;
    apply_yaml(
        &client,
        &route_yaml("port-missing", &format!("b.{ns}.test"), "whoami", 81),
        &ns,
    )
    .await?;
    apply_yaml(
        &client,
        "apiVersion: v1\nkind: Service\nmetadata: {name: external}\nspec: {type: ExternalName, externalName: backend.example.test, ports: [{port: 80}]}\n",
        &ns,
    )
    .await?;
    apply_yaml(
        &client,
        &route_yaml("extname-denied", &format!("c.{ns}.test"), "external", 80),
        &ns,
    )
    .await?;
    let cross = json!({"match": format!("Host(`d.{ns}.test`)"), "kind": "Rule",
        "services": [{"name": "whoami", "namespace": "elsewhere", "port": 80}]});
    apply_json(&client, &route_with("cross-ns", cross, None), &ns).await?;
    let mut with_middleware = rule(&format!("e.{ns}.test"));
    with_middleware["middlewares"] = json!([{"name": "ghost-mw"}]);
    apply_json(
        &client,
        &route_with("mw-missing", with_middleware, None),
        &ns,
    )
    .await?;
    let shared_host = format!("tls.{ns}.test");
    for (name, option) in [("tls-a", "strict"), ("tls-b", "relaxed")] {
        apply_yaml(
            &client,
            &format!("apiVersion: mesh.io/v1alpha1\nkind: TLSOption\nmetadata: {{name: {option}}}\nspec: {{minVersion: VersionTLS12}}\n"),
            &ns,
        )
        .await?;
        apply_json(
            &client,
            &route_with(
                name,
                rule(&shared_host),
                Some(json!({"options": {"name": option}})),
            ),
            &ns,
        )
        .await?;
    }
    let cert_host = format!("cert.{ns}.test");
    apply_json(
        &client,
        &route_with(
            "secret-missing",
            rule(&cert_host),
            Some(json!({"secretName": "missing-cert"})),
        ),
        &ns,
    )
    .await?;
    let bad = json!({"match": "Host(`unterminated", "kind": "Rule", "services": [{"name": "whoami", "port": 80}]});
    apply_json(&client, &route_with("bad-rule", bad, None), &ns).await?;

    let mesh = Mesh::start(plane, &ns, "status", &[]).await?;
    let routes: Api<DynamicObject> =
        Api::namespaced_with(client.clone(), &ns, &mesh_resource("IngressRoute")?);

    expect(
        &routes,
        &mesh,
        "svc-missing",
        ("False", "BackendNotFound"),
        &[&format!(
            "routes[0].services[0]: Service {ns}/ghost not found"
        )],
    )
    .await?;
    expect(
        &routes,
        &mesh,
        "port-missing",
        ("False", "PortNotFound"),
        &["routes[0].services[0]", "81"],
    )
    .await?;
    expect(
        &routes,
        &mesh,
        "extname-denied",
        ("False", "ExternalNameNotAllowed"),
        &["ExternalName", "--allow-external-name-services"],
    )
    .await?;
    expect(
        &routes,
        &mesh,
        "cross-ns",
        ("False", "RefNotPermitted"),
        &["elsewhere/whoami"],
    )
    .await?;
    expect(
        &routes,
        &mesh,
        "mw-missing",
        ("False", "MiddlewareNotFound"),
        &["ghost-mw"],
    )
    .await?;
    for name in ["tls-a", "tls-b"] {
        // Both objects of the conflict are told (their Ready also depends on the proxy
        // terminating TLS, which is checked elsewhere).
        let message = expect_condition(
            &routes,
            &mesh,
            name,
            "Degraded",
            ("True", "TLSOptionsConflict"),
        )
        .await?;
        assert!(message.contains(&shared_host), "{name}: {message}");
        assert!(
            message.contains("strict") && message.contains("relaxed"),
            "{name}: {message}"
        );
    }
    let message = expect_condition(
        &routes,
        &mesh,
        "secret-missing",
        "ResolvedRefs",
        ("False", "SecretNotFound"),
    )
    .await?;
    assert!(message.contains("missing-cert"), "{message}");
    let bad_rule = expect(
        &routes,
        &mesh,
        "bad-rule",
        ("False", "InvalidRule"),
        &["routes[0]"],
    )
    .await?;
    assert_eq!(
        condition(&bad_rule, "Accepted").map(|c| c["status"].clone()),
        Some(json!("False"))
    );
    assert_eq!(bad_rule.data["status"]["routes"][0]["ready"], false);

    // Other routes are unaffected.
    expect(&routes, &mesh, "healthy", ("True", "Ready"), &[]).await?;
    assert_eq!(mesh.get(&healthy_host, "/").await?.status, 200);

    // Transitions to False are announced as Warning Events, once.
    // The Event follows the status write: wait for it rather than reading once.
    let events: Api<Event> = Api::namespaced(client.clone(), &ns);
    let deadline = tokio::time::Instant::now() + PATIENCE;
    let about_missing: Vec<Event> = loop {
        let about: Vec<Event> = events
            .list(&ListParams::default())
            .await?
            .items
            .into_iter()
            .filter(|e| {
                e.regarding.as_ref().and_then(|r| r.name.as_deref()) == Some("svc-missing")
            })
            .collect();
        if !about.is_empty() || tokio::time::Instant::now() >= deadline {
            break about;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    };
    assert_eq!(about_missing.len(), 1, "{about_missing:#?}");
    assert_eq!(about_missing[0].reason.as_deref(), Some("BackendNotFound"));
    assert_eq!(about_missing[0].type_.as_deref(), Some("Warning"));

    // Fix every cause: each object flips back to Ready.
    apply_yaml(&client, &service_yaml("ghost", pod.ip()), &ns).await?;
    let fixed_port = json!({"spec": {"routes": [rule(&format!("b.{ns}.test"))]}});
    routes
        .patch(
            "port-missing",
            &PatchParams::default(),
            &Patch::Merge(&fixed_port),
        )
        .await?;
    let fixed_external = json!({"spec": {"routes": [rule(&format!("c.{ns}.test"))]}});
    routes
        .patch(
            "extname-denied",
            &PatchParams::default(),
            &Patch::Merge(&fixed_external),
        )
        .await?;
    let fixed_cross = json!({"spec": {"routes": [rule(&format!("d.{ns}.test"))]}});
    routes
        .patch(
            "cross-ns",
            &PatchParams::default(),
            &Patch::Merge(&fixed_cross),
        )
        .await?;
    apply_yaml(
        &client,
        "apiVersion: mesh.io/v1alpha1\nkind: Middleware\nmetadata: {name: ghost-mw}\nspec: {headers: {customResponseHeaders: {X-Fixed: yes}}}\n",
        &ns,
    )
    .await?;
    let same_option = json!({"spec": {"tls": {"options": {"name": "strict"}}}});
    routes
        .patch(
            "tls-b",
            &PatchParams::default(),
            &Patch::Merge(&same_option),
        )
        .await?;
    let (cert, key) = self_signed(&cert_host)?;
    apply_json(
        &client,
        &json!({"apiVersion": "v1", "kind": "Secret", "type": "kubernetes.io/tls",
            "metadata": {"name": "missing-cert"}, "stringData": {"tls.crt": cert, "tls.key": key}}),
        &ns,
    )
    .await?;
    let fixed_rule = json!({"spec": {"routes": [rule(&format!("f.{ns}.test"))]}});
    routes
        .patch(
            "bad-rule",
            &PatchParams::default(),
            &Patch::Merge(&fixed_rule),
        )
        .await?;

    for name in [
        "svc-missing",
        "port-missing",
        "extname-denied",
        "cross-ns",
        "mw-missing",
        "bad-rule",
    ] {
        let object = expect(&routes, &mesh, name, ("True", "Ready"), &[]).await?;
        assert!(
            condition(&object, "Degraded").is_none(),
            "{name}: Degraded must be gone once True no more"
        );
    }
    for name in ["tls-a", "tls-b"] {
        wait_for_object(&routes, name, &mesh, "without Degraded", |object| {
            condition(object, "Degraded").is_none()
        })
        .await?;
    }
    expect_condition(
        &routes,
        &mesh,
        "secret-missing",
        "ResolvedRefs",
        ("True", "ResolvedRefs"),
    )
    .await?;
    assert_eq!(mesh.get(&format!("a.{ns}.test"), "/").await?.status, 200);
    let fixed = mesh.get(&format!("e.{ns}.test"), "/").await?;
    assert_eq!(
        fixed.headers.get("x-fixed").and_then(|v| v.to_str().ok()),
        Some("yes")
    );
    Ok(())
}

#[tokio::test]
async fn external_name_port_mismatch_is_a_warning_only() -> anyhow::Result<()> {
    let (plane, client, ns) = crate::admin_in_fresh_namespace().await?;
    apply_yaml(
        &client,
        "apiVersion: v1\nkind: Service\nmetadata: {name: external}\nspec: {type: ExternalName, externalName: backend.example.test, ports: [{port: 80}]}\n",
        &ns,
    )
    .await?;
    apply_yaml(
        &client,
        &route_yaml("mismatch", &format!("m.{ns}.test"), "external", 8080),
        &ns,
    )
    .await?;
    let mesh = Mesh::start(plane, &ns, "extname", &["--allow-external-name-services"]).await?;
    let routes: Api<DynamicObject> =
        Api::namespaced_with(client.clone(), &ns, &mesh_resource("IngressRoute")?);

    let object = expect(
        &routes,
        &mesh,
        "mismatch",
        ("True", "ExternalNamePortMismatch"),
        &["8080"],
    )
    .await?;
    assert_eq!(
        condition(&object, "Degraded").map(|c| c["status"].clone()),
        Some(json!("True"))
    );
    assert_eq!(
        object.data["status"]["routes"][0]["ready"], true,
        "the route is still served"
    );

    let fixed = json!({"spec": {"routes": [{"match": format!("Host(`m.{ns}.test`)"), "kind": "Rule",
        "services": [{"name": "external", "port": 80}]}]}});
    routes
        .patch("mismatch", &PatchParams::default(), &Patch::Merge(&fixed))
        .await?;
    let object = wait_for_object(
        &routes,
        "mismatch",
        &mesh,
        "Ready without Degraded",
        |object| {
            ready(object).is_some_and(|(status, reason, _)| status == "True" && reason == "Ready")
                && condition(object, "Degraded").is_none()
        },
    )
    .await?;
    assert_eq!(object.data["status"]["observedGeneration"], 2);
    Ok(())
}

/// The operator keeps only referenced Secrets: one that exists before any route names it
/// (its data dropped at the first list) must be fetched again once a route refers to it.
#[tokio::test]
async fn a_secret_referenced_after_startup_is_fetched() -> anyhow::Result<()> {
    let (plane, client, ns) = crate::admin_in_fresh_namespace().await?;
    apply_yaml(
        &client,
        "apiVersion: v1\nkind: Service\nmetadata: {name: external}\nspec: {type: ExternalName, externalName: backend.example.test, ports: [{port: 80}]}\n",
        &ns,
    )
    .await?;
    for (secret, host) in [("early-cert", "early"), ("late-cert", "late")] {
        let (cert, key) = self_signed(&format!("{host}.{ns}.test"))?;
        apply_json(
            &client,
            &json!({"apiVersion": "v1", "kind": "Secret", "type": "kubernetes.io/tls",
                "metadata": {"name": secret}, "stringData": {"tls.crt": cert, "tls.key": key}}),
            &ns,
        )
        .await?;
    }
    let external = |host: &str| {
        json!({"match": format!("Host(`{host}.{ns}.test`)"), "kind": "Rule",
            "services": [{"name": "external", "port": 80}]})
    };
    apply_json(
        &client,
        &route_with(
            "early",
            external("early"),
            Some(json!({"secretName": "early-cert"})),
        ),
        &ns,
    )
    .await?;
    let mesh = Mesh::start(
        plane,
        &ns,
        "late-secret",
        &["--allow-external-name-services"],
    )
    .await?;
    let routes: Api<DynamicObject> =
        Api::namespaced_with(client.clone(), &ns, &mesh_resource("IngressRoute")?);
    expect(&routes, &mesh, "early", ("True", "Ready"), &[]).await?;

    apply_json(
        &client,
        &route_with(
            "late",
            external("late"),
            Some(json!({"secretName": "late-cert"})),
        ),
        &ns,
    )
    .await?;
    expect(&routes, &mesh, "late", ("True", "Ready"), &[]).await?;

    // A name that matches no Secret is still reported missing, not fetched forever.
    apply_json(
        &client,
        &route_with(
            "ghost",
            external("ghost"),
            Some(json!({"secretName": "ghost-cert"})),
        ),
        &ns,
    )
    .await?;
    expect(
        &routes,
        &mesh,
        "ghost",
        ("False", "SecretNotFound"),
        &["ghost-cert"],
    )
    .await?;
    Ok(())
}

#[tokio::test]
async fn a_servers_transport_waits_for_its_root_ca_config_map() -> anyhow::Result<()> {
    let (plane, client, ns) = crate::admin_in_fresh_namespace().await?;
    apply_json(
        &client,
        &json!({"apiVersion": "mesh.io/v1alpha1", "kind": "ServersTransport",
            "metadata": {"name": "backend-tls"},
            "spec": {"serverName": "backend.internal", "rootCAs": [{"configMap": "backend-ca"}]}}),
        &ns,
    )
    .await?;
    let mesh = Mesh::start(plane, &ns, "configmap-ca", &[]).await?;
    let transports: Api<DynamicObject> =
        Api::namespaced_with(client.clone(), &ns, &mesh_resource("ServersTransport")?);
    expect(
        &transports,
        &mesh,
        "backend-tls",
        ("False", "InvalidCertificateRef"),
        &[&format!("rootCAs[0]: ConfigMap {ns}/backend-ca not found")],
    )
    .await?;

    let (ca, _key) = self_signed("backend.internal")?;
    apply_json(
        &client,
        &json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "backend-ca"},
            "data": {"ca.crt": ca}}),
        &ns,
    )
    .await?;
    expect(&transports, &mesh, "backend-tls", ("True", "Ready"), &[]).await?;

    // A ConfigMap without `tls.ca` or `ca.crt` is named in the message.
    apply_json(
        &client,
        &json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "backend-ca"},
            "data": {"bundle.pem": "x"}}),
        &ns,
    )
    .await?;
    expect(
        &transports,
        &mesh,
        "backend-tls",
        ("False", "InvalidCertificateRef"),
        &["has no CA under tls.ca or ca.crt"],
    )
    .await?;
    Ok(())
}
