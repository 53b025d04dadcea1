//! Shared helpers of the proxy tests: a started proxy on loopback, echo backends, clients.
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;

use bytes::Bytes;
use http::{HeaderMap, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use mesh_proxy::body::{self, Body};
use mesh_proxy::config::{EntryPoint, StaticConfig};
use mesh_proxy::{Config, Proxy, RunningProxy};
use tokio::net::TcpListener;

/// A proxy listening on an ephemeral loopback port (entry point `web`), admin API included.
pub struct TestProxy {
    pub proxy: Proxy,
    pub running: RunningProxy,
}

impl TestProxy {
    pub async fn start() -> TestProxy {
        TestProxy::start_with(|_| {}).await
    }

    /// A proxy writing its access log to a fresh file named after `name` (read it with
    /// [`access_log_lines`]); `by_default` is the static `accessLogs` default.
    pub async fn with_access_log(name: &str, by_default: bool) -> (TestProxy, std::path::PathBuf) {
        let path = std::env::temp_dir().join(format!("mesh-{name}-{}.log", std::process::id()));
        let _ = std::fs::remove_file(&path);
        let log_path = path.clone();
        let proxy = TestProxy::start_with(move |static_config| {
            static_config.access_log_path = Some(log_path);
            static_config.access_logs = by_default;
        })
        .await;
        (proxy, path)
    }

    pub async fn start_with(adjust: impl FnOnce(&mut StaticConfig)) -> TestProxy {
        let mut static_config = StaticConfig {
            admin_address: Some(SocketAddr::from(([127, 0, 0, 1], 0))),
            // Keep test output clean; the access log test sets its own file.
            access_log_path: Some("/dev/null".into()),
            ..StaticConfig::default()
        };
        let (name, web) = EntryPoint::parse_named("web=127.0.0.1:0").expect("valid entry point");
        static_config.entry_points.insert(name, web);
        adjust(&mut static_config);
        let proxy = Proxy::new(static_config);
        let running = proxy.start().await.expect("proxy starts");
        TestProxy { proxy, running }
    }

    pub fn web(&self) -> SocketAddr {
        self.running
            .entry_point("web")
            .expect("web entry point is bound")
    }

    pub fn admin(&self) -> SocketAddr {
        self.running.admin().expect("admin API is bound")
    }

    /// Applies a YAML configuration.
    pub fn apply_yaml(&self, yaml: &str) -> Arc<mesh_proxy::ApplyReport> {
        let config = Config::from_yaml(yaml).expect("test configuration parses");
        self.proxy.apply(config)
    }
}

impl Drop for TestProxy {
    fn drop(&mut self) {
        self.running.stop_accepting();
    }
}

/// A backend answering `"{name} {METHOD} {path?query}"` with `x-backend: name` and echoing
/// `x-forwarded-prefix` / `x-replaced-path` / `x-team` back as `seen-*` headers.
pub struct EchoBackend {
    pub addr: SocketAddr,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for EchoBackend {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl EchoBackend {
    pub async fn start(name: &'static str) -> EchoBackend {
        serve_backend(move |req: Request<Incoming>| async move { Ok(echo(name, &req)) }).await
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }
}

fn echo(name: &str, req: &Request<Incoming>) -> Response<Body> {
    let text = format!(
        "{name} {} {}",
        req.method(),
        req.uri().path_and_query().map_or("/", |pq| pq.as_str())
    );
    let mut res = Response::new(body::full(text));
    res.headers_mut()
        .insert("x-backend", name.parse().expect("header value"));
    for (from, to) in [
        ("x-forwarded-prefix", "seen-forwarded-prefix"),
        ("x-replaced-path", "seen-replaced-path"),
        ("x-team", "seen-team"),
    ] {
        if let Some(value) = req.headers().get(from) {
            res.headers_mut().insert(to, value.clone());
        }
    }
    res
}

/// Serves `handler` on an ephemeral loopback port (HTTP/1.1 and h2c, with upgrades).
pub async fn serve_backend<F, Fut>(handler: F) -> EchoBackend
where
    F: Fn(Request<Incoming>) -> Fut + Clone + Send + Sync + 'static,
    Fut: std::future::Future<Output = Result<Response<Body>, Infallible>> + Send + 'static,
{
    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .expect("backend binds");
    let addr = listener.local_addr().expect("backend address");
    let task = tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            let handler = handler.clone();
            tokio::spawn(async move {
                let service = hyper::service::service_fn(handler);
                let _ = auto::Builder::new(TokioExecutor::new())
                    .serve_connection_with_upgrades(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    EchoBackend { addr, task }
}

pub type TestClient = Client<HttpConnector, Full<Bytes>>;

pub fn http1_client() -> TestClient {
    Client::builder(TokioExecutor::new()).build_http()
}

pub fn h2c_client() -> TestClient {
    Client::builder(TokioExecutor::new())
        .http2_only(true)
        .build_http()
}

pub struct Answer {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: String,
}

/// GET `path` on `addr` with a Host header.
pub async fn get(client: &TestClient, addr: SocketAddr, host: &str, path: &str) -> Answer {
    let req = Request::get(format!("http://{addr}{path}"))
        .header(http::header::HOST, host)
        .body(Full::new(Bytes::new()))
        .expect("valid request");
    send(client, req).await
}

pub async fn send(client: &TestClient, req: Request<Full<Bytes>>) -> Answer {
    let res = client.request(req).await.expect("request gets a response");
    let (parts, body) = res.into_parts();
    let body = body.collect().await.expect("body arrives").to_bytes();
    Answer {
        status: parts.status,
        headers: parts.headers,
        body: String::from_utf8_lossy(&body).into_owned(),
    }
}

/// GET a JSON document from the admin API.
pub async fn admin_json(proxy: &TestProxy, path: &str) -> (StatusCode, serde_json::Value) {
    let answer = get(&http1_client(), proxy.admin(), "localhost", path).await;
    let value = serde_json::from_str(&answer.body).unwrap_or(serde_json::Value::Null);
    (answer.status, value)
}

/// The JSON lines of the access log at `path` (and its text), once the writer, which runs
/// off the request path, has written at least one whole line; the file is removed.
pub async fn access_log_lines(path: &std::path::Path) -> (String, Vec<serde_json::Value>) {
    let mut text = String::new();
    for _ in 0..500 {
        text = std::fs::read_to_string(path).unwrap_or_default();
        if text.ends_with('\n') {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    let _ = std::fs::remove_file(path);
    let lines = text
        .lines()
        .map(|line| serde_json::from_str(line).expect("JSON line"))
        .collect();
    (text, lines)
}
