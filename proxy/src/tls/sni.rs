//! Which TLS option a server name gets on an entry point (reference §7.2).
//!
//! Every TLS router contributes `host -> option` for each `Host(...)` value of its rule on
//! each of its entry points. At ClientHello time the SNI is looked up (exact host, then
//! `*.suffix`), and anything else gets `default`. When one host is claimed with different
//! options on one entry point, all of those claims fall back to `default` and the routers
//! get a `TLSOptionsConflict` warning. A router whose option does not exist or cannot be
//! compiled is not served, and its hosts keep pointing at that option, so their handshakes
//! are refused instead of quietly served with weaker settings.
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use rustls::ServerConfig;

use super::options::server_config;
use super::store::CertificateStore;
use super::{DEFAULT_OPTION, TlsError};
use crate::config::tls::{Certificate, TlsConfig, TlsOptions, TlsStore};
use crate::runtime::Problem;

/// One compiled option.
struct CompiledOption {
    source: TlsOptions,
    config: Result<Arc<ServerConfig>, TlsError>,
}

/// The TLS state of one configuration generation.
pub struct TlsGeneration {
    certificates: Vec<Certificate>,
    stores: BTreeMap<String, TlsStore>,
    store: Arc<CertificateStore>,
    options: BTreeMap<String, CompiledOption>,
    /// Per entry point, in the order of the static configuration.
    entry_points: Box<[SniOptions]>,
}

impl std::fmt::Debug for TlsGeneration {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsGeneration")
            .field("store", &self.store)
            .field("options", &self.options.keys().collect::<Vec<_>>())
            .field("entry_points", &self.entry_points)
            .finish()
    }
}

/// `host -> option` claims of one entry point.
#[derive(Debug, Default)]
struct SniOptions {
    exact: HashMap<Box<str>, Arc<str>>,
    /// Keyed by the suffix after `*.`.
    wildcard: HashMap<Box<str>, Arc<str>>,
}

/// What one TLS router on one entry point claims.
#[derive(Debug, Clone)]
pub struct TlsRouterHosts {
    pub router: String,
    /// The rule's `Host(...)` values, lower-cased.
    pub hosts: Vec<String>,
    /// `tls.options`; empty means `default`.
    pub options: String,
}

/// Builds a [`TlsGeneration`]: compile certificates and options first (so routers can be
/// checked against them), then collect the routers' host claims, then [`finish`].
///
/// [`finish`]: TlsBuilder::finish
pub struct TlsBuilder {
    generation: TlsGeneration,
    claims: Vec<Vec<TlsRouterHosts>>,
}

impl TlsBuilder {
    /// Compiles the certificate store and every option. What did not change since `previous`
    /// is reused as is: no PEM is parsed again, and an unchanged option keeps its
    /// `ServerConfig` (and with it the session ticket keys, so clients can resume).
    pub fn new(
        tls: &TlsConfig,
        entry_points: usize,
        previous: Option<&TlsGeneration>,
    ) -> TlsBuilder {
        let reusable =
            previous.filter(|p| p.certificates == tls.certificates && p.stores == tls.stores);
        let store = match reusable {
            Some(previous) => Arc::clone(&previous.store),
            None => Arc::new(CertificateStore::build(tls, previous.map(|p| &*p.store))),
        };
        let mut sources = tls.options.clone();
        sources.entry(DEFAULT_OPTION.to_owned()).or_default();
        let mut options = BTreeMap::new();
        for (name, source) in sources {
            let kept = reusable
                .and_then(|previous| previous.options.get(&name))
                .filter(|previous| previous.source == source);
            let config = match kept {
                Some(previous) => previous.config.clone(),
                None => server_config(&source, Arc::clone(&store)).map(Arc::new),
            };
            let config = match config {
                Err(err) if name == DEFAULT_OPTION => {
                    // Every TLS router depends on `default`: keep serving with the built-in one.
                    tracing::warn!(error = %err, "TLS option `default` is invalid: using the built-in default");
                    server_config(&TlsOptions::default(), Arc::clone(&store)).map(Arc::new)
                }
                other => other,
            };
            if let Err(err) = &config {
                tracing::warn!(option = %name, error = %err, "TLS option not usable");
            }
            options.insert(name, CompiledOption { source, config });
        }
        TlsBuilder {
            generation: TlsGeneration {
                certificates: tls.certificates.clone(),
                stores: tls.stores.clone(),
                store,
                options,
                entry_points: Box::default(),
            },
            claims: (0..entry_points).map(|_| Vec::new()).collect(),
        }
    }

