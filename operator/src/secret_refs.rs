//! Which Secrets and ConfigMaps the Mesh objects refer to. The world keeps the data of these
//! only: every other Secret or ConfigMap of a watched namespace is remembered by name, not
//! held in memory.
//!
//! Mirrors every read of `translate/secrets.rs` and of the ConfigMap CAs of
//! `translate/transport.rs`; all references are resolved in the namespace of the referring
//! object.

use std::collections::BTreeSet;

use mesh_crds::common::{ClientTls, RootCa};
use serde_json::Value;

use crate::snapshot::{Entries, Object, ObjectKey, Snapshot};

/// Plugin values of this form are replaced by a Secret's value (`urn:k8s:secret:name:key`).
pub(crate) const SECRET_URN_PREFIX: &str = "urn:k8s:secret:";

/// Secrets and ConfigMaps (namespace/name) some object reads.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReferencedData {
    pub secrets: BTreeSet<ObjectKey>,
    pub config_maps: BTreeSet<ObjectKey>,
}

impl ReferencedData {
    /// True when the object of `kind` (`Secret` or `ConfigMap`) named `key` is referenced.
    pub fn contains(&self, kind: &str, key: &ObjectKey) -> bool {
        match kind {
            "Secret" => self.secrets.contains(key),
            "ConfigMap" => self.config_maps.contains(key),
            _ => false,
        }
    }
}

/// The Secrets and ConfigMaps some object of `snapshot` reads.
pub fn referenced_data(snapshot: &Snapshot) -> ReferencedData {
    let mut found = References::default();
    for route in valid(&snapshot.ingress_routes) {
        let tls = route.spec.tls.as_ref();
        found.add(route, tls.and_then(|tls| tls.secret_name.as_deref()));
    }
    for route in valid(&snapshot.ingress_route_tcps) {
        let tls = route.spec.tls.as_ref().filter(|tls| !tls.passthrough);
        found.add(route, tls.and_then(|tls| tls.secret_name.as_deref()));
    }
    for middleware in valid(&snapshot.middlewares) {
        let spec = &middleware.spec;
        let basic = spec.basic_auth.as_ref().and_then(|a| a.secret.as_deref());
        let digest = spec.digest_auth.as_ref().and_then(|a| a.secret.as_deref());
        found.add(middleware, basic);
        found.add(middleware, digest);
        if let Some(tls) = spec.forward_auth.as_ref().and_then(|f| f.tls.as_ref()) {
            found.add_client_tls(middleware, tls);
        }
        if let Some(redis) = spec.rate_limit.as_ref().and_then(|r| r.redis.as_ref()) {
            found.add(middleware, redis.secret.as_deref());
            if let Some(tls) = &redis.tls {
                found.add_client_tls(middleware, tls);
            }
        }
        for config in spec.plugin.iter().flat_map(|plugins| plugins.values()) {
            found.add_urns(middleware, config);
        }
    }
    for option in valid(&snapshot.tls_options) {
        for name in option.spec.client_auth.iter().flat_map(|a| &a.secret_names) {
            found.add(option, Some(name));
        }
    }
    for store in valid(&snapshot.tls_stores) {
        let default = store.spec.default_certificate.as_ref();
        found.add(store, default.map(|c| c.secret_name.as_str()));
        for certificate in &store.spec.certificates {
            found.add(store, Some(&certificate.secret_name));
        }
    }
    for transport in valid(&snapshot.servers_transports) {
        let spec = &transport.spec;
        found.add_transport(transport, &spec.root_cas, &spec.root_cas_secrets);
        found.add_all(transport, &spec.certificates_secrets);
    }
    for transport in valid(&snapshot.servers_transport_tcps) {
        if let Some(tls) = &transport.spec.tls {
            found.add_transport(transport, &tls.root_cas, &tls.root_cas_secrets);
            found.add_all(transport, &tls.certificates_secrets);
        }
    }
    for (key, ingress) in &snapshot.ingresses {
        let entries = ingress
            .spec
            .iter()
            .flat_map(|spec| spec.tls.iter().flatten());
        for entry in entries {
            if let Some(name) = entry.secret_name.as_deref().filter(|n| !n.is_empty()) {
                found.0.secrets.insert(ObjectKey::new(&key.namespace, name));
            }
        }
    }
    found.0
}

