//! Keep-alive HTTP/1.1 connections to plain `http://` servers.
//!
//! hyper-util's legacy client pays, on every request, for a pool checkout racing a lazy
//! connect future, a pool key built from the URI and a spawned task that waits for the
//! connection to become idle again. A reverse proxy talking HTTP/1.1 to a few servers needs
//! far less: a stack of idle connections per server, taken for one exchange (driven by the
//! request's own task, see [`super::connection`]) and put back when the response body has
//! been read to its end. One reaper task per pool closes connections that stayed idle past
//! `idleConnTimeout`; it sleeps until the oldest idle connection expires, so requests pay
//! for no timer.
use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::pin::Pin;
use std::sync::{Arc, Mutex, Weak};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::header::{HOST, HeaderName, HeaderValue};
use http::uri::Authority;
use http::{Request, Response};
use http_body::{Body as HttpBody, Frame, SizeHint};
use tokio::net::TcpStream;
use tokio::sync::Notify;

use super::connection::{ExchangeError, Http1Connection};
use super::target::ServerTarget;
use super::wire::ResponseFraming;
use crate::body::{self, Body};

/// Why an exchange on a pooled connection failed.
#[derive(Debug, thiserror::Error)]
pub enum Http1Error {
    #[error("dial timed out")]
    DialTimeout,
    #[error("connect: {0}")]
    Connect(#[source] std::io::Error),
    #[error("{0}")]
    Exchange(#[source] ExchangeError),
}

/// How many connections a pool keeps and for how long.
#[derive(Debug, Clone, Copy)]
pub struct PoolSettings {
    /// Idle connections kept per server; more are closed when their exchange ends.
    pub max_idle_per_server: usize,
    /// An idle connection older than this is closed instead of reused.
    pub idle_timeout: Option<Duration>,
    pub dial_timeout: Option<Duration>,
}

/// Idle HTTP/1.1 connections per server, shared by every service of one servers transport.
#[derive(Debug)]
pub struct Http1Pool {
    settings: PoolSettings,
    /// Keyed by [`ServerTarget::pool_key`], hashed at apply time: hashing an `Authority`
    /// per request (byte by byte, case-folded, SipHash) cost more than the rest of the pool.
    idle: Mutex<Idle>,
    /// Wakes the reaper when it waits for a first idle connection, or when the pool is gone.
    wake_reaper: Arc<Notify>,
}

type IdleMap = HashMap<u64, ServerIdle, BuildHasherDefault<PrehashedKey>>;

#[derive(Debug, Default)]
struct Idle {
    servers: IdleMap,
    reaper: Reaper,
}

/// What the pool's reaper task is doing.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
enum Reaper {
    /// Not spawned yet (no connection was ever idle, or no idle timeout).
    #[default]
    NotStarted,
    /// Sleeping until the oldest idle connection expires.
    Sleeping,
    /// No idle connection: waiting to be woken by the next one.
    Parked,
}

/// The idle connections of one server. Two authorities with the same key (a 64-bit hash
/// collision) never share: the second one simply gets no pooling.
#[derive(Debug)]
struct ServerIdle {
    authority: Authority,
    connections: Vec<IdleConnection>,
}

/// A hasher for keys that already are hashes.
#[derive(Debug, Default)]
struct PrehashedKey(u64);

impl Hasher for PrehashedKey {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        // Only `write_u64` is used; fold anything else in rather than lose it.
        for &byte in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(byte);
        }
    }

    fn write_u64(&mut self, key: u64) {
        self.0 = key;
    }
}

/// A connection as the pool keeps and lends it: boxed, so that taking it, lending it to a
/// request's future and putting it back move a pointer, and the per-request future that
/// hyper boxes stays small.
type Pooled = Box<Http1Connection>;

#[derive(Debug)]
struct IdleConnection {
    connection: Pooled,
    since: Instant,
}

impl Http1Pool {
    pub fn new(settings: PoolSettings) -> Arc<Self> {
        Arc::new(Http1Pool {
            settings,
            idle: Mutex::new(Idle::default()),
            wake_reaper: Arc::new(Notify::new()),
        })
    }