    /// The error that keeps a router with `tls.options: name` from being served, if any.
    pub fn router_problem(&self, options: &str) -> Option<Problem> {
        let name = option_name(options);
        match self.generation.options.get(name) {
            None => Some(Problem::new(
                "TLSOptionNotFound",
                format!("TLS option `{name}` does not exist"),
            )),
            Some(CompiledOption {
                config: Err(err), ..
            }) => Some(Problem::new(
                "RefInvalid",
                format!("TLS option `{name}`: {err}"),
            )),
            Some(_) => None,
        }
    }

    /// Records the hosts a TLS router claims on entry point `slot`.
    pub fn claim(&mut self, slot: usize, claim: TlsRouterHosts) {
        if let Some(claims) = self.claims.get_mut(slot) {
            claims.push(claim);
        }
    }

    /// Resolves the claims into per-entry-point lookups. Returns the generation and the
    /// warnings of the routers whose option could not be applied as asked.
    pub fn finish(self) -> (TlsGeneration, Vec<(String, Problem)>) {
        let TlsBuilder {
            mut generation,
            claims,
        } = self;
        let mut warnings = Vec::new();
        generation.entry_points = claims
            .into_iter()
            .map(|claims| resolve_claims(claims, &mut warnings))
            .collect();
        warnings.sort_by(|a, b| a.0.cmp(&b.0));
        warnings.dedup_by(|a, b| a.0 == b.0 && a.1 == b.1);
        (generation, warnings)
    }
}

fn option_name(options: &str) -> &str {
    if options.is_empty() {
        DEFAULT_OPTION
    } else {
        options
    }
}

fn resolve_claims(
    claims: Vec<TlsRouterHosts>,
    warnings: &mut Vec<(String, Problem)>,
) -> SniOptions {
    // host -> (option, routers claiming it)
    let mut by_host: BTreeMap<String, Vec<(&str, &str)>> = BTreeMap::new();
    for claim in &claims {
        let option = option_name(&claim.options);
        if claim.hosts.is_empty() {
            if option != DEFAULT_OPTION {
                warnings.push((
                    claim.router.clone(),
                    Problem::new(
                        "UnsupportedValue",
                        format!("TLS option `{option}` cannot be applied: the rule has no Host, so `default` is used"),
                    ),
                ));
            }
            continue;
        }
        for host in &claim.hosts {
            let host = host.strip_suffix('.').unwrap_or(host).to_ascii_lowercase();
            by_host
                .entry(host)
                .or_default()
                .push((option, claim.router.as_str()));
        }
    }
    let default: Arc<str> = Arc::from(DEFAULT_OPTION);
    let mut interned: HashMap<&str, Arc<str>> = HashMap::new();
    let mut sni = SniOptions::default();
    for (host, claimants) in by_host {
        let first = claimants[0].0;
        let option = if claimants.iter().all(|(option, _)| *option == first) {
            Arc::clone(interned.entry(first).or_insert_with(|| Arc::from(first)))
        } else {
            let mut options: Vec<&str> = claimants.iter().map(|(option, _)| *option).collect();
            options.sort_unstable();
            options.dedup();
            for (_, router) in &claimants {
                warnings.push((
                    router.to_string(),
                    Problem::new(
                        "TLSOptionsConflict",
                        format!(
                            "host `{host}` is served with different TLS options ({}): `default` is used",
                            options.join(", ")
                        ),
                    ),
                ));
            }
            Arc::clone(&default)
        };
        match host.strip_prefix("*.") {
            Some(suffix) => sni.wildcard.insert(suffix.into(), option),
            None => sni.exact.insert(host.into(), option),
        };
    }
    sni
}

impl TlsGeneration {
    /// No routers yet: every name gets the built-in `default` option.
    pub fn empty(entry_points: usize) -> TlsGeneration {
        TlsBuilder::new(&TlsConfig::default(), entry_points, None)
            .finish()
            .0
    }

    /// The option name a server name gets on entry point `slot`.
    pub fn option_for(&self, slot: usize, server_name: Option<&str>) -> &str {
        let (Some(sni), Some(name)) = (self.entry_points.get(slot), server_name) else {
            return DEFAULT_OPTION;
        };
        let name = name.strip_suffix('.').unwrap_or(name);
        if let Some(option) = sni.exact.get(name) {
            return option;
        }
        let wildcard = name
            .split_once('.')
            .filter(|(label, _)| !label.is_empty())
            .and_then(|(_, suffix)| sni.wildcard.get(suffix));
        wildcard.map_or(DEFAULT_OPTION, |option| option)
    }

