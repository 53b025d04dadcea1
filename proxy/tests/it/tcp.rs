//! TCP routers through real sockets: plain `HostSNI(`*`)` (server-first protocols included),
//! TLS passthrough, TLS termination, weighted services, TCP and HTTP on one entry point,
//! middlewares, and what a client sees when a route cannot serve.
use std::net::SocketAddr;
use std::sync::Arc;

use mesh_proxy::Config;
use mesh_proxy::config::EntryPoint;
use mesh_proxy::config::tls::Certificate;
use rcgen::{CertificateParams, KeyPair};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, ServerName};
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::{TlsAcceptor, TlsConnector};

use crate::support::{EchoBackend, TestProxy, get, http1_client};

/// A TCP server that greets with `"{name}\n"` as soon as a client connects (like SMTP or
/// MySQL), then echoes every line back prefixed with its name. With `tls`, it speaks TLS.
struct LineServer {
    addr: SocketAddr,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for LineServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl LineServer {
    async fn start(name: &'static str, tls: Option<TlsAcceptor>) -> LineServer {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("backend binds");
        let addr = listener.local_addr().expect("backend address");
        let task = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                let tls = tls.clone();
                tokio::spawn(async move {
                    match tls {
                        None => serve_lines(name, stream).await,
                        Some(acceptor) => {
                            if let Ok(stream) = acceptor.accept(stream).await {
                                serve_lines(name, stream).await;
                            }
                        }
                    }
                });
            }
        });
        LineServer { addr, task }
    }

    fn address(&self) -> String {
        self.addr.to_string()
    }
}

async fn serve_lines<S: AsyncRead + AsyncWrite + Unpin>(name: &str, stream: S) {
    let mut stream = BufReader::new(stream);
    if stream
        .get_mut()
        .write_all(format!("{name}\n").as_bytes())
        .await
        .is_err()
    {
        return;
    }
    let _ = stream.get_mut().flush().await;
    let mut line = String::new();
    while matches!(stream.read_line(&mut line).await, Ok(n) if n > 0) {
        let answer = format!("{name}: {line}");
        if stream.get_mut().write_all(answer.as_bytes()).await.is_err() {
            return;
        }
        let _ = stream.get_mut().flush().await;
        line.clear();
    }
}

/// Reads the greeting, sends one line and reads the answer. `None` when the proxy closed the
/// connection instead.
async fn talk<S: AsyncRead + AsyncWrite + Unpin>(
    stream: S,
    line: &str,
) -> Option<(String, String)> {
    let mut stream = BufReader::new(stream);
    let mut greeting = String::new();
    if stream.read_line(&mut greeting).await.ok()? == 0 {
        return None;
    }
    stream
        .get_mut()
        .write_all(format!("{line}\n").as_bytes())
        .await
        .ok()?;
    stream.get_mut().flush().await.ok()?;
    let mut answer = String::new();
    if stream.read_line(&mut answer).await.ok()? == 0 {
        return None;
    }
    Some((greeting.trim_end().to_owned(), answer.trim_end().to_owned()))
}

struct SelfSigned {
    pem_cert: String,
    pem_key: String,
    der: CertificateDer<'static>,
    key_der: Vec<u8>,
}

fn self_signed(name: &str) -> SelfSigned {
    let key = KeyPair::generate().expect("key");
    let cert = CertificateParams::new(vec![name.to_owned()])
        .expect("params")
        .self_signed(&key)
        .expect("cert");
    SelfSigned {
        pem_cert: cert.pem(),
        pem_key: key.serialize_pem(),
        der: cert.der().clone(),
        key_der: key.serialize_der(),
    }
}

fn acceptor(cert: &SelfSigned) -> TlsAcceptor {
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .expect("versions")
    .with_no_client_auth()
    .with_single_cert(
        vec![cert.der.clone()],
        PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(cert.key_der.clone())),
    )
    .expect("server config");
    TlsAcceptor::from(Arc::new(config))
}