    /// Sends `req` (origin-form URI) with `appended` written after its headers (see
    /// [`super::headers::forwarded_to_append`]) to `target`, on an idle connection when one is alive,
    /// else on a new one. When a reused connection turns out closed before the server could
    /// read the request, a request without a body and with an idempotent method is sent
    /// again on the next connection (as Go's transport does); others fail with 502.
    pub async fn send(
        self: &Arc<Self>,
        target: &ServerTarget,
        req: Request<Body>,
        appended: &[(&HeaderName, Option<HeaderValue>)],
    ) -> Result<Response<ReturnOnEnd>, Http1Error> {
        let (mut head, body) = req.into_parts();
        if !head.headers.contains_key(HOST) {
            head.headers.insert(HOST, target.host_header().clone());
        }
        let replayable = body.is_end_stream() && head.method.is_idempotent();
        let mut body = Some(body);
        while let Some(mut connection) = self.checkout(target) {
            let sending = body.take().unwrap_or_else(body::empty);
            match connection.exchange(&mut head, appended, sending).await {
                Ok(response) => return Ok(self.track(target, connection, response)),
                Err(error) if replayable && error.is_stale_connection() => continue,
                Err(error) => return Err(Http1Error::Exchange(error)),
            }
        }
        let mut connection = self.connect(target).await?;
        let sending = body.take().unwrap_or_else(body::empty);
        let response = connection
            .exchange(&mut head, appended, sending)
            .await
            .map_err(Http1Error::Exchange)?;
        Ok(self.track(target, connection, response))
    }

