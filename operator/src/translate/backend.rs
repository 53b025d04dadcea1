//! Kubernetes Service -> servers (reference §5): port lookup, scheme inference, and the
//! ExternalName / nativeLB / nodePortLB / EndpointSlice strategies.

use std::collections::BTreeSet;

use k8s_openapi::api::core::v1::{Service, ServicePort};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use mesh_crds::status::Reason;

use super::Context;
use crate::snapshot::ObjectKey;

/// Why a backend could not be built; `message` already names the location and the thing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Problem {
    pub reason: Reason,
    pub message: String,
}

impl Problem {
    pub fn new(reason: Reason, message: impl Into<String>) -> Self {
        Problem {
            reason,
            message: message.into(),
        }
    }
}

/// A port written on a route (`80` or `http`).
pub(crate) fn port_text(port: &IntOrString) -> String {
    match port {
        IntOrString::Int(number) => number.to_string(),
        IntOrString::String(name) => name.clone(),
    }
}

/// The Service port a route refers to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ResolvedPort {
    pub number: i32,
    pub name: String,
    pub node_port: Option<i32>,
    /// ExternalName only: the route's number is not among the ports the Service declares.
    pub external_name_mismatch: bool,
}

/// Reference §5.1: 0/"" is "not defined"; a declared port matches by number or name; an
/// ExternalName Service accepts any *number* (a warning when it declares other ports).
pub(crate) fn find_port(
    service: &Service,
    port: Option<&IntOrString>,
) -> Result<ResolvedPort, (Reason, String)> {
    let port = match port {
        None | Some(IntOrString::Int(0)) => {
            return Err((Reason::PortNotDefined, "port is not defined".into()));
        }
        Some(IntOrString::String(name)) if name.is_empty() => {
            return Err((Reason::PortNotDefined, "port is not defined".into()));
        }
        Some(port) => port,
    };
    let spec = service.spec.as_ref();
    let declared: &[ServicePort] = spec
        .and_then(|spec| spec.ports.as_deref())
        .unwrap_or_default();
    let found = declared.iter().find(|candidate| match port {
        IntOrString::Int(number) => candidate.port == *number,
        IntOrString::String(name) => candidate.name.as_deref() == Some(name.as_str()),
    });
    if let Some(candidate) = found {
        return Ok(ResolvedPort {
            number: candidate.port,
            name: candidate.name.clone().unwrap_or_default(),
            node_port: candidate.node_port,
            external_name_mismatch: false,
        });
    }
    match (is_external_name(service), port) {
        (true, IntOrString::Int(number)) => Ok(ResolvedPort {
            number: *number,
            name: String::new(),
            node_port: None,
            external_name_mismatch: !declared.is_empty(),
        }),
        _ => Err((
            Reason::PortNotFound,
            format!("port {} is not declared", port_text(port)),
        )),
    }
}

/// Reference §5.2: an explicit scheme must be http, https or h2c; otherwise https when the
/// *Service* port is 443 or its name starts with `https`, else http.
pub(crate) fn infer_scheme(
    explicit: Option<&str>,
    port: &ResolvedPort,
) -> Result<&'static str, String> {
    match explicit.unwrap_or_default() {
        "http" => Ok("http"),
        "https" => Ok("https"),
        "h2c" => Ok("h2c"),
        "" if port.number == 443 || port.name.starts_with("https") => Ok("https"),
        "" => Ok("http"),
        other => Err(format!("scheme {other:?} is not one of http, https, h2c")),
    }
}

pub(crate) fn is_external_name(service: &Service) -> bool {
    service.spec.as_ref().and_then(|spec| spec.type_.as_deref()) == Some("ExternalName")
}

fn external_name(service: &Service) -> &str {
    service
        .spec
        .as_ref()
        .and_then(|spec| spec.external_name.as_deref())
        .unwrap_or_default()
}

/// `host:port`, with IPv6 literals bracketed.
pub(crate) fn host_port(host: &str, port: i32) -> String {
    if host.contains(':') && !host.starts_with('[') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}

/// One server address and whether it is only kept for sticky sessions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Endpoint {
    pub address: String,
    pub fenced: bool,
}

/// How endpoints qualify: HTTP uses `serving` (unset = true) and fences `terminating`
/// ones; TCP/UDP need `ready == true` (unset = not ready) and never fence.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Readiness {
    Http,
    Stream,
}

/// Everything known about a resolved backend Service.
pub(crate) struct Backend<'s> {
    pub key: ObjectKey,
    pub service: &'s Service,
    pub port: ResolvedPort,
}

