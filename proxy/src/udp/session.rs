//! UDP forwarding with sessions: the first datagram of a client address picks a server (and
//! opens a socket connected to it); later datagrams of that address follow it, and the
//! server's replies go back to the client from the entry point's address. A session ends when
//! neither side sent anything for [`SESSION_TIMEOUT`] (Traefik's default).
use std::collections::HashMap;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::net::UdpSocket;

use crate::runtime::Proxy;

/// How long a session lives without traffic.
pub const SESSION_TIMEOUT: Duration = Duration::from_secs(3);

/// The largest UDP payload.
const MAX_DATAGRAM: usize = 65_535;

struct Session {
    upstream: UdpSocket,
    /// Milliseconds since `epoch` of the last datagram either way.
    last_activity: AtomicU64,
}

type Sessions = Arc<Mutex<HashMap<SocketAddr, Arc<Session>>>>;

/// Serves UDP entry point `slot` on `socket` until the task is aborted.
pub(crate) async fn serve(socket: UdpSocket, proxy: Proxy, slot: usize) {
    let socket = Arc::new(socket);
    let sessions: Sessions = Arc::default();
    let epoch = Instant::now();
    let mut buffer = vec![0u8; MAX_DATAGRAM];
    loop {
        let (length, client) = match socket.recv_from(&mut buffer).await {
            Ok(received) => received,
            Err(err) => {
                tracing::debug!(error = %err, "UDP receive failed");
                continue;
            }
        };
        let existing = sessions
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&client)
            .cloned();
        let session = match existing {
            Some(session) => session,
            None => match open_session(&proxy, slot, client, &socket, &sessions, epoch).await {
                Some(session) => session,
                None => continue,
            },
        };
        session
            .last_activity
            .store(millis_since(epoch), Ordering::Relaxed);
        if let Err(err) = session.upstream.send(&buffer[..length]).await {
            tracing::debug!(client = %client, error = %err, "UDP send to server failed");
        }
    }
}

/// Picks a server with the current configuration and starts relaying its replies. `None`
/// drops the datagram (no router, no server, or the server cannot be reached).
async fn open_session(
    proxy: &Proxy,
    slot: usize,
    client: SocketAddr,
    socket: &Arc<UdpSocket>,
    sessions: &Sessions,
    epoch: Instant,
) -> Option<Arc<Session>> {
    let (router, server) = {
        let generation = proxy.current();
        let route = generation.udp.route(slot)?;
        let server = route.service.pick()?.to_owned();
        (Arc::clone(&route.name), server)
    };
    let target = match tokio::net::lookup_host(&server)
        .await
        .map(|mut found| found.next())
    {
        Ok(Some(target)) => target,
        Ok(None) | Err(_) => {
            tracing::warn!(router = %router, server = %server, "cannot resolve UDP server");
            return None;
        }
    };
    let local: SocketAddr = if target.is_ipv4() {
        (Ipv4Addr::UNSPECIFIED, 0).into()
    } else {
        (Ipv6Addr::UNSPECIFIED, 0).into()
    };
    let upstream = match UdpSocket::bind(local).await {
        Ok(upstream) => upstream,
        Err(err) => {
            tracing::warn!(router = %router, error = %err, "cannot open a UDP socket");
            return None;
        }
    };
    if let Err(err) = upstream.connect(target).await {
        tracing::warn!(router = %router, server = %server, error = %err, "cannot reach UDP server");
        return None;
    }
    let session = Arc::new(Session {
        upstream,
        last_activity: AtomicU64::new(millis_since(epoch)),
    });
    sessions
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .insert(client, Arc::clone(&session));
    tokio::spawn(relay_replies(
        Arc::clone(&session),
        client,
        Arc::clone(socket),
        Arc::clone(sessions),
        epoch,
    ));
    Some(session)
}

async fn relay_replies(
    session: Arc<Session>,
    client: SocketAddr,
    socket: Arc<UdpSocket>,
    sessions: Sessions,
    epoch: Instant,
) {
    let mut buffer = vec![0u8; MAX_DATAGRAM];
    loop {
        match tokio::time::timeout(SESSION_TIMEOUT, session.upstream.recv(&mut buffer)).await {
            Ok(Ok(length)) => {
                session
                    .last_activity
                    .store(millis_since(epoch), Ordering::Relaxed);
                if let Err(err) = socket.send_to(&buffer[..length], client).await {
                    tracing::debug!(client = %client, error = %err, "UDP reply to client failed");
                }
            }
            // The server refused (ICMP port unreachable) or the socket failed: end the session.
            Ok(Err(err)) => {
                tracing::debug!(client = %client, error = %err, "UDP session ended");
                break;
            }
            Err(_) => {
                let idle = millis_since(epoch)
                    .saturating_sub(session.last_activity.load(Ordering::Relaxed));
                if idle >= SESSION_TIMEOUT.as_millis() as u64 {
                    break;
                }
            }
        }
    }
    let mut sessions = sessions.lock().unwrap_or_else(|p| p.into_inner());
    if sessions
        .get(&client)
        .is_some_and(|current| Arc::ptr_eq(current, &session))
    {
        sessions.remove(&client);
    }
}

fn millis_since(epoch: Instant) -> u64 {
    u64::try_from(epoch.elapsed().as_millis()).unwrap_or(u64::MAX)
}
