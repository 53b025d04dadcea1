//! Mesh custom resource types (group `mesh.io`, version `v1alpha1`), their status and the
//! generated CustomResourceDefinitions.
//!
//! The spec types follow Traefik's CRDs field for field, so the same types decode objects
//! of `traefik.io/v1alpha1` and `traefik.containo.us/v1alpha1` too (see [`Kind`] and
//! [`decode`]).

pub mod common;
pub mod crd;
pub mod duration;
pub mod ingress_route;
pub mod ingress_route_tcp;
pub mod ingress_route_udp;
pub mod kind;
pub mod middleware;
pub mod middleware_tcp;
mod schema;
pub use schema::DURATION_PATTERN;
pub mod servers_transport;
pub mod status;
pub mod tls;
pub mod traefik_service;

pub use common::{LoadBalancerSpec, ObjectRef};
pub use crd::{all_crds, crd_file_name, crd_yaml};
pub use ingress_route::{IngressRoute, IngressRouteSpec};
pub use ingress_route_tcp::{IngressRouteTCP, IngressRouteTCPSpec};
pub use ingress_route_udp::{IngressRouteUDP, IngressRouteUDPSpec};
pub use kind::{DecodeError, Kind, MeshObject, decode, decode_any};
pub use middleware::{Middleware, MiddlewareSpec};
pub use middleware_tcp::{MiddlewareTCP, MiddlewareTCPSpec};
pub use servers_transport::{
    ServersTransport, ServersTransportSpec, ServersTransportTCP, ServersTransportTCPSpec,
};
pub use status::{MeshStatus, RouteObjectStatus, RouteStatus};
pub use tls::{TLSOption, TLSOptionSpec, TLSStore, TLSStoreSpec};
pub use traefik_service::{TraefikService, TraefikServiceSpec};

/// Mesh's API group.
pub const GROUP: &str = "mesh.io";
/// The only version of every kind.
pub const VERSION: &str = "v1alpha1";
/// Traefik's API group: the same kinds, readable for migration.
pub const TRAEFIK_GROUP: &str = "traefik.io";
/// Traefik's former API group (Traefik v2).
pub const TRAEFIK_LEGACY_GROUP: &str = "traefik.containo.us";
