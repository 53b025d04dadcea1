//! TLS to TCP servers (`servers[].tls: true`), configured by the ServersTransportTCP `tls`
//! block: trusted CAs (the system's web PKI roots when none), `serverName`,
//! `insecureSkipVerify`, a client certificate.
use std::sync::Arc;

use rustls::pki_types::ServerName;
use rustls::{ClientConfig, RootCertStore};

use super::service::TcpServiceError;
use crate::config::tcp::TcpClientTls;
use crate::tls::pem;
use crate::upstream::AcceptAnyCertificate;

/// How to start TLS with the servers of one load balancer.
#[derive(Debug, Clone)]
pub struct UpstreamTls {
    pub config: Arc<ClientConfig>,
    /// `serverName`; empty means the host of each server's address.
    pub server_name: String,
}

impl UpstreamTls {
    /// The name to verify (and send as SNI) for a server at `address`.
    pub fn server_name_for(&self, address: &str) -> Option<ServerName<'static>> {
        let host = if self.server_name.is_empty() {
            let host = address.rsplit_once(':').map_or(address, |(host, _)| host);
            host.trim_start_matches('[').trim_end_matches(']')
        } else {
            self.server_name.as_str()
        };
        ServerName::try_from(host.to_owned()).ok()
    }
}

pub fn upstream_tls(settings: Option<&TcpClientTls>) -> Result<UpstreamTls, TcpServiceError> {
    let invalid = |reason: String| TcpServiceError::Tls(reason);
    let default = TcpClientTls::default();
    let settings = settings.unwrap_or(&default);
    if !settings.peer_cert_uri.is_empty() {
        return Err(TcpServiceError::Unsupported(
            "serversTransport tls.peerCertURI",
        ));
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = ClientConfig::builder_with_provider(Arc::clone(&provider))
        .with_safe_default_protocol_versions()
        .map_err(|err| invalid(err.to_string()))?;
    let builder = if settings.insecure_skip_verify {
        builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(AcceptAnyCertificate(provider)))
    } else {
        let mut roots = RootCertStore::empty();
        if settings.root_cas.is_empty() {
            roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
        }
        for source in &settings.root_cas {
            let certificates =
                pem::certificates(source, "rootCAs").map_err(|err| invalid(err.to_string()))?;
            for certificate in certificates {
                roots
                    .add(certificate)
                    .map_err(|err| invalid(format!("rootCAs: {err}")))?;
            }
        }
        builder.with_root_certificates(roots)
    };
    let config = match settings.certificates.first() {
        None => builder.with_no_client_auth(),
        Some(pair) => {
            let chain = pem::certificates(&pair.cert_file, "certificates")
                .map_err(|err| invalid(err.to_string()))?;
            let key = pem::private_key(&pair.key_file, "certificates")
                .map_err(|err| invalid(err.to_string()))?;
            builder
                .with_client_auth_cert(chain, key)
                .map_err(|err| invalid(format!("client certificate: {err}")))?
        }
    };
    Ok(UpstreamTls {
        config: Arc::new(config),
        server_name: settings.server_name.clone(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_names_come_from_the_setting_or_the_address() {
        let tls = upstream_tls(None).unwrap();
        assert_eq!(
            tls.server_name_for("db.example.test:5432"),
            Some(ServerName::try_from("db.example.test").unwrap())
        );
        assert_eq!(
            tls.server_name_for("[::1]:5432"),
            Some(ServerName::try_from("::1").unwrap())
        );
        let named = upstream_tls(Some(&TcpClientTls {
            server_name: "pg.internal".into(),
            ..Default::default()
        }))
        .unwrap();
        assert_eq!(
            named.server_name_for("10.0.0.1:5432"),
            Some(ServerName::try_from("pg.internal").unwrap())
        );
    }

    #[test]
    fn bad_settings_are_errors() {
        let err = upstream_tls(Some(&TcpClientTls {
            root_cas: vec!["/nonexistent/ca.pem".into()],
            ..Default::default()
        }))
        .unwrap_err();
        assert!(err.to_string().contains("/nonexistent/ca.pem"), "{err}");
        let err = upstream_tls(Some(&TcpClientTls {
            peer_cert_uri: "spiffe://x".into(),
            ..Default::default()
        }))
        .unwrap_err();
        assert_eq!(
            err,
            TcpServiceError::Unsupported("serversTransport tls.peerCertURI")
        );
    }
}
