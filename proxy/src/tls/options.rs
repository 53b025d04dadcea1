//! One `tls.options.<name>` compiled into a rustls `ServerConfig`.
//!
//! Names follow Go's `crypto/tls`, as Traefik reads them. rustls speaks TLS 1.2 and 1.3 only,
//! with AEAD suites only: an older `minVersion` is raised to TLS 1.2 (with a warning), and a
//! cipher suite or version rustls does not have is an error naming it, never a silent change.
use std::sync::Arc;

use rustls::crypto::CryptoProvider;
use rustls::{NamedGroup, ServerConfig, SupportedCipherSuite, SupportedProtocolVersion};

use super::TlsError;
use super::client_auth::client_verifier;
use super::store::{CertificateStore, SniResolver};
use crate::config::tls::TlsOptions;

/// ALPN protocols offered when an option lists none. Traefik also offers `acme-tls/1`;
/// Mesh has no ACME responder, so offering it would only break such clients later.
const DEFAULT_ALPN: [&[u8]; 2] = [b"h2", b"http/1.1"];

/// Compiles `options`; certificates come from `store`.
pub(crate) fn server_config(
    options: &TlsOptions,
    store: Arc<CertificateStore>,
) -> Result<ServerConfig, TlsError> {
    let mut provider = rustls::crypto::ring::default_provider();
    restrict_cipher_suites(&mut provider, &options.cipher_suites)?;
    restrict_curves(&mut provider, &options.curve_preferences)?;
    let provider = Arc::new(provider);
    let versions = protocol_versions(&options.min_version, &options.max_version)?;
    let verifier = client_verifier(options.client_auth.as_ref(), &provider)?;
    let mut config = ServerConfig::builder_with_provider(Arc::clone(&provider))
        .with_protocol_versions(&versions)
        .map_err(|err| TlsError::Rustls {
            context: "TLS option",
            message: err.to_string(),
        })?
        .with_client_cert_verifier(verifier)
        .with_cert_resolver(Arc::new(SniResolver {
            store,
            strict: options.sni_strict,
        }));
    config.alpn_protocols = if options.alpn_protocols.is_empty() {
        DEFAULT_ALPN.iter().map(|p| p.to_vec()).collect()
    } else {
        options
            .alpn_protocols
            .iter()
            .map(|p| p.as_bytes().to_vec())
            .collect()
    };
    if options.disable_session_tickets {
        config.send_tls13_tickets = 0;
    } else {
        // Stateless resumption (Go's default): no per-session memory on the server.
        config.ticketer =
            rustls::crypto::ring::Ticketer::new().map_err(|err| TlsError::Rustls {
                context: "session tickets",
                message: err.to_string(),
            })?;
    }
    Ok(config)
}

fn protocol_versions(
    min: &str,
    max: &str,
) -> Result<Vec<&'static SupportedProtocolVersion>, TlsError> {
    let rank = |name: &str, unset: u8| match name {
        "" => Ok(unset),
        "VersionTLS10" => Ok(10),
        "VersionTLS11" => Ok(11),
        "VersionTLS12" => Ok(12),
        "VersionTLS13" => Ok(13),
        other => Err(TlsError::UnknownVersion(other.to_owned())),
    };
    let (min_rank, max_rank) = (rank(min, 12)?, rank(max, 13)?);
    if min_rank < 12 {
        tracing::warn!(min_version = %min, "TLS 1.0 and 1.1 are not served: the minimum is TLS 1.2");
    }
    if max_rank < 12 {
        return Err(TlsError::VersionRange(format!(
            "maxVersion {max} is not supported: Mesh serves TLS 1.2 and TLS 1.3"
        )));
    }
    if min_rank > max_rank {
        return Err(TlsError::VersionRange(format!(
            "minVersion {min} is above maxVersion {max}"
        )));
    }
    Ok(
        [(12, &rustls::version::TLS12), (13, &rustls::version::TLS13)]
            .into_iter()
            .filter(|(rank, _)| (min_rank.max(12)..=max_rank).contains(rank))
            .map(|(_, version)| version)
            .collect(),
    )
}

/// Keeps the TLS 1.2 suites named in `names` (Go names; the `_SHA256`-less ChaCha alias is
/// accepted). As in Go, TLS 1.3 suites are not configurable: naming them is allowed, and
/// they all stay on.
fn restrict_cipher_suites(provider: &mut CryptoProvider, names: &[String]) -> Result<(), TlsError> {
    if names.is_empty() {
        return Ok(());
    }
    let rustls_name = |suite: &SupportedCipherSuite| format!("{:?}", suite.suite());
    let is_named = |suite: &SupportedCipherSuite, name: &str| {
        let own = rustls_name(suite);
        own == name
            || own == format!("{name}_SHA256")
            || own
                .strip_prefix("TLS13_")
                .is_some_and(|rest| name.strip_prefix("TLS_") == Some(rest))
    };
    for name in names {
        if !provider
            .cipher_suites
            .iter()
            .any(|suite| is_named(suite, name))
        {
            let supported: Vec<String> = provider.cipher_suites.iter().map(rustls_name).collect();
            return Err(TlsError::UnsupportedCipherSuite {
                name: name.clone(),
                supported: supported.join(", "),
            });
        }
    }
    provider
        .cipher_suites
        .retain(|suite| suite.tls13().is_some() || names.iter().any(|name| is_named(suite, name)));
    Ok(())
}

