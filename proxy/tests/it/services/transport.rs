//! Servers transports: HTTPS with a generated CA, insecureSkipVerify, h2c, HTTP/2 by ALPN,
//! streaming responses and protocol upgrades.
use std::convert::Infallible;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use futures::channel::mpsc;
use http::StatusCode;
use http_body::Frame;
use http_body_util::{BodyExt, StreamBody};
use hyper_util::rt::TokioIo;
use mesh_proxy::body;
use mesh_proxy::service::Services;
use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, IsCa, KeyPair};
use rustls::pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::backend::{Backend, Protocol, handler, text};
use super::{build, call, context, get, try_build};

struct Pki {
    ca_pem: String,
    server: Arc<rustls::ServerConfig>,
    /// Same certificate, but the server demands a client certificate from the CA.
    server_mtls: Arc<rustls::ServerConfig>,
    client_cert_pem: String,
    client_key_pem: String,
}

/// A CA and a server certificate for `backend.test` signed by it.
fn pki() -> Pki {
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).expect("ca params");
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca =
        CertifiedIssuer::self_signed(ca_params, KeyPair::generate().expect("ca key")).expect("ca");
    let leaf_key = KeyPair::generate().expect("leaf key");
    let leaf = CertificateParams::new(vec!["backend.test".to_owned()])
        .expect("leaf params")
        .signed_by(&leaf_key, &ca)
        .expect("leaf");
    let client_key = KeyPair::generate().expect("client key");
    let client = CertificateParams::new(vec!["client.test".to_owned()])
        .expect("client params")
        .signed_by(&client_key, &ca)
        .expect("client cert");
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let key = || PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(leaf_key.serialize_der()));
    let builder = || {
        rustls::ServerConfig::builder_with_provider(Arc::clone(&provider))
            .with_safe_default_protocol_versions()
            .expect("versions")
    };
    let mut server = builder()
        .with_no_client_auth()
        .with_single_cert(vec![leaf.der().clone()], key())
        .expect("server config");
    server.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    let mut roots = rustls::RootCertStore::empty();
    roots.add(ca.der().clone()).expect("ca root");
    let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(
        Arc::new(roots),
        Arc::clone(&provider),
    )
    .build()
    .expect("client verifier");
    let server_mtls = builder()
        .with_client_cert_verifier(verifier)
        .with_single_cert(vec![leaf.der().clone()], key())
        .expect("mtls server config");
    Pki {
        ca_pem: ca.pem(),
        server: Arc::new(server),
        server_mtls: Arc::new(server_mtls),
        client_cert_pem: client.pem(),
        client_key_pem: client_key.serialize_pem(),
    }
}

async fn echo_version() -> super::backend::Handler {
    handler(|seen, _| async move { text(200, format!("{:?}", seen.version)) })
}

#[tokio::test]
async fn https_upstream_verified_against_a_private_ca() {
    let pki = pki();
    let backend = Backend::start_with(
        Protocol::Auto,
        Some(Arc::clone(&pki.server)),
        echo_version().await,
    )
    .await;
    let (services, errors) = try_build(json!({
        "services": {
            "trusted": {"loadBalancer": {"servers": [{"url": backend.url}], "serversTransport": "private-ca"}},
            "trusted-h1": {"loadBalancer": {"servers": [{"url": backend.url}], "serversTransport": "private-ca-h1"}},
            "untrusted": {"loadBalancer": {"servers": [{"url": backend.url}]}},
            "insecure": {"loadBalancer": {"servers": [{"url": backend.url}], "serversTransport": "insecure"}},
            "wrong-name": {"loadBalancer": {"servers": [{"url": backend.url}], "serversTransport": "wrong-name"}},
        },
        "serversTransports": {
            "private-ca": {"serverName": "backend.test", "rootCAs": [pki.ca_pem]},
            "private-ca-h1": {"serverName": "backend.test", "rootCAs": [pki.ca_pem], "disableHTTP2": true},
            "insecure": {"insecureSkipVerify": true},
            "wrong-name": {"serverName": "other.test", "rootCAs": [pki.ca_pem]},
        },
    }));
    assert!(errors.is_empty(), "{errors:?}");
    let answer = call(&services, "trusted", get("/")).await;
    assert_eq!(
        (answer.status, answer.text()),
        (StatusCode::OK, "HTTP/2.0"),
        "ALPN picks h2"
    );
    assert_eq!(
        call(&services, "trusted-h1", get("/")).await.text(),
        "HTTP/1.1"
    );
    assert_eq!(
        call(&services, "insecure", get("/")).await.status,
        StatusCode::OK
    );
    // Unknown issuer and name mismatch: the handshake fails, the client gets a 502.
    assert_eq!(
        call(&services, "untrusted", get("/")).await.status,
        StatusCode::BAD_GATEWAY
    );
    assert_eq!(
        call(&services, "wrong-name", get("/")).await.status,
        StatusCode::BAD_GATEWAY
    );
    assert_eq!(backend.count(), 3);
}

