//! Servers of TCP and UDP services (reference §5.3, last paragraph): endpoints must be
//! `ready` (unset means not ready) and are never fenced; ExternalName gives `name:port`.

use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use mesh_crds::status::Reason;

use super::Context;
use super::backend::{self, Backend, Problem, Readiness};

/// A TCP/UDP service entry as written on a route.
pub(crate) struct StreamServiceRef<'a> {
    pub name: &'a str,
    pub namespace: Option<&'a str>,
    pub port: &'a IntOrString,
    pub native_lb: Option<bool>,
    pub node_port_lb: bool,
}

/// The addresses of one service entry, plus findings that do not stop it (Degraded).
pub(crate) fn addresses(
    ctx: &Context<'_>,
    parent_namespace: &str,
    service: &StreamServiceRef<'_>,
    location: &str,
) -> Result<(Vec<String>, Vec<Problem>), Problem> {
    let (key, found) = backend::lookup_service(
        ctx,
        parent_namespace,
        service.name,
        service.namespace,
        location,
    )?;
    let port = backend::find_port(found, Some(service.port)).map_err(|(reason, message)| {
        Problem::new(reason, format!("{location}: Service {key}: {message}"))
    })?;
    let mut warnings = Vec::new();
    if port.external_name_mismatch {
        warnings.push(Problem::new(
            Reason::ExternalNamePortMismatch,
            format!("{location}: port {} is not among the ports ExternalName Service {key} declares; using it anyway", port.number),
        ));
    }
    let backend = Backend {
        key: key.clone(),
        service: found,
        port,
    };
    let endpoints = backend::endpoints(
        ctx,
        &backend,
        service.native_lb,
        service.node_port_lb,
        Readiness::Stream,
        location,
    )?;
    if endpoints.is_empty() {
        let message = format!("{location}: Service {key} has no ready endpoints");
        if !ctx.options.allow_empty_services {
            return Err(Problem::new(Reason::NoEndpoints, message));
        }
        warnings.push(Problem::new(Reason::NoEndpoints, message));
    }
    Ok((
        endpoints
            .into_iter()
            .map(|endpoint| endpoint.address)
            .collect(),
        warnings,
    ))
}