fn valid<S>(entries: &Entries<S>) -> impl Iterator<Item = &Object<S>> {
    entries.values().filter_map(|entry| entry.valid())
}

#[derive(Default)]
struct References(ReferencedData);

impl References {
    fn add<S>(&mut self, from: &Object<S>, name: Option<&str>) {
        if let Some(name) = name.filter(|name| !name.is_empty()) {
            self.0
                .secrets
                .insert(ObjectKey::new(&from.meta.namespace, name));
        }
    }

    fn add_config_map<S>(&mut self, from: &Object<S>, name: Option<&str>) {
        if let Some(name) = name.filter(|name| !name.is_empty()) {
            self.0
                .config_maps
                .insert(ObjectKey::new(&from.meta.namespace, name));
        }
    }

    fn add_all<S>(&mut self, from: &Object<S>, names: &[String]) {
        for name in names {
            self.add(from, Some(name));
        }
    }

    fn add_client_tls<S>(&mut self, from: &Object<S>, tls: &ClientTls) {
        self.add(from, tls.ca_secret.as_deref());
        self.add(from, tls.cert_secret.as_deref());
    }

    fn add_transport<S>(&mut self, from: &Object<S>, root_cas: &[RootCa], deprecated: &[String]) {
        self.add_all(from, deprecated);
        for root_ca in root_cas {
            self.add(from, root_ca.secret.as_deref());
            self.add_config_map(from, root_ca.config_map.as_deref());
        }
    }

