//! What can be wrong with TLS configuration: every message names the field and the value.

/// A certificate, key or TLS option that cannot be used. Cheap to clone: the same error is
/// reported for every router that uses the broken option.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TlsError {
    #[error("{what}: cannot read file `{path}`: {message}")]
    ReadFile {
        what: &'static str,
        path: String,
        message: String,
    },
    #[error("{what}: invalid PEM: {message}")]
    InvalidPem { what: &'static str, message: String },
    #[error("{what}: no certificate found in the PEM data")]
    NoCertificate { what: &'static str },
    #[error("{what}: no private key found in the PEM data")]
    NoPrivateKey { what: &'static str },
    #[error("{what}: unusable key pair: {message}")]
    KeyPair { what: &'static str, message: String },
    #[error(
        "unknown TLS version `{0}` (expected VersionTLS10, VersionTLS11, VersionTLS12 or VersionTLS13)"
    )]
    UnknownVersion(String),
    #[error("{0}")]
    VersionRange(String),
    #[error("cipher suite `{name}` is not supported (supported: {supported})")]
    UnsupportedCipherSuite { name: String, supported: String },
    #[error("unknown curve `{0}` (expected X25519, CurveP256 or CurveP384)")]
    UnknownCurve(String),
    #[error("none of the curves [{0}] is supported (supported: X25519, CurveP256, CurveP384)")]
    NoSupportedCurve(String),
    #[error(
        "unknown clientAuthType `{0}` (expected NoClientCert, RequestClientCert, \
         RequireAnyClientCert, VerifyClientCertIfGiven or RequireAndVerifyClientCert)"
    )]
    UnknownClientAuthType(String),
    #[error("clientAuthType {0} verifies client certificates: clientAuth needs at least one CA")]
    MissingClientCa(String),
    #[error("{context}: {message}")]
    Rustls {
        context: &'static str,
        message: String,
    },
}
