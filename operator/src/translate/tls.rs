//! TLS (reference §7): certificates from Secrets, TLSOption and TLSStore objects, the
//! options a TLS router uses, and the per-host option conflict check.

use std::collections::{BTreeMap, BTreeSet};

use mesh_crds::status::Reason;
use mesh_crds::{ObjectRef as SpecRef, TLSOptionSpec};
use mesh_proxy::config::router::Domain;
use mesh_proxy::config::tls::{Certificate, CertificatePair, ClientAuth, TlsOptions, TlsStore};

use super::backend::Problem;
use super::{Context, refs, secrets};
use crate::snapshot::{Entry, Object, ObjectKey, ObjectKind, ObjectRef};

/// The name of the TLS option and store every router uses unless told otherwise.
pub(crate) const DEFAULT: &str = "default";

/// One `Host(...)` of a TLS HTTP router, for the conflict check.
#[derive(Debug, Clone)]
pub(crate) struct TlsHostClaim {
    pub host: String,
    pub entry_point: String,
    pub option: String,
    pub object: ObjectRef,
    pub route_index: usize,
    pub router: String,
}

/// TLSOptions, TLSStores and the certificates they name.
pub(crate) fn translate_tls_objects(ctx: &mut Context<'_>) {
    translate_tls_options(ctx);
    translate_tls_stores(ctx);
}

/// The id of a TLSOption in the configuration: `default` for the one named so, else
/// `ns-name`.
fn option_id(key: &ObjectKey) -> String {
    if key.name == DEFAULT {
        DEFAULT.to_string()
    } else {
        format!("{}-{}", key.namespace, key.name)
    }
}

/// The namespaces holding an object named `default`; several means none is used (§6.9).
fn default_conflict<S>(
    ctx: &Context<'_>,
    entries: &BTreeMap<ObjectKey, Entry<S>>,
) -> Option<Vec<String>> {
    let namespaces: Vec<String> = entries
        .keys()
        .filter(|key| key.name == DEFAULT && ctx.options.watches_namespace(&key.namespace))
        .map(|key| key.namespace.clone())
        .collect();
    (namespaces.len() > 1).then_some(namespaces)
}

fn translate_tls_options(ctx: &mut Context<'_>) {
    let snapshot = ctx.snapshot;
    let duplicated_default = default_conflict(ctx, &snapshot.tls_options);
    for (key, entry) in &snapshot.tls_options {
        if !ctx.options.watches_namespace(&key.namespace) {
            continue;
        }
        let object = ObjectRef::new(ObjectKind::TlsOption, key);
        let Some(option) = ctx.book.track_entry(&object, entry) else {
            continue;
        };
        if key.name == DEFAULT
            && let Some(namespaces) = &duplicated_default
        {
            ctx.book.object_problem(
                &object,
                Reason::Conflicted,
                format!(
                    "TLSOption default is defined in namespaces {}; none of them is used",
                    namespaces.join(", ")
                ),
            );
            continue;
        }
        let built = build_tls_options(ctx, &object, option);
        ctx.config.tls.options.insert(option_id(key), built);
    }
}

fn build_tls_options(
    ctx: &mut Context<'_>,
    object: &ObjectRef,
    option: &Object<TLSOptionSpec>,
) -> TlsOptions {
    let spec = &option.spec;
    let client_auth = spec.client_auth.as_ref().map(|auth| {
        let mut ca_files = Vec::new();
        for (i, secret) in auth.secret_names.iter().enumerate() {
            let location = format!("clientAuth.secretNames[{i}]");
            // A bad CA is skipped; the option still applies with the others (§6.9).
            match secrets::ca_bundle(ctx, &option.meta.namespace, secret, false, &location) {
                Ok(ca) => ca_files.push(ca),
                Err(problem) => ctx
                    .book
                    .object_problem(object, problem.reason, problem.message),
            }
        }
        ClientAuth {
            ca_files,
            client_auth_type: auth.client_auth_type.clone().unwrap_or_default(),
        }
    });
    TlsOptions {
        min_version: spec.min_version.clone().unwrap_or_default(),
        max_version: spec.max_version.clone().unwrap_or_default(),
        cipher_suites: spec.cipher_suites.clone().unwrap_or_default(),
        curve_preferences: spec.curve_preferences.clone(),
        client_auth,
        sni_strict: spec.sni_strict,
        alpn_protocols: spec.alpn_protocols.clone().unwrap_or_default(),
        disable_session_tickets: spec.disable_session_tickets,
    }
}