/// A client trusting exactly `cert`: the handshake proves who terminated TLS.
fn connector(cert: &SelfSigned) -> TlsConnector {
    let mut roots = rustls::RootCertStore::empty();
    roots.add(cert.der.clone()).expect("root");
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .expect("versions")
    .with_root_certificates(roots)
    .with_no_client_auth();
    TlsConnector::from(Arc::new(config))
}

async fn tls_connect(
    addr: SocketAddr,
    name: &str,
    trusted: &SelfSigned,
) -> std::io::Result<tokio_rustls::client::TlsStream<TcpStream>> {
    let tcp = TcpStream::connect(addr).await?;
    connector(trusted)
        .connect(
            ServerName::try_from(name.to_owned()).expect("server name"),
            tcp,
        )
        .await
}

async fn start_with_db() -> TestProxy {
    TestProxy::start_with(|config| {
        let (name, db) = EntryPoint::parse_named("db=127.0.0.1:0").expect("entry point");
        config.entry_points.insert(name, db);
    })
    .await
}

fn db(proxy: &TestProxy) -> SocketAddr {
    proxy
        .running
        .entry_point("db")
        .expect("db entry point is bound")
}

fn apply(proxy: &TestProxy, yaml: &str) -> Config {
    let config = Config::from_yaml(yaml).expect("test configuration parses");
    proxy.proxy.apply(config.clone());
    config
}

#[tokio::test]
async fn a_catch_all_router_forwards_plain_tcp_even_when_the_server_speaks_first() {
    let backend = LineServer::start("smtp", None).await;
    let proxy = start_with_db().await;
    apply(
        &proxy,
        &format!(
            "tcp:\n  routers:\n    mail: {{rule: \"HostSNI(`*`)\", service: mail, entryPoints: [db]}}\n  services:\n    mail: {{loadBalancer: {{servers: [{{address: \"{}\"}}]}}}}\n",
            backend.address()
        ),
    );
    let report = proxy.proxy.current();
    assert!(
        report.tcp.routers["mail"].errors.is_empty(),
        "{:?}",
        report.tcp.routers
    );

    // The client sends nothing before the greeting arrives: routing needed no byte.
    let stream = TcpStream::connect(db(&proxy)).await.expect("connect");
    let (greeting, answer) = talk(stream, "HELO me").await.expect("forwarded");
    assert_eq!(
        (greeting.as_str(), answer.as_str()),
        ("smtp", "smtp: HELO me")
    );
}

#[tokio::test]
async fn passthrough_forwards_the_encrypted_bytes_and_termination_decrypts_them() {
    let pg_cert = self_signed("pg.example.test");
    let pg = LineServer::start("pg", Some(acceptor(&pg_cert))).await;
    let redis = LineServer::start("redis", None).await;
    let proxy = start_with_db().await;
    let proxy_cert = self_signed("redis.example.test");
    let mut config = Config::from_yaml(&format!(
        r#"
tcp:
  routers:
    pg: {{rule: "HostSNI(`pg.example.test`)", service: pg, entryPoints: [db], tls: {{passthrough: true}}}}
    redis: {{rule: "HostSNI(`redis.example.test`)", service: redis, entryPoints: [db], tls: {{}}}}
  services:
    pg: {{loadBalancer: {{servers: [{{address: "{}"}}]}}}}
    redis: {{loadBalancer: {{servers: [{{address: "{}"}}]}}}}
"#,
        pg.address(),
        redis.address()
    ))
    .expect("config");
    config.tls.certificates.push(Certificate {
        pair: mesh_proxy::config::tls::CertificatePair {
            cert_file: proxy_cert.pem_cert.clone(),
            key_file: proxy_cert.pem_key.clone(),
            source: String::new(),
        },
        stores: Vec::new(),
    });
    proxy.proxy.apply(config);

    // Passthrough: the client completes its handshake with the backend's own certificate.
    let stream = tls_connect(db(&proxy), "pg.example.test", &pg_cert)
        .await
        .expect("handshake with the backend");
    assert_eq!(
        talk(stream, "SELECT 1").await,
        Some(("pg".into(), "pg: SELECT 1".into()))
    );

    // Termination: the proxy's certificate, and the plain-text backend gets clear bytes.
    let stream = tls_connect(db(&proxy), "redis.example.test", &proxy_cert)
        .await
        .expect("handshake with the proxy");
    assert_eq!(
        talk(stream, "PING").await,
        Some(("redis".into(), "redis: PING".into()))
    );

    // No router for this name and no HTTPS router: the handshake is the proxy's default one,
    // which a client trusting only the backend refuses.
    assert!(
        tls_connect(db(&proxy), "other.example.test", &pg_cert)
            .await
            .is_err()
    );
}

