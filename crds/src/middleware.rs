//! Middleware: HTTP request/response processing attached to routes (reference §1.5, §3.1).
//! Exactly one key should be set; two keys are accepted here and rejected when built.

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::common::{
    ClientTls, IpStrategy, LoadBalancerSpec, ObjectRef, SourceCriterion, is_false,
};
use crate::status::MeshStatus;

#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[kube(
    group = "mesh.io",
    version = "v1alpha1",
    kind = "Middleware",
    doc = "An HTTP middleware (exactly one of the spec keys) used by IngressRoute routes.",
    namespaced,
    status = "MeshStatus",
    shortname = "mw",
    category = "mesh",
    derive = "PartialEq",
    printcolumn = r#"{"name":"Ready","type":"string","jsonPath":".status.conditions[?(@.type==\"Ready\")].status"}"#,
    printcolumn = r#"{"name":"Reason","type":"string","jsonPath":".status.conditions[?(@.type==\"Ready\")].reason"}"#,
    printcolumn = r#"{"name":"Age","type":"date","jsonPath":".metadata.creationTimestamp"}"#,
    printcolumn = r#"{"name":"Message","type":"string","priority":1,"jsonPath":".status.conditions[?(@.type==\"Ready\")].message"}"#
)]
#[serde(rename_all = "camelCase")]
pub struct MiddlewareSpec {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub add_prefix: Option<AddPrefix>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub strip_prefix: Option<StripPrefix>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub strip_prefix_regex: Option<StripPrefixRegex>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replace_path: Option<ReplacePath>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replace_path_regex: Option<ReplacePathRegex>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chain: Option<Chain>,
    /// Deprecated alias of `ipAllowList` (always answers 403).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ip_white_list: Option<IpWhiteList>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ip_allow_list: Option<IpAllowList>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub headers: Option<Headers>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub encoded_characters: Option<EncodedCharacters>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub errors: Option<ErrorPage>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate_limit: Option<RateLimit>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub redirect_regex: Option<RedirectRegex>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub redirect_scheme: Option<RedirectScheme>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub basic_auth: Option<BasicAuth>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub digest_auth: Option<DigestAuth>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub forward_auth: Option<ForwardAuth>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub in_flight_req: Option<InFlightReq>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub buffering: Option<Buffering>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub circuit_breaker: Option<CircuitBreaker>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub compress: Option<Compress>,
    #[serde(
        default,
        rename = "passTLSClientCert",
        skip_serializing_if = "Option::is_none"
    )]
    pub pass_tls_client_cert: Option<PassTlsClientCert>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry: Option<Retry>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_type: Option<ContentType>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grpc_web: Option<GrpcWeb>,
    /// Plugin name to its free-form configuration.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "crate::schema::plugin_map")]
    pub plugin: Option<BTreeMap<String, serde_json::Value>>,
}

impl MiddlewareSpec {
    /// The spec keys that are set, in the order of the reference (a valid spec has one).
    pub fn configured_types(&self) -> Vec<&'static str> {
        let candidates: [(&'static str, bool); 26] = [
            ("addPrefix", self.add_prefix.is_some()),
            ("stripPrefix", self.strip_prefix.is_some()),
            ("stripPrefixRegex", self.strip_prefix_regex.is_some()),
            ("replacePath", self.replace_path.is_some()),
            ("replacePathRegex", self.replace_path_regex.is_some()),
            ("chain", self.chain.is_some()),
            ("ipWhiteList", self.ip_white_list.is_some()),
            ("ipAllowList", self.ip_allow_list.is_some()),
            ("headers", self.headers.is_some()),
            ("encodedCharacters", self.encoded_characters.is_some()),
            ("errors", self.errors.is_some()),
            ("rateLimit", self.rate_limit.is_some()),
            ("redirectRegex", self.redirect_regex.is_some()),
            ("redirectScheme", self.redirect_scheme.is_some()),
            ("basicAuth", self.basic_auth.is_some()),
            ("digestAuth", self.digest_auth.is_some()),
            ("forwardAuth", self.forward_auth.is_some()),
            ("inFlightReq", self.in_flight_req.is_some()),
            ("buffering", self.buffering.is_some()),
            ("circuitBreaker", self.circuit_breaker.is_some()),
            ("compress", self.compress.is_some()),
            ("passTLSClientCert", self.pass_tls_client_cert.is_some()),
            ("retry", self.retry.is_some()),
            ("contentType", self.content_type.is_some()),
            ("grpcWeb", self.grpc_web.is_some()),
            ("plugin", self.plugin.is_some()),
        ];
        candidates
            .into_iter()
            .filter(|(_, set)| *set)
            .map(|(name, _)| name)
            .collect()
    }
}

