//! Connections to servers: one pooled hyper client per servers transport (TLS through
//! rustls, h2c, timeouts), and the request rewriting a reverse proxy owes the server.
mod connection;
mod flush;
mod headers;
mod pool;
mod target;
mod tls;

pub(crate) use tls::AcceptAnyCertificate;
mod upgrade;
mod upload;
mod wire;

use std::sync::Arc;
use std::time::Duration;

use http::header::{self, HeaderValue};
use http::uri::PathAndQuery;
use http::{Request, Response, StatusCode, Version};
use hyper::body::Incoming;
use hyper_rustls::{FixedServerNameResolver, HttpsConnector, HttpsConnectorBuilder};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioTimer};
use rustls::pki_types::ServerName;

use crate::body::{self, Body};
use crate::config::transport::{ForwardingTimeouts, ServersTransport};
use crate::service::RequestContext;

pub use connection::ExchangeError;
pub use flush::{DEFAULT_FLUSH_INTERVAL, FlushPolicy};
pub(crate) use headers::ip_header_value;
pub use pool::{Http1Error, Http1Pool, PoolSettings, ReturnOnEnd};
pub use target::{Scheme, ServerTarget, TargetError};
pub use wire::WireError;

/// Idle connections kept per server when the transport does not say (Traefik's default).
const DEFAULT_MAX_IDLE_PER_HOST: usize = 200;