#[tokio::test]
async fn weighted_tcp_services_split_connections_by_weight() {
    let heavy = LineServer::start("heavy", None).await;
    let light = LineServer::start("light", None).await;
    let proxy = start_with_db().await;
    apply(
        &proxy,
        &format!(
            r#"
tcp:
  routers:
    split: {{rule: "HostSNI(`*`)", service: split, entryPoints: [db]}}
  services:
    split: {{weighted: {{services: [{{name: heavy, weight: 3}}, {{name: light, weight: 1}}]}}}}
    heavy: {{loadBalancer: {{servers: [{{address: "{}"}}]}}}}
    light: {{loadBalancer: {{servers: [{{address: "{}"}}]}}}}
"#,
            heavy.address(),
            light.address()
        ),
    );
    let mut light_count = 0;
    for _ in 0..8 {
        let stream = TcpStream::connect(db(&proxy)).await.expect("connect");
        let (greeting, _) = talk(stream, "hi").await.expect("forwarded");
        if greeting == "light" {
            light_count += 1;
        }
    }
    assert_eq!(light_count, 2, "weights 3:1 over 8 connections");
}

#[tokio::test]
async fn tcp_and_http_routers_share_an_entry_point() {
    let http_backend = EchoBackend::start("web").await;
    let pg_cert = self_signed("pg.example.test");
    let pg = LineServer::start("pg", Some(acceptor(&pg_cert))).await;
    let proxy = TestProxy::start().await;
    apply(
        &proxy,
        &format!(
            r#"
http:
  routers:
    site: {{rule: "Host(`site.example.test`)", service: site}}
  services:
    site: {{loadBalancer: {{servers: [{{url: "{}"}}]}}}}
tcp:
  routers:
    pg: {{rule: "HostSNI(`pg.example.test`)", service: pg, tls: {{passthrough: true}}}}
  services:
    pg: {{loadBalancer: {{servers: [{{address: "{}"}}]}}}}
"#,
            http_backend.url(),
            pg.address()
        ),
    );
    let client = http1_client();
    let answer = get(&client, proxy.web(), "site.example.test", "/").await;
    assert_eq!(answer.body, "web GET /");
    let stream = tls_connect(proxy.web(), "pg.example.test", &pg_cert)
        .await
        .expect("passthrough on web");
    assert_eq!(talk(stream, "q").await, Some(("pg".into(), "pg: q".into())));
}