    /// Whether an HTTPS router of entry point `slot` names this server name in a `Host`
    /// rule: such routers take the connection before TCP routers do.
    pub fn has_host_claim(&self, slot: usize, server_name: Option<&str>) -> bool {
        let (Some(sni), Some(name)) = (self.entry_points.get(slot), server_name) else {
            return false;
        };
        let name = name.strip_suffix('.').unwrap_or(name);
        sni.exact.contains_key(name)
            || name
                .split_once('.')
                .filter(|(label, _)| !label.is_empty())
                .is_some_and(|(_, suffix)| sni.wildcard.contains_key(suffix))
    }

    /// The rustls configuration for a server name on entry point `slot`, with the option's
    /// name; `None` when that option cannot serve (unknown or invalid): refuse the handshake.
    pub fn server_config(
        &self,
        slot: usize,
        server_name: Option<&str>,
    ) -> Option<(&str, Arc<ServerConfig>)> {
        let name = self.option_for(slot, server_name);
        let option = self.options.get(name)?;
        option
            .config
            .as_ref()
            .ok()
            .map(|config| (name, Arc::clone(config)))
    }

    /// The rustls configuration of a named option (TCP routers terminate with their own).
    pub fn option_config(&self, options: &str) -> Option<Arc<ServerConfig>> {
        let option = self.options.get(option_name(options))?;
        option.config.as_ref().ok().map(Arc::clone)
    }

    /// Domain fronting guard (reference §7.2.5): a request whose host maps to another option
    /// than the one its handshake negotiated must be answered 421 Misdirected Request.
    pub fn is_misdirected(
        &self,
        slot: usize,
        negotiated: &str,
        request_host: Option<&str>,
    ) -> bool {
        let lower;
        let host = match request_host {
            Some(host) if host.bytes().any(|b| b.is_ascii_uppercase()) => {
                lower = host.to_ascii_lowercase();
                Some(lower.as_str())
            }
            other => other,
        };
        self.option_for(slot, host) != negotiated
    }

    /// The certificate store being served.
    pub fn certificates(&self) -> &CertificateStore {
        &self.store
    }

