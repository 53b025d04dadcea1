//! The certificate store: which certificate a server name gets.
//!
//! Certificates are global (reference §7.1): whichever router declared a certificate, the
//! store picks one by SNI against the certificate's DNS names, exact names first, then
//! single-label wildcards. A name nothing covers (or no SNI at all) gets the default
//! certificate: `tls.stores.default.defaultCertificate`, else a self-signed certificate
//! generated once per process, like Traefik's "TRAEFIK DEFAULT CERT".
use std::collections::HashMap;
use std::sync::{Arc, OnceLock};

use rustls::crypto::CryptoProvider;
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;

use super::{TlsError, pem};
use crate::config::tls::{CertificatePair, TlsConfig};

/// Common name of the certificate served when no default certificate is configured.
pub const GENERATED_DEFAULT_COMMON_NAME: &str = "MESH DEFAULT CERT";

/// Only the store named `default` is served (reference §1.9).
const DEFAULT_STORE: &str = "default";

/// Certificates indexed by the names they cover.
pub struct CertificateStore {
    exact: HashMap<Box<str>, Arc<CertifiedKey>>,
    /// Keyed by the suffix after `*.`.
    wildcard: HashMap<Box<str>, Arc<CertifiedKey>>,
    /// `None` only if the generated certificate could not be made: unmatched names then fail.
    default: Option<Arc<CertifiedKey>>,
    default_is_generated: bool,
    problems: Vec<String>,
    /// Every key pair loaded, by its PEM sources: the next build reuses them instead of
    /// parsing again, so changing one certificate among thousands costs one parse.
    loaded: HashMap<PemSources, Arc<CertifiedKey>>,
}

/// `(certFile, keyFile)` as configured.
type PemSources = (String, String);

impl std::fmt::Debug for CertificateStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CertificateStore")
            .field("exact", &self.exact.keys().collect::<Vec<_>>())
            .field("wildcard", &self.wildcard.keys().collect::<Vec<_>>())
            .field("default_is_generated", &self.default_is_generated)
            .finish()
    }
}

impl CertificateStore {
    /// Loads the certificates of the `default` store. A certificate that cannot be loaded is
    /// left out and recorded in [`problems`](Self::problems); the others are served. Key
    /// pairs `previous` already loaded are reused.
    pub fn build(tls: &TlsConfig, previous: Option<&CertificateStore>) -> CertificateStore {
        let provider = rustls::crypto::ring::default_provider();
        let mut store = CertificateStore {
            exact: HashMap::new(),
            wildcard: HashMap::new(),
            default: None,
            default_is_generated: false,
            problems: Vec::new(),
            loaded: HashMap::new(),
        };
        let load = |pair: &CertificatePair, store: &mut CertificateStore| {
            let sources = (pair.cert_file.clone(), pair.key_file.clone());
            if let Some(key) = previous.and_then(|previous| previous.loaded.get(&sources)) {
                store.loaded.insert(sources, Arc::clone(key));
                return Ok(Arc::clone(key));
            }
            let key = Arc::new(load_pair(pair, &provider)?);
            store.loaded.insert(sources, Arc::clone(&key));
            Ok::<_, TlsError>(key)
        };
        for (position, certificate) in tls.certificates.iter().enumerate() {
            let in_default_store = certificate.stores.is_empty()
                || certificate
                    .stores
                    .iter()
                    .any(|store| store == DEFAULT_STORE);
            if !in_default_store {
                continue;
            }
            match load(&certificate.pair, &mut store) {
                Ok(key) => store.insert(key),
                Err(err) => {
                    tracing::warn!(certificate = position, error = %err, "certificate skipped");
                    store
                        .problems
                        .push(format!("tls.certificates[{position}]: {err}"));
                }
            }
        }
        let configured_default = tls
            .stores
            .get(DEFAULT_STORE)
            .and_then(|store| store.default_certificate.as_ref());
        if let Some(pair) = configured_default {
            match load(pair, &mut store) {
                Ok(key) => store.default = Some(key),
                Err(err) => {
                    tracing::warn!(error = %err, "default certificate skipped, serving the generated one");
                    store
                        .problems
                        .push(format!("tls.stores.default.defaultCertificate: {err}"));
                }
            }
        }
        if store.default.is_none() {
            match generated_default() {
                Ok(key) => {
                    store.default = Some(key);
                    store.default_is_generated = true;
                }
                Err(err) => {
                    tracing::error!(error = %err, "no default certificate: unmatched server names will fail");
                    store.problems.push(err.to_string());
                }
            }
        }
        store
    }

