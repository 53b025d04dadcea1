//! ServersTransport and ServersTransportTCP -> how the proxy dials servers (reference
//! §1.10, §1.11, §6.9). CAs come from Secrets or ConfigMaps. A bad CA or client certificate
//! skips that entry only; the transport is always emitted and the finding shown on its
//! status.

use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use mesh_crds::common::RootCa;
use mesh_crds::status::Reason;
use mesh_proxy::config::tcp::{ProxyProtocol, TcpClientTls, TcpServersTransport};
use mesh_proxy::config::tls::CertificatePair;
use mesh_proxy::config::transport::{
    ClientCertificate, Duration, ForwardingTimeouts, ServersTransport, Spiffe,
};

use super::backend::Problem;
use super::load_balancer::duration;
use super::names::object_id;
use super::{Context, Protocol, secrets};
use crate::snapshot::{ObjectKey, ObjectKind, ObjectRef};

const TLS_VERSIONS: [&str; 4] = [
    "VersionTLS10",
    "VersionTLS11",
    "VersionTLS12",
    "VersionTLS13",
];

pub(crate) fn translate_servers_transports(ctx: &mut Context<'_>) {
    let snapshot = ctx.snapshot;
    for (key, entry) in &snapshot.servers_transports {
        if !ctx.options.watches_namespace(&key.namespace) {
            continue;
        }
        let object = ObjectRef::new(ObjectKind::ServersTransport, key);
        let Some(transport) = ctx.book.track_entry(&object, entry) else {
            continue;
        };
        let spec = &transport.spec;
        let mut problems = Vec::new();
        let namespace = &key.namespace;
        let root_cas = root_cas(
            ctx,
            namespace,
            &spec.root_cas_secrets,
            &spec.root_cas,
            &mut problems,
        );
        let certificates =
            client_certificates(ctx, namespace, &spec.certificates_secrets, &mut problems)
                .into_iter()
                .map(|pair| ClientCertificate {
                    cert_file: pair.cert_file,
                    key_file: pair.key_file,
                })
                .collect();
        let skipped = problems.clone();
        let (min_version, max_version) = versions(
            spec.min_version.as_deref(),
            spec.max_version.as_deref(),
            &mut problems,
        );
        let forwarding_timeouts = spec.forwarding_timeouts.as_ref().map(|timeouts| {
            let mut parse = |field: &str, value: &IntOrString| {
                timeout(&format!("forwardingTimeouts.{field}"), value, &mut problems)
            };
            ForwardingTimeouts {
                dial_timeout: parse("dialTimeout", &timeouts.dial_timeout),
                response_header_timeout: timeouts
                    .response_header_timeout
                    .as_ref()
                    .and_then(|v| parse("responseHeaderTimeout", v)),
                idle_conn_timeout: parse("idleConnTimeout", &timeouts.idle_conn_timeout),
                read_idle_timeout: timeouts
                    .read_idle_timeout
                    .as_ref()
                    .and_then(|v| parse("readIdleTimeout", v)),
                ping_timeout: parse("pingTimeout", &timeouts.ping_timeout),
            }
        });
        let built = ServersTransport {
            server_name: spec.server_name.clone().unwrap_or_default(),
            insecure_skip_verify: spec.insecure_skip_verify,
            root_cas,
            certificates,
            min_version,
            max_version,
            cipher_suites: spec.cipher_suites.clone(),
            max_idle_conns_per_host: i32::try_from(spec.max_idle_conns_per_host)
                .unwrap_or(i32::MAX),
            forwarding_timeouts,
            disable_http2: spec.disable_http2,
            peer_cert_uri: spec.peer_cert_uri.clone().unwrap_or_default(),
            spiffe: spec.spiffe.as_ref().map(|spiffe| Spiffe {
                ids: spiffe.ids.clone(),
                trust_domain: spiffe.trust_domain.clone().unwrap_or_default(),
            }),
        };
        for problem in problems {
            ctx.book
                .object_problem(&object, problem.reason, problem.message);
        }
        let id = object_id(&key.namespace, &key.name);
        if !skipped.is_empty() {
            ctx.transport_skips
                .insert((Protocol::Http, id.clone()), skipped);
        }
        ctx.config.http.servers_transports.insert(id, built);
    }

    for (key, entry) in &snapshot.servers_transport_tcps {
        if !ctx.options.watches_namespace(&key.namespace) {
            continue;
        }
        let object = ObjectRef::new(ObjectKind::ServersTransportTcp, key);
        let Some(transport) = ctx.book.track_entry(&object, entry) else {
            continue;
        };
        let spec = &transport.spec;
        let namespace = &key.namespace;
        let mut problems = Vec::new();
        let tls = spec.tls.as_ref().map(|tls| TcpClientTls {
            server_name: tls.server_name.clone().unwrap_or_default(),
            insecure_skip_verify: tls.insecure_skip_verify,
            root_cas: root_cas(
                ctx,
                namespace,
                &tls.root_cas_secrets,
                &tls.root_cas,
                &mut problems,
            ),
            certificates: client_certificates(
                ctx,
                namespace,
                &tls.certificates_secrets,
                &mut problems,
            ),
            peer_cert_uri: tls.peer_cert_uri.clone().unwrap_or_default(),
        });
        let skipped = problems.clone();
        let built = TcpServersTransport {
            dial_timeout: timeout("dialTimeout", &spec.dial_timeout, &mut problems),
            dial_keep_alive: timeout("dialKeepAlive", &spec.dial_keep_alive, &mut problems),
            termination_delay: timeout("terminationDelay", &spec.termination_delay, &mut problems),
            proxy_protocol: spec.proxy_protocol.as_ref().map(|proxy| ProxyProtocol {
                version: proxy
                    .version
                    .and_then(|v| u8::try_from(v).ok())
                    .unwrap_or(2),
            }),
            tls,
        };
        for problem in problems {
            ctx.book
                .object_problem(&object, problem.reason, problem.message);
        }
        let id = object_id(&key.namespace, &key.name);
        if !skipped.is_empty() {
            ctx.transport_skips
                .insert((Protocol::Tcp, id.clone()), skipped);
        }
        ctx.config.tcp.servers_transports.insert(id, built);
    }
}

