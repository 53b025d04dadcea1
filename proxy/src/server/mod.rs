//! Entry points: one TCP listener per named entry point, serving HTTP/1.1 and HTTP/2 (h2c,
//! prior knowledge) on the same port, with upgrades (WebSocket) passed through to services.
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use http_body::Body as _;
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

use crate::body;
use crate::config::Protocol;
use crate::router::{Connection, Dispatched, dispatch};
use crate::runtime::{BoundAddresses, Proxy, Shared};

/// A listener could not be started.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error("entry point `{name}`: cannot listen on {address}: {source}")]
    Bind {
        name: String,
        address: SocketAddr,
        #[source]
        source: std::io::Error,
    },
    #[error("admin API: cannot listen on {address}: {source}")]
    AdminBind {
        address: SocketAddr,
        #[source]
        source: std::io::Error,
    },
    #[error("access log: cannot open {path}: {source}")]
    AccessLog {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("a listener task stopped: {0}")]
    Task(String),
}

/// The listeners of a started proxy. Dropping it does not stop them; call [`shutdown`].
///
/// [`shutdown`]: RunningProxy::shutdown
pub struct RunningProxy {
    pub addresses: BoundAddresses,
    tasks: Vec<JoinHandle<()>>,
}

impl RunningProxy {
    /// Where entry point `name` listens.
    pub fn entry_point(&self, name: &str) -> Option<SocketAddr> {
        self.addresses.entry_points.get(name).copied()
    }

    pub fn admin(&self) -> Option<SocketAddr> {
        self.addresses.admin
    }

    /// Stops accepting connections (connections already open finish on their own).
    pub fn shutdown(self) {
        self.stop_accepting();
    }

    /// Like [`RunningProxy::shutdown`], for owners that cannot give the value up.
    pub fn stop_accepting(&self) {
        for task in &self.tasks {
            task.abort();
        }
    }

    /// Runs until a listener task ends (which only happens on a panic).
    pub async fn wait(self) -> Result<(), ServeError> {
        let (result, _, _) = futures::future::select_all(self.tasks).await;
        result.map_err(|err| ServeError::Task(err.to_string()))
    }
}

impl Proxy {
    /// Binds every entry point (TCP and UDP) and the admin API, then serves them in background
    /// tasks.
    pub async fn start(&self) -> Result<RunningProxy, ServeError> {
        let shared = &self.shared;
        let mut tasks = Vec::new();
        let mut addresses = BoundAddresses::default();
        for (slot, (name, entry_point)) in shared.static_config.entry_points.iter().enumerate() {
            if entry_point.protocol == Protocol::Udp {
                let socket = tokio::net::UdpSocket::bind(entry_point.address)
                    .await
                    .map_err(|source| ServeError::Bind {
                        name: name.clone(),
                        address: entry_point.address,
                        source,
                    })?;
                let local = socket.local_addr().unwrap_or(entry_point.address);
                tracing::info!(entry_point = %name, address = %local, "listening (UDP)");
                addresses.entry_points.insert(name.clone(), local);
                tasks.push(tokio::spawn(crate::udp::serve(socket, self.clone(), slot)));
                continue;
            }
            let listener = TcpListener::bind(entry_point.address)
                .await
                .map_err(|source| ServeError::Bind {
                    name: name.clone(),
                    address: entry_point.address,
                    source,
                })?;
            let local = listener.local_addr().unwrap_or(entry_point.address);
            tracing::info!(entry_point = %name, address = %local, "listening");
            addresses.entry_points.insert(name.clone(), local);
            tasks.push(tokio::spawn(accept_loop(
                listener,
                Arc::clone(shared),
                slot,
            )));
        }
        if let Some(address) = shared.static_config.admin_address {
            let listener = TcpListener::bind(address)
                .await
                .map_err(|source| ServeError::AdminBind { address, source })?;
            let local = listener.local_addr().unwrap_or(address);
            tracing::info!(address = %local, "admin API listening");
            addresses.admin = Some(local);
            tasks.push(tokio::spawn(crate::admin::serve(listener, self.clone())));
        }
        self.start_access_log().await?;
        *shared.bound.write().unwrap_or_else(|p| p.into_inner()) = addresses.clone();
        Ok(RunningProxy { addresses, tasks })
    }