fn translate_tls_stores(ctx: &mut Context<'_>) {
    let snapshot = ctx.snapshot;
    let duplicated_default = default_conflict(ctx, &snapshot.tls_stores);
    for (key, entry) in &snapshot.tls_stores {
        if !ctx.options.watches_namespace(&key.namespace) {
            continue;
        }
        let object = ObjectRef::new(ObjectKind::TlsStore, key);
        let Some(store) = ctx.book.track_entry(&object, entry) else {
            continue;
        };
        if key.name != DEFAULT {
            ctx.book.object_problem(
                &object,
                Reason::UnsupportedValue,
                "only the TLSStore named default is used; routers never use this one",
            );
            continue;
        }
        let namespace = &key.namespace;
        let mut built = TlsStore::default();
        if let Some(default_certificate) = &store.spec.default_certificate {
            match secrets::key_pair(
                ctx,
                namespace,
                &default_certificate.secret_name,
                "defaultCertificate.secretName",
            ) {
                Ok((cert_file, key_file)) => {
                    built.default_certificate = Some(CertificatePair {
                        cert_file,
                        key_file,
                        source: format!("Secret {namespace}/{}", default_certificate.secret_name),
                    })
                }
                Err(problem) => {
                    // Traefik skips the whole store then (§6.9 TS-DEFCERT).
                    ctx.book
                        .object_problem(&object, problem.reason, problem.message);
                    continue;
                }
            }
        }
        if let Some(generated) = &store.spec.default_generated_cert {
            built.default_generated_cert = Some(mesh_proxy::config::tls::GeneratedCert {
                resolver: generated.resolver.clone().unwrap_or_default(),
                domain: generated.domain.as_ref().map(domain),
            });
        }
        for (i, certificate) in store.spec.certificates.iter().enumerate() {
            let location = format!("certificates[{i}].secretName");
            if let Err(problem) =
                add_certificate(ctx, namespace, &certificate.secret_name, &location)
            {
                ctx.book
                    .object_problem(&object, problem.reason, problem.message);
            }
        }
        if let Some(namespaces) = &duplicated_default {
            ctx.book.object_problem(
                &object,
                Reason::Conflicted,
                format!(
                    "TLSStore default is defined in namespaces {}; none of them is used",
                    namespaces.join(", ")
                ),
            );
            continue;
        }
        ctx.config.tls.stores.insert(DEFAULT.to_string(), built);
    }
}

/// Adds the key pair of Secret `namespace/name` to the default store, once.
fn add_certificate(
    ctx: &mut Context<'_>,
    namespace: &str,
    name: &str,
    location: &str,
) -> Result<(), Problem> {
    let key = format!("{namespace}/{name}");
    if ctx.certificates.contains_key(&key) {
        return Ok(());
    }
    let (cert_file, key_file) = secrets::key_pair(ctx, namespace, name, location)?;
    let source = format!("Secret {key}");
    ctx.certificates.insert(
        key,
        Certificate {
            pair: CertificatePair {
                cert_file,
                key_file,
                source,
            },
            stores: Vec::new(),
        },
    );
    Ok(())
}

/// `tls.secretName` of an IngressRoute(TCP).
pub(crate) fn load_route_certificate(
    ctx: &mut Context<'_>,
    namespace: &str,
    secret: &str,
    location: &str,
) -> Result<(), Problem> {
    add_certificate(ctx, namespace, secret, location)
}