    /// Options that cannot serve, with the reason.
    pub fn option_errors(&self) -> Vec<(String, TlsError)> {
        self.options
            .iter()
            .filter_map(|(name, option)| {
                option
                    .config
                    .as_ref()
                    .err()
                    .map(|err| (name.clone(), err.clone()))
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claim(router: &str, hosts: &[&str], options: &str) -> TlsRouterHosts {
        TlsRouterHosts {
            router: router.into(),
            hosts: hosts.iter().map(|h| h.to_string()).collect(),
            options: options.into(),
        }
    }

    fn config(options: &[(&str, TlsOptions)]) -> TlsConfig {
        TlsConfig {
            options: options
                .iter()
                .map(|(name, o)| (name.to_string(), o.clone()))
                .collect(),
            ..TlsConfig::default()
        }
    }

    fn strict() -> TlsOptions {
        TlsOptions {
            min_version: "VersionTLS13".into(),
            ..TlsOptions::default()
        }
    }

    #[test]
    fn hosts_pick_their_routers_option_and_everything_else_gets_default() {
        let mut builder = TlsBuilder::new(&config(&[("strict", strict())]), 2, None);
        builder.claim(
            0,
            claim(
                "api",
                &["api.example.com", "*.internal.example.com"],
                "strict",
            ),
        );
        builder.claim(0, claim("web", &["www.example.com"], ""));
        let (tls, warnings) = builder.finish();
        assert!(warnings.is_empty(), "{warnings:?}");
        assert_eq!(tls.option_for(0, Some("api.example.com")), "strict");
        assert_eq!(tls.option_for(0, Some("api.example.com.")), "strict");
        assert_eq!(tls.option_for(0, Some("db.internal.example.com")), "strict");
        assert_eq!(
            tls.option_for(0, Some("a.db.internal.example.com")),
            "default"
        );
        assert_eq!(tls.option_for(0, Some("www.example.com")), "default");
        assert_eq!(tls.option_for(0, None), "default");
        assert_eq!(
            tls.option_for(1, Some("api.example.com")),
            "default",
            "other entry point"
        );
        assert!(tls.has_host_claim(0, Some("www.example.com")));
        assert!(tls.has_host_claim(0, Some("x.internal.example.com")));
        assert!(!tls.has_host_claim(0, Some("other.example.com")));
        assert!(!tls.has_host_claim(0, None));
        assert!(tls.server_config(0, Some("api.example.com")).is_some());
    }

    #[test]
    fn conflicting_options_on_one_host_fall_back_to_default_with_a_warning() {
        let mut builder = TlsBuilder::new(
            &config(&[("strict", strict()), ("lax", TlsOptions::default())]),
            1,
            None,
        );
        builder.claim(0, claim("a", &["shared.example.com"], "strict"));
        builder.claim(
            0,
            claim("b", &["shared.example.com", "b.example.com"], "lax"),
        );
        let (tls, warnings) = builder.finish();
        assert_eq!(tls.option_for(0, Some("shared.example.com")), "default");
        assert_eq!(tls.option_for(0, Some("b.example.com")), "lax");
        let routers: Vec<&str> = warnings.iter().map(|(router, _)| router.as_str()).collect();
        assert_eq!(routers, vec!["a", "b"]);
        assert_eq!(warnings[0].1.reason, "TLSOptionsConflict");
        assert!(
            warnings[0].1.message.contains("shared.example.com"),
            "{}",
            warnings[0].1.message
        );
    }

    #[test]
    fn an_option_without_hosts_is_not_applied() {
        let mut builder = TlsBuilder::new(&config(&[("strict", strict())]), 1, None);
        builder.claim(0, claim("catchall", &[], "strict"));
        let (_, warnings) = builder.finish();
        assert_eq!(warnings.len(), 1);
        assert_eq!(warnings[0].1.reason, "UnsupportedValue");
    }

    #[test]
    fn unknown_and_invalid_options_disable_routers_and_refuse_their_hosts() {
        let broken = TlsOptions {
            cipher_suites: vec!["TLS_NOPE".into()],
            ..TlsOptions::default()
        };
        let mut builder = TlsBuilder::new(&config(&[("broken", broken)]), 1, None);
        let missing = builder.router_problem("missing").unwrap();
        assert_eq!(missing.reason, "TLSOptionNotFound");
        assert_eq!(missing.message, "TLS option `missing` does not exist");
        let invalid = builder.router_problem("broken").unwrap();
        assert_eq!(invalid.reason, "RefInvalid");
        assert!(
            invalid.message.contains("cipher suite `TLS_NOPE`"),
            "{}",
            invalid.message
        );
        assert!(builder.router_problem("").is_none());
        assert!(builder.router_problem("default").is_none());

        builder.claim(0, claim("a", &["a.example.com"], "missing"));
        builder.claim(0, claim("b", &["b.example.com"], "broken"));
        let (tls, _) = builder.finish();
        assert!(tls.server_config(0, Some("a.example.com")).is_none());
        assert!(tls.server_config(0, Some("b.example.com")).is_none());
        assert!(tls.server_config(0, Some("c.example.com")).is_some());
        assert_eq!(tls.option_errors().len(), 1);
    }

    #[test]
    fn an_invalid_default_option_falls_back_to_the_built_in_one() {
        let broken = TlsOptions {
            min_version: "VersionSSL3".into(),
            ..TlsOptions::default()
        };
        let builder = TlsBuilder::new(&config(&[("default", broken)]), 1, None);
        assert!(builder.router_problem("").is_none());
        let (tls, _) = builder.finish();
        assert!(tls.server_config(0, None).is_some());
    }

    #[test]
    fn unchanged_certificates_and_options_are_reused() {
        let tls_config = config(&[("strict", strict())]);
        let (first, _) = TlsBuilder::new(&tls_config, 1, None).finish();
        let (second, _) = TlsBuilder::new(&tls_config, 1, Some(&first)).finish();
        assert!(Arc::ptr_eq(&first.store, &second.store));
        let config_of = |tls: &TlsGeneration| tls.option_config("strict").unwrap();
        assert!(Arc::ptr_eq(&config_of(&first), &config_of(&second)));

        let changed = config(&[(
            "strict",
            TlsOptions {
                sni_strict: true,
                ..strict()
            },
        )]);
        let (third, _) = TlsBuilder::new(&changed, 1, Some(&second)).finish();
        assert!(Arc::ptr_eq(&second.store, &third.store));
        assert!(!Arc::ptr_eq(&config_of(&second), &config_of(&third)));
        assert!(Arc::ptr_eq(
            &second.option_config("default").unwrap(),
            &third.option_config("default").unwrap()
        ));
    }

    #[test]
    fn the_misdirected_guard_compares_the_request_host_with_the_negotiated_option() {
        let mut builder = TlsBuilder::new(&config(&[("strict", strict())]), 1, None);
        builder.claim(0, claim("api", &["api.example.com"], "strict"));
        let (tls, _) = builder.finish();
        assert!(!tls.is_misdirected(0, "strict", Some("API.example.com")));
        assert!(tls.is_misdirected(0, "default", Some("api.example.com")));
        assert!(tls.is_misdirected(0, "strict", Some("www.example.com")));
        assert!(!tls.is_misdirected(0, "default", None));
    }
}
