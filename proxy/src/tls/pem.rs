//! Reading certificates and keys given as Traefik's "file or content": inline PEM text, or a
//! path to a PEM file.
use std::borrow::Cow;

use rustls::pki_types::{CertificateDer, PrivateKeyDer};

use super::TlsError;

/// The PEM bytes of `source`: the text itself when it holds a PEM block, else the file it names.
pub(crate) fn read_source<'a>(
    source: &'a str,
    what: &'static str,
) -> Result<Cow<'a, [u8]>, TlsError> {
    let trimmed = source.trim_start();
    if trimmed.starts_with("-----BEGIN") {
        return Ok(Cow::Borrowed(trimmed.as_bytes()));
    }
    std::fs::read(source)
        .map(Cow::Owned)
        .map_err(|err| TlsError::ReadFile {
            what,
            path: source.to_owned(),
            message: err.to_string(),
        })
}

/// Every certificate of `source`, in order (leaf first for a chain); at least one.
pub(crate) fn certificates(
    source: &str,
    what: &'static str,
) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let pem = read_source(source, what)?;
    let certificates = rustls_pemfile::certs(&mut &pem[..])
        .collect::<Result<Vec<_>, _>>()
        .map_err(|err| TlsError::InvalidPem {
            what,
            message: err.to_string(),
        })?;
    if certificates.is_empty() {
        return Err(TlsError::NoCertificate { what });
    }
    Ok(certificates)
}

/// The first private key of `source` (PKCS#8, PKCS#1 or SEC1).
pub(crate) fn private_key(
    source: &str,
    what: &'static str,
) -> Result<PrivateKeyDer<'static>, TlsError> {
    let pem = read_source(source, what)?;
    rustls_pemfile::private_key(&mut &pem[..])
        .map_err(|err| TlsError::InvalidPem {
            what,
            message: err.to_string(),
        })?
        .ok_or(TlsError::NoPrivateKey { what })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_file_is_named_in_the_error() {
        let err = certificates("/nonexistent/mesh/tls.crt", "certificate").unwrap_err();
        assert!(
            matches!(&err, TlsError::ReadFile { path, .. } if path == "/nonexistent/mesh/tls.crt"),
            "{err}"
        );
        assert!(
            err.to_string().starts_with("certificate: cannot read file"),
            "{err}"
        );
    }

    #[test]
    fn pem_without_the_expected_block_is_rejected() {
        let key_only = "-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEIHxvA0rN6Dd8vYDMeBO8VG4C+NJxZ0Q7Qyd7O4kMKiQx\n-----END PRIVATE KEY-----\n";
        assert_eq!(
            certificates(key_only, "certificate").unwrap_err(),
            TlsError::NoCertificate {
                what: "certificate"
            }
        );
        let garbage =
            "-----BEGIN CERTIFICATE-----\nnot base64 at all!\n-----END CERTIFICATE-----\n";
        assert!(matches!(
            certificates(garbage, "certificate").unwrap_err(),
            TlsError::InvalidPem { .. }
        ));
        let cert_only = "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n";
        assert_eq!(
            private_key(cert_only, "key").unwrap_err(),
            TlsError::NoPrivateKey { what: "key" }
        );
    }

    #[test]
    fn inline_pem_is_read_as_is() {
        let key = "  -----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEIHxvA0rN6Dd8vYDMeBO8VG4C+NJxZ0Q7Qyd7O4kMKiQx\n-----END PRIVATE KEY-----\n";
        assert!(matches!(
            private_key(key, "key"),
            Ok(PrivateKeyDer::Pkcs8(_))
        ));
    }
}