/// Prepends a prefix to the request path.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(extend("x-kubernetes-validations" = [{
    "rule": "!has(self.prefix) || self.prefix.startsWith('/')",
    "message": "must start with a '/'",
}]))]
pub struct AddPrefix {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prefix: Option<String>,
}

/// Removes the first matching prefix; the removed part goes to `X-Forwarded-Prefix`.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct StripPrefix {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub prefixes: Vec<String>,
    /// Deprecated.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub force_slash: Option<bool>,
}

#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct StripPrefixRegex {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub regex: Vec<String>,
}

/// Replaces the path; the original goes to `X-Replaced-Path`.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ReplacePath {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
}

#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ReplacePathRegex {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub regex: Option<String>,
    /// May use `$1`-style references to the regex groups.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replacement: Option<String>,
}

/// An ordered list of other Middlewares.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Chain {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub middlewares: Vec<ObjectRef>,
}

#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct IpWhiteList {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub source_range: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ip_strategy: Option<IpStrategy>,
}

fn default_reject_status_code() -> i64 {
    403
}

/// Rejects clients whose IP is outside `sourceRange`.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct IpAllowList {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub source_range: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ip_strategy: Option<IpStrategy>,
    #[serde(default = "default_reject_status_code")]
    pub reject_status_code: i64,
}

/// Custom headers, CORS and security headers.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Headers {
    /// Added to requests; an empty value removes the header.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub custom_request_headers: BTreeMap<String, String>,
    /// Added to responses; an empty value removes the header.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub custom_response_headers: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "is_false")]
    pub access_control_allow_credentials: bool,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub access_control_allow_headers: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub access_control_allow_methods: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub access_control_allow_origin_list: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub access_control_allow_origin_list_regex: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub access_control_expose_headers: Vec<String>,
    /// Seconds a preflight response may be cached.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub access_control_max_age: Option<i64>,
    #[serde(default, skip_serializing_if = "is_false")]
    pub add_vary_header: bool,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub allowed_hosts: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub hosts_proxy_headers: Vec<String>,
    #[serde(
        default,
        rename = "sslProxyHeaders",
        skip_serializing_if = "BTreeMap::is_empty"
    )]
    pub ssl_proxy_headers: BTreeMap<String, String>,
    #[serde(
        default,
        rename = "stsSeconds",
        skip_serializing_if = "Option::is_none"
    )]
    pub sts_seconds: Option<i64>,
    #[serde(
        default,
        rename = "stsIncludeSubdomains",
        skip_serializing_if = "is_false"
    )]
    pub sts_include_subdomains: bool,
    #[serde(default, rename = "stsPreload", skip_serializing_if = "is_false")]
    pub sts_preload: bool,
    #[serde(default, rename = "forceSTSHeader", skip_serializing_if = "is_false")]
    pub force_sts_header: bool,
    #[serde(default, skip_serializing_if = "is_false")]
    pub frame_deny: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub custom_frame_options_value: Option<String>,
    #[serde(default, skip_serializing_if = "is_false")]
    pub content_type_nosniff: bool,
    #[serde(default, skip_serializing_if = "is_false")]
    pub browser_xss_filter: bool,
    #[serde(
        default,
        rename = "customBrowserXSSValue",
        skip_serializing_if = "Option::is_none"
    )]
    pub custom_browser_xss_value: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_security_policy: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_security_policy_report_only: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub public_key: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub referrer_policy: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub permissions_policy: Option<String>,
    #[serde(default, skip_serializing_if = "is_false")]
    pub is_development: bool,
    /// Deprecated: use `permissionsPolicy`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub feature_policy: Option<String>,
    /// Deprecated: use a redirectScheme middleware.
    #[serde(
        default,
        rename = "sslRedirect",
        skip_serializing_if = "Option::is_none"
    )]
    pub ssl_redirect: Option<bool>,
    /// Deprecated.
    #[serde(
        default,
        rename = "sslTemporaryRedirect",
        skip_serializing_if = "Option::is_none"
    )]
    pub ssl_temporary_redirect: Option<bool>,
    /// Deprecated.
    #[serde(default, rename = "sslHost", skip_serializing_if = "Option::is_none")]
    pub ssl_host: Option<String>,
    /// Deprecated.
    #[serde(
        default,
        rename = "sslForceHost",
        skip_serializing_if = "Option::is_none"
    )]
    pub ssl_force_host: Option<bool>,
}

