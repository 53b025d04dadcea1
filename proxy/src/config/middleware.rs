//! `http.middlewares.<name>`: one middleware, written as Traefik writes it: an object with
//! exactly one key naming its type (`stripPrefix: {prefixes: [/api]}`). [`Middleware::kind`]
//! checks that exactly one key is set.
use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// The HTTP middleware types of reference §3.1. Each field is one type; exactly one must be set.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Middleware {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub add_prefix: Option<AddPrefix>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub strip_prefix: Option<StripPrefix>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub strip_prefix_regex: Option<StripPrefixRegex>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub replace_path: Option<ReplacePath>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub replace_path_regex: Option<ReplacePathRegex>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub chain: Option<Chain>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ip_allow_list: Option<IpAllowList>,
    /// Deprecated alias of `ipAllowList`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ip_white_list: Option<IpAllowList>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub headers: Option<Headers>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub encoded_characters: Option<EncodedCharacters>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub errors: Option<ErrorPage>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rate_limit: Option<RateLimit>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub redirect_regex: Option<RedirectRegex>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub redirect_scheme: Option<RedirectScheme>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub basic_auth: Option<BasicAuth>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub digest_auth: Option<BasicAuth>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub forward_auth: Option<ForwardAuth>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub in_flight_req: Option<InFlightReq>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub buffering: Option<Buffering>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub circuit_breaker: Option<CircuitBreaker>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub compress: Option<Compress>,
    #[serde(rename = "passTLSClientCert", skip_serializing_if = "Option::is_none")]
    pub pass_tls_client_cert: Option<PassTlsClientCert>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retry: Option<Retry>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub content_type: Option<ContentType>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub grpc_web: Option<GrpcWeb>,
    /// Plugin name -> free-form settings.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub plugin: Option<BTreeMap<String, serde_json::Value>>,
}

