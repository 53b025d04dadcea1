//! rustls client configuration of a servers transport.
use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};

use crate::config::transport::ServersTransport;

use super::TransportError;

/// Builds the TLS client config: trust roots (rootCAs or webpki), client certificates,
/// protocol versions. ALPN is set by the connector.
pub(super) fn client_config(config: &ServersTransport) -> Result<ClientConfig, TransportError> {
    if !config.peer_cert_uri.is_empty() || config.spiffe.is_some() {
        return Err(TransportError::Unsupported(
            "peerCertURI and spiffe verification are not supported",
        ));
    }
    let provider = Arc::new(with_cipher_suites(
        rustls::crypto::ring::default_provider(),
        &config.cipher_suites,
    ));
    let versions = protocol_versions(&config.min_version, &config.max_version)?;
    let builder = ClientConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(&versions)
        .map_err(TransportError::Tls)?;
    let builder = if config.insecure_skip_verify {
        builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(AcceptAnyCertificate(provider)))
    } else {
        builder.with_root_certificates(root_store(&config.root_cas)?)
    };
    match config.certificates.as_slice() {
        [] => Ok(builder.with_no_client_auth()),
        [first, ..] => {
            let chain = certificates(&read_pem(&first.cert_file)?)?;
            let key = private_key(&read_pem(&first.key_file)?)?;
            builder
                .with_client_auth_cert(chain, key)
                .map_err(TransportError::Tls)
        }
    }
}

/// Restricts the TLS 1.2 suites to `names` (Go's names, as Traefik reads them); TLS 1.3
/// suites are not configurable, as in Go. Any unknown name drops the whole list (with a
/// warning) and the defaults apply, which is Traefik's behaviour.
fn with_cipher_suites(
    mut provider: rustls::crypto::CryptoProvider,
    names: &[String],
) -> rustls::crypto::CryptoProvider {
    if names.is_empty() {
        return provider;
    }
    let suite_name = |suite: &rustls::SupportedCipherSuite| format!("{:?}", suite.suite());
    let known = |name: &String| {
        provider.cipher_suites.iter().any(|suite| {
            let rustls_name = suite_name(suite);
            rustls_name == *name || rustls_name == format!("{name}_SHA256")
        })
    };
    if let Some(unknown) = names.iter().find(|name| !known(name)) {
        tracing::warn!(cipher_suite = %unknown, "unknown cipher suite: using the default list");
        return provider;
    }
    provider.cipher_suites.retain(|suite| {
        let rustls_name = suite_name(suite);
        suite.tls13().is_some()
            || names
                .iter()
                .any(|name| rustls_name == *name || rustls_name == format!("{name}_SHA256"))
    });
    provider
}

fn protocol_versions(
    min: &str,
    max: &str,
) -> Result<Vec<&'static rustls::SupportedProtocolVersion>, TransportError> {
    let rank = |name: &str, default: u8| match name {
        "" => Ok(default),
        "VersionTLS12" => Ok(12),
        "VersionTLS13" => Ok(13),
        other => Err(TransportError::InvalidTlsVersion(other.to_owned())),
    };
    let (min, max) = (rank(min, 12)?, rank(max, 13)?);
    let versions: Vec<_> = [(12, &rustls::version::TLS12), (13, &rustls::version::TLS13)]
        .into_iter()
        .filter(|(rank, _)| (min..=max).contains(rank))
        .map(|(_, version)| version)
        .collect();
    if versions.is_empty() {
        return Err(TransportError::InvalidTlsVersion(format!(
            "minVersion TLS1.{} is above maxVersion TLS1.{}",
            min - 10,
            max - 10
        )));
    }
    Ok(versions)
}

fn root_store(root_cas: &[String]) -> Result<RootCertStore, TransportError> {
    let mut store = RootCertStore::empty();
    if root_cas.is_empty() {
        store.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
        return Ok(store);
    }
    for source in root_cas {
        for certificate in certificates(&read_pem(source)?)? {
            store
                .add(certificate)
                .map_err(|error| TransportError::InvalidPem(format!("root CA: {error}")))?;
        }
    }
    Ok(store)
}

