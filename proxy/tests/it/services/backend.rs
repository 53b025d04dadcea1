//! In-process hyper backends on 127.0.0.1 that record what they receive.
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use futures::FutureExt;
use futures::future::BoxFuture;
use http::{HeaderMap, Method, Request, Response, Version};
use http_body_util::BodyExt;
use hyper::body::Incoming;
use hyper::upgrade::OnUpgrade;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use mesh_proxy::body::{self, Body};
use tokio::net::TcpListener;

/// What a backend saw of one request.
#[derive(Debug, Clone)]
pub struct Seen {
    pub method: Method,
    pub path: String,
    pub version: Version,
    pub headers: HeaderMap,
    pub body: Bytes,
}

pub type Handler =
    Arc<dyn Fn(Seen, Option<OnUpgrade>) -> BoxFuture<'static, Response<Body>> + Send + Sync>;

pub struct Backend {
    pub url: String,
    requests: Arc<Mutex<Vec<Seen>>>,
    connections: Arc<AtomicUsize>,
    /// Connections that ended (either side closed them).
    closed: Arc<AtomicUsize>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Backend {
    fn drop(&mut self) {
        self.task.abort();
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    /// HTTP/1.1 and h2c with prior knowledge.
    Auto,
    Http2Only,
}

impl Backend {
    /// Answers 200 with its `name` as body and in `x-backend`.
    pub async fn named(name: &'static str) -> Backend {
        Backend::start(handler(move |_, _| async move { text(200, name) })).await
    }

    pub async fn start(handler: Handler) -> Backend {
        Backend::start_with(Protocol::Auto, None, handler).await
    }

    pub async fn start_with(
        protocol: Protocol,
        tls: Option<Arc<rustls::ServerConfig>>,
        handler: Handler,
    ) -> Backend {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind backend");
        let addr: SocketAddr = listener.local_addr().expect("local addr");
        let scheme = match (&tls, protocol) {
            (Some(_), _) => "https",
            (None, Protocol::Http2Only) => "h2c",
            (None, Protocol::Auto) => "http",
        };
        let requests = Arc::new(Mutex::new(Vec::new()));
        let connections = Arc::new(AtomicUsize::new(0));
        let closed = Arc::new(AtomicUsize::new(0));
        let task = tokio::spawn(serve(
            listener,
            protocol,
            tls.map(tokio_rustls::TlsAcceptor::from),
            handler,
            Arc::clone(&requests),
            [Arc::clone(&connections), Arc::clone(&closed)],
        ));
        Backend {
            url: format!("{scheme}://{addr}"),
            requests,
            connections,
            closed,
            task,
        }
    }

    pub fn requests(&self) -> Vec<Seen> {
        self.requests.lock().expect("lock").clone()
    }

    pub fn count(&self) -> usize {
        self.requests.lock().expect("lock").len()
    }

    /// Requests whose path starts with `prefix`.
    pub fn count_path(&self, prefix: &str) -> usize {
        let requests = self.requests.lock().expect("lock");
        requests
            .iter()
            .filter(|seen| seen.path.starts_with(prefix))
            .count()
    }

    pub fn connections(&self) -> usize {
        self.connections.load(Ordering::SeqCst)
    }

    pub fn closed_connections(&self) -> usize {
        self.closed.load(Ordering::SeqCst)
    }
}

async fn serve(
    listener: TcpListener,
    protocol: Protocol,
    tls: Option<tokio_rustls::TlsAcceptor>,
    handler: Handler,
    requests: Arc<Mutex<Vec<Seen>>>,
    [connections, closed]: [Arc<AtomicUsize>; 2],
) {
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            return;
        };
        connections.fetch_add(1, Ordering::SeqCst);
        let handler = Arc::clone(&handler);
        let requests = Arc::clone(&requests);
        let tls = tls.clone();
        let closed = Arc::clone(&closed);
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |mut req: Request<Incoming>| {
                let handler = Arc::clone(&handler);
                let requests = Arc::clone(&requests);
                async move {
                    let upgrade = req.extensions_mut().remove::<OnUpgrade>();
                    let (parts, body) = req.into_parts();
                    let body = body
                        .collect()
                        .await
                        .map(|b| b.to_bytes())
                        .unwrap_or_default();
                    let seen = Seen {
                        method: parts.method,
                        path: parts
                            .uri
                            .path_and_query()
                            .map(|pq| pq.to_string())
                            .unwrap_or_default(),
                        version: parts.version,
                        headers: parts.headers,
                        body,
                    };
                    requests.lock().expect("lock").push(seen.clone());
                    Ok::<_, Infallible>(handler(seen, upgrade).await)
                }
            });
            let mut builder = auto::Builder::new(TokioExecutor::new());
            if protocol == Protocol::Http2Only {
                builder = builder.http2_only();
            }
            match tls {
                Some(acceptor) => {
                    if let Ok(stream) = acceptor.accept(stream).await {
                        let _ = builder
                            .serve_connection_with_upgrades(TokioIo::new(stream), service)
                            .await;
                    }
                }
                None => {
                    let _ = builder
                        .serve_connection_with_upgrades(TokioIo::new(stream), service)
                        .await;
                }
            }
            closed.fetch_add(1, Ordering::SeqCst);
        });
    }
}

pub fn handler<F, Fut>(f: F) -> Handler
where
    F: Fn(Seen, Option<OnUpgrade>) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = Response<Body>> + Send + 'static,
{
    Arc::new(move |seen, upgrade| f(seen, upgrade).boxed())
}

pub fn text(status: u16, text: impl Into<Bytes>) -> Response<Body> {
    let text = text.into();
    Response::builder()
        .status(status)
        .header("x-backend", String::from_utf8_lossy(&text).into_owned())
        .body(body::full(text))
        .expect("valid response")
}
