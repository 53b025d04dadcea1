//! TLS termination on entry points, through real rustls handshakes: certificate selection by
//! SNI, the default certificate, TLS options chosen by host (sniStrict, minVersion, client
//! auth, ALPN), the 421 guard, unknown options, and certificate hot swap.
use std::sync::Arc;

use bytes::Bytes;
use http::{Request, StatusCode, Version};
use http_body_util::{BodyExt, Empty};
use hyper_util::rt::{TokioExecutor, TokioIo};
use mesh_proxy::Config;
use mesh_proxy::config::tls::{Certificate, CertificatePair, ClientAuth, TlsOptions, TlsStore};
use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, IsCa, KeyPair};
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, SignatureScheme, SupportedProtocolVersion};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;

use crate::support::{EchoBackend, TestProxy, get, http1_client};

/// A test CA issuing server and client certificates.
struct Authority {
    issuer: CertifiedIssuer<'static, KeyPair>,
}

/// A PEM key pair and its leaf certificate in DER (to compare with what a handshake served).
struct Issued {
    pair: CertificatePair,
    leaf: CertificateDer<'static>,
    key_der: Vec<u8>,
}

impl Authority {
    fn new() -> Authority {
        let mut params = CertificateParams::new(Vec::<String>::new()).expect("ca params");
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        let issuer =
            CertifiedIssuer::self_signed(params, KeyPair::generate().expect("ca key")).expect("ca");
        Authority { issuer }
    }

    fn issue(&self, names: &[&str]) -> Issued {
        let key = KeyPair::generate().expect("leaf key");
        let names: Vec<String> = names.iter().map(|name| name.to_string()).collect();
        let cert = CertificateParams::new(names)
            .expect("leaf params")
            .signed_by(&key, &self.issuer)
            .expect("leaf");
        Issued {
            pair: CertificatePair {
                cert_file: cert.pem(),
                key_file: key.serialize_pem(),
                source: String::new(),
            },
            leaf: cert.der().clone(),
            key_der: key.serialize_der(),
        }
    }

    fn pem(&self) -> String {
        self.issuer.pem()
    }
}

/// Accepts any server certificate (signatures still checked): the tests look at which
/// certificate was served instead of trusting one.
#[derive(Debug)]
struct AnyServerCertificate(Arc<rustls::crypto::CryptoProvider>);

impl ServerCertVerifier for AnyServerCertificate {
    fn verify_server_cert(
        &self,
        _: &CertificateDer<'_>,
        _: &[CertificateDer<'_>],
        _: &ServerName<'_>,
        _: &[u8],
        _: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// What a test client offers.
#[derive(Default)]
struct ClientOptions<'a> {
    versions: Option<&'a [&'static SupportedProtocolVersion]>,
    alpn: &'a [&'a [u8]],
    identity: Option<&'a Issued>,
}

fn client_config(options: ClientOptions<'_>) -> Arc<ClientConfig> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let versions = options.versions.unwrap_or(rustls::DEFAULT_VERSIONS);
    let builder = ClientConfig::builder_with_provider(Arc::clone(&provider))
        .with_protocol_versions(versions)
        .expect("client versions")
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(AnyServerCertificate(provider)));
    let mut config = match options.identity {
        None => builder.with_no_client_auth(),
        Some(identity) => builder
            .with_client_auth_cert(
                vec![identity.leaf.clone()],
                PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(identity.key_der.clone())),
            )
            .expect("client certificate"),
    };
    config.alpn_protocols = options.alpn.iter().map(|p| p.to_vec()).collect();
    Arc::new(config)
}

async fn connect(
    proxy: &TestProxy,
    sni: &str,
    config: Arc<ClientConfig>,
) -> std::io::Result<TlsStream<TcpStream>> {
    let tcp = TcpStream::connect(proxy.web()).await?;
    let name = ServerName::try_from(sni.to_owned()).expect("valid server name");
    TlsConnector::from(config).connect(name, tcp).await
}

/// The leaf certificate a handshake with `sni` gets.
async fn served_certificate(proxy: &TestProxy, sni: &str) -> CertificateDer<'static> {
    let stream = connect(proxy, sni, client_config(ClientOptions::default()))
        .await
        .expect("handshake");
    stream
        .get_ref()
        .1
        .peer_certificates()
        .expect("server certificate")[0]
        .clone()
        .into_owned()
}