/// Which encoded characters a request path may contain (all refused by default, 400).
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct EncodedCharacters {
    #[serde(default, skip_serializing_if = "is_false")]
    pub allow_encoded_slash: bool,
    #[serde(default, skip_serializing_if = "is_false")]
    pub allow_encoded_back_slash: bool,
    #[serde(default, skip_serializing_if = "is_false")]
    pub allow_encoded_null_character: bool,
    #[serde(default, skip_serializing_if = "is_false")]
    pub allow_encoded_semicolon: bool,
    #[serde(default, skip_serializing_if = "is_false")]
    pub allow_encoded_percent: bool,
    #[serde(default, skip_serializing_if = "is_false")]
    pub allow_encoded_question_mark: bool,
    #[serde(default, skip_serializing_if = "is_false")]
    pub allow_encoded_hash: bool,
}

/// Serves an error page from `service` when the upstream answers one of `status`.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ErrorPage {
    /// Statuses or ranges, e.g. `500-599`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(inner(regex(pattern = r"^([1-5][0-9]{2}[,-]?)+$")))]
    pub status: Vec<String>,
    /// Status (or range) to the status returned to the client, e.g. `"418": 404`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub status_rewrites: BTreeMap<String, i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service: Option<LoadBalancerSpec>,
    /// Error page URL; `{status}`, `{originalStatus}` and `{url}` are replaced.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub query: Option<String>,
    /// Request headers forwarded to the error page (unset: all, empty: none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_request_headers: Option<Vec<String>>,
}

fn default_rate_limit_period() -> IntOrString {
    IntOrString::String("1s".to_string())
}

fn default_burst() -> i64 {
    1
}

/// Token bucket per client: `average` requests per `period`, with `burst`.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RateLimit {
    /// 0 disables the limit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0))]
    pub average: Option<i64>,
    #[serde(default = "default_rate_limit_period")]
    #[schemars(schema_with = "crate::schema::duration")]
    pub period: IntOrString,
    #[serde(default = "default_burst")]
    #[schemars(range(min = 0))]
    pub burst: i64,
    /// Default: the client's remote address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_criterion: Option<SourceCriterion>,
    /// Share the buckets between replicas through Redis.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub redis: Option<Redis>,
}

fn default_redis_endpoints() -> Vec<String> {
    vec!["localhost:6379".to_string()]
}

/// Redis connection of a distributed rate limit.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Redis {
    #[serde(default = "default_redis_endpoints")]
    pub endpoints: Vec<String>,
    /// Secret with `username` and `password`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls: Option<ClientTls>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub db: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0))]
    pub pool_size: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0))]
    pub min_idle_conns: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0))]
    pub max_active_conns: Option<i64>,
    #[serde(default = "default_redis_io_timeout")]
    #[schemars(schema_with = "crate::schema::duration")]
    pub read_timeout: IntOrString,
    #[serde(default = "default_redis_io_timeout")]
    #[schemars(schema_with = "crate::schema::duration")]
    pub write_timeout: IntOrString,
    #[serde(default = "default_redis_dial_timeout")]
    #[schemars(schema_with = "crate::schema::duration")]
    pub dial_timeout: IntOrString,
}

fn default_redis_io_timeout() -> IntOrString {
    IntOrString::String("3s".to_string())
}