/// Looks the Service up, enforcing the namespace rules (§5.5). `location` prefixes messages.
pub(crate) fn lookup_service<'s>(
    ctx: &Context<'s>,
    parent_namespace: &str,
    name: &str,
    namespace: Option<&str>,
    location: &str,
) -> Result<(ObjectKey, &'s Service), Problem> {
    let namespace = namespace
        .filter(|ns| !ns.is_empty())
        .unwrap_or(parent_namespace);
    if namespace != parent_namespace && !ctx.options.allow_cross_namespace {
        return Err(Problem::new(
            Reason::RefNotPermitted,
            format!(
                "{location}: Service {namespace}/{name} is in another namespace than {parent_namespace} \
                 (cross-namespace references are disabled)"
            ),
        ));
    }
    if !ctx.options.watches_namespace(namespace) {
        return Err(Problem::new(
            Reason::BackendNotFound,
            format!(
                "{location}: Service {namespace}/{name} is in namespace {namespace}, which is not watched"
            ),
        ));
    }
    let key = ObjectKey::new(namespace, name);
    match ctx.snapshot.services.get(&key) {
        Some(service) => Ok((key, service)),
        None => Err(Problem::new(
            Reason::BackendNotFound,
            format!("{location}: Service {key} not found"),
        )),
    }
}

/// The servers of a Service port: §5.3 steps 3–6 (HTTP) or the TCP/UDP order. Returns the
/// addresses (`host:port`) and whether they came from an ExternalName Service.
pub(crate) fn endpoints(
    ctx: &Context<'_>,
    backend: &Backend<'_>,
    native_lb: Option<bool>,
    node_port_lb: bool,
    readiness: Readiness,
    location: &str,
) -> Result<Vec<Endpoint>, Problem> {
    let key = &backend.key;
    let one = |address: String| {
        vec![Endpoint {
            address,
            fenced: false,
        }]
    };
    if is_external_name(backend.service) {
        if !ctx.options.allow_external_name_services {
            return Err(Problem::new(
                Reason::ExternalNameNotAllowed,
                format!(
                    "{location}: Service {key} is of type ExternalName, which is not allowed (--allow-external-name-services)"
                ),
            ));
        }
        return Ok(one(host_port(
            external_name(backend.service),
            backend.port.number,
        )));
    }
    if native_lb.unwrap_or(ctx.options.native_lb_by_default) {
        let cluster_ip = backend
            .service
            .spec
            .as_ref()
            .and_then(|spec| spec.cluster_ip.as_deref())
            .unwrap_or_default();
        return match cluster_ip {
            "None" => Err(Problem::new(
                Reason::UnsupportedValue,
                format!("{location}: nativeLB needs a ClusterIP but Service {key} is headless"),
            )),
            "" => Err(Problem::new(
                Reason::UnsupportedValue,
                format!("{location}: Service {key} has no ClusterIP for nativeLB"),
            )),
            ip => Ok(one(host_port(ip, backend.port.number))),
        };
    }
    let is_node_port = backend
        .service
        .spec
        .as_ref()
        .and_then(|spec| spec.type_.as_deref())
        == Some("NodePort");
    if node_port_lb && is_node_port {
        return node_port_endpoints(ctx, backend, location);
    }
    Ok(slice_endpoints(ctx, key, &backend.port, readiness))
}

fn node_port_endpoints(
    ctx: &Context<'_>,
    backend: &Backend<'_>,
    location: &str,
) -> Result<Vec<Endpoint>, Problem> {
    if ctx.options.disable_cluster_scope_resources {
        return Err(Problem::new(
            Reason::UnsupportedValue,
            format!("{location}: nodePortLB needs Nodes, but cluster-scope resources are disabled"),
        ));
    }
    let Some(node_port) = backend.port.node_port else {
        return Err(Problem::new(
            Reason::PortNotFound,
            format!(
                "{location}: Service {} port {} has no nodePort",
                backend.key, backend.port.number
            ),
        ));
    };
    let addresses: Vec<Endpoint> = ctx
        .snapshot
        .nodes
        .values()
        .filter_map(|node| node.status.as_ref()?.addresses.as_ref())
        .flat_map(|addresses| addresses.iter().filter(|a| a.type_ == "InternalIP"))
        .map(|address| Endpoint {
            address: host_port(&address.address, node_port),
            fenced: false,
        })
        .collect();
    Ok(addresses)
}