/// An HTTP/1.1 GET over TLS; any failure (handshake, alert, closed) is an `Err` with its text.
async fn fetch(
    proxy: &TestProxy,
    sni: &str,
    host: &str,
    config: Arc<ClientConfig>,
) -> Result<(StatusCode, String), String> {
    let stream = connect(proxy, sni, config)
        .await
        .map_err(|err| err.to_string())?;
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|err| err.to_string())?;
    tokio::spawn(connection);
    let request = Request::get("/")
        .header("host", host)
        .body(Empty::<Bytes>::new())
        .expect("request");
    let response = sender
        .send_request(request)
        .await
        .map_err(|err| err.to_string())?;
    let status = response.status();
    let body = response
        .into_body()
        .collect()
        .await
        .map_err(|err| err.to_string())?
        .to_bytes();
    Ok((status, String::from_utf8_lossy(&body).into_owned()))
}

fn routers_yaml(backend: &EchoBackend, routers: &str) -> Config {
    let yaml = format!(
        "http:\n  routers:\n{routers}\n  services:\n    app: {{loadBalancer: {{servers: [{{url: \"{}\"}}]}}}}\n",
        backend.url()
    );
    Config::from_yaml(&yaml).expect("test configuration parses")
}

fn add_certificate(config: &mut Config, issued: &Issued) {
    config.tls.certificates.push(Certificate {
        pair: issued.pair.clone(),
        stores: Vec::new(),
    });
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack
        .windows(needle.len())
        .any(|window| window == needle)
}