#[tokio::test]
async fn refused_and_unreachable_routes_close_the_connection() {
    let backend = LineServer::start("secret", None).await;
    let unused = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let dead_address = unused.local_addr().expect("address").to_string();
    drop(unused);
    let proxy = start_with_db().await;
    let config = format!(
        r#"
tcp:
  routers:
    guarded: {{rule: "HostSNI(`*`)", service: secret, entryPoints: [db], middlewares: [elsewhere]}}
    sni-without-tls: {{rule: "HostSNI(`db.example.test`)", service: secret, entryPoints: [db]}}
  middlewares:
    elsewhere: {{ipAllowList: {{sourceRange: ["192.0.2.0/24"]}}}}
  services:
    secret: {{loadBalancer: {{servers: [{{address: "{}"}}]}}}}
"#,
        backend.address()
    );
    apply(&proxy, &config);
    let generation = proxy.proxy.current();
    assert_eq!(
        generation.tcp.routers["sni-without-tls"].errors[0].reason,
        "InvalidRule"
    );
    assert!(generation.tcp.routers["guarded"].errors.is_empty());
    let stream = TcpStream::connect(db(&proxy)).await.expect("connect");
    assert_eq!(
        talk(stream, "let me in").await,
        None,
        "127.0.0.1 is not in the allow list"
    );

    apply(
        &proxy,
        &config
            .replace(&backend.address(), &dead_address)
            .replace(", middlewares: [elsewhere]", ""),
    );
    let stream = TcpStream::connect(db(&proxy)).await.expect("connect");
    assert_eq!(talk(stream, "anyone?").await, None, "the server is down");

    apply(&proxy, &config.replace(", middlewares: [elsewhere]", ""));
    let stream = TcpStream::connect(db(&proxy)).await.expect("connect");
    assert_eq!(
        talk(stream, "now").await,
        Some(("secret".into(), "secret: now".into()))
    );
}

#[tokio::test]
async fn servers_that_speak_tls_are_dialed_with_the_transport_settings() {
    let backend_cert = self_signed("pg.example.test");
    let backend = LineServer::start("pg-tls", Some(acceptor(&backend_cert))).await;
    let other_cert = self_signed("pg.example.test");
    let proxy = start_with_db().await;
    let config = |ca: &str| {
        let ca = serde_json::to_string(ca).expect("PEM as a YAML string");
        format!(
            r#"
tcp:
  routers:
    pg: {{rule: "HostSNI(`*`)", service: pg, entryPoints: [db]}}
  services:
    pg: {{loadBalancer: {{servers: [{{address: "{}", tls: true}}], serversTransport: pg-tls}}}}
  serversTransports:
    pg-tls: {{tls: {{serverName: pg.example.test, rootCAs: [{ca}]}}}}
"#,
            backend.address()
        )
    };
    apply(&proxy, &config(&backend_cert.pem_cert));
    let stream = TcpStream::connect(db(&proxy)).await.expect("connect");
    assert_eq!(
        talk(stream, "over tls").await,
        Some(("pg-tls".into(), "pg-tls: over tls".into()))
    );

    // A server whose certificate the transport does not trust gets no bytes.
    apply(&proxy, &config(&other_cert.pem_cert));
    let stream = TcpStream::connect(db(&proxy)).await.expect("connect");
    assert_eq!(talk(stream, "over tls").await, None);
}

#[tokio::test]
async fn servers_asking_for_the_proxy_protocol_learn_the_client_address() {
    // This server answers with the first line it receives: the PROXY header.
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let backend = listener.local_addr().expect("address");
    let server = tokio::spawn(async move {
        let (stream, _) = listener.accept().await.expect("accept");
        let mut stream = BufReader::new(stream);
        let mut line = String::new();
        stream.read_line(&mut line).await.expect("header line");
        stream
            .get_mut()
            .write_all(line.as_bytes())
            .await
            .expect("answer");
    });
    let proxy = start_with_db().await;
    apply(
        &proxy,
        &format!(
            r#"
tcp:
  routers:
    legacy: {{rule: "HostSNI(`*`)", service: legacy, entryPoints: [db]}}
  services:
    legacy: {{loadBalancer: {{servers: [{{address: "{backend}"}}], serversTransport: with-proxy}}}}
  serversTransports:
    with-proxy: {{proxyProtocol: {{version: 1}}}}
"#
        ),
    );
    let stream = TcpStream::connect(db(&proxy)).await.expect("connect");
    let client_port = stream.local_addr().expect("client address").port();
    let mut stream = BufReader::new(stream);
    let mut header = String::new();
    stream
        .read_line(&mut header)
        .await
        .expect("the header comes back");
    assert_eq!(
        header,
        format!(
            "PROXY TCP4 127.0.0.1 127.0.0.1 {client_port} {}\r\n",
            db(&proxy).port()
        )
    );
    server.await.expect("backend task");
}