/// A timeout; an unparsable one keeps the default and is reported (§6.9 ST-TIMEOUT).
fn timeout(field: &str, value: &IntOrString, problems: &mut Vec<Problem>) -> Option<Duration> {
    match duration(value) {
        Ok(parsed) => Some(parsed),
        Err(error) => {
            problems.push(Problem::new(
                Reason::UnsupportedValue,
                format!("{field}: {error}; the default is used"),
            ));
            None
        }
    }
}

/// Unknown versions are ignored; min >= max falls back to TLS 1.2 and no maximum (§1.10).
fn versions(min: Option<&str>, max: Option<&str>, problems: &mut Vec<Problem>) -> (String, String) {
    let mut check = |field: &str, value: Option<&str>| match value.filter(|v| !v.is_empty()) {
        Some(version) if TLS_VERSIONS.contains(&version) => version.to_string(),
        Some(version) => {
            problems.push(Problem::new(
                Reason::UnsupportedValue,
                format!(
                    "{field}: {version:?} is not one of {}; ignored",
                    TLS_VERSIONS.join(", ")
                ),
            ));
            String::new()
        }
        None => String::new(),
    };
    let (min, max) = (check("minVersion", min), check("maxVersion", max));
    if !min.is_empty() && !max.is_empty() && min >= max {
        problems.push(Problem::new(
            Reason::UnsupportedValue,
            format!(
                "minVersion {min} is not below maxVersion {max}; using VersionTLS12 and no maximum"
            ),
        ));
        return ("VersionTLS12".to_string(), String::new());
    }
    (min, max)
}

fn root_cas(
    ctx: &Context<'_>,
    namespace: &str,
    deprecated_secrets: &[String],
    entries: &[RootCa],
    problems: &mut Vec<Problem>,
) -> Vec<String> {
    let mut cas = Vec::new();
    for (i, secret) in deprecated_secrets.iter().enumerate() {
        match secrets::ca_bundle(
            ctx,
            namespace,
            secret,
            true,
            &format!("rootCAsSecrets[{i}]"),
        ) {
            Ok(ca) => cas.push(ca),
            Err(problem) => problems.push(problem),
        }
    }
    for (i, entry) in entries.iter().enumerate() {
        let location = format!("rootCAs[{i}]");
        match (entry.secret.as_deref(), entry.config_map.as_deref()) {
            (Some(_), Some(_)) => problems.push(Problem::new(
                Reason::InvalidSpec,
                format!("{location}: set either secret or configMap, not both; entry skipped"),
            )),
            (Some(secret), None) => {
                match secrets::ca_bundle(ctx, namespace, secret, true, &location) {
                    Ok(ca) => cas.push(ca),
                    Err(problem) => problems.push(problem),
                }
            }
            (None, Some(config_map)) => {
                match config_map_ca_bundle(ctx, namespace, config_map, &location) {
                    Ok(ca) => cas.push(ca),
                    Err(problem) => problems.push(problem),
                }
            }
            (None, None) => {}
        }
    }
    cas
}

/// A CA bundle from ConfigMap `namespace/name`: `tls.ca`, else `ca.crt` (§1.10; unlike
/// Secrets, no single-key fallback).
fn config_map_ca_bundle(
    ctx: &Context<'_>,
    namespace: &str,
    name: &str,
    location: &str,
) -> Result<String, Problem> {
    let key = ObjectKey::new(namespace, name);
    let Some(config_map) = ctx.snapshot.config_maps.get(&key) else {
        return Err(Problem::new(
            Reason::InvalidCertificateRef,
            format!("{location}: ConfigMap {key} not found; entry skipped"),
        ));
    };
    let data = config_map.data.as_ref();
    let text = |field: &str| {
        data.and_then(|data| data.get(field))
            .filter(|text| !text.trim().is_empty())
            .cloned()
    };
    text("tls.ca").or_else(|| text("ca.crt")).ok_or_else(|| {
        Problem::new(
            Reason::InvalidCertificateRef,
            format!("{location}: ConfigMap {key} has no CA under tls.ca or ca.crt; entry skipped"),
        )
    })
}

fn client_certificates(
    ctx: &Context<'_>,
    namespace: &str,
    names: &[String],
    problems: &mut Vec<Problem>,
) -> Vec<CertificatePair> {
    let mut pairs = Vec::new();
    for (i, secret) in names.iter().enumerate() {
        match secrets::key_pair(ctx, namespace, secret, &format!("certificatesSecrets[{i}]")) {
            Ok((cert_file, key_file)) => pairs.push(CertificatePair {
                cert_file,
                key_file,
                source: format!("Secret {namespace}/{secret}"),
            }),
            Err(problem) => problems.push(problem),
        }
    }
    pairs
}