#[tokio::test]
async fn sni_picks_the_certificate_and_tls_routers_answer_only_on_tls() {
    let backend = EchoBackend::start("app").await;
    let proxy = TestProxy::start().await;
    let ca = Authority::new();
    let exact = ca.issue(&["api.example.test"]);
    let wildcard = ca.issue(&["*.apps.example.test"]);
    let mut config = routers_yaml(
        &backend,
        "    secure:\n      rule: Host(`api.example.test`) || HostRegexp(`^.+\\.apps\\.example\\.test$`)\n      service: app\n      tls: {}\n    plain:\n      rule: Host(`plain.example.test`)\n      service: app",
    );
    add_certificate(&mut config, &exact);
    add_certificate(&mut config, &wildcard);
    let report = proxy.proxy.apply(config);
    assert!(report.is_clean(), "{report:?}");

    assert_eq!(
        served_certificate(&proxy, "api.example.test").await,
        exact.leaf
    );
    assert_eq!(
        served_certificate(&proxy, "API.Example.Test").await,
        exact.leaf
    );
    assert_eq!(
        served_certificate(&proxy, "one.apps.example.test").await,
        wildcard.leaf
    );

    let plain_client = client_config(ClientOptions::default());
    let (status, body) = fetch(
        &proxy,
        "api.example.test",
        "api.example.test",
        Arc::clone(&plain_client),
    )
    .await
    .expect("HTTPS request");
    assert_eq!((status, body.as_str()), (StatusCode::OK, "app GET /"));
    let (status, _) = fetch(
        &proxy,
        "one.apps.example.test",
        "one.apps.example.test",
        Arc::clone(&plain_client),
    )
    .await
    .expect("HTTPS request");
    assert_eq!(status, StatusCode::OK);

    // A TLS router is not served over plain HTTP, and a plain router not over TLS.
    let client = http1_client();
    assert_eq!(
        get(&client, proxy.web(), "api.example.test", "/")
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        get(&client, proxy.web(), "plain.example.test", "/")
            .await
            .status,
        StatusCode::OK
    );
    let (status, _) = fetch(
        &proxy,
        "plain.example.test",
        "plain.example.test",
        plain_client,
    )
    .await
    .expect("HTTPS request");
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn unknown_server_names_get_the_default_certificate() {
    let backend = EchoBackend::start("app").await;
    let proxy = TestProxy::start().await;
    let ca = Authority::new();
    let known = ca.issue(&["known.example.test"]);
    let mut config = routers_yaml(
        &backend,
        "    secure:\n      rule: Host(`known.example.test`)\n      service: app\n      tls: {}",
    );
    add_certificate(&mut config, &known);
    proxy.proxy.apply(config.clone());

    let generated = served_certificate(&proxy, "unknown.example.test").await;
    assert_ne!(generated, known.leaf);
    assert!(
        contains(&generated, b"MESH DEFAULT CERT"),
        "the generated default certificate is served"
    );
    assert_eq!(
        served_certificate(&proxy, "other.example.test").await,
        generated
    );

    let fallback = ca.issue(&["fallback.example.test"]);
    config.tls.stores.insert(
        "default".into(),
        TlsStore {
            default_certificate: Some(fallback.pair.clone()),
            ..TlsStore::default()
        },
    );
    proxy.proxy.apply(config);
    assert_eq!(
        served_certificate(&proxy, "unknown.example.test").await,
        fallback.leaf
    );
    assert_eq!(
        served_certificate(&proxy, "known.example.test").await,
        known.leaf
    );
}

#[tokio::test]
async fn sni_strict_refuses_names_without_a_certificate() {
    let backend = EchoBackend::start("app").await;
    let proxy = TestProxy::start().await;
    let ca = Authority::new();
    let known = ca.issue(&["known.example.test"]);
    let mut config = routers_yaml(
        &backend,
        "    secure:\n      rule: Host(`known.example.test`)\n      service: app\n      tls: {}",
    );
    add_certificate(&mut config, &known);
    config.tls.options.insert(
        "default".into(),
        TlsOptions {
            sni_strict: true,
            ..TlsOptions::default()
        },
    );
    proxy.proxy.apply(config);

    let client = client_config(ClientOptions::default());
    let (status, _) = fetch(
        &proxy,
        "known.example.test",
        "known.example.test",
        Arc::clone(&client),
    )
    .await
    .expect("known name is served");
    assert_eq!(status, StatusCode::OK);
    let refused = connect(&proxy, "unknown.example.test", client).await;
    assert!(
        refused.is_err(),
        "sniStrict must refuse a name without a certificate"
    );
}

#[tokio::test]
async fn min_version_tls13_refuses_a_tls12_client_for_its_hosts_only() {
    let backend = EchoBackend::start("app").await;
    let proxy = TestProxy::start().await;
    let ca = Authority::new();
    let certificate = ca.issue(&["modern.example.test", "legacy.example.test"]);
    let mut config = routers_yaml(
        &backend,
        "    modern:\n      rule: Host(`modern.example.test`)\n      service: app\n      tls: {options: modern}\n    legacy:\n      rule: Host(`legacy.example.test`)\n      service: app\n      tls: {}",
    );
    add_certificate(&mut config, &certificate);
    config.tls.options.insert(
        "modern".into(),
        TlsOptions {
            min_version: "VersionTLS13".into(),
            ..TlsOptions::default()
        },
    );
    let report = proxy.proxy.apply(config);
    assert!(report.is_clean(), "{report:?}");

    let tls12 = client_config(ClientOptions {
        versions: Some(&[&rustls::version::TLS12]),
        ..ClientOptions::default()
    });
    let tls13 = client_config(ClientOptions {
        versions: Some(&[&rustls::version::TLS13]),
        ..ClientOptions::default()
    });
    assert!(
        connect(&proxy, "modern.example.test", Arc::clone(&tls12))
            .await
            .is_err(),
        "TLS 1.2 refused by minVersion TLS 1.3"
    );
    let (status, _) = fetch(&proxy, "modern.example.test", "modern.example.test", tls13)
        .await
        .expect("TLS 1.3 served");
    assert_eq!(status, StatusCode::OK);
    let stream = connect(&proxy, "legacy.example.test", tls12)
        .await
        .expect("the default option still serves TLS 1.2");
    assert_eq!(
        stream.get_ref().1.protocol_version(),
        Some(rustls::ProtocolVersion::TLSv1_2)
    );
}

#[tokio::test]
async fn required_client_certificates_are_verified_against_the_ca() {
    let backend = EchoBackend::start("app").await;
    let proxy = TestProxy::start().await;
    let server_ca = Authority::new();
    let client_ca = Authority::new();
    let stranger_ca = Authority::new();
    let mut config = routers_yaml(
        &backend,
        "    mtls:\n      rule: Host(`mtls.example.test`)\n      service: app\n      tls: {options: mtls}",
    );
    add_certificate(&mut config, &server_ca.issue(&["mtls.example.test"]));
    config.tls.options.insert(
        "mtls".into(),
        TlsOptions {
            client_auth: Some(ClientAuth {
                ca_files: vec![client_ca.pem()],
                client_auth_type: "RequireAndVerifyClientCert".into(),
            }),
            ..TlsOptions::default()
        },
    );
    let report = proxy.proxy.apply(config);
    assert!(report.is_clean(), "{report:?}");

    let host = "mtls.example.test";
    let anonymous = client_config(ClientOptions::default());
    assert!(
        fetch(&proxy, host, host, anonymous).await.is_err(),
        "no client certificate must fail"
    );

    let stranger = stranger_ca.issue(&["stranger.example.test"]);
    let untrusted = client_config(ClientOptions {
        identity: Some(&stranger),
        ..ClientOptions::default()
    });
    assert!(
        fetch(&proxy, host, host, untrusted).await.is_err(),
        "a certificate from another CA must fail"
    );

    let member = client_ca.issue(&["client.example.test"]);
    let trusted = client_config(ClientOptions {
        identity: Some(&member),
        ..ClientOptions::default()
    });
    let (status, body) = fetch(&proxy, host, host, trusted)
        .await
        .expect("a certificate from the CA is accepted");
    assert_eq!((status, body.as_str()), (StatusCode::OK, "app GET /"));
}

#[tokio::test]
async fn h2_is_negotiated_by_alpn() {
    let backend = EchoBackend::start("app").await;
    let proxy = TestProxy::start().await;
    let ca = Authority::new();
    let mut config = routers_yaml(
        &backend,
        "    secure:\n      rule: Host(`h2.example.test`)\n      service: app\n      tls: {}",
    );
    add_certificate(&mut config, &ca.issue(&["h2.example.test"]));
    proxy.proxy.apply(config);

    let client = client_config(ClientOptions {
        alpn: &[b"h2", b"http/1.1"],
        ..ClientOptions::default()
    });
    let stream = connect(&proxy, "h2.example.test", client)
        .await
        .expect("handshake");
    assert_eq!(stream.get_ref().1.alpn_protocol(), Some(&b"h2"[..]));
    let (mut sender, connection) =
        hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(stream))
            .await
            .expect("h2 handshake");
    tokio::spawn(connection);
    let request = Request::get("https://h2.example.test/over-h2")
        .body(Empty::<Bytes>::new())
        .expect("request");
    let response = sender.send_request(request).await.expect("h2 response");
    assert_eq!(
        (response.status(), response.version()),
        (StatusCode::OK, Version::HTTP_2)
    );
    let body = response
        .into_body()
        .collect()
        .await
        .expect("body")
        .to_bytes();
    assert_eq!(&body[..], b"app GET /over-h2");

    let http11 = client_config(ClientOptions {
        alpn: &[b"http/1.1"],
        ..ClientOptions::default()
    });
    let stream = connect(&proxy, "h2.example.test", http11)
        .await
        .expect("handshake");
    assert_eq!(stream.get_ref().1.alpn_protocol(), Some(&b"http/1.1"[..]));
}