/// Where a route sits, so a finding about it lands on the right `status.routes[]` entry.
pub(crate) struct RouteSite<'a> {
    pub object: &'a ObjectRef,
    pub index: usize,
    pub router: &'a str,
}

/// The TLS option id a route's router uses (empty: the default options), with any problem
/// reported on the route. A permitted but missing option keeps its id, so the proxy refuses
/// handshakes for the route's hosts rather than serving them with weaker options; `None`
/// means the reference itself is refused and the route is dropped.
pub(crate) fn route_option_id(
    ctx: &mut Context<'_>,
    site: &RouteSite<'_>,
    namespace: &str,
    reference: Option<&SpecRef>,
    location: &str,
) -> Option<String> {
    let (id, problem) = match route_options(ctx, namespace, reference, location) {
        Ok(RouteOption::Found(id)) => return Some(id),
        Ok(RouteOption::Missing(id, problem)) => (Some(id), problem),
        Err(problem) => (None, problem),
    };
    ctx.book.route_failed(
        site.object,
        site.index,
        site.router,
        problem.reason,
        problem.message,
    );
    id
}

/// The TLS options a route asks for.
enum RouteOption {
    /// Usable; empty means the default options.
    Found(String),
    /// Permitted but absent: the router keeps the id so the proxy refuses its handshakes.
    Missing(String, Problem),
}

fn route_options(
    ctx: &Context<'_>,
    namespace: &str,
    reference: Option<&SpecRef>,
    location: &str,
) -> Result<RouteOption, Problem> {
    let Some(reference) = reference else {
        return Ok(RouteOption::Found(String::new()));
    };
    let resolved = refs::resolve(
        ctx.options,
        namespace,
        &reference.name,
        reference.namespace.as_deref(),
        "TLSOption",
        location,
    )?;
    let (id, shown) = match &resolved.key {
        Some(key) => (option_id(key), key.to_string()),
        None => (resolved.id.clone(), reference.name.clone()),
    };
    if ctx.config.tls.options.contains_key(&id) {
        return Ok(RouteOption::Found(id));
    }
    let exists = resolved
        .key
        .as_ref()
        .is_some_and(|key| ctx.snapshot.tls_options.contains_key(key));
    let message = if exists {
        format!("{location}: TLSOption {shown} is not usable (see its status)")
    } else {
        format!("{location}: TLSOption {shown} not found")
    };
    Ok(RouteOption::Missing(
        id,
        Problem::new(Reason::TLSOptionNotFound, message),
    ))
}

pub(crate) fn domain(domain: &mesh_crds::common::Domain) -> Domain {
    Domain {
        main: domain.main.clone().unwrap_or_default(),
        sans: domain.sans.clone(),
    }
}

pub(crate) fn domains(domains: &[mesh_crds::common::Domain]) -> Vec<Domain> {
    domains.iter().map(domain).collect()
}

/// The values of every `Host(...)` matcher of a rule, lower-cased (§2.2: whatever the
/// `!`/`||` structure). `HostRegexp`/`HostSNI` are different matchers and are skipped.
pub(crate) fn rule_hosts(rule: &str) -> Vec<String> {
    matcher_values(rule, "host(")
}

/// The values of every `HostSNI(...)` matcher of a TCP rule, lower-cased.
pub(crate) fn rule_sni_hosts(rule: &str) -> Vec<String> {
    matcher_values(rule, "hostsni(")
}

/// Arguments of every call of `matcher` (lower-case, opening parenthesis included).
fn matcher_values(rule: &str, matcher: &str) -> Vec<String> {
    let mut hosts = Vec::new();
    let lower = rule.to_ascii_lowercase();
    let mut from = 0;
    while let Some(found) = lower[from..].find(matcher) {
        let start = from + found;
        from = start + matcher.len();
        let preceded_by_name_char = lower[..start]
            .chars()
            .next_back()
            .is_some_and(|c| c.is_ascii_alphanumeric());
        if preceded_by_name_char {
            continue;
        }
        let Some(close) = lower[from..].find(')') else {
            break;
        };
        for argument in rule[from..from + close].split(',') {
            let value = argument
                .trim()
                .trim_matches(|c| c == '`' || c == '"')
                .to_ascii_lowercase();
            if !value.is_empty() {
                hosts.push(value);
            }
        }
    }
    hosts
}

