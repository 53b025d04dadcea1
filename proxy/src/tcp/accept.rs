//! One new connection on an entry point: TCP router or HTTP, plain or TLS (reference §2.4,
//! "connection dispatch"):
//!
//! 1. An entry point with only plain TCP routers (no TLS TCP router, no HTTPS router) routes
//!    at once, without waiting for a byte, so server-first protocols (SMTP, MySQL) work.
//! 2. Otherwise the first byte is peeked. Not TLS: a plain TCP router if one matches, else
//!    plain HTTP.
//! 3. TLS: the ClientHello is read. An HTTPS router naming the SNI in a `Host` rule wins;
//!    then a TLS TCP router (passthrough forwards the untouched bytes, the others terminate
//!    with their own option); then the HTTPS routers with the option the SNI maps to.
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::{TlsAcceptor, TlsConnector};

use super::build::{RouteTls, TcpRoute};
use super::middleware::admit;
use super::proxy_protocol;
use crate::runtime::Generation;
use crate::tls::{AcceptedConnection, Rewind, TLS_HANDSHAKE_RECORD, read_client_hello};

/// How long a client may stay silent after connecting (Traefik's `readTimeout` default).
const FIRST_BYTE_TIMEOUT: Duration = Duration::from_secs(60);
/// How long the ClientHello and the handshake may take once the client started talking.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Dispatches a new connection of entry point `slot`. Returns the connection when HTTP must
/// serve it; `None` when a TCP router took it (forwarded in its own task) or it was closed
/// (the reason is logged at debug level: client behaviour is not the proxy's problem).
pub async fn accept(
    generation: &Generation,
    slot: usize,
    mut stream: TcpStream,
    client_addr: SocketAddr,
) -> Option<AcceptedConnection> {
    let ip = client_addr.ip();
    let peers = Peers {
        client: client_addr,
        local: stream.local_addr().ok(),
    };
    let tcp = generation.tcp.entry_point(slot);
    let has_https_routers = generation
        .tables
        .get(slot)
        .is_some_and(|table| !table.tls.is_empty());
    if let Some(tcp) = tcp
        && tcp.tls.is_empty()
        && !has_https_routers
        && let Some(route) = tcp.plain.lookup(None, &[], ip)
    {
        spawn_forward(stream, Arc::clone(route), peers);
        return None;
    }

    let mut first = [0u8; 1];
    match tokio::time::timeout(FIRST_BYTE_TIMEOUT, stream.peek(&mut first)).await {
        Ok(Ok(1)) => {}
        Ok(Ok(_)) => return None,
        Ok(Err(err)) => {
            tracing::debug!(client = %client_addr, error = %err, "connection failed before any byte");
            return None;
        }
        Err(_) => {
            tracing::debug!(client = %client_addr, "client sent nothing, closing");
            return None;
        }
    }
    if first[0] != TLS_HANDSHAKE_RECORD {
        if let Some(route) = tcp.and_then(|tcp| tcp.plain.lookup(None, &[], ip)) {
            spawn_forward(stream, Arc::clone(route), peers);
            return None;
        }
        return Some(AcceptedConnection::plain(stream));
    }

    let (hello, raw) =
        match tokio::time::timeout(HANDSHAKE_TIMEOUT, read_client_hello(&mut stream)).await {
            Ok(Ok(read)) => read,
            Ok(Err(err)) => {
                tracing::debug!(client = %client_addr, error = %err, "no ClientHello");
                return None;
            }
            Err(_) => {
                tracing::debug!(client = %client_addr, "ClientHello timed out");
                return None;
            }
        };
    let server_name = hello.server_name.as_deref();
    if !generation.tls.has_host_claim(slot, server_name) {
        let alpn: Vec<&[u8]> = hello.alpn.iter().map(Vec::as_slice).collect();
        if let Some(route) = tcp.and_then(|tcp| tcp.tls.lookup(server_name, &alpn, ip)) {
            let route = Arc::clone(route);
            match &route.tls {
                RouteTls::Terminate { options } => match generation.tls.option_config(options) {
                    Some(config) => {
                        tokio::spawn(async move {
                            let handshake =
                                TlsAcceptor::from(config).accept(Rewind::new(raw, stream));
                            match tokio::time::timeout(HANDSHAKE_TIMEOUT, handshake).await {
                                Ok(Ok(tls)) => forward(tls, &route, peers).await,
                                Ok(Err(err)) => {
                                    tracing::debug!(client = %client_addr, error = %err, "TLS handshake refused")
                                }
                                Err(_) => {
                                    tracing::debug!(client = %client_addr, "TLS handshake timed out")
                                }
                            }
                        });
                    }
                    None => {
                        tracing::debug!(router = %route.name, "TLS option cannot serve, closing")
                    }
                },
                RouteTls::Passthrough | RouteTls::Plain => {
                    spawn_forward(Rewind::new(raw, stream), route, peers);
                }
            }
            return None;
        }
    }

    match tokio::time::timeout(
        HANDSHAKE_TIMEOUT,
        generation.tls.terminate(slot, stream, hello, raw),
    )
    .await
    {
        Ok(Ok(accepted)) => Some(accepted),
        Ok(Err(reason)) => {
            tracing::debug!(client = %client_addr, %reason, "TLS handshake refused");
            None
        }
        Err(_) => {
            tracing::debug!(client = %client_addr, "TLS handshake timed out");
            None
        }
    }
}