    /// Idle connections currently kept for `target`.
    pub fn idle_count(&self, target: &ServerTarget) -> usize {
        self.lock()
            .servers
            .get(&target.pool_key())
            .filter(|server| server.authority == *target.authority())
            .map_or(0, |server| server.connections.len())
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Idle> {
        // The map holds no invariant a panic could break half-way.
        self.idle
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The most recently used live connection to `authority` (LIFO keeps a small set warm).
    fn checkout(&self, target: &ServerTarget) -> Option<Pooled> {
        let mut idle = self.lock();
        let server = idle.servers.get_mut(&target.pool_key())?;
        if server.authority != *target.authority() {
            return None;
        }
        let stack = &mut server.connections;
        while let Some(mut idle) = stack.pop() {
            if self.expired(&idle) {
                // Everything below is older still.
                stack.clear();
                return None;
            }
            if idle.connection.is_reusable() {
                return Some(idle.connection);
            }
        }
        None
    }

    fn checkin(self: &Arc<Self>, key: u64, authority: Authority, connection: Pooled) {
        if self.settings.max_idle_per_server == 0 {
            return;
        }
        let mut idle = self.lock();
        self.keep_reaper_awake(&mut idle.reaper);
        let server = idle.servers.entry(key).or_insert_with(|| ServerIdle {
            authority: authority.clone(),
            connections: Vec::new(),
        });
        if server.authority != authority {
            return;
        }
        let stack = &mut server.connections;
        // Oldest first: drop the ones that timed out while waiting.
        let expired = stack.iter().take_while(|c| self.expired(c)).count();
        stack.drain(..expired);
        if stack.len() < self.settings.max_idle_per_server {
            stack.push(IdleConnection {
                connection,
                since: Instant::now(),
            });
        }
    }

    /// A connection is about to become idle: the reaper must be sleeping towards a deadline.
    fn keep_reaper_awake(self: &Arc<Self>, reaper: &mut Reaper) {
        match *reaper {
            Reaper::Sleeping => {}
            Reaper::Parked => {
                *reaper = Reaper::Sleeping;
                self.wake_reaper.notify_one();
            }
            Reaper::NotStarted => {
                let (Some(timeout), Ok(runtime)) = (
                    self.settings.idle_timeout,
                    tokio::runtime::Handle::try_current(),
                ) else {
                    return;
                };
                *reaper = Reaper::Sleeping;
                runtime.spawn(reap(
                    Arc::downgrade(self),
                    Arc::clone(&self.wake_reaper),
                    timeout,
                ));
            }
        }
    }

    /// Closes the idle connections older than `timeout` (and those the server closed);
    /// returns when the oldest remaining one expires, or parks the reaper when none is left.
    fn reap_expired(&self, timeout: Duration) -> Option<Instant> {
        let now = Instant::now();
        let mut closing = Vec::new();
        let mut idle = self.lock();
        let mut oldest: Option<Instant> = None;
        idle.servers.retain(|_, server| {
            let stack = &mut server.connections;
            // Oldest first.
            let expired = stack
                .iter()
                .take_while(|c| now.duration_since(c.since) >= timeout)
                .count();
            closing.extend(stack.drain(..expired));
            stack.retain_mut(|c| c.connection.is_reusable());
            if let Some(first) = stack.first() {
                oldest = Some(oldest.map_or(first.since, |o| o.min(first.since)));
            }
            !stack.is_empty()
        });
        if oldest.is_none() {
            idle.reaper = Reaper::Parked;
        }
        drop(idle);
        // Dropping the last handle of a connection closes it.
        drop(closing);
        oldest.map(|since| since + timeout)
    }

    fn expired(&self, connection: &IdleConnection) -> bool {
        self.settings
            .idle_timeout
            .is_some_and(|limit| connection.since.elapsed() > limit)
    }

    async fn connect(&self, target: &ServerTarget) -> Result<Pooled, Http1Error> {
        let authority = target.authority();
        let host = authority
            .host()
            .trim_start_matches('[')
            .trim_end_matches(']');
        let port = authority.port_u16().unwrap_or(80);
        let connecting = TcpStream::connect((host, port));
        let stream = match self.settings.dial_timeout {
            Some(limit) => tokio::time::timeout(limit, connecting)
                .await
                .map_err(|_| Http1Error::DialTimeout)?,
            None => connecting.await,
        }
        .map_err(Http1Error::Connect)?;
        // Small requests and responses must not wait for Nagle.
        let _ = stream.set_nodelay(true);
        Ok(Box::new(Http1Connection::new(stream)))
    }

    /// Gives the connection back as soon as the response body has been read to its end.
    fn track(
        self: &Arc<Self>,
        target: &ServerTarget,
        connection: Pooled,
        response: super::wire::ResponseHead,
    ) -> Response<ReturnOnEnd> {
        let lease = Lease {
            pool: Arc::clone(self),
            key: target.pool_key(),
            authority: target.authority().clone(),
            connection,
            keep_alive: response.keep_alive,
        };
        let framing = response.framing;
        let lease = if is_complete(&framing) {
            lease.give_back();
            None
        } else {
            Some(lease)
        };
        Response::from_parts(response.parts, ReturnOnEnd { framing, lease })
    }
}

fn is_complete(framing: &ResponseFraming) -> bool {
    match framing {
        ResponseFraming::Empty | ResponseFraming::Length(0) => true,
        ResponseFraming::Chunked(decoder) => decoder.is_done(),
        ResponseFraming::Length(_) | ResponseFraming::UntilClose => false,
    }
}

impl Drop for Http1Pool {
    fn drop(&mut self) {
        // A parked reaper would otherwise wait forever.
        self.wake_reaper.notify_one();
    }
}

/// The reaper task of one pool; it ends with the pool.
async fn reap(pool: Weak<Http1Pool>, wake: Arc<Notify>, timeout: Duration) {
    loop {
        let next = match pool.upgrade() {
            Some(pool) => pool.reap_expired(timeout),
            None => return,
        };
        match next {
            Some(deadline) => {
                tokio::select! {
                    () = tokio::time::sleep_until(deadline.into()) => {}
                    () = wake.notified() => {}
                }
            }
            None => wake.notified().await,
        }
    }
}

/// A connection lent to one exchange, and where it goes back.
struct Lease {
    pool: Arc<Http1Pool>,
    key: u64,
    authority: Authority,
    connection: Pooled,
    /// What the response head allowed.
    keep_alive: bool,
}

impl Lease {
    fn give_back(self) {
        if self.connection.finish_exchange(self.keep_alive) {
            self.pool.checkin(self.key, self.authority, self.connection);
        }
    }
}

/// A response body read straight from its connection, which goes back to the pool once
/// the body was read to its end. Dropped before its end, it closes the connection instead
/// (unread bytes would poison the next exchange).
pub struct ReturnOnEnd {
    framing: ResponseFraming,
    /// `None` once the body ended or failed.
    lease: Option<Lease>,
}

impl std::fmt::Debug for ReturnOnEnd {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReturnOnEnd")
            .field("framing", &self.framing)
            .field("reading", &self.lease.is_some())
            .finish()
    }
}

impl HttpBody for ReturnOnEnd {
    type Data = Bytes;
    type Error = ExchangeError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, ExchangeError>>> {
        let this = self.get_mut();
        let Some(lease) = this.lease.as_mut() else {
            return Poll::Ready(None);
        };
        let polled = lease.connection.poll_body(&mut this.framing, cx);
        let finished = match &polled {
            Poll::Ready(None) => true,
            // The last data frame ends the body: hand the connection on without waiting
            // for one more poll.
            Poll::Ready(Some(Ok(_))) => is_complete(&this.framing),
            Poll::Ready(Some(Err(_))) => {
                this.lease = None;
                false
            }
            Poll::Pending => false,
        };
        if finished && let Some(lease) = this.lease.take() {
            lease.give_back();
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.lease.is_none() || is_complete(&self.framing)
    }

    fn size_hint(&self) -> SizeHint {
        match self.framing {
            ResponseFraming::Empty => SizeHint::with_exact(0),
            ResponseFraming::Length(left) => SizeHint::with_exact(left),
            _ => SizeHint::default(),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::convert::Infallible;
    use std::net::SocketAddr;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use http_body_util::{BodyExt, Full};
    use hyper::body::Incoming;
    use hyper::service::service_fn;
    use hyper_util::rt::TokioIo;
    use tokio::net::TcpListener;

    use super::*;
    use crate::body;

    /// A backend counting the connections it accepted; `keep_alive: false` closes each
    /// connection after one response.
    async fn backend(keep_alive: bool) -> (SocketAddr, Arc<AtomicUsize>) {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let address = listener.local_addr().expect("address");
        let accepted = Arc::new(AtomicUsize::new(0));
        let counter = Arc::clone(&accepted);
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                counter.fetch_add(1, Ordering::SeqCst);
                tokio::spawn(async move {
                    let service = service_fn(|req: Request<Incoming>| async move {
                        let host = req
                            .headers()
                            .get(HOST)
                            .and_then(|h| h.to_str().ok())
                            .unwrap_or("-")
                            .to_owned();
                        let text = format!("{} {host}", req.uri());
                        Ok::<_, Infallible>(Response::new(Full::new(Bytes::from(text))))
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .keep_alive(keep_alive)
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        (address, accepted)
    }

    fn settings() -> PoolSettings {
        PoolSettings {
            max_idle_per_server: 8,
            idle_timeout: Some(Duration::from_secs(90)),
            dial_timeout: Some(Duration::from_secs(5)),
        }
    }

    fn get(path: &str) -> Request<Body> {
        Request::get(path).body(body::empty()).expect("request")
    }

    async fn text(response: Response<ReturnOnEnd>) -> String {
        let bytes = response
            .into_body()
            .collect()
            .await
            .expect("body")
            .to_bytes();
        String::from_utf8(bytes.to_vec()).expect("utf-8")
    }

    #[tokio::test]
    async fn sequential_requests_share_one_connection() {
        let (address, accepted) = backend(true).await;
        let target = ServerTarget::parse(&format!("http://{address}"), false).expect("url");
        let pool = Http1Pool::new(settings());
        for i in 0..5 {
            let response = pool
                .send(&target, get(&format!("/r{i}")), &[])
                .await
                .expect("sent");
            assert_eq!(text(response).await, format!("/r{i} {address}"));
        }
        assert_eq!(accepted.load(Ordering::SeqCst), 1);
        assert_eq!(pool.idle_count(&target), 1);
    }

    #[tokio::test]
    async fn the_client_host_header_is_kept() {
        let (address, _) = backend(true).await;
        let target = ServerTarget::parse(&format!("http://{address}"), false).expect("url");
        let pool = Http1Pool::new(settings());
        let mut req = get("/");
        req.headers_mut()
            .insert(HOST, http::HeaderValue::from_static("app.test"));
        let response = pool.send(&target, req, &[]).await.expect("sent");
        assert_eq!(text(response).await, "/ app.test");
    }

    #[tokio::test]
    async fn a_connection_the_server_closed_is_replaced() {
        let (address, accepted) = backend(false).await;
        let target = ServerTarget::parse(&format!("http://{address}"), false).expect("url");
        let pool = Http1Pool::new(settings());
        for _ in 0..3 {
            let response = pool.send(&target, get("/"), &[]).await.expect("sent");
            assert_eq!(text(response).await, format!("/ {address}"));
        }
        assert_eq!(accepted.load(Ordering::SeqCst), 3);
    }

    #[tokio::test]
    async fn a_body_dropped_unread_does_not_return_its_connection() {
        let (address, accepted) = backend(true).await;
        let target = ServerTarget::parse(&format!("http://{address}"), false).expect("url");
        let pool = Http1Pool::new(settings());
        let response = pool.send(&target, get("/"), &[]).await.expect("sent");
        drop(response);
        assert_eq!(pool.idle_count(&target), 0);
        let response = pool.send(&target, get("/again"), &[]).await.expect("sent");
        assert_eq!(text(response).await, format!("/again {address}"));
        assert_eq!(accepted.load(Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn no_idle_connections_are_kept_when_the_limit_is_zero() {
        let (address, accepted) = backend(true).await;
        let target = ServerTarget::parse(&format!("http://{address}"), false).expect("url");
        let pool = Http1Pool::new(PoolSettings {
            max_idle_per_server: 0,
            ..settings()
        });
        for _ in 0..2 {
            let response = pool.send(&target, get("/"), &[]).await.expect("sent");
            text(response).await;
        }
        assert_eq!(accepted.load(Ordering::SeqCst), 2);
        assert_eq!(pool.idle_count(&target), 0);
    }

    #[tokio::test]
    async fn expired_idle_connections_are_not_reused() {
        let (address, accepted) = backend(true).await;
        let target = ServerTarget::parse(&format!("http://{address}"), false).expect("url");
        let pool = Http1Pool::new(PoolSettings {
            idle_timeout: Some(Duration::ZERO),
            ..settings()
        });
        for _ in 0..2 {
            let response = pool.send(&target, get("/"), &[]).await.expect("sent");
            text(response).await;
            // Any measurable time is past a zero idle timeout.
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        assert_eq!(accepted.load(Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn a_key_shared_by_two_servers_never_lends_one_for_the_other() {
        let (first, _) = backend(true).await;
        let (second, _) = backend(true).await;
        let first = ServerTarget::parse(&format!("http://{first}"), false).expect("url");
        let second = ServerTarget::parse(&format!("http://{second}"), false).expect("url");
        let pool = Http1Pool::new(settings());
        // As if the second server's authority hashed to the first one's key.
        let connection = pool.connect(&second).await.expect("connect");
        pool.checkin(first.pool_key(), second.authority().clone(), connection);
        assert_eq!(pool.idle_count(&first), 0);
        let response = pool.send(&first, get("/"), &[]).await.expect("sent");
        assert_eq!(
            text(response).await,
            format!("/ {}", first.authority()),
            "answered by the first server"
        );
    }

    #[tokio::test]
    async fn a_refused_connection_is_a_connect_error() {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let address = listener.local_addr().expect("address");
        drop(listener);
        let target = ServerTarget::parse(&format!("http://{address}"), false).expect("url");
        let pool = Http1Pool::new(settings());
        let error = pool
            .send(&target, get("/"), &[])
            .await
            .expect_err("refused");
        assert!(matches!(error, Http1Error::Connect(_)), "{error:?}");
    }
}
