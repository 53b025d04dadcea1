//! The TCP data plane: TCP routers (`HostSNI`, `HostSNIRegexp`, `ClientIP`, `ALPN` rules)
//! over plain TCP, TLS passthrough or TLS termination, forwarding to TCP services.
//!
//! - `build`: `tcp.routers` compiled per entry point into rule indexes, with a report per
//!   router, service and middleware ([`TcpGeneration`], swapped with the rest of the config).
//! - `service`: round-robin load balancers and weighted services; `upstream_tls` for
//!   servers that speak TLS.
//! - `middleware`: `ipAllowList` and `inFlightConn`; `proxy_protocol`: the PROXY
//!   header sent to servers that ask for it.
//! - `accept`: what a new connection on an entry point is (TCP router, HTTP, HTTPS) and
//!   the byte forwarding of TCP routes.
mod accept;
mod build;
mod middleware;
mod proxy_protocol;
mod service;
mod upstream_tls;

pub use accept::accept;
pub use build::{RouteTls, TcpEntryPoint, TcpGeneration, TcpRoute};
pub use middleware::{TcpMiddleware, TcpMiddlewareError};
pub use service::{Target, TcpService, TcpServiceError, build_services};
pub use upstream_tls::UpstreamTls;