fn default_redis_dial_timeout() -> IntOrString {
    IntOrString::String("5s".to_string())
}

/// Redirects when the full URL matches `regex`.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RedirectRegex {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub regex: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replacement: Option<String>,
    /// 301/308 instead of 302/307.
    #[serde(default, skip_serializing_if = "is_false")]
    pub permanent: bool,
}

/// Redirects to another scheme (and port).
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RedirectScheme {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scheme: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port: Option<String>,
    #[serde(default, skip_serializing_if = "is_false")]
    pub permanent: bool,
}

fn default_realm() -> String {
    "traefik".to_string()
}

/// HTTP Basic authentication against users in a Secret.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct BasicAuth {
    /// Secret in the Middleware's namespace: `kubernetes.io/basic-auth` or one htpasswd key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret: Option<String>,
    #[serde(default = "default_realm")]
    pub realm: String,
    /// Remove the Authorization header before forwarding.
    #[serde(default, skip_serializing_if = "is_false")]
    pub remove_header: bool,
    /// Header receiving the authenticated user name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub header_field: Option<String>,
}

/// HTTP Digest authentication against `user:realm:hash` lines in a Secret.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct DigestAuth {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret: Option<String>,
    #[serde(default = "default_realm")]
    pub realm: String,
    #[serde(default, skip_serializing_if = "is_false")]
    pub remove_header: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub header_field: Option<String>,
}

fn default_max_body_size() -> i64 {
    -1
}

/// Delegates authentication to an external service.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ForwardAuth {
    /// URL of the authentication server.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
    /// Deprecated.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trust_forward_header: Option<bool>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub auth_response_headers: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth_response_headers_regex: Option<String>,
    /// Request headers sent to the auth server (empty: all).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub auth_request_headers: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls: Option<ClientTls>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_response_body_size: Option<i64>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub add_auth_cookies_to_response: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub header_field: Option<String>,
    #[serde(default, skip_serializing_if = "is_false")]
    pub forward_body: bool,
    /// Largest body forwarded when `forwardBody` is set (-1: unlimited).
    #[serde(default = "default_max_body_size")]
    pub max_body_size: i64,
    #[serde(default, skip_serializing_if = "is_false")]
    pub preserve_location_header: bool,
    #[serde(default, skip_serializing_if = "is_false")]
    pub preserve_request_method: bool,
    /// Where a 401 from the auth server redirects.
    #[serde(
        default,
        rename = "authSigninURL",
        skip_serializing_if = "Option::is_none"
    )]
    pub auth_signin_url: Option<String>,
}

/// Limits concurrent requests per source (default source: the request Host).
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct InFlightReq {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0))]
    pub amount: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_criterion: Option<SourceCriterion>,
}

fn default_mem_body_bytes() -> i64 {
    1_048_576
}

/// Buffers request and response bodies.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Buffering {
    /// 0: no limit.
    #[serde(default)]
    #[schemars(range(min = 0))]
    pub max_request_body_bytes: i64,
    #[serde(default = "default_mem_body_bytes")]
    #[schemars(range(min = 0))]
    pub mem_request_body_bytes: i64,
    /// 0: no limit.
    #[serde(default)]
    #[schemars(range(min = 0))]
    pub max_response_body_bytes: i64,
    #[serde(default = "default_mem_body_bytes")]
    #[schemars(range(min = 0))]
    pub mem_response_body_bytes: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_expression: Option<String>,
}

fn default_check_period() -> IntOrString {
    IntOrString::String("100ms".to_string())
}

fn default_ten_seconds() -> IntOrString {
    IntOrString::String("10s".to_string())
}

fn default_circuit_breaker_response_code() -> i64 {
    503
}