/// Traefik's "file or content": inline PEM, or a path to a PEM file.
fn read_pem(source: &str) -> Result<Vec<u8>, TransportError> {
    if source.trim_start().starts_with("-----BEGIN") {
        return Ok(source.as_bytes().to_vec());
    }
    std::fs::read(source).map_err(|error| TransportError::ReadFile {
        path: source.to_owned(),
        error,
    })
}

fn certificates(pem: &[u8]) -> Result<Vec<CertificateDer<'static>>, TransportError> {
    let certificates = rustls_pemfile::certs(&mut &pem[..])
        .collect::<Result<Vec<_>, _>>()
        .map_err(|error| TransportError::InvalidPem(error.to_string()))?;
    if certificates.is_empty() {
        return Err(TransportError::InvalidPem(
            "no certificate found".to_owned(),
        ));
    }
    Ok(certificates)
}

fn private_key(pem: &[u8]) -> Result<PrivateKeyDer<'static>, TransportError> {
    rustls_pemfile::private_key(&mut &pem[..])
        .map_err(|error| TransportError::InvalidPem(error.to_string()))?
        .ok_or_else(|| TransportError::InvalidPem("no private key found".to_owned()))
}

/// `insecureSkipVerify`: any certificate is accepted, signatures are still checked so the
/// handshake itself stays sound.
#[derive(Debug)]
pub(crate) struct AcceptAnyCertificate(pub(crate) Arc<rustls::crypto::CryptoProvider>);

impl ServerCertVerifier for AcceptAnyCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_bounds_select_rustls_versions() {
        assert_eq!(protocol_versions("", "").map(|v| v.len()).ok(), Some(2));
        assert_eq!(
            protocol_versions("VersionTLS13", "").map(|v| v.len()).ok(),
            Some(1)
        );
        let inverted = protocol_versions("VersionTLS13", "VersionTLS12").expect_err("inverted");
        assert!(
            inverted.to_string().contains("above maxVersion"),
            "{inverted}"
        );
        let old = protocol_versions("VersionTLS10", "").expect_err("too old");
        assert!(old.to_string().contains("VersionTLS10"), "{old}");
    }

    #[test]
    fn cipher_suites_restrict_tls12_only_and_unknown_names_keep_defaults() {
        let default_count = rustls::crypto::ring::default_provider().cipher_suites.len();
        let chosen = with_cipher_suites(
            rustls::crypto::ring::default_provider(),
            &[
                "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256".to_owned(),
                "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305".to_owned(),
            ],
        );
        let mut tls12: Vec<String> = chosen
            .cipher_suites
            .iter()
            .filter(|suite| suite.tls13().is_none())
            .map(|suite| format!("{:?}", suite.suite()))
            .collect();
        tls12.sort();
        assert_eq!(
            tls12,
            [
                "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256",
                "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"
            ]
        );
        assert!(
            chosen
                .cipher_suites
                .iter()
                .any(|suite| suite.tls13().is_some())
        );
        let unknown = with_cipher_suites(
            rustls::crypto::ring::default_provider(),
            &["TLS_RSA_WITH_RC4_128_SHA".to_owned()],
        );
        assert_eq!(unknown.cipher_suites.len(), default_count);
    }

    #[test]
    fn bad_root_ca_is_an_error_naming_the_problem() {
        let config = ServersTransport {
            root_cas: vec!["-----BEGIN CERTIFICATE-----\nnot base64\n".to_owned()],
            ..ServersTransport::default()
        };
        assert!(matches!(
            client_config(&config),
            Err(TransportError::InvalidPem(_))
        ));
        let missing = ServersTransport {
            root_cas: vec!["/nonexistent/ca.pem".to_owned()],
            ..ServersTransport::default()
        };
        let error = client_config(&missing).expect_err("missing file");
        assert!(error.to_string().contains("/nonexistent/ca.pem"), "{error}");
    }

    #[test]
    fn unsupported_peer_verification_is_refused_not_ignored() {
        let config = ServersTransport {
            peer_cert_uri: "spiffe://x".to_owned(),
            ..ServersTransport::default()
        };
        assert!(matches!(
            client_config(&config),
            Err(TransportError::Unsupported(_))
        ));
    }
}