/// Reference §5.3 step 6: slices of the Service, the port entry named like the Service
/// port, endpoints per the protocol's readiness rule, addresses de-duplicated.
fn slice_endpoints(
    ctx: &Context<'_>,
    key: &ObjectKey,
    port: &ResolvedPort,
    readiness: Readiness,
) -> Vec<Endpoint> {
    let mut seen = BTreeSet::new();
    let mut endpoints = Vec::new();
    for slice in ctx.snapshot.slices_of(key) {
        let slice_port = slice
            .ports
            .as_deref()
            .unwrap_or_default()
            .iter()
            .find(|candidate| candidate.name.as_deref() == Some(port.name.as_str()));
        let Some(number) = slice_port
            .and_then(|p| p.port)
            .filter(|number| *number != 0)
        else {
            continue;
        };
        for endpoint in &slice.endpoints {
            let conditions = endpoint.conditions.as_ref();
            let (usable, fenced) = match readiness {
                Readiness::Http => (
                    conditions.and_then(|c| c.serving) != Some(false),
                    conditions.and_then(|c| c.terminating) == Some(true),
                ),
                Readiness::Stream => (conditions.and_then(|c| c.ready) == Some(true), false),
            };
            if !usable {
                continue;
            }
            for address in &endpoint.addresses {
                if seen.insert(address.clone()) {
                    endpoints.push(Endpoint {
                        address: host_port(address, number),
                        fenced,
                    });
                }
            }
        }
    }
    endpoints
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::ServiceSpec;

    fn service(type_: &str, ports: &[(i32, &str)]) -> Service {
        Service {
            spec: Some(ServiceSpec {
                type_: Some(type_.into()),
                ports: Some(
                    ports
                        .iter()
                        .map(|(port, name)| ServicePort {
                            port: *port,
                            name: (!name.is_empty()).then(|| name.to_string()),
                            ..Default::default()
                        })
                        .collect(),
                ),
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    #[test]
    fn port_zero_or_empty_is_not_defined_even_for_external_name() {
        let external = service("ExternalName", &[]);
        assert_eq!(
            find_port(&external, Some(&IntOrString::Int(0)))
                .unwrap_err()
                .0,
            Reason::PortNotDefined
        );
        assert_eq!(
            find_port(&external, None).unwrap_err().0,
            Reason::PortNotDefined
        );
        let empty = IntOrString::String(String::new());
        assert_eq!(
            find_port(&external, Some(&empty)).unwrap_err().0,
            Reason::PortNotDefined
        );
    }

    #[test]
    fn ports_match_by_number_or_name() {
        let svc = service("ClusterIP", &[(80, "web"), (443, "https-api")]);
        let by_number = find_port(&svc, Some(&IntOrString::Int(443))).expect("declared");
        assert_eq!(by_number.name, "https-api");
        let by_name = find_port(&svc, Some(&IntOrString::String("web".into()))).expect("declared");
        assert_eq!(by_name.number, 80);
        let missing = find_port(&svc, Some(&IntOrString::Int(8080))).unwrap_err();
        assert_eq!(
            missing,
            (
                Reason::PortNotFound,
                "port 8080 is not declared".to_string()
            )
        );
    }

    #[test]
    fn external_name_accepts_any_number_but_not_unknown_names() {
        let svc = service("ExternalName", &[(80, "http")]);
        let other = find_port(&svc, Some(&IntOrString::Int(8443))).expect("numbers are accepted");
        assert!(other.external_name_mismatch);
        let bare = find_port(&service("ExternalName", &[]), Some(&IntOrString::Int(8000)))
            .expect("accepted");
        assert!(
            !bare.external_name_mismatch,
            "no declared ports: nothing to mismatch"
        );
        let named = find_port(&svc, Some(&IntOrString::String("grpc".into())));
        assert_eq!(named.unwrap_err().0, Reason::PortNotFound);
    }

    #[test]
    fn scheme_inference_uses_the_service_port_only() {
        let port = |number, name: &str| ResolvedPort {
            number,
            name: name.into(),
            node_port: None,
            external_name_mismatch: false,
        };
        assert_eq!(infer_scheme(None, &port(80, "")), Ok("http"));
        assert_eq!(infer_scheme(None, &port(443, "")), Ok("https"));
        assert_eq!(infer_scheme(None, &port(8443, "https-secure")), Ok("https"));
        assert_eq!(infer_scheme(Some(""), &port(1000, "")), Ok("http"));
        assert_eq!(infer_scheme(Some("h2c"), &port(443, "")), Ok("h2c"));
        assert_eq!(infer_scheme(Some("https"), &port(80, "")), Ok("https"));
        assert!(infer_scheme(Some("foo"), &port(80, "")).is_err());
    }

    #[test]
    fn ipv6_hosts_are_bracketed() {
        assert_eq!(host_port("10.0.0.1", 80), "10.0.0.1:80");
        assert_eq!(host_port("fd00::1", 8080), "[fd00::1]:8080");
        assert_eq!(host_port("example.com", 443), "example.com:443");
    }
}