    fn insert(&mut self, key: Arc<CertifiedKey>) {
        let names = match key
            .end_entity_cert()
            .ok()
            .and_then(|der| webpki::EndEntityCert::try_from(der).ok())
        {
            Some(cert) => cert
                .valid_dns_names()
                .map(str::to_ascii_lowercase)
                .collect::<Vec<_>>(),
            None => Vec::new(),
        };
        for name in names {
            let name = name.strip_suffix('.').unwrap_or(&name);
            // The first certificate for a name wins, so the order of the configuration decides.
            match name.strip_prefix("*.") {
                Some(suffix) => self
                    .wildcard
                    .entry(suffix.into())
                    .or_insert_with(|| Arc::clone(&key)),
                None => self
                    .exact
                    .entry(name.into())
                    .or_insert_with(|| Arc::clone(&key)),
            };
        }
    }

    /// The certificate covering `server_name` (exact name first, then a wildcard), if any.
    pub fn find(&self, server_name: &str) -> Option<&Arc<CertifiedKey>> {
        let lower;
        let mut name = server_name;
        if name.bytes().any(|b| b.is_ascii_uppercase()) {
            lower = name.to_ascii_lowercase();
            name = &lower;
        }
        let name = name.strip_suffix('.').unwrap_or(name);
        if let Some(key) = self.exact.get(name) {
            return Some(key);
        }
        let (label, suffix) = name.split_once('.')?;
        if label.is_empty() {
            return None;
        }
        self.wildcard.get(suffix)
    }

    /// What a server name nothing covers gets (unless the option is `sniStrict`).
    pub fn default_certificate(&self) -> Option<&Arc<CertifiedKey>> {
        self.default.as_ref()
    }

    /// Whether the default certificate is the generated one.
    pub fn default_is_generated(&self) -> bool {
        self.default_is_generated
    }

    /// Certificates that could not be loaded, as `tls.certificates[i]: reason`.
    pub fn problems(&self) -> &[String] {
        &self.problems
    }

    /// Names covered by a certificate (wildcards as `*.suffix`), sorted.
    pub fn names(&self) -> Vec<String> {
        let mut names: Vec<String> = self.exact.keys().map(|name| name.to_string()).collect();
        names.extend(self.wildcard.keys().map(|suffix| format!("*.{suffix}")));
        names.sort();
        names
    }
}

fn load_pair(pair: &CertificatePair, provider: &CryptoProvider) -> Result<CertifiedKey, TlsError> {
    let chain = pem::certificates(&pair.cert_file, "certFile")?;
    let key = pem::private_key(&pair.key_file, "keyFile")?;
    CertifiedKey::from_der(chain, key, provider).map_err(|err| TlsError::KeyPair {
        what: "certificate",
        message: err.to_string(),
    })
}

/// The self-signed default certificate, generated on first use and shared afterwards: a key
/// generation per apply would be wasted work (and would change the certificate clients see).
fn generated_default() -> Result<Arc<CertifiedKey>, TlsError> {
    static GENERATED: OnceLock<Result<Arc<CertifiedKey>, TlsError>> = OnceLock::new();
    GENERATED
        .get_or_init(|| generate_self_signed().map(Arc::new))
        .clone()
}

fn generate_self_signed() -> Result<CertifiedKey, TlsError> {
    let failed = |err: rcgen::Error| TlsError::KeyPair {
        what: "generated default certificate",
        message: err.to_string(),
    };
    let key_pair = rcgen::KeyPair::generate().map_err(failed)?;
    let mut params =
        rcgen::CertificateParams::new(vec!["mesh.default".to_owned()]).map_err(failed)?;
    params.distinguished_name = rcgen::DistinguishedName::new();
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, GENERATED_DEFAULT_COMMON_NAME);
    let certificate = params.self_signed(&key_pair).map_err(failed)?;
    let key = rustls::pki_types::PrivateKeyDer::try_from(key_pair.serialize_der()).map_err(
        |message| TlsError::KeyPair {
            what: "generated default certificate",
            message: message.to_owned(),
        },
    )?;
    CertifiedKey::from_der(
        vec![certificate.der().clone()],
        key,
        &rustls::crypto::ring::default_provider(),
    )
    .map_err(|err| TlsError::KeyPair {
        what: "generated default certificate",
        message: err.to_string(),
    })
}

/// Picks the certificate for one handshake; `strict` is the option's `sniStrict`.
#[derive(Debug)]
pub(crate) struct SniResolver {
    pub store: Arc<CertificateStore>,
    pub strict: bool,
}