/// Stops forwarding while `expression` holds.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CircuitBreaker {
    /// E.g. `NetworkErrorRatio() > 0.5`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expression: Option<String>,
    #[serde(default = "default_check_period")]
    #[schemars(schema_with = "crate::schema::duration")]
    pub check_period: IntOrString,
    #[serde(default = "default_ten_seconds")]
    #[schemars(schema_with = "crate::schema::duration")]
    pub fallback_duration: IntOrString,
    #[serde(default = "default_ten_seconds")]
    #[schemars(schema_with = "crate::schema::duration")]
    pub recovery_duration: IntOrString,
    /// Status returned while the breaker is open.
    #[serde(default = "default_circuit_breaker_response_code")]
    #[schemars(range(min = 100, max = 599))]
    pub response_code: i64,
}

fn default_min_response_body_bytes() -> i64 {
    1024
}

/// Compresses responses according to Accept-Encoding.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Compress {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub excluded_content_types: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub included_content_types: Vec<String>,
    #[serde(default = "default_min_response_body_bytes")]
    #[schemars(range(min = 0))]
    pub min_response_body_bytes: i64,
    /// Supported: gzip, br, zstd.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub encodings: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_encoding: Option<String>,
}

/// Passes the client certificate (or parts of it) to the backend in headers.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PassTlsClientCert {
    #[serde(default, skip_serializing_if = "is_false")]
    pub pem: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub info: Option<TlsClientCertInfo>,
}

#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct TlsClientCertInfo {
    #[serde(default, skip_serializing_if = "is_false")]
    pub not_after: bool,
    #[serde(default, skip_serializing_if = "is_false")]
    pub not_before: bool,
    #[serde(default, skip_serializing_if = "is_false")]
    pub sans: bool,
    #[serde(default, skip_serializing_if = "is_false")]
    pub serial_number: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<TlsClientCertSubject>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub issuer: Option<TlsClientCertIssuer>,
}

#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct TlsClientCertSubject {
    #[serde(default, skip_serializing_if = "is_false")]
    pub country: bool,
    #[serde(default, skip_serializing_if = "is_false")]
    pub province: bool,
    #[serde(default, skip_serializing_if = "is_false")]
    pub locality: bool,
    #[serde(default, skip_serializing_if = "is_false")]
    pub organization: bool,
    #[serde(default, skip_serializing_if = "is_false")]
    pub organizational_unit: bool,
    #[serde(default, skip_serializing_if = "is_false")]
    pub common_name: bool,
    #[serde(default, skip_serializing_if = "is_false")]
    pub serial_number: bool,
    #[serde(default, skip_serializing_if = "is_false")]
    pub domain_component: bool,
}

#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct TlsClientCertIssuer {
    #[serde(default, skip_serializing_if = "is_false")]
    pub country: bool,
    #[serde(default, skip_serializing_if = "is_false")]
    pub province: bool,
    #[serde(default, skip_serializing_if = "is_false")]
    pub locality: bool,
    #[serde(default, skip_serializing_if = "is_false")]
    pub organization: bool,
    #[serde(default, skip_serializing_if = "is_false")]
    pub common_name: bool,
    #[serde(default, skip_serializing_if = "is_false")]
    pub serial_number: bool,
    #[serde(default, skip_serializing_if = "is_false")]
    pub domain_component: bool,
}

fn default_retry_max_request_body_bytes() -> i64 {
    2 * 1_048_576
}

/// Re-sends a request on network errors and/or listed statuses.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Retry {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0))]
    pub attempts: Option<i64>,
    /// Overall time budget for all attempts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "crate::schema::duration")]
    pub timeout: Option<IntOrString>,
    /// First backoff interval (exponential, at most twice as long each time).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "crate::schema::duration")]
    pub initial_interval: Option<IntOrString>,
    /// -1: no limit.
    #[serde(default = "default_retry_max_request_body_bytes")]
    pub max_request_body_bytes: i64,
    /// Statuses or ranges that trigger a retry, e.g. `500-599`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub status: Vec<String>,
    #[serde(default, skip_serializing_if = "is_false")]
    pub disable_retry_on_network_error: bool,
    #[serde(default, skip_serializing_if = "is_false")]
    pub retry_non_idempotent_method: bool,
}

/// Re-enables Content-Type sniffing.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ContentType {
    /// Deprecated: presence of the middleware is enough.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auto_detect: Option<bool>,
}

/// Translates gRPC-Web requests to gRPC.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct GrpcWeb {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub allow_origins: Vec<String>,
}