/// Records the hosts a TLS router serves with option `option` on its entry points.
pub(crate) fn claim_hosts(
    ctx: &mut Context<'_>,
    object: &ObjectRef,
    index: usize,
    router: &str,
    rule: &str,
    option: &str,
    entry_points: &[String],
) {
    let option = if option.is_empty() {
        DEFAULT.to_string()
    } else {
        option.to_string()
    };
    let entry_points: Vec<String> = if entry_points.is_empty() {
        vec![String::new()]
    } else {
        entry_points.to_vec()
    };
    for host in rule_hosts(rule) {
        for entry_point in &entry_points {
            ctx.tls_hosts.push(TlsHostClaim {
                host: host.clone(),
                entry_point: entry_point.clone(),
                option: option.clone(),
                object: object.clone(),
                route_index: index,
                router: router.to_string(),
            });
        }
    }
}

/// §7.2 item 4: one host served with different TLS options on one entry point makes every
/// router involved fall back to the default options. Each object involved is told.
///
/// Traefik switches a per-entry-point copy of each router; Mesh switches the router itself,
/// which is the same for single-host rules and errs on the side of the default elsewhere.
pub(crate) fn report_option_conflicts(ctx: &mut Context<'_>) {
    let mut by_host: BTreeMap<(&str, &str), Vec<&TlsHostClaim>> = BTreeMap::new();
    for claim in &ctx.tls_hosts {
        by_host
            .entry((claim.entry_point.as_str(), claim.host.as_str()))
            .or_default()
            .push(claim);
    }
    let mut findings = Vec::new();
    let mut fallen_back = BTreeSet::new();
    for ((_, host), claims) in by_host {
        let options: BTreeSet<&str> = claims.iter().map(|claim| claim.option.as_str()).collect();
        if options.len() < 2 {
            continue;
        }
        let options = options.into_iter().collect::<Vec<_>>().join(", ");
        for claim in &claims {
            fallen_back.insert(claim.router.clone());
            let others = claims
                .iter()
                .filter(|other| {
                    other.object != claim.object || other.route_index != claim.route_index
                })
                .map(|other| {
                    format!(
                        "{} routes[{}] ({})",
                        other.object, other.route_index, other.option
                    )
                })
                .collect::<BTreeSet<_>>()
                .into_iter()
                .collect::<Vec<_>>()
                .join(", ");
            findings.push((
                claim.object.clone(),
                format!(
                    "routes[{}]: host {host} has conflicting TLS options ({options}) with {others}; the default options are used",
                    claim.route_index
                ),
            ));
        }
    }
    for (object, message) in findings {
        ctx.book
            .degraded(&object, Reason::TLSOptionsConflict, message);
    }
    for router in fallen_back {
        if let Some(tls) = ctx
            .config
            .http
            .routers
            .get_mut(&router)
            .and_then(|router| router.tls.as_mut())
        {
            tls.options.clear();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_come_from_every_host_matcher_only() {
        assert_eq!(
            rule_hosts("Host(`A.example.com`) || (!Host(\"b.example.com\") && PathPrefix(`/x`))"),
            vec!["a.example.com", "b.example.com"]
        );
        assert!(rule_hosts("HostRegexp(`.*`) && HostSNI(`x`)").is_empty());
        assert_eq!(rule_hosts("host(`c.io`)"), vec!["c.io"]);
        assert_eq!(
            rule_sni_hosts("HostSNI(`A.io`) || HostSNIRegexp(`x`)"),
            vec!["a.io"]
        );
    }

    #[test]
    fn option_ids_keep_the_namespace_except_for_default() {
        assert_eq!(option_id(&ObjectKey::new("myns", "foo")), "myns-foo");
        assert_eq!(option_id(&ObjectKey::new("foo", "default")), "default");
    }
}