/// Why a servers transport could not be built.
#[derive(Debug, thiserror::Error)]
pub enum TransportError {
    #[error("TLS configuration: {0}")]
    Tls(#[source] rustls::Error),
    #[error("unsupported TLS version `{0}` (expected VersionTLS12 or VersionTLS13)")]
    InvalidTlsVersion(String),
    #[error("invalid PEM: {0}")]
    InvalidPem(String),
    #[error("cannot read {path}: {error}")]
    ReadFile {
        path: String,
        #[source]
        error: std::io::Error,
    },
    #[error("invalid serverName `{0}`")]
    InvalidServerName(String),
    #[error("{0}")]
    Unsupported(&'static str),
}

/// Why a request did not get a response from the server.
#[derive(Debug, thiserror::Error)]
pub enum UpstreamError {
    #[error("connecting to {server}: {source}")]
    Connect {
        server: String,
        #[source]
        source: hyper_util::client::legacy::Error,
    },
    #[error("{server} did not answer in time")]
    Timeout { server: String },
    #[error("exchange with {server} failed: {source}")]
    Exchange {
        server: String,
        #[source]
        source: hyper_util::client::legacy::Error,
    },
    #[error("{server}: {source}")]
    Http1 {
        server: String,
        #[source]
        source: Http1Error,
    },
}

impl UpstreamError {
    /// The status the client gets: 504 for timeouts, 502 otherwise.
    pub fn status(&self) -> StatusCode {
        match self {
            UpstreamError::Timeout { .. } => StatusCode::GATEWAY_TIMEOUT,
            UpstreamError::Connect { .. }
            | UpstreamError::Exchange { .. }
            | UpstreamError::Http1 { .. } => StatusCode::BAD_GATEWAY,
        }
    }
}

/// A servers transport at runtime: pooled clients shared by every service that uses it.
pub struct Transport {
    config: ServersTransport,
    /// `http://` and `https://` servers (ALPN picks HTTP/2 unless disabled).
    client: Client<HttpsConnector<HttpConnector>, Body>,
    /// `h2c://` servers: HTTP/2 with prior knowledge over plain TCP.
    h2c: Client<HttpConnector, Body>,
    /// `http://` servers, except protocol upgrades: kept-alive HTTP/1.1 connections.
    http1: Arc<Http1Pool>,
    response_header_timeout: Option<Duration>,
}

impl std::fmt::Debug for Transport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Transport")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl Transport {
    pub fn new(config: &ServersTransport) -> Result<Self, TransportError> {
        let timeouts = config.forwarding_timeouts.clone().unwrap_or_default();
        let dial = timeouts
            .dial_timeout
            .unwrap_or(ForwardingTimeouts::DEFAULT_DIAL)
            .to_std()
            .filter(|d| !d.is_zero());
        let idle = timeouts
            .idle_conn_timeout
            .unwrap_or(ForwardingTimeouts::DEFAULT_IDLE_CONN)
            .to_std()
            .filter(|d| !d.is_zero());
        let response_header_timeout = timeouts
            .response_header_timeout
            .and_then(|d| d.to_std())
            .filter(|d| !d.is_zero());
        let max_idle = match config.max_idle_conns_per_host {
            0 => DEFAULT_MAX_IDLE_PER_HOST,
            n => usize::try_from(n).unwrap_or(0),
        };

        let mut tcp = HttpConnector::new();
        tcp.enforce_http(false);
        tcp.set_nodelay(true);
        tcp.set_connect_timeout(dial);

        let tls = tls::client_config(config)?;
        let https = HttpsConnectorBuilder::new()
            .with_tls_config(tls)
            .https_or_http();
        let https = if config.server_name.is_empty() {
            https
        } else {
            let name = ServerName::try_from(config.server_name.clone())
                .map_err(|_| TransportError::InvalidServerName(config.server_name.clone()))?;
            https.with_server_name_resolver(FixedServerNameResolver::new(name))
        };
        let connector = if config.disable_http2 {
            https.enable_http1().wrap_connector(tcp.clone())
        } else {
            https.enable_all_versions().wrap_connector(tcp.clone())
        };

        let mut builder = Client::builder(TokioExecutor::new());
        builder
            .pool_timer(TokioTimer::new())
            .pool_idle_timeout(idle)
            .pool_max_idle_per_host(max_idle);
        // HTTP/2 liveness: ping a connection idle for readIdleTimeout, drop it when the
        // ping is not answered within pingTimeout (Traefik's settings; 0 = no pings).
        let read_idle = timeouts
            .read_idle_timeout
            .and_then(|d| d.to_std())
            .filter(|d| !d.is_zero());
        if let Some(read_idle) = read_idle {
            let ping = timeouts
                .ping_timeout
                .unwrap_or(ForwardingTimeouts::DEFAULT_PING)
                .to_std()
                .unwrap_or(Duration::from_secs(15));
            builder
                .timer(TokioTimer::new())
                .http2_keep_alive_interval(read_idle)
                .http2_keep_alive_timeout(ping);
        }
        let client = builder.build(connector);
        let h2c = builder.http2_only(true).build(tcp);
        let http1 = Http1Pool::new(PoolSettings {
            max_idle_per_server: max_idle,
            idle_timeout: idle,
            dial_timeout: dial,
        });
        Ok(Transport {
            config: config.clone(),
            client,
            h2c,
            http1,
            response_header_timeout,
        })
    }

    /// Whether this transport was built from `config` (so it can be reused as is).
    pub fn is_built_from(&self, config: &ServersTransport) -> bool {
        self.config == *config
    }

    /// Sends `req` as it is (absolute URI) on the client for `scheme`: for health checks.
    pub(crate) async fn send(
        &self,
        req: Request<Body>,
        scheme: Scheme,
    ) -> Result<Response<Incoming>, hyper_util::client::legacy::Error> {
        match scheme {
            Scheme::H2c => self.h2c.request(req).await,
            Scheme::Http | Scheme::Https => self.client.request(req).await,
        }
    }

    /// Sends `req` to `target` as a reverse proxy does: hop-by-hop headers dropped,
    /// `X-Forwarded-*` added, Host kept or replaced, protocol upgrades spliced, the response
    /// body handed on as `flush` says.
    pub async fn forward(
        &self,
        req: Request<Body>,
        target: &ServerTarget,
        pass_host_header: bool,
        flush: FlushPolicy,
        cx: &RequestContext,
    ) -> Result<Response<Body>, UpstreamError> {
        let (mut parts, body) = req.into_parts();
        let is_upgrade = headers::is_upgrade_request(&parts.headers);
        let client_upgrade = if is_upgrade {
            parts.extensions.remove::<hyper::upgrade::OnUpgrade>()
        } else {
            None
        };
        let host_in_headers = parts.headers.get(header::HOST).cloned();
        let host_from_uri = host_in_headers.is_none();
        let host = host_in_headers.or_else(|| {
            let authority = parts.uri.authority()?;
            HeaderValue::from_str(authority.as_str()).ok()
        });
        headers::remove_hop_by_hop(&mut parts.headers, is_upgrade);
        let http1 = target.scheme() == Scheme::Http && !is_upgrade;
        // Our HTTP/1.1 encoder writes fresh forwarded headers after the map's, which saves
        // six inserts into the map; other clients need them in the map.
        let appended = if http1 {
            headers::forwarded_to_append(&parts.headers, cx, host.as_ref(), is_upgrade)
        } else {
            None
        };
        if appended.is_none() {
            headers::add_forwarded(&mut parts.headers, cx, host.as_ref(), is_upgrade);
        }
        match host {
            // Already in place.
            Some(_) if pass_host_header && !host_from_uri => {}
            Some(host) if pass_host_header => {
                parts.headers.insert(header::HOST, host);
            }
            // The client fills Host in from the URI: the server's own authority.
            _ => {
                parts.headers.remove(header::HOST);
            }
        }
        let default_path = PathAndQuery::from_static("/");
        let path = parts.uri.path_and_query().unwrap_or(&default_path);
        parts.version = Version::HTTP_11;

        if http1 {
            parts.uri = target.origin_form(path);
            let appended = appended.as_ref().map_or(&[][..], |fields| &fields[..]);
            let sending = self
                .http1
                .send(target, Request::from_parts(parts, body), appended);
            let result = match self.response_header_timeout {
                Some(limit) => tokio::time::timeout(limit, sending).await.map_err(|_| {
                    UpstreamError::Timeout {
                        server: target.url().to_owned(),
                    }
                })?,
                None => sending.await,
            };
            let (mut parts, body) = result
                .map_err(|source| classify_http1(source, target))?
                .into_parts();
            headers::remove_hop_by_hop(&mut parts.headers, false);
            let body = flush.apply(&parts.headers, body);
            return Ok(Response::from_parts(parts, body));
        }

        parts.uri = target.uri_for(path);
        let request = Request::from_parts(parts, body);

        let sending = match target.scheme() {
            Scheme::H2c => self.h2c.request(request),
            Scheme::Http | Scheme::Https => self.client.request(request),
        };
        let result =
            match self.response_header_timeout {
                Some(limit) => tokio::time::timeout(limit, sending).await.map_err(|_| {
                    UpstreamError::Timeout {
                        server: target.url().to_owned(),
                    }
                })?,
                None => sending.await,
            };
        let mut response = result.map_err(|source| classify(source, target))?;

        if response.status() == StatusCode::SWITCHING_PROTOCOLS {
            if let Some(client_upgrade) = client_upgrade {
                let server_upgrade = hyper::upgrade::on(&mut response);
                tokio::spawn(upgrade::splice(client_upgrade, server_upgrade));
            }
            let (parts, _) = response.into_parts();
            return Ok(Response::from_parts(parts, body::empty()));
        }
        let (mut parts, body) = response.into_parts();
        headers::remove_hop_by_hop(&mut parts.headers, false);
        let body = flush.apply(&parts.headers, body);
        Ok(Response::from_parts(parts, body))
    }
}

/// Connect errors caused by the dial timeout are timeouts (504), as in Traefik.
fn classify(source: hyper_util::client::legacy::Error, target: &ServerTarget) -> UpstreamError {
    let server = target.url().to_owned();
    if is_timeout(&source) {
        return UpstreamError::Timeout { server };
    }
    if source.is_connect() {
        UpstreamError::Connect { server, source }
    } else {
        UpstreamError::Exchange { server, source }
    }
}

/// A dial that ran out of time is a timeout (504), as with the other clients.
fn classify_http1(source: Http1Error, target: &ServerTarget) -> UpstreamError {
    let server = target.url().to_owned();
    let timed_out = match &source {
        Http1Error::DialTimeout => true,
        Http1Error::Connect(io) => io.kind() == std::io::ErrorKind::TimedOut,
        Http1Error::Exchange(_) => false,
    };
    if timed_out {
        UpstreamError::Timeout { server }
    } else {
        UpstreamError::Http1 { server, source }
    }
}

fn is_timeout(error: &(dyn std::error::Error + 'static)) -> bool {
    let mut current = Some(error);
    while let Some(error) = current {
        let timed_out = error
            .downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::TimedOut);
        if timed_out {
            return true;
        }
        current = error.source();
    }
    false
}
