//! `/api/certificates`: the served certificates' public facts, where they came from and which
//! TLS routers they serve; a broken certificate is listed with its error, keys never appear.
use http::StatusCode;
use serde_json::Value;

use crate::support::{TestProxy, admin_json};

/// A self-signed certificate for `names`, valid until 2031-05-06, as PEM texts.
fn certificate(common_name: &str, names: &[&str]) -> (String, String) {
    let key = rcgen::KeyPair::generate().expect("key");
    let mut params =
        rcgen::CertificateParams::new(names.iter().map(|n| n.to_string()).collect::<Vec<_>>())
            .expect("params");
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, common_name);
    params.not_after = rcgen::date_time_ymd(2031, 5, 6);
    let cert = params.self_signed(&key).expect("self-signed");
    (cert.pem(), key.serialize_pem())
}

fn indent(pem: &str) -> String {
    pem.lines()
        .map(|line| format!("        {line}\n"))
        .collect()
}

fn by_name<'a>(list: &'a Value, name: &str) -> &'a Value {
    list.as_array()
        .expect("a list")
        .iter()
        .find(|c| c["name"] == name)
        .unwrap_or_else(|| panic!("no certificate {name} in {list:#}"))
}

#[tokio::test]
async fn lists_served_certificates_with_their_routers_and_never_a_key() {
    let (web_cert, web_key) = certificate("web.example.test", &["web.example.test", "*.apps.test"]);
    let proxy = TestProxy::start().await;
    proxy.apply_yaml(&format!(
        r#"
http:
  routers:
    web:
      rule: Host(`web.example.test`)
      service: app
      tls: {{}}
    apps:
      rule: Host(`a.apps.test`) || Host(`b.apps.test`)
      service: app
      tls: {{}}
    elsewhere:
      rule: Host(`other.test`)
      service: app
      tls: {{}}
    plain:
      rule: Host(`web.example.test`)
      service: app
  services:
    app: {{loadBalancer: {{servers: [{{url: "http://127.0.0.1:1"}}]}}}}
tls:
  certificates:
    - certFile: |
{cert}      keyFile: |
{key}      source: Secret default/web-tls
    - certFile: "-----BEGIN CERTIFICATE-----\nnot base64\n-----END CERTIFICATE-----"
      keyFile: "-----BEGIN PRIVATE KEY----- secret"
      source: Secret default/broken
"#,
        cert = indent(&web_cert),
        key = indent(&web_key),
    ));

    let (status, list) = admin_json(&proxy, "/api/certificates").await;
    assert_eq!(status, StatusCode::OK);
    let text = list.to_string();
    assert!(!text.contains("PRIVATE KEY"), "a key leaked: {text}");
    assert!(!text.contains("keyFile"), "{text}");

    let web = by_name(&list, "tls.certificates[0]");
    assert_eq!(web["source"], "Secret default/web-tls");
    assert_eq!(web["commonName"], "web.example.test");
    assert_eq!(
        web["sans"],
        serde_json::json!(["web.example.test", "*.apps.test"])
    );
    assert_eq!(web["notAfter"], "2031-05-06T00:00:00Z");
    assert_eq!(web["subject"], web["issuer"], "self-signed");
    assert_eq!(web["fingerprintSha256"].as_str().map(str::len), Some(95));
    assert_eq!(web["stores"], serde_json::json!(["default"]));
    assert_eq!(web["defaultCertificate"], false);
    assert_eq!(web["routers"], serde_json::json!(["apps", "web"]));
    assert!(web.get("error").is_none(), "{web}");

    let broken = by_name(&list, "tls.certificates[1]");
    assert_eq!(broken["source"], "Secret default/broken");
    assert!(broken.get("commonName").is_none(), "{broken}");
    assert!(
        broken["error"].as_str().is_some_and(|e| !e.is_empty()),
        "{broken}"
    );

    // No default certificate configured: the generated one serves the names nothing covers.
    let generated = by_name(&list, "generated");
    assert_eq!(generated["commonName"], "MESH DEFAULT CERT");
    assert_eq!(generated["defaultCertificate"], true);
    assert_eq!(generated["routers"], serde_json::json!(["elsewhere"]));
}

#[tokio::test]
async fn a_configured_default_certificate_replaces_the_generated_one() {
    let (cert, key) = certificate("fallback.test", &["fallback.test"]);
    let proxy = TestProxy::start().await;
    proxy.apply_yaml(&format!(
        r#"
tls:
  stores:
    default:
      defaultCertificate:
        certFile: |
{cert}        keyFile: |
{key}        source: Secret default/fallback
"#,
        cert = indent(&cert).replace("        ", "          "),
        key = indent(&key).replace("        ", "          "),
    ));
    let (_, list) = admin_json(&proxy, "/api/certificates").await;
    let names: Vec<&str> = list
        .as_array()
        .expect("a list")
        .iter()
        .filter_map(|c| c["name"].as_str())
        .collect();
    assert_eq!(names, ["tls.stores.default.defaultCertificate"]);
    assert_eq!(list[0]["source"], "Secret default/fallback");
    assert_eq!(list[0]["commonName"], "fallback.test");
    assert_eq!(list[0]["defaultCertificate"], true);
}