    /// Starts and serves until a listener fails.
    pub async fn serve(&self) -> Result<(), ServeError> {
        self.start().await?.wait().await
    }

    async fn start_access_log(&self) -> Result<(), ServeError> {
        let log = &self.shared.access_log;
        let format = self.shared.static_config.access_log_format;
        match &self.shared.static_config.access_log_path {
            None => log.spawn_writer(tokio::io::stdout(), format),
            Some(path) => {
                let file = tokio::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(path)
                    .await
                    .map_err(|source| ServeError::AccessLog {
                        path: path.display().to_string(),
                        source,
                    })?;
                log.spawn_writer(file, format);
            }
        }
        Ok(())
    }
}

async fn accept_loop(listener: TcpListener, shared: Arc<Shared>, slot: usize) {
    let mut builder = auto::Builder::new(TokioExecutor::new());
    // A response's head and body go out in one buffer (one plain write) rather than as
    // separate pieces of a `writev`: 4-6 % less CPU per proxied request of a small body,
    // measured interleaved (docs/performance.md).
    builder.http1().writev(false);
    let builder = Arc::new(builder);
    loop {
        let (stream, client_addr) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(err) => {
                // Out of file descriptors and the like: back off instead of spinning.
                tracing::warn!(error = %err, "accept failed");
                tokio::time::sleep(Duration::from_millis(20)).await;
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let shared = Arc::clone(&shared);
        let builder = Arc::clone(&builder);
        tokio::spawn(async move {
            // TCP router, plain HTTP or HTTPS is decided from the first bytes, with the
            // routers, certificates and options current when the connection arrived.
            let generation = shared.current.load_full();
            let accepted = crate::tcp::accept(&generation, slot, stream, client_addr).await;
            drop(generation);
            let Some(accepted) = accepted else { return };
            let tls_option = accepted.tls_option.clone();
            let connection = Connection {
                client_addr,
                client_ip: crate::upstream::ip_header_value(client_addr.ip()),
                entry_point: Arc::clone(&shared.entry_point_names[slot]),
                tls: accepted.is_tls(),
            };
            let service = service_fn(move |req: hyper::Request<Incoming>| {
                // One atomic load per request; the request keeps its generation to the end.
                let generation = shared.current.load_full();
                // Routed at once: the future below then holds only what the response needs.
                let misdirected =
                    crate::tls::misdirected(&generation.tls, slot, tls_option.as_deref(), &req);
                let dispatched = match misdirected {
                    Some(response) => Dispatched::Ready(response),
                    None => {
                        let (parts, body) = req.into_parts();
                        let body = request_body(&parts, body);
                        let table = &generation.tables[slot];
                        dispatch(table, parts, body, &connection, &shared.access_log)
                    }
                };
                let shared = Arc::clone(&shared);
                async move {
                    let response = match dispatched {
                        Dispatched::Ready(response) => response,
                        Dispatched::Pending(pending) => pending.finish(&shared.access_log).await,
                    };
                    drop(generation);
                    Ok::<_, Infallible>(response)
                }
            });
            if let Err(err) = builder
                .serve_connection_with_upgrades(TokioIo::new(accepted.io), service)
                .await
            {
                tracing::debug!(client = %client_addr, error = %err, "connection ended with an error");
            }
        });
    }
}

/// The request body as the proxy's body type. A body that is already over (a GET on HTTP/1)
/// becomes the empty body, whose box needs no allocation, unlike hyper's. HTTP/2 bodies are
/// kept as they are: theirs is tied to the stream.
fn request_body(parts: &http::request::Parts, incoming: Incoming) -> body::Body {
    if parts.version < http::Version::HTTP_2 && incoming.is_end_stream() {
        body::empty()
    } else {
        body::boxed(incoming)
    }
}
