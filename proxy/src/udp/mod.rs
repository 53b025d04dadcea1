//! The UDP data plane: a UDP router has no rule, so every datagram of its entry point goes to
//! its service (reference §2.5). Only one router is active per entry point: the first valid
//! one in descending name order; the others get a warning.
//!
//! - `build`: `udp.routers` / `udp.services` compiled into one route per entry point, with
//!   reports ([`UdpGeneration`], swapped with the rest of the config).
//! - `session`: datagrams of one client address form a session bound to one server, until
//!   it stays idle for [`SESSION_TIMEOUT`].
mod build;
mod session;

pub use build::{UdpGeneration, UdpRoute, UdpService};
pub use session::SESSION_TIMEOUT;
pub(crate) use session::serve;