impl ResolvesServerCert for SniResolver {
    fn resolve(&self, client_hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        let found = client_hello
            .server_name()
            .and_then(|name| self.store.find(name));
        match found {
            Some(key) => Some(Arc::clone(key)),
            // sniStrict: no certificate for this name (or no name) fails the handshake.
            None if self.strict => None,
            None => self.store.default.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::tls::{Certificate, TlsStore};

    fn pair(names: &[&str]) -> CertificatePair {
        let key = rcgen::KeyPair::generate().unwrap();
        let params =
            rcgen::CertificateParams::new(names.iter().map(|n| n.to_string()).collect::<Vec<_>>())
                .unwrap();
        let cert = params.self_signed(&key).unwrap();
        CertificatePair {
            cert_file: cert.pem(),
            key_file: key.serialize_pem(),
            source: String::new(),
        }
    }

    fn certificate(names: &[&str], stores: &[&str]) -> Certificate {
        Certificate {
            pair: pair(names),
            stores: stores.iter().map(|s| s.to_string()).collect(),
        }
    }

    fn same(a: &Arc<CertifiedKey>, b: &Arc<CertifiedKey>) -> bool {
        Arc::ptr_eq(a, b)
    }

    #[test]
    fn exact_names_win_over_wildcards_and_case_is_ignored() {
        let tls = TlsConfig {
            certificates: vec![
                certificate(&["*.example.com"], &[]),
                certificate(&["api.example.com"], &["default"]),
            ],
            ..TlsConfig::default()
        };
        let store = CertificateStore::build(&tls, None);
        assert_eq!(store.names(), vec!["*.example.com", "api.example.com"]);
        let api = store.find("API.example.com.").unwrap();
        let web = store.find("web.example.com").unwrap();
        assert!(!same(api, web));
        assert!(same(store.find("api.example.com").unwrap(), api));
        assert!(
            store.find("a.b.example.com").is_none(),
            "wildcards cover one label only"
        );
        assert!(store.find("example.com").is_none());
        assert!(store.problems().is_empty());
    }

    #[test]
    fn unchanged_key_pairs_are_not_parsed_again() {
        let kept = certificate(&["kept.example.com"], &[]);
        let first = CertificateStore::build(
            &TlsConfig {
                certificates: vec![kept.clone()],
                ..TlsConfig::default()
            },
            None,
        );
        let tls = TlsConfig {
            certificates: vec![kept, certificate(&["new.example.com"], &[])],
            ..TlsConfig::default()
        };
        let second = CertificateStore::build(&tls, Some(&first));
        assert!(same(
            first.find("kept.example.com").unwrap(),
            second.find("kept.example.com").unwrap()
        ));
        assert!(second.find("new.example.com").is_some());
        let third = CertificateStore::build(&TlsConfig::default(), Some(&second));
        assert!(
            third.find("kept.example.com").is_none(),
            "removed certificates are gone"
        );
    }

    #[test]
    fn certificates_of_other_stores_are_not_served() {
        let tls = TlsConfig {
            certificates: vec![certificate(&["other.example.com"], &["secondary"])],
            ..TlsConfig::default()
        };
        let store = CertificateStore::build(&tls, None);
        assert!(store.find("other.example.com").is_none());
    }

    #[test]
    fn a_broken_certificate_is_skipped_and_reported_while_the_others_serve() {
        let mut broken = certificate(&["broken.example.com"], &[]);
        broken.pair.key_file = pair(&["unrelated.example.com"]).key_file;
        let tls = TlsConfig {
            certificates: vec![broken, certificate(&["good.example.com"], &[])],
            ..TlsConfig::default()
        };
        let store = CertificateStore::build(&tls, None);
        assert!(store.find("good.example.com").is_some());
        assert!(store.find("broken.example.com").is_none());
        assert_eq!(store.problems().len(), 1);
        assert!(
            store.problems()[0].starts_with("tls.certificates[0]: certificate: unusable key pair"),
            "{:?}",
            store.problems()
        );
    }

    #[test]
    fn the_default_store_certificate_replaces_the_generated_one() {
        let generated = CertificateStore::build(&TlsConfig::default(), None);
        assert!(generated.default_is_generated());
        let again = CertificateStore::build(&TlsConfig::default(), None);
        assert!(
            same(
                generated.default_certificate().unwrap(),
                again.default_certificate().unwrap()
            ),
            "generated once"
        );

        let mut tls = TlsConfig::default();
        tls.stores.insert(
            "default".into(),
            TlsStore {
                default_certificate: Some(pair(&["fallback.example.com"])),
                ..TlsStore::default()
            },
        );
        let configured = CertificateStore::build(&tls, None);
        assert!(!configured.default_is_generated());
        assert!(!same(
            configured.default_certificate().unwrap(),
            generated.default_certificate().unwrap()
        ));
    }

    #[test]
    fn a_broken_default_certificate_falls_back_to_the_generated_one() {
        let mut tls = TlsConfig::default();
        tls.stores.insert(
            "default".into(),
            TlsStore {
                default_certificate: Some(CertificatePair {
                    cert_file: "/nonexistent/cert.pem".into(),
                    key_file: String::new(),
                    source: String::new(),
                }),
                ..TlsStore::default()
            },
        );
        let store = CertificateStore::build(&tls, None);
        assert!(store.default_is_generated());
        assert!(
            store.problems()[0].contains("/nonexistent/cert.pem"),
            "{:?}",
            store.problems()
        );
    }
}
