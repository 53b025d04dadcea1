//! Snapshot + options -> proxy configuration + a status per object. Pure: no I/O, no clock.
//!
//! The shape follows Traefik's Kubernetes CRD provider (reference §0–§8): one full rebuild per
//! call, generated names of §4.1, the error paths of §6. Where Traefik only logs, Mesh records
//! the finding on every object involved so the user can see it with `kubectl get`.

mod backend;
mod class;
mod http;
mod ingress;
mod load_balancer;
mod middleware;
mod names;
mod parents;
mod refs;
mod secrets;
mod status;
mod stream;
mod tcp;
mod tls;
mod traefik_service;
mod transport;
mod udp;

use std::collections::BTreeMap;

use mesh_proxy::config::Config;

use crate::options::ProviderOptions;
use crate::snapshot::{ObjectRef, Snapshot};

pub use names::{normalize, route_key};
pub use status::{ConditionState, ObjectStatus, RouteVerdict};

/// What one translation produced.
#[derive(Debug, Clone, Default)]
pub struct Translation {
    /// The configuration the proxy should run.
    pub config: Config,
    /// The status of every object this controller owns (filtered-out objects are absent).
    /// `Programmed` is `Unknown/Pending`: only the runtime knows what the proxy runs.
    pub statuses: BTreeMap<ObjectRef, ObjectStatus>,
    /// Which object and route each emitted router comes from, so the runtime can attach
    /// the proxy's per-router errors to the right status.
    pub router_owners: BTreeMap<String, RouterOwner>,
}

/// The object (and `spec.routes[index]`, when it has routes) a router was built from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouterOwner {
    pub object: ObjectRef,
    pub route_index: Option<usize>,
    pub protocol: Protocol,
}

/// Which router table a router lives in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Protocol {
    Http,
    Tcp,
    Udp,
}

impl Context<'_> {
    /// The entries transport `id` skipped, as Degraded findings of a route at `location`.
    pub(crate) fn transport_warnings(
        &self,
        protocol: Protocol,
        id: &str,
        location: &str,
    ) -> Vec<backend::Problem> {
        let skipped = self.transport_skips.get(&(protocol, id.to_string()));
        skipped
            .into_iter()
            .flatten()
            .map(|problem| {
                backend::Problem::new(
                    problem.reason,
                    format!("{location}: servers transport {id}: {}", problem.message),
                )
            })
            .collect()
    }
}

/// Translates the world into a proxy configuration and statuses.
pub fn translate(snapshot: &Snapshot, options: &ProviderOptions) -> Translation {
    let mut ctx = Context::new(snapshot, options);
    transport::translate_servers_transports(&mut ctx);
    tls::translate_tls_objects(&mut ctx);
    middleware::translate_middlewares(&mut ctx);
    middleware::translate_middleware_tcps(&mut ctx);
    traefik_service::translate_traefik_services(&mut ctx);
    http::translate_ingress_routes(&mut ctx);
    tcp::translate_ingress_route_tcps(&mut ctx);
    udp::translate_ingress_route_udps(&mut ctx);
    ingress::translate_ingresses(&mut ctx);
    tls::report_option_conflicts(&mut ctx);
    ctx.finish()
}

/// Everything the per-kind translators share while one translation runs.
pub(crate) struct Context<'a> {
    pub snapshot: &'a Snapshot,
    pub options: &'a ProviderOptions,
    pub config: Config,
    pub book: status::StatusBook,
    pub router_owners: BTreeMap<String, RouterOwner>,
    /// TLS HTTP routers, for the per-host option conflict check (§7.2 item 4).
    pub tls_hosts: Vec<tls::TlsHostClaim>,
    /// Certificates by `namespace/secret`, loaded once each.
    pub certificates: BTreeMap<String, mesh_proxy::config::tls::Certificate>,
    /// Set once TraefikServices are in the configuration: later references must find them
    /// there, not just in the snapshot.
    pub translated_traefik_services: bool,
    /// CA and client-certificate entries each ServersTransport(TCP) skipped, by protocol and
    /// id: a route using that transport is Degraded with them.
    pub transport_skips: BTreeMap<(Protocol, String), Vec<backend::Problem>>,
}

impl<'a> Context<'a> {
    fn new(snapshot: &'a Snapshot, options: &'a ProviderOptions) -> Self {
        Context {
            snapshot,
            options,
            config: Config::default(),
            book: status::StatusBook::default(),
            router_owners: BTreeMap::new(),
            tls_hosts: Vec::new(),
            certificates: BTreeMap::new(),
            translated_traefik_services: false,
            transport_skips: BTreeMap::new(),
        }
    }

    fn finish(mut self) -> Translation {
        self.config.tls.certificates = std::mem::take(&mut self.certificates)
            .into_values()
            .collect();
        Translation {
            config: self.config,
            statuses: self.book.finish(),
            router_owners: self.router_owners,
        }
    }
}
