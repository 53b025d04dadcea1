//! `clientAuth`: which client certificates a TLS option asks for and how they are checked,
//! with Go's `tls.ClientAuthType` semantics.
use std::sync::Arc;

use rustls::client::danger::HandshakeSignatureValid;
use rustls::crypto::{CryptoProvider, verify_tls12_signature, verify_tls13_signature};
use rustls::pki_types::{CertificateDer, UnixTime};
use rustls::server::WebPkiClientVerifier;
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::{DigitallySignedStruct, DistinguishedName, RootCertStore, SignatureScheme};

use super::{TlsError, pem};
use crate::config::tls::ClientAuth;

/// The verifier of one option.
pub(crate) fn client_verifier(
    auth: Option<&ClientAuth>,
    provider: &Arc<CryptoProvider>,
) -> Result<Arc<dyn ClientCertVerifier>, TlsError> {
    let Some(auth) = auth else {
        return Ok(WebPkiClientVerifier::no_client_auth());
    };
    let kind = auth.client_auth_type.as_str();
    match kind {
        "" | "NoClientCert" => Ok(WebPkiClientVerifier::no_client_auth()),
        "RequestClientCert" => Ok(Arc::new(AnyClientCertificate {
            mandatory: false,
            provider: Arc::clone(provider),
        })),
        "RequireAnyClientCert" => Ok(Arc::new(AnyClientCertificate {
            mandatory: true,
            provider: Arc::clone(provider),
        })),
        "VerifyClientCertIfGiven" | "RequireAndVerifyClientCert" => {
            let roots = ca_store(&auth.ca_files, kind)?;
            let builder =
                WebPkiClientVerifier::builder_with_provider(Arc::new(roots), Arc::clone(provider));
            let builder = if kind == "VerifyClientCertIfGiven" {
                builder.allow_unauthenticated()
            } else {
                builder
            };
            builder.build().map_err(|err| TlsError::Rustls {
                context: "clientAuth",
                message: err.to_string(),
            })
        }
        other => Err(TlsError::UnknownClientAuthType(other.to_owned())),
    }
}

fn ca_store(ca_files: &[String], kind: &str) -> Result<RootCertStore, TlsError> {
    let mut roots = RootCertStore::empty();
    for source in ca_files {
        for certificate in pem::certificates(source, "clientAuth.caFiles")? {
            roots.add(certificate).map_err(|err| TlsError::Rustls {
                context: "clientAuth.caFiles",
                message: err.to_string(),
            })?;
        }
    }
    if roots.is_empty() {
        return Err(TlsError::MissingClientCa(kind.to_owned()));
    }
    Ok(roots)
}

/// `RequestClientCert` / `RequireAnyClientCert`: a certificate is asked for (and required when
/// `mandatory`) but not chained to any CA. The client still proves it holds the key: the
/// handshake signature is checked.
#[derive(Debug)]
struct AnyClientCertificate {
    mandatory: bool,
    provider: Arc<CryptoProvider>,
}

impl ClientCertVerifier for AnyClientCertificate {
    fn client_auth_mandatory(&self) -> bool {
        self.mandatory
    }

    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        &[]
    }

    fn verify_client_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        Ok(ClientCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn provider() -> Arc<CryptoProvider> {
        Arc::new(rustls::crypto::ring::default_provider())
    }

    fn auth(kind: &str, ca_files: Vec<String>) -> ClientAuth {
        ClientAuth {
            ca_files,
            client_auth_type: kind.into(),
        }
    }

    fn ca_pem() -> String {
        let key = rcgen::KeyPair::generate().unwrap();
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        params.self_signed(&key).unwrap().pem()
    }

    #[test]
    fn each_client_auth_type_offers_and_requires_as_go_does() {
        let cases = [
            ("", false, false),
            ("NoClientCert", false, false),
            ("RequestClientCert", true, false),
            ("RequireAnyClientCert", true, true),
            ("VerifyClientCertIfGiven", true, false),
            ("RequireAndVerifyClientCert", true, true),
        ];
        for (kind, offered, mandatory) in cases {
            let verifier = client_verifier(Some(&auth(kind, vec![ca_pem()])), &provider()).unwrap();
            assert_eq!(verifier.offer_client_auth(), offered, "{kind}");
            assert_eq!(verifier.client_auth_mandatory(), mandatory, "{kind}");
        }
        assert!(
            !client_verifier(None, &provider())
                .unwrap()
                .offer_client_auth()
        );
    }

    #[test]
    fn verifying_types_need_a_ca_and_unknown_types_are_rejected() {
        let err = client_verifier(
            Some(&auth("RequireAndVerifyClientCert", vec![])),
            &provider(),
        )
        .unwrap_err();
        assert_eq!(
            err,
            TlsError::MissingClientCa("RequireAndVerifyClientCert".into())
        );
        let err = client_verifier(Some(&auth("RequireCert", vec![])), &provider()).unwrap_err();
        assert!(
            err.to_string()
                .contains("unknown clientAuthType `RequireCert`"),
            "{err}"
        );
        let err = client_verifier(
            Some(&auth(
                "VerifyClientCertIfGiven",
                vec!["/nonexistent/ca.pem".into()],
            )),
            &provider(),
        )
        .unwrap_err();
        assert!(err.to_string().contains("/nonexistent/ca.pem"), "{err}");
    }
}
