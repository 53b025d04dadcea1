//! Small network helpers: free loopback ports and waiting for a listener.

use std::net::{Ipv4Addr, SocketAddr, TcpListener};

use crate::error::{HarnessError, Result};

/// `count` distinct free TCP ports on 127.0.0.1. Listeners are held until all are chosen,
/// so the ports differ; another process may still take one before we bind it (rare).
pub fn free_loopback_ports(count: usize) -> Result<Vec<u16>> {
    let listeners = (0..count)
        .map(|_| TcpListener::bind((Ipv4Addr::LOCALHOST, 0)))
        .collect::<std::io::Result<Vec<_>>>()
        .map_err(HarnessError::io("reserving a free loopback port"))?;
    listeners
        .iter()
        .map(|listener| listener.local_addr().map(|addr| addr.port()))
        .collect::<std::io::Result<Vec<_>>>()
        .map_err(HarnessError::io("reading a reserved port"))
}

/// Whether something accepts TCP connections at `addr` right now.
pub(crate) async fn accepts_tcp(addr: SocketAddr) -> bool {
    tokio::net::TcpStream::connect(addr).await.is_ok()
}