/// Orders the key exchange groups as `names` lists them. Go names and Traefik's lower-case
/// aliases are read; known curves rustls lacks (P-521, hybrid post-quantum) are skipped with
/// a warning, an unknown name is an error.
fn restrict_curves(provider: &mut CryptoProvider, names: &[String]) -> Result<(), TlsError> {
    if names.is_empty() {
        return Ok(());
    }
    let mut groups = Vec::new();
    for name in names {
        let wanted = match name.as_str() {
            "X25519" | "x25519" => NamedGroup::X25519,
            "CurveP256" | "secp256r1" | "P256" => NamedGroup::secp256r1,
            "CurveP384" | "secp384r1" | "P384" => NamedGroup::secp384r1,
            "CurveP521" | "secp521r1" | "P521" | "X25519MLKEM768" => {
                tracing::warn!(curve = %name, "curve not supported, skipped");
                continue;
            }
            other => return Err(TlsError::UnknownCurve(other.to_owned())),
        };
        if let Some(group) = provider
            .kx_groups
            .iter()
            .find(|group| group.name() == wanted)
        {
            groups.push(*group);
        }
    }
    if groups.is_empty() {
        return Err(TlsError::NoSupportedCurve(names.join(", ")));
    }
    provider.kx_groups = groups;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn versions_default_to_tls12_and_13_and_old_minimums_are_raised() {
        let versions = |min, max| {
            protocol_versions(min, max).map(|v| v.iter().map(|v| v.version).collect::<Vec<_>>())
        };
        use rustls::ProtocolVersion::{TLSv1_2, TLSv1_3};
        assert_eq!(versions("", ""), Ok(vec![TLSv1_2, TLSv1_3]));
        assert_eq!(versions("VersionTLS13", ""), Ok(vec![TLSv1_3]));
        assert_eq!(versions("", "VersionTLS12"), Ok(vec![TLSv1_2]));
        assert_eq!(versions("VersionTLS10", ""), Ok(vec![TLSv1_2, TLSv1_3]));
        assert_eq!(
            versions("VersionTLS14", ""),
            Err(TlsError::UnknownVersion("VersionTLS14".into()))
        );
        let err = versions("VersionTLS13", "VersionTLS12").unwrap_err();
        assert_eq!(
            err.to_string(),
            "minVersion VersionTLS13 is above maxVersion VersionTLS12"
        );
        let err = versions("", "VersionTLS11").unwrap_err();
        assert!(
            err.to_string()
                .contains("maxVersion VersionTLS11 is not supported"),
            "{err}"
        );
    }

    #[test]
    fn cipher_suites_restrict_tls12_only_and_unknown_names_are_errors() {
        let mut provider = rustls::crypto::ring::default_provider();
        let tls13 = provider
            .cipher_suites
            .iter()
            .filter(|s| s.tls13().is_some())
            .count();
        restrict_cipher_suites(
            &mut provider,
            &names(&[
                "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",
                "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305",
                "TLS_AES_128_GCM_SHA256",
            ]),
        )
        .unwrap();
        let tls12: Vec<String> = provider
            .cipher_suites
            .iter()
            .filter(|s| s.tls13().is_none())
            .map(|s| format!("{:?}", s.suite()))
            .collect();
        assert_eq!(
            tls12,
            vec![
                "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",
                "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256"
            ]
        );
        assert_eq!(
            provider
                .cipher_suites
                .iter()
                .filter(|s| s.tls13().is_some())
                .count(),
            tls13
        );

        let mut provider = rustls::crypto::ring::default_provider();
        let err = restrict_cipher_suites(&mut provider, &names(&["TLS_RSA_WITH_AES_128_CBC_SHA"]))
            .unwrap_err();
        assert!(
            err.to_string().starts_with(
                "cipher suite `TLS_RSA_WITH_AES_128_CBC_SHA` is not supported (supported: "
            ),
            "{err}"
        );
    }

    #[test]
    fn curves_follow_the_listed_order_and_unknown_names_are_errors() {
        let mut provider = rustls::crypto::ring::default_provider();
        restrict_curves(&mut provider, &names(&["CurveP384", "CurveP521", "X25519"])).unwrap();
        let order: Vec<NamedGroup> = provider.kx_groups.iter().map(|g| g.name()).collect();
        assert_eq!(order, vec![NamedGroup::secp384r1, NamedGroup::X25519]);

        let mut provider = rustls::crypto::ring::default_provider();
        assert_eq!(
            restrict_curves(&mut provider, &names(&["CurveP999"])),
            Err(TlsError::UnknownCurve("CurveP999".into()))
        );
        assert!(matches!(
            restrict_curves(&mut provider, &names(&["CurveP521"])),
            Err(TlsError::NoSupportedCurve(_))
        ));
    }

    #[test]
    fn alpn_defaults_and_overrides() {
        let store = Arc::new(CertificateStore::build(&Default::default(), None));
        let config = server_config(&TlsOptions::default(), Arc::clone(&store)).unwrap();
        assert_eq!(
            config.alpn_protocols,
            vec![b"h2".to_vec(), b"http/1.1".to_vec()]
        );
        let options = TlsOptions {
            alpn_protocols: names(&["http/1.1"]),
            ..TlsOptions::default()
        };
        let config = server_config(&options, store).unwrap();
        assert_eq!(config.alpn_protocols, vec![b"http/1.1".to_vec()]);
    }
}