#[tokio::test]
async fn client_certificates_are_presented_for_mutual_tls() {
    let pki = pki();
    let backend = Backend::start_with(
        Protocol::Auto,
        Some(Arc::clone(&pki.server_mtls)),
        echo_version().await,
    )
    .await;
    let services = build(json!({
        "services": {
            "with-cert": {"loadBalancer": {"servers": [{"url": backend.url}], "serversTransport": "mtls"}},
            "without-cert": {"loadBalancer": {"servers": [{"url": backend.url}], "serversTransport": "plain"}},
        },
        "serversTransports": {
            "mtls": {"serverName": "backend.test", "rootCAs": [pki.ca_pem],
                     "certificates": [{"certFile": pki.client_cert_pem, "keyFile": pki.client_key_pem}]},
            "plain": {"serverName": "backend.test", "rootCAs": [pki.ca_pem]},
        },
    }));
    assert_eq!(
        call(&services, "with-cert", get("/")).await.status,
        StatusCode::OK
    );
    assert_eq!(
        call(&services, "without-cert", get("/")).await.status,
        StatusCode::BAD_GATEWAY
    );
    assert_eq!(backend.count(), 1);
}

#[tokio::test]
async fn broken_transport_fails_every_service_using_it() {
    let (services, errors) = try_build(json!({
        "services": {
            "a": {"loadBalancer": {"servers": [{"url": "https://127.0.0.1:1"}], "serversTransport": "bad"}},
            "b": {"loadBalancer": {"servers": [{"url": "https://127.0.0.1:1"}], "serversTransport": "bad"}},
        },
        "serversTransports": {"bad": {"rootCAs": ["-----BEGIN CERTIFICATE-----\n!!\n-----END CERTIFICATE-----\n"], "minVersion": "VersionTLS12"}},
    }));
    assert_eq!(errors.len(), 2);
    for error in &errors {
        assert!(
            error
                .to_string()
                .contains("serversTransport `bad`: invalid PEM"),
            "{error}"
        );
    }
    assert!(services.get("a").is_none() && services.get("b").is_none());
}

#[tokio::test]
async fn h2c_upstream_speaks_http2_in_clear() {
    let backend = Backend::start_with(Protocol::Http2Only, None, echo_version().await).await;
    assert!(backend.url.starts_with("h2c://"));
    let services =
        build(json!({"services": {"svc": {"loadBalancer": {"servers": [{"url": backend.url}]}}}}));
    let answer = call(&services, "svc", get("/")).await;
    assert_eq!((answer.status, answer.text()), (StatusCode::OK, "HTTP/2.0"));
}

