//! What a certificate says about itself (subject, names, validity, fingerprint), for people
//! reading the admin API. Only public parts of the certificate are read.
use chrono::{DateTime, Utc};
use serde::Serialize;
use x509_parser::prelude::{FromDer, GeneralName, X509Certificate};

/// The public facts of one X.509 certificate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CertificateFacts {
    /// The subject's common name (empty without one).
    pub common_name: String,
    /// The whole subject, RFC 4514 style (`CN=web.example.com, O=Example`).
    pub subject: String,
    /// DNS names and IP addresses of the subjectAltName extension, in order.
    pub sans: Vec<String>,
    pub issuer: String,
    pub not_before: DateTime<Utc>,
    pub not_after: DateTime<Utc>,
    /// Hexadecimal, colon separated, as `openssl x509 -serial` prints it.
    pub serial_number: String,
    /// SHA-256 of the DER encoding, hexadecimal and colon separated.
    pub fingerprint_sha256: String,
}

/// Reads the facts of a DER-encoded certificate; the error says why it is not one.
pub fn inspect(der: &[u8]) -> Result<CertificateFacts, String> {
    let (_, cert) = X509Certificate::from_der(der)
        .map_err(|err| format!("not a valid X.509 certificate: {err}"))?;
    let common_name = cert
        .subject()
        .iter_common_name()
        .next()
        .and_then(|cn| cn.as_str().ok())
        .unwrap_or_default()
        .to_owned();
    let sans = match cert.subject_alternative_name() {
        Ok(Some(extension)) => extension
            .value
            .general_names
            .iter()
            .filter_map(general_name)
            .collect(),
        Ok(None) => Vec::new(),
        Err(err) => return Err(format!("invalid subjectAltName extension: {err}")),
    };
    let time = |asn1: x509_parser::time::ASN1Time| {
        DateTime::from_timestamp(asn1.timestamp(), 0)
            .ok_or_else(|| format!("validity date {asn1} is out of range"))
    };
    Ok(CertificateFacts {
        common_name,
        subject: cert.subject().to_string(),
        sans,
        issuer: cert.issuer().to_string(),
        not_before: time(cert.validity().not_before)?,
        not_after: time(cert.validity().not_after)?,
        serial_number: cert.raw_serial_as_string(),
        fingerprint_sha256: colon_hex(ring::digest::digest(&ring::digest::SHA256, der).as_ref()),
    })
}

fn general_name(name: &GeneralName<'_>) -> Option<String> {
    match name {
        GeneralName::DNSName(dns) => Some((*dns).to_owned()),
        GeneralName::IPAddress(bytes) => match bytes.len() {
            4 => <[u8; 4]>::try_from(*bytes)
                .ok()
                .map(|b| std::net::IpAddr::from(b).to_string()),
            16 => <[u8; 16]>::try_from(*bytes)
                .ok()
                .map(|b| std::net::IpAddr::from(b).to_string()),
            _ => None,
        },
        _ => None,
    }
}

fn colon_hex(bytes: &[u8]) -> String {
    bytes
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect::<Vec<_>>()
        .join(":")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_names_validity_and_fingerprint() {
        let key = rcgen::KeyPair::generate().unwrap();
        let mut params =
            rcgen::CertificateParams::new(vec!["web.example.test".into(), "127.0.0.1".into()])
                .unwrap();
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "web.example.test");
        params.not_after = rcgen::date_time_ymd(2031, 5, 6);
        let cert = params.self_signed(&key).unwrap();
        let facts = inspect(cert.der()).unwrap();
        assert_eq!(facts.common_name, "web.example.test");
        assert_eq!(facts.sans, ["web.example.test", "127.0.0.1"]);
        assert_eq!(facts.subject, facts.issuer, "self-signed");
        assert_eq!(facts.not_after.to_rfc3339(), "2031-05-06T00:00:00+00:00");
        assert_eq!(facts.fingerprint_sha256.len(), 32 * 3 - 1);
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        let error = inspect(b"not a certificate").unwrap_err();
        assert!(
            error.starts_with("not a valid X.509 certificate"),
            "{error}"
        );
    }
}