/// The one type a [`Middleware`] is, borrowed.
#[derive(Debug, Clone, Copy)]
pub enum MiddlewareKind<'a> {
    AddPrefix(&'a AddPrefix),
    StripPrefix(&'a StripPrefix),
    StripPrefixRegex(&'a StripPrefixRegex),
    ReplacePath(&'a ReplacePath),
    ReplacePathRegex(&'a ReplacePathRegex),
    Chain(&'a Chain),
    IpAllowList(&'a IpAllowList),
    Headers(&'a Headers),
    EncodedCharacters(&'a EncodedCharacters),
    Errors(&'a ErrorPage),
    RateLimit(&'a RateLimit),
    RedirectRegex(&'a RedirectRegex),
    RedirectScheme(&'a RedirectScheme),
    BasicAuth(&'a BasicAuth),
    DigestAuth(&'a BasicAuth),
    ForwardAuth(&'a ForwardAuth),
    InFlightReq(&'a InFlightReq),
    Buffering(&'a Buffering),
    CircuitBreaker(&'a CircuitBreaker),
    Compress(&'a Compress),
    PassTlsClientCert(&'a PassTlsClientCert),
    Retry(&'a Retry),
    ContentType(&'a ContentType),
    GrpcWeb(&'a GrpcWeb),
    Plugin(&'a BTreeMap<String, serde_json::Value>),
}

/// A middleware with no type or several.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MiddlewareKindError {
    #[error("no middleware type set")]
    Unspecified,
    #[error("multi-types middleware not supported ({0})")]
    Several(String),
}

impl Middleware {
    /// The single type this middleware is.
    pub fn kind(&self) -> Result<MiddlewareKind<'_>, MiddlewareKindError> {
        let mut set = self.types_set();
        match set.len() {
            0 => Err(MiddlewareKindError::Unspecified),
            1 => Ok(set.remove(0).1),
            _ => {
                let names: Vec<&str> = set.iter().map(|(name, _)| *name).collect();
                Err(MiddlewareKindError::Several(names.join(", ")))
            }
        }
    }

    /// The configuration key of the first type set (`stripPrefix`, ...), for messages.
    pub fn type_name(&self) -> Option<&'static str> {
        self.types_set().first().map(|(name, _)| *name)
    }

    fn types_set(&self) -> Vec<(&'static str, MiddlewareKind<'_>)> {
        use MiddlewareKind as K;
        let candidates: [(&'static str, Option<MiddlewareKind<'_>>); 26] = [
            ("addPrefix", self.add_prefix.as_ref().map(K::AddPrefix)),
            (
                "stripPrefix",
                self.strip_prefix.as_ref().map(K::StripPrefix),
            ),
            (
                "stripPrefixRegex",
                self.strip_prefix_regex.as_ref().map(K::StripPrefixRegex),
            ),
            (
                "replacePath",
                self.replace_path.as_ref().map(K::ReplacePath),
            ),
            (
                "replacePathRegex",
                self.replace_path_regex.as_ref().map(K::ReplacePathRegex),
            ),
            ("chain", self.chain.as_ref().map(K::Chain)),
            (
                "ipAllowList",
                self.ip_allow_list.as_ref().map(K::IpAllowList),
            ),
            (
                "ipWhiteList",
                self.ip_white_list.as_ref().map(K::IpAllowList),
            ),
            ("headers", self.headers.as_ref().map(K::Headers)),
            (
                "encodedCharacters",
                self.encoded_characters.as_ref().map(K::EncodedCharacters),
            ),
            ("errors", self.errors.as_ref().map(K::Errors)),
            ("rateLimit", self.rate_limit.as_ref().map(K::RateLimit)),
            (
                "redirectRegex",
                self.redirect_regex.as_ref().map(K::RedirectRegex),
            ),
            (
                "redirectScheme",
                self.redirect_scheme.as_ref().map(K::RedirectScheme),
            ),
            ("basicAuth", self.basic_auth.as_ref().map(K::BasicAuth)),
            ("digestAuth", self.digest_auth.as_ref().map(K::DigestAuth)),
            (
                "forwardAuth",
                self.forward_auth.as_ref().map(K::ForwardAuth),
            ),
            (
                "inFlightReq",
                self.in_flight_req.as_ref().map(K::InFlightReq),
            ),
            ("buffering", self.buffering.as_ref().map(K::Buffering)),
            (
                "circuitBreaker",
                self.circuit_breaker.as_ref().map(K::CircuitBreaker),
            ),
            ("compress", self.compress.as_ref().map(K::Compress)),
            (
                "passTLSClientCert",
                self.pass_tls_client_cert.as_ref().map(K::PassTlsClientCert),
            ),
            ("retry", self.retry.as_ref().map(K::Retry)),
            (
                "contentType",
                self.content_type.as_ref().map(K::ContentType),
            ),
            ("grpcWeb", self.grpc_web.as_ref().map(K::GrpcWeb)),
            ("plugin", self.plugin.as_ref().map(K::Plugin)),
        ];
        candidates
            .into_iter()
            .filter_map(|(name, kind)| kind.map(|k| (name, k)))
            .collect()
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct AddPrefix {
    /// Must start with `/`.
    pub prefix: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct StripPrefix {
    pub prefixes: Vec<String>,
    /// Deprecated: `/api` stripped from `/api` leaves `/` either way.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub force_slash: Option<bool>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct StripPrefixRegex {
    pub regex: Vec<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ReplacePath {
    pub path: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ReplacePathRegex {
    pub regex: String,
    /// May refer to groups: `$1`, `${name}`.
    pub replacement: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Chain {
    /// Middleware names, run in order.
    pub middlewares: Vec<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct IpStrategy {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub depth: Option<u32>,
    #[serde(rename = "excludedIPs", skip_serializing_if = "Vec::is_empty")]
    pub excluded_ips: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ipv6_subnet: Option<u8>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct IpAllowList {
    pub source_range: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ip_strategy: Option<IpStrategy>,
    /// Default 403.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reject_status_code: Option<u16>,
}

/// `headers`: custom request/response headers, CORS and security headers.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Headers {
    /// Set on the request; an empty value removes the header.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub custom_request_headers: BTreeMap<String, String>,
    /// Set on the response; an empty value removes the header.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub custom_response_headers: BTreeMap<String, String>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub access_control_allow_credentials: bool,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub access_control_allow_headers: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub access_control_allow_methods: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub access_control_allow_origin_list: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub access_control_allow_origin_list_regex: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub access_control_expose_headers: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub access_control_max_age: Option<i64>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub add_vary_header: bool,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub allowed_hosts: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub hosts_proxy_headers: Vec<String>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub ssl_proxy_headers: BTreeMap<String, String>,
    #[serde(skip_serializing_if = "is_zero")]
    pub sts_seconds: i64,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub sts_include_subdomains: bool,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub sts_preload: bool,
    #[serde(rename = "forceSTSHeader", skip_serializing_if = "std::ops::Not::not")]
    pub force_sts_header: bool,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub frame_deny: bool,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub custom_frame_options_value: String,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub content_type_nosniff: bool,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub browser_xss_filter: bool,
    #[serde(
        rename = "customBrowserXSSValue",
        skip_serializing_if = "String::is_empty"
    )]
    pub custom_browser_xss_value: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub content_security_policy: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub content_security_policy_report_only: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub public_key: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub referrer_policy: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub permissions_policy: String,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub is_development: bool,
}

fn is_zero(value: &i64) -> bool {
    *value == 0
}

impl Headers {
    /// Whether only custom request/response headers are set (what the proxy serves today).
    pub fn only_custom_headers(&self) -> bool {
        let custom_only = Headers {
            custom_request_headers: self.custom_request_headers.clone(),
            custom_response_headers: self.custom_response_headers.clone(),
            ..Headers::default()
        };
        *self == custom_only
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct EncodedCharacters {
    pub allow_encoded_slash: bool,
    pub allow_encoded_back_slash: bool,
    pub allow_encoded_null_character: bool,
    pub allow_encoded_semicolon: bool,
    pub allow_encoded_percent: bool,
    pub allow_encoded_question_mark: bool,
    pub allow_encoded_hash: bool,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ErrorPage {
    /// Status ranges, e.g. `500-599`.
    pub status: Vec<String>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub status_rewrites: BTreeMap<String, u16>,
    /// Service name serving the error page.
    pub service: String,
    /// Path and query, with `{status}`, `{originalStatus}`, `{url}` placeholders.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub query: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error_request_headers: Option<Vec<String>>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct SourceCriterion {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ip_strategy: Option<IpStrategy>,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub request_header_name: String,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub request_host: bool,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct RateLimit {
    pub average: i64,
    /// Go duration; default 1s.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub period: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub burst: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source_criterion: Option<SourceCriterion>,
    /// Distributed bucket settings, free-form.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub redis: Option<serde_json::Value>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct RedirectRegex {
    /// Matched against the full request URL (`http://host/path?query`).
    pub regex: String,
    pub replacement: String,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub permanent: bool,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct RedirectScheme {
    pub scheme: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub port: String,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub permanent: bool,
}

/// `basicAuth` and `digestAuth`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct BasicAuth {
    /// htpasswd lines (`user:hash`, or `user:realm:hash` for digest).
    pub users: Vec<String>,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub realm: String,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub remove_header: bool,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub header_field: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ForwardAuth {
    pub address: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tls: Option<ForwardAuthTls>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub trust_forward_header: bool,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub auth_response_headers: Vec<String>,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub auth_response_headers_regex: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub auth_request_headers: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub add_auth_cookies_to_response: Vec<String>,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub header_field: String,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub forward_body: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_body_size: Option<i64>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub preserve_location_header: bool,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub preserve_request_method: bool,
    #[serde(rename = "authSigninURL", skip_serializing_if = "String::is_empty")]
    pub auth_signin_url: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ForwardAuthTls {
    /// PEM text.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub ca: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub certificate: Option<super::tls::CertificatePair>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub insecure_skip_verify: bool,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct InFlightReq {
    pub amount: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source_criterion: Option<SourceCriterion>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Buffering {
    pub max_request_body_bytes: i64,
    pub mem_request_body_bytes: i64,
    pub max_response_body_bytes: i64,
    pub mem_response_body_bytes: i64,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub retry_expression: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct CircuitBreaker {
    pub expression: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub check_period: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub fallback_duration: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub recovery_duration: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub response_code: Option<u16>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Compress {
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub excluded_content_types: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub included_content_types: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub min_response_body_bytes: Option<i64>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub encodings: Vec<String>,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub default_encoding: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct PassTlsClientCert {
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub pem: bool,
    /// Which certificate fields go into `X-Forwarded-Tls-Client-Cert-Info`, free-form.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub info: Option<serde_json::Value>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Retry {
    pub attempts: i64,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub initial_interval: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub timeout: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_request_body_bytes: Option<i64>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub status: Vec<String>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub disable_retry_on_network_error: bool,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub retry_non_idempotent_method: bool,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ContentType {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub auto_detect: Option<bool>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct GrpcWeb {
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub allow_origins: Vec<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exactly_one_type_is_required() {
        let none = Middleware::default();
        assert_eq!(none.kind().unwrap_err(), MiddlewareKindError::Unspecified);

        let two = Middleware {
            add_prefix: Some(AddPrefix {
                prefix: "/a".into(),
            }),
            replace_path: Some(ReplacePath { path: "/b".into() }),
            ..Middleware::default()
        };
        let err = two.kind().unwrap_err();
        assert_eq!(
            err.to_string(),
            "multi-types middleware not supported (addPrefix, replacePath)"
        );

        let one = Middleware {
            add_prefix: Some(AddPrefix {
                prefix: "/a".into(),
            }),
            ..Middleware::default()
        };
        assert!(matches!(one.kind(), Ok(MiddlewareKind::AddPrefix(p)) if p.prefix == "/a"));
        assert_eq!(one.type_name(), Some("addPrefix"));
    }

    #[test]
    fn type_names_follow_the_configuration_keys() {
        let yaml = "passTLSClientCert: {pem: true}";
        let mw: Middleware = serde_yaml::from_str(yaml).unwrap();
        assert_eq!(mw.type_name(), Some("passTLSClientCert"));
        let yaml = "headers: {forceSTSHeader: true, customBrowserXSSValue: x}";
        let mw: Middleware = serde_yaml::from_str(yaml).unwrap();
        let headers = mw.headers.unwrap();
        assert!(headers.force_sts_header);
        assert_eq!(headers.custom_browser_xss_value, "x");
        assert!(!headers.only_custom_headers());
    }
}