/// The two ends of a client connection: what a PROXY protocol header tells the server.
#[derive(Debug, Clone, Copy)]
struct Peers {
    client: SocketAddr,
    local: Option<SocketAddr>,
}

fn spawn_forward<C>(client: C, route: Arc<TcpRoute>, peers: Peers)
where
    C: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    tokio::spawn(async move { forward(client, &route, peers).await });
}

/// Runs the router's middlewares, dials a server of its service and copies bytes both ways
/// until both sides are done. A refused or failed connection is simply closed, as TCP has no
/// way to say why.
async fn forward<C>(mut client: C, route: &TcpRoute, peers: Peers)
where
    C: AsyncRead + AsyncWrite + Unpin,
{
    let client_addr = peers.client;
    let _slots = match admit(&route.middlewares, client_addr.ip()) {
        Ok(slots) => slots,
        Err(reason) => {
            tracing::debug!(router = %route.name, client = %client_addr, reason, "connection refused");
            return;
        }
    };
    let Some(target) = route.service.pick() else {
        tracing::warn!(router = %route.name, "TCP service has no server, closing the connection");
        return;
    };
    let mut server = match tokio::time::timeout(
        target.dial_timeout,
        TcpStream::connect(&target.address),
    )
    .await
    {
        Ok(Ok(server)) => server,
        Ok(Err(err)) => {
            tracing::warn!(router = %route.name, server = %target.address, error = %err, "cannot reach TCP server");
            return;
        }
        Err(_) => {
            tracing::warn!(router = %route.name, server = %target.address, "TCP server dial timed out");
            return;
        }
    };
    let _ = server.set_nodelay(true);
    if let Some(version) = target.proxy_protocol {
        let header = proxy_protocol::header(version, peers.client, peers.local);
        if let Err(err) = server.write_all(&header).await {
            tracing::warn!(router = %route.name, server = %target.address, error = %err, "cannot send the PROXY header");
            return;
        }
    }
    let copied = match &target.tls {
        None => tokio::io::copy_bidirectional(&mut client, &mut server).await,
        Some(tls) => {
            let Some(name) = tls.server_name_for(&target.address) else {
                tracing::warn!(router = %route.name, server = %target.address, "no valid TLS server name for the server");
                return;
            };
            let handshake = TlsConnector::from(Arc::clone(&tls.config)).connect(name, server);
            let mut server = match tokio::time::timeout(HANDSHAKE_TIMEOUT, handshake).await {
                Ok(Ok(server)) => server,
                Ok(Err(err)) => {
                    tracing::warn!(router = %route.name, server = %target.address, error = %err, "TLS with the TCP server failed");
                    return;
                }
                Err(_) => {
                    tracing::warn!(router = %route.name, server = %target.address, "TLS with the TCP server timed out");
                    return;
                }
            };
            tokio::io::copy_bidirectional(&mut client, &mut server).await
        }
    };
    if let Err(err) = copied {
        tracing::debug!(router = %route.name, client = %client_addr, error = %err, "TCP connection ended with an error");
    }
}