#[tokio::test]
async fn streamed_chunks_reach_the_client_before_the_body_ends() {
    let (sender, receiver) = mpsc::unbounded::<Result<Frame<Bytes>, Infallible>>();
    let receiver = Arc::new(Mutex::new(Some(receiver)));
    let backend = Backend::start(handler(move |_, _| {
        let receiver = receiver.lock().expect("lock").take();
        async move {
            match receiver {
                Some(receiver) => http::Response::new(body::boxed(StreamBody::new(receiver))),
                None => text(500, "stream already taken"),
            }
        }
    }))
    .await;
    let services = build(json!({"services": {"svc": {"loadBalancer": {
        "servers": [{"url": backend.url}], "responseForwarding": {"flushInterval": "1s"}
    }}}}));
    sender
        .unbounded_send(Ok(Frame::data(Bytes::from_static(b"first"))))
        .expect("send");
    let service = services.get("svc").expect("built");
    let response = service.call(get("/events"), &context()).await;
    let mut body = response.into_body();
    // The backend has not finished: this frame can only come from forwarding as it arrives.
    let frame = body.frame().await.expect("a frame").expect("no error");
    assert_eq!(frame.into_data().ok(), Some(Bytes::from_static(b"first")));
    sender
        .unbounded_send(Ok(Frame::data(Bytes::from_static(b"second"))))
        .expect("send");
    drop(sender);
    let rest = body.collect().await.expect("rest").to_bytes();
    assert_eq!(rest, "second");
}

#[tokio::test]
async fn upgrades_are_spliced_end_to_end() {
    let backend = Backend::start(handler(|_, upgrade| async move {
        if let Some(upgrade) = upgrade {
            tokio::spawn(async move {
                if let Ok(upgraded) = upgrade.await {
                    let mut io = TokioIo::new(upgraded);
                    let mut buffer = [0u8; 64];
                    while let Ok(read) = io.read(&mut buffer).await {
                        if read == 0 || io.write_all(&buffer[..read]).await.is_err() {
                            break;
                        }
                    }
                }
            });
        }
        http::Response::builder()
            .status(StatusCode::SWITCHING_PROTOCOLS)
            .header(http::header::CONNECTION, "upgrade")
            .header(http::header::UPGRADE, "echo")
            .body(body::empty())
            .expect("response")
    }))
    .await;
    let services = Arc::new(build(
        json!({"services": {"svc": {"loadBalancer": {"servers": [{"url": backend.url}]}}}}),
    ));
    let front = front_server(Arc::clone(&services)).await;

    let mut client = tokio::net::TcpStream::connect(front)
        .await
        .expect("connect");
    client
        .write_all(b"GET /ws HTTP/1.1\r\nHost: example.com\r\nConnection: Upgrade\r\nUpgrade: echo\r\n\r\n")
        .await
        .expect("write");
    let mut head = Vec::new();
    while !head.ends_with(b"\r\n\r\n") {
        let mut byte = [0u8; 1];
        assert_eq!(
            client.read(&mut byte).await.expect("read"),
            1,
            "connection closed early"
        );
        head.push(byte[0]);
    }
    let head = String::from_utf8_lossy(&head).to_lowercase();
    assert!(head.starts_with("http/1.1 101"), "{head}");
    assert!(head.contains("upgrade: echo"), "{head}");
    client.write_all(b"ping").await.expect("write");
    let mut echoed = [0u8; 4];
    client.read_exact(&mut echoed).await.expect("echo");
    assert_eq!(&echoed, b"ping");
    let seen = backend.requests().pop().expect("request");
    assert_eq!(seen.headers[http::header::UPGRADE], "echo");
    assert_eq!(seen.headers["x-forwarded-proto"], "ws");
}

/// A minimal HTTP/1.1 front (upgrades on) handing every request to the `svc` service.
async fn front_server(services: Arc<Services>) -> std::net::SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let services = Arc::clone(&services);
            tokio::spawn(async move {
                let service =
                    hyper::service::service_fn(move |req: http::Request<hyper::body::Incoming>| {
                        let services = Arc::clone(&services);
                        async move {
                            let service = services.get("svc").expect("built");
                            Ok::<_, Infallible>(
                                service.call(req.map(body::boxed), &context()).await,
                            )
                        }
                    });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .with_upgrades()
                    .await;
            });
        }
    });
    addr
}