#[tokio::test]
async fn a_request_for_a_host_of_another_tls_option_is_misdirected() {
    let backend = EchoBackend::start("app").await;
    let proxy = TestProxy::start().await;
    let ca = Authority::new();
    let mut config = routers_yaml(
        &backend,
        "    open:\n      rule: Host(`open.example.test`)\n      service: app\n      tls: {}\n    guarded:\n      rule: Host(`guarded.example.test`)\n      service: app\n      tls: {options: guarded}",
    );
    add_certificate(
        &mut config,
        &ca.issue(&["open.example.test", "guarded.example.test"]),
    );
    config.tls.options.insert(
        "guarded".into(),
        TlsOptions {
            client_auth: Some(ClientAuth {
                ca_files: vec![ca.pem()],
                client_auth_type: "RequireAndVerifyClientCert".into(),
            }),
            ..TlsOptions::default()
        },
    );
    proxy.proxy.apply(config);

    // Handshake as the open host, then ask for the guarded one: client auth is skipped, so 421.
    let client = client_config(ClientOptions::default());
    let (status, _) = fetch(
        &proxy,
        "open.example.test",
        "guarded.example.test",
        Arc::clone(&client),
    )
    .await
    .expect("response");
    assert_eq!(status, StatusCode::MISDIRECTED_REQUEST);
    let (status, _) = fetch(&proxy, "open.example.test", "open.example.test", client)
        .await
        .expect("response");
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn an_unknown_tls_option_disables_the_router_and_refuses_its_hosts() {
    let backend = EchoBackend::start("app").await;
    let proxy = TestProxy::start().await;
    let ca = Authority::new();
    let mut config = routers_yaml(
        &backend,
        "    typo:\n      rule: Host(`typo.example.test`)\n      service: app\n      tls: {options: strcit}\n    fine:\n      rule: Host(`fine.example.test`)\n      service: app\n      tls: {}",
    );
    add_certificate(
        &mut config,
        &ca.issue(&["typo.example.test", "fine.example.test"]),
    );
    let report = proxy.proxy.apply(config);
    let errors = report.router_errors("typo");
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert_eq!(errors[0].reason, "TLSOptionNotFound");
    assert_eq!(errors[0].message, "TLS option `strcit` does not exist");
    assert!(report.router_errors("fine").is_empty());

    let client = client_config(ClientOptions::default());
    assert!(
        connect(&proxy, "typo.example.test", Arc::clone(&client))
            .await
            .is_err()
    );
    let (status, _) = fetch(&proxy, "fine.example.test", "fine.example.test", client)
        .await
        .expect("other hosts serve");
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn an_applied_certificate_replaces_the_old_one_for_new_handshakes() {
    let backend = EchoBackend::start("app").await;
    let proxy = TestProxy::start().await;
    let ca = Authority::new();
    let before = ca.issue(&["rotate.example.test"]);
    let after = ca.issue(&["rotate.example.test"]);
    let base = routers_yaml(
        &backend,
        "    secure:\n      rule: Host(`rotate.example.test`)\n      service: app\n      tls: {}",
    );

    let mut config = base.clone();
    add_certificate(&mut config, &before);
    proxy.proxy.apply(config);
    let client = client_config(ClientOptions::default());
    let open = connect(&proxy, "rotate.example.test", Arc::clone(&client))
        .await
        .expect("handshake");
    assert_eq!(
        open.get_ref().1.peer_certificates().expect("certificate")[0],
        before.leaf
    );

    let mut config = base;
    add_certificate(&mut config, &after);
    proxy.proxy.apply(config);
    assert_eq!(
        served_certificate(&proxy, "rotate.example.test").await,
        after.leaf
    );

    // The connection opened before the swap keeps working.
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(open))
        .await
        .expect("http1");
    tokio::spawn(connection);
    let request = Request::get("/")
        .header("host", "rotate.example.test")
        .body(Empty::<Bytes>::new())
        .expect("request");
    assert_eq!(
        sender
            .send_request(request)
            .await
            .expect("response")
            .status(),
        StatusCode::OK
    );
}

#[tokio::test]
async fn requests_over_tls_are_marked_https_for_the_backend() {
    let backend = crate::support::serve_backend(|req: Request<hyper::body::Incoming>| async move {
        let proto = req
            .headers()
            .get("x-forwarded-proto")
            .and_then(|value| value.to_str().ok())
            .unwrap_or("none")
            .to_owned();
        Ok::<_, std::convert::Infallible>(http::Response::new(mesh_proxy::body::full(proto)))
    })
    .await;
    let proxy = TestProxy::start().await;
    let ca = Authority::new();
    let mut config = routers_yaml(
        &backend,
        "    secure:\n      rule: Host(`proto.example.test`)\n      service: app\n      tls: {}\n    plain:\n      rule: Host(`proto.example.test`)\n      service: app",
    );
    add_certificate(&mut config, &ca.issue(&["proto.example.test"]));
    proxy.proxy.apply(config);

    let host = "proto.example.test";
    let (_, body) = fetch(&proxy, host, host, client_config(ClientOptions::default()))
        .await
        .expect("HTTPS request");
    assert_eq!(body, "https");
    let answer = get(&http1_client(), proxy.web(), host, "/").await;
    assert_eq!(answer.body, "http");
}