    /// `urn:k8s:secret:<name>:<key>` strings, however deep in a plugin's configuration.
    fn add_urns<S>(&mut self, from: &Object<S>, value: &Value) {
        match value {
            Value::String(text) => {
                if let Some(rest) = text.strip_prefix(SECRET_URN_PREFIX)
                    && let Some((name, _key)) = rest.split_once(':')
                {
                    self.add(from, Some(name));
                }
            }
            Value::Array(items) => items.iter().for_each(|item| self.add_urns(from, item)),
            Value::Object(fields) => fields.values().for_each(|item| self.add_urns(from, item)),
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn referenced(kind: &str, api_version: &str, spec: Value) -> Vec<String> {
        let object = json!({
            "apiVersion": api_version,
            "kind": kind,
            "metadata": {"name": "o", "namespace": "ns"},
            "spec": spec,
        });
        let (snapshot, errors) = Snapshot::from_objects([object]);
        assert!(errors.is_empty(), "{errors:?}");
        referenced_data(&snapshot)
            .secrets
            .into_iter()
            .map(|key| key.to_string())
            .collect()
    }

    fn mesh(kind: &str, spec: Value) -> Vec<String> {
        referenced(kind, "mesh.io/v1alpha1", spec)
    }

    #[test]
    fn ingress_route_tls_secret() {
        let spec = json!({"routes": [], "tls": {"secretName": "cert"}});
        assert_eq!(mesh("IngressRoute", spec), ["ns/cert"]);
        let no_secret = json!({"routes": [], "tls": {}});
        assert!(mesh("IngressRoute", no_secret).is_empty());
    }

    #[test]
    fn ingress_route_tcp_tls_secret_unless_passthrough() {
        let spec = json!({"routes": [], "tls": {"secretName": "cert"}});
        assert_eq!(mesh("IngressRouteTCP", spec), ["ns/cert"]);
        let passthrough = json!({"routes": [], "tls": {"secretName": "cert", "passthrough": true}});
        assert!(mesh("IngressRouteTCP", passthrough).is_empty());
    }

    #[test]
    fn ingress_tls_secrets() {
        let spec = json!({"tls": [{"secretName": "a"}, {"hosts": ["x"]}, {"secretName": "b"}]});
        assert_eq!(
            referenced("Ingress", "networking.k8s.io/v1", spec),
            ["ns/a", "ns/b"]
        );
    }

    #[test]
    fn middleware_auth_secrets() {
        assert_eq!(
            mesh("Middleware", json!({"basicAuth": {"secret": "users"}})),
            ["ns/users"]
        );
        assert_eq!(
            mesh("Middleware", json!({"digestAuth": {"secret": "digest"}})),
            ["ns/digest"]
        );
    }

    #[test]
    fn middleware_forward_auth_tls_secrets() {
        let spec = json!({"forwardAuth": {"address": "http://a",
            "tls": {"caSecret": "ca", "certSecret": "client"}}});
        assert_eq!(mesh("Middleware", spec), ["ns/ca", "ns/client"]);
    }

    #[test]
    fn middleware_rate_limit_redis_secrets() {
        let spec = json!({"rateLimit": {"redis": {"secret": "creds", "tls": {"caSecret": "ca"}}}});
        assert_eq!(mesh("Middleware", spec), ["ns/ca", "ns/creds"]);
    }

    #[test]
    fn middleware_plugin_secret_urns_at_any_depth() {
        let spec = json!({"plugin": {"p": {"token": "urn:k8s:secret:tok:value",
            "nested": [{"x": "urn:k8s:secret:deep:k"}], "plain": "urn:k8s:secret:"}}});
        assert_eq!(mesh("Middleware", spec), ["ns/deep", "ns/tok"]);
    }

    #[test]
    fn tls_option_client_auth_secrets() {
        let spec = json!({"clientAuth": {"secretNames": ["ca1", "ca2"]}});
        assert_eq!(mesh("TLSOption", spec), ["ns/ca1", "ns/ca2"]);
    }

    #[test]
    fn tls_store_default_and_listed_certificates() {
        let spec = json!({"defaultCertificate": {"secretName": "default"},
            "certificates": [{"secretName": "extra"}]});
        assert_eq!(mesh("TLSStore", spec), ["ns/default", "ns/extra"]);
    }

    #[test]
    fn servers_transport_root_cas_and_client_certificates() {
        let spec = json!({"rootCAs": [{"secret": "ca"}, {"configMap": "cm"}],
            "rootCAsSecrets": ["old-ca"], "certificatesSecrets": ["client"]});
        assert_eq!(
            mesh("ServersTransport", spec),
            ["ns/ca", "ns/client", "ns/old-ca"]
        );
    }

    #[test]
    fn servers_transport_root_ca_config_maps() {
        let object = json!({
            "apiVersion": "mesh.io/v1alpha1", "kind": "ServersTransport",
            "metadata": {"name": "o", "namespace": "ns"},
            "spec": {"rootCAs": [{"secret": "ca"}, {"configMap": "cm"}]},
        });
        let tcp = json!({
            "apiVersion": "mesh.io/v1alpha1", "kind": "ServersTransportTCP",
            "metadata": {"name": "t", "namespace": "ns"},
            "spec": {"tls": {"rootCAs": [{"configMap": "tcp-cm"}]}},
        });
        let (snapshot, errors) = Snapshot::from_objects([object, tcp]);
        assert!(errors.is_empty(), "{errors:?}");
        let found = referenced_data(&snapshot);
        let names: Vec<String> = found.config_maps.iter().map(|k| k.to_string()).collect();
        assert_eq!(names, ["ns/cm", "ns/tcp-cm"]);
        assert!(found.contains("ConfigMap", &ObjectKey::new("ns", "cm")));
        assert!(!found.contains("Secret", &ObjectKey::new("ns", "cm")));
        assert!(found.contains("Secret", &ObjectKey::new("ns", "ca")));
    }

    #[test]
    fn servers_transport_tcp_tls_secrets() {
        let spec = json!({"tls": {"rootCAs": [{"secret": "ca"}], "rootCAsSecrets": ["old-ca"],
            "certificatesSecrets": ["client"]}});
        assert_eq!(
            mesh("ServersTransportTCP", spec),
            ["ns/ca", "ns/client", "ns/old-ca"]
        );
    }

    #[test]
    fn objects_without_secret_fields_reference_nothing() {
        assert!(mesh("Middleware", json!({"headers": {}})).is_empty());
        assert!(mesh("TLSStore", json!({})).is_empty());
    }
}
