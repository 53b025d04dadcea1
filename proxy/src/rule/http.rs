//! HTTP rules: the matchers of Traefik's v3 syntax, compiled once per config.
use std::sync::Arc;

use http::HeaderName;
use regex::bytes::Regex;

use super::error::RuleError;
use super::host::HostPattern;
use super::ip::IpRange;
use super::request::{RequestView, query_pairs};
use super::syntax::{self, Arg, Call, Expr};
use super::v2::{self, RuleSyntax};

/// One compiled HTTP matcher. Regexes are compiled once and shared (`Regex` is cheap to
/// clone and safe to use from every thread).
#[derive(Debug, Clone)]
pub enum HttpMatcher {
    /// `Host(h)`.
    Host(HostPattern),
    /// `HostRegexp(re)`, unanchored, on the lower-cased host.
    HostRegexp(Regex),
    /// `Path(p)`: exact routing path.
    Path(Box<[u8]>),
    /// `PathPrefix(p)`: plain byte prefix of the routing path.
    PathPrefix(Box<[u8]>),
    /// `PathRegexp(re)`, unanchored.
    PathRegexp(Regex),
    /// `Method(m)`, upper-cased at compile time.
    Method(Box<str>),
    /// `Header(k, v)`: some value of `k` equals `v`.
    Header(HeaderName, Box<[u8]>),
    /// `HeaderRegexp(k, re)`: some value of `k` matches `re`.
    HeaderRegexp(HeaderName, Regex),
    /// `Query(k[, v])` (one argument means `v` = ""): some value of `k` equals `v`.
    Query(Box<[u8]>, Box<[u8]>),
    /// `QueryRegexp(k, re)`: some value of `k` matches `re`.
    QueryRegexp(Box<[u8]>, Regex),
    /// `ClientIP(ip or cidr)` on the TCP peer address.
    ClientIp(IpRange),
}

impl HttpMatcher {
    /// Tests one request. Allocates only for query keys or values with escapes.
    pub fn matches(&self, req: &RequestView<'_>) -> bool {
        match self {
            HttpMatcher::Host(pattern) => pattern.matches_key(req.host_key()),
            HttpMatcher::HostRegexp(re) => re.is_match(req.host.as_bytes()),
            HttpMatcher::Path(path) => *req.path == **path,
            HttpMatcher::PathPrefix(prefix) => req.path.starts_with(prefix),
            HttpMatcher::PathRegexp(re) => re.is_match(&req.path),
            HttpMatcher::Method(method) => req.method.as_str() == &**method,
            HttpMatcher::Header(name, value) => req
                .headers
                .get_all(name)
                .iter()
                .any(|candidate| candidate.as_bytes() == &**value),
            HttpMatcher::HeaderRegexp(name, re) => req
                .headers
                .get_all(name)
                .iter()
                .any(|candidate| re.is_match(candidate.as_bytes())),
            HttpMatcher::Query(key, value) => {
                query_pairs(req.query).any(|(k, v)| *k == **key && *v == **value)
            }
            HttpMatcher::QueryRegexp(key, re) => {
                query_pairs(req.query).any(|(k, v)| *k == **key && re.is_match(&v))
            }
            HttpMatcher::ClientIp(range) => range.contains(req.client_ip),
        }
    }
}

/// A compiled HTTP rule. Cheap to clone (shared inside).
#[derive(Debug, Clone)]
pub struct HttpRule {
    inner: Arc<HttpRuleInner>,
}

#[derive(Debug)]
struct HttpRuleInner {
    source: Box<str>,
    expr: Expr<HttpMatcher>,
    hosts: Vec<String>,
}

/// Parses and compiles an HTTP rule (v3 syntax). Errors name the column and the problem.
pub fn parse_http(source: &str) -> Result<HttpRule, RuleError> {
    parse_http_with(source, RuleSyntax::V3)
}

/// Parses and compiles an HTTP rule written in the given dialect.
pub fn parse_http_with(source: &str, dialect: RuleSyntax) -> Result<HttpRule, RuleError> {
    let mut hosts: Vec<String> = Vec::new();
    let expr = syntax::parse(source, &mut |call| {
        let expr = match dialect {
            RuleSyntax::V3 => Expr::leaf(build_matcher(source, call)?),
            RuleSyntax::V2 => v2::build_http(source, call)?,
        };
        let is_host = syntax::name_matches(&call.name, "Host")
            || (dialect == RuleSyntax::V2 && syntax::name_matches(&call.name, "HostHeader"));
        if is_host {
            for arg in &call.args {
                let host = arg.value.to_ascii_lowercase();
                if !hosts.contains(&host) {
                    hosts.push(host);
                }
            }
        }
        Ok(expr)
    })?;
    Ok(HttpRule {
        inner: Arc::new(HttpRuleInner {
            source: source.into(),
            expr,
            hosts,
        }),
    })
}

impl HttpRule {
    /// Whether the request matches.
    pub fn matches(&self, req: &RequestView<'_>) -> bool {
        self.inner.expr.eval(&mut |matcher| matcher.matches(req))
    }

    /// The rule text as given.
    pub fn source(&self) -> &str {
        &self.inner.source
    }

    /// Traefik's default priority: the rule's length in bytes.
    pub fn default_priority(&self) -> i64 {
        i64::try_from(self.inner.source.len()).unwrap_or(i64::MAX)
    }

    /// The priority a router gets: `explicit` unless it is 0 (unset), else the default.
    pub fn priority(&self, explicit: i64) -> i64 {
        if explicit == 0 {
            self.default_priority()
        } else {
            explicit
        }
    }

    /// Every `Host(...)` value of the rule, lower-cased, whatever the `!`/`||` structure:
    /// the domains used to pick TLS options and certificates for this router.
    pub fn hosts(&self) -> &[String] {
        &self.inner.hosts
    }

    pub(crate) fn expr(&self) -> &Expr<HttpMatcher> {
        &self.inner.expr
    }
}

impl std::fmt::Display for HttpRule {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.source())
    }
}

/// The v3 HTTP matchers, by canonical name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Host,
    HostRegexp,
    Path,
    PathPrefix,
    PathRegexp,
    Method,
    Header,
    HeaderRegexp,
    Query,
    QueryRegexp,
    ClientIp,
}

impl Kind {
    const ALL: [(&'static str, Kind); 11] = [
        ("Host", Kind::Host),
        ("HostRegexp", Kind::HostRegexp),
        ("Path", Kind::Path),
        ("PathPrefix", Kind::PathPrefix),
        ("PathRegexp", Kind::PathRegexp),
        ("Method", Kind::Method),
        ("Header", Kind::Header),
        ("HeaderRegexp", Kind::HeaderRegexp),
        ("Query", Kind::Query),
        ("QueryRegexp", Kind::QueryRegexp),
        ("ClientIP", Kind::ClientIp),
    ];

    fn arity(self) -> std::ops::RangeInclusive<usize> {
        match self {
            Kind::Header | Kind::HeaderRegexp => 2..=2,
            Kind::Query | Kind::QueryRegexp => 1..=2,
            _ => 1..=1,
        }
    }
}

fn build_matcher(source: &str, call: &Call) -> Result<HttpMatcher, RuleError> {
    let Some((name, kind)) = Kind::ALL
        .into_iter()
        .find(|(canonical, _)| syntax::name_matches(&call.name, canonical))
    else {
        return Err(RuleError::at(
            source,
            call.offset,
            format!("unknown matcher `{}`", call.name),
        ));
    };
    syntax::check_args(source, call, name, kind.arity())?;
    // `check_args` guarantees the count: one or two arguments, two where required.
    let (first, second) = (&call.args[0], call.args.get(1));
    let value = first.value.as_str();
    let error = |message: String| RuleError::at(source, first.offset, message);
    let ascii_only = || {
        if value.is_ascii() {
            Ok(())
        } else {
            Err(error(format!(
                "`{name}` value {value:?} has non-ASCII characters, use punycode"
            )))
        }
    };
    let regex = |arg: &Arg| compile_regex(source, arg.offset, name, &arg.value);
    let path = || {
        if value.starts_with('/') {
            Ok(value.as_bytes().into())
        } else {
            Err(error(format!(
                "`{name}` value {value:?} must start with `/`"
            )))
        }
    };
    let header = || {
        HeaderName::from_bytes(value.as_bytes())
            .map_err(|_| error(format!("invalid header name {value:?}")))
    };
    let second_value = || second.map_or_else(Box::default, |arg| arg.value.as_bytes().into());
    Ok(match kind {
        Kind::Host => {
            ascii_only()?;
            HttpMatcher::Host(
                HostPattern::parse(value)
                    .ok_or_else(|| error(format!("invalid host wildcard {value:?}")))?,
            )
        }
        Kind::HostRegexp => {
            ascii_only()?;
            HttpMatcher::HostRegexp(regex(first)?)
        }
        Kind::Path => HttpMatcher::Path(path()?),
        Kind::PathPrefix => HttpMatcher::PathPrefix(path()?),
        Kind::PathRegexp => HttpMatcher::PathRegexp(regex(first)?),
        Kind::Method => HttpMatcher::Method(value.to_uppercase().into()),
        Kind::Header => HttpMatcher::Header(header()?, second_value()),
        Kind::HeaderRegexp => match second {
            Some(pattern) => HttpMatcher::HeaderRegexp(header()?, regex(pattern)?),
            None => return Err(error(format!("`{name}` takes 2 arguments"))),
        },
        // One argument means "present with an empty value", for both forms.
        Kind::Query | Kind::QueryRegexp => match second {
            Some(pattern) if kind == Kind::QueryRegexp => {
                HttpMatcher::QueryRegexp(value.as_bytes().into(), regex(pattern)?)
            }
            _ => HttpMatcher::Query(value.as_bytes().into(), second_value()),
        },
        Kind::ClientIp => HttpMatcher::ClientIp(
            IpRange::parse(value)
                .ok_or_else(|| error(format!("invalid IP address or CIDR {value:?}")))?,
        ),
    })
}

pub(crate) fn compile_regex(
    source: &str,
    offset: usize,
    matcher: &str,
    pattern: &str,
) -> Result<Regex, RuleError> {
    Regex::new(pattern).map_err(|err| {
        // The regex error is multi-line; its last line says what is wrong.
        let reason = err.to_string();
        let reason = reason.lines().last().unwrap_or("invalid regexp").trim();
        let reason = reason.strip_prefix("error: ").unwrap_or(reason);
        RuleError::at(
            source,
            offset,
            format!("invalid regexp for `{matcher}`: {reason}"),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::IpAddr;

    /// A request to test rules against; `uri` may carry a query, `headers` are pairs.
    struct TestRequest {
        parts: http::request::Parts,
        client_ip: IpAddr,
    }

    fn request(method: &str, host: &str, uri: &str, headers: &[(&str, &str)]) -> TestRequest {
        let mut builder = http::Request::builder().method(method).uri(uri);
        if !host.is_empty() {
            builder = builder.header("host", host);
        }
        for (name, value) in headers {
            builder = builder.header(*name, *value);
        }
        TestRequest {
            parts: builder.body(()).expect("valid request").into_parts().0,
            client_ip: IpAddr::from([192, 168, 1, 10]),
        }
    }

    fn get(host: &str, uri: &str) -> TestRequest {
        request("GET", host, uri, &[])
    }

    fn matches(rule: &str, req: &TestRequest) -> bool {
        let rule = parse_http(rule).unwrap_or_else(|err| panic!("{rule}: {err}"));
        let view = RequestView::from_request(&req.parts, req.client_ip).expect("valid path");
        rule.matches(&view)
    }

    fn error(rule: &str) -> String {
        match parse_http(rule) {
            Ok(_) => panic!("{rule} should not parse"),
            Err(err) => err.to_string(),
        }
    }

    #[test]
    fn host() {
        assert!(matches(
            "Host(`example.com`)",
            &get("Example.com:8080", "/")
        ));
        assert!(matches("Host(`EXAMPLE.com`)", &get("example.com", "/")));
        assert!(matches("Host(`example.com.`)", &get("example.com", "/")));
        assert!(matches("Host(`example.com`)", &get("example.com.", "/")));
        assert!(!matches("Host(`example.com`)", &get("other.com", "/")));
        assert!(!matches("Host(`example.com`)", &get("", "/")));
        assert!(matches("Host(`*.example.com`)", &get("a.example.com", "/")));
        assert!(!matches(
            "Host(`*.example.com`)",
            &get("a.b.example.com", "/")
        ));
        assert!(!matches("Host(`*.example.com`)", &get("example.com", "/")));
        assert!(matches("Host(`*`)", &get("", "/")));
        assert!(matches("Host(`*`)", &get("whatever", "/")));
        assert!(matches("Host(`::1`)", &get("[::1]:80", "/")));
        assert!(matches(
            "Host(`h2.example`)",
            &get("", "http://h2.example/")
        ));
    }

    #[test]
    fn host_regexp_is_unanchored_on_the_lower_case_host() {
        assert!(matches(
            r"HostRegexp(`^[a-z]+\.example\.com$`)",
            &get("API.example.com", "/")
        ));
        assert!(matches(
            "HostRegexp(`example`)",
            &get("www.example.org", "/")
        ));
        assert!(!matches(
            "HostRegexp(`^example`)",
            &get("www.example.org", "/")
        ));
    }

    #[test]
    fn path_matchers_use_the_routing_path() {
        assert!(matches("Path(`/foo`)", &get("h", "/foo")));
        assert!(!matches("Path(`/foo`)", &get("h", "/foo/")));
        assert!(matches("Path(`/foo bar`)", &get("h", "/foo%20bar")));
        assert!(!matches("Path(`/a/b`)", &get("h", "/a%2Fb")));
        assert!(matches("Path(`/a%2Fb`)", &get("h", "/a%2Fb")));
        assert!(matches("Path(`/foo`)", &get("h", "/foo?x=1")));
        assert!(matches(
            "PathPrefix(`/products`)",
            &get("h", "/products-for-sale")
        ));
        assert!(matches("PathPrefix(`/foo bar`)", &get("h", "/foo%20bar/x")));
        assert!(!matches("PathPrefix(`/api/`)", &get("h", "/api")));
        assert!(matches("PathRegexp(`[0-9]+$`)", &get("h", "/items/42")));
        assert!(!matches("PathRegexp(`^/[0-9]+$`)", &get("h", "/items/42")));
    }

    #[test]
    fn method_is_upper_cased_in_the_rule_only() {
        assert!(matches("Method(`get`)", &get("h", "/")));
        assert!(matches("Method(`POST`)", &request("POST", "h", "/", &[])));
        assert!(!matches("Method(`POST`)", &get("h", "/")));
        assert!(!matches("Method(`POST`)", &request("post", "h", "/", &[])));
    }

    #[test]
    fn header_matchers_look_at_every_value() {
        let req = request("GET", "h", "/", &[("X-Env", "dev"), ("x-env", "prod")]);
        assert!(matches("Header(`x-env`, `prod`)", &req));
        assert!(matches("Header(`X-ENV`, `dev`)", &req));
        assert!(!matches("Header(`X-Env`, `Prod`)", &req));
        assert!(!matches("Header(`X-Other`, `dev`)", &req));
        assert!(matches("HeaderRegexp(`X-Env`, `^pr`)", &req));
        assert!(!matches("HeaderRegexp(`X-Env`, `^test`)", &req));
    }

    #[test]
    fn query_matchers_follow_go_semantics() {
        assert!(matches("Query(`a`, `1`)", &get("h", "/?a=2&a=1")));
        assert!(!matches("Query(`a`, `3`)", &get("h", "/?a=2&a=1")));
        assert!(matches("Query(`k`)", &get("h", "/?k")));
        assert!(matches("Query(`k`)", &get("h", "/?k=")));
        assert!(!matches("Query(`k`)", &get("h", "/?k=x")));
        assert!(!matches("Query(`k`)", &get("h", "/")));
        assert!(matches("Query(`q`, `a b!`)", &get("h", "/?q=a+b%21")));
        assert!(matches("Query(`my key`, `v`)", &get("h", "/?my%20key=v")));
        assert!(!matches("Query(`a`, `1`)", &get("h", "/?a=1;b=2")));
        assert!(matches(
            "QueryRegexp(`id`, `^[0-9]+$`)",
            &get("h", "/?id=x&id=42")
        ));
        assert!(!matches(
            "QueryRegexp(`id`, `^[0-9]+$`)",
            &get("h", "/?id=x")
        ));
        assert!(matches("QueryRegexp(`k`)", &get("h", "/?k")));
        assert!(!matches("QueryRegexp(`k`)", &get("h", "/?k=x")));
    }

    #[test]
    fn client_ip_uses_the_peer_address() {
        let req = request("GET", "h", "/", &[("X-Forwarded-For", "10.0.0.1")]);
        assert!(matches("ClientIP(`192.168.1.10`)", &req));
        assert!(matches("ClientIP(`192.168.0.0/16`)", &req));
        assert!(!matches("ClientIP(`10.0.0.1`)", &req));
        assert!(!matches("ClientIP(`10.0.0.0/8`)", &req));
    }

    #[test]
    fn operators_combine_matchers() {
        let req = get("a.com", "/api/x");
        assert!(matches("Host(`a.com`) && PathPrefix(`/api`)", &req));
        assert!(!matches("Host(`a.com`) && !PathPrefix(`/api`)", &req));
        assert!(matches("Host(`b.com`) || Path(`/api/x`)", &req));
        assert!(matches("!(Host(`b.com`) || Path(`/nope`))", &req));
        assert!(!matches("!(Host(`a.com`) && PathPrefix(`/api`))", &req));
        assert!(matches(
            "(Host(`b.com`) || Host(`a.com`)) && Method(`GET`)",
            &req
        ));
        assert!(matches(r#"Host("a.com") && PathPrefix("/api")"#, &req));
    }

    #[test]
    fn matcher_name_case_variants() {
        let req = get("a.com", "/api");
        for rule in [
            "pathprefix(`/api`)",
            "PATHPREFIX(`/api`)",
            "Pathprefix(`/api`)",
            "host(`a.com`)",
            "HOST(`a.com`)",
            "clientip(`192.168.1.10`)",
            "Clientip(`192.168.1.10`)",
        ] {
            assert!(matches(rule, &req), "{rule}");
        }
        assert_eq!(
            error("pathPrefix(`/api`)"),
            "column 1: unknown matcher `pathPrefix`"
        );
    }

    #[test]
    fn invalid_rules_name_the_problem_and_column() {
        let cases = [
            ("Hots(`a.com`)", "column 1: unknown matcher `Hots`"),
            (
                "Host(`a.com`) && Hots(`b`)",
                "column 18: unknown matcher `Hots`",
            ),
            ("Host(`a`, `b`)", "column 1: `Host` takes 1 argument, got 2"),
            ("Host()", "column 1: `Host` takes 1 argument, got 0"),
            ("Host(``)", "column 6: empty argument for `Host`"),
            ("Header(`X`)", "column 1: `Header` takes 2 arguments, got 1"),
            (
                "Query(`a`, `b`, `c`)",
                "column 1: `Query` takes 1 or 2 arguments, got 3",
            ),
            ("Query(`a`, ``)", "column 12: empty argument for `Query`"),
            (
                "Host(`bücher.de`)",
                "column 6: `Host` value \"bücher.de\" has non-ASCII characters, use punycode",
            ),
            ("Host(`*.`)", "column 6: invalid host wildcard \"*.\""),
            (
                "Path(`foo`)",
                "column 6: `Path` value \"foo\" must start with `/`",
            ),
            (
                "PathPrefix(`foo`)",
                "column 12: `PathPrefix` value \"foo\" must start with `/`",
            ),
            (
                "Header(`bad name`, `v`)",
                "column 8: invalid header name \"bad name\"",
            ),
            (
                "ClientIP(`10.0.0.0/33`)",
                "column 10: invalid IP address or CIDR \"10.0.0.0/33\"",
            ),
            ("/prefix", "column 1: unexpected character `/`"),
        ];
        for (rule, expected) in cases {
            assert_eq!(error(rule), expected, "rule {rule}");
        }
    }

    #[test]
    fn invalid_regexps_are_rule_errors() {
        for (rule, column) in [
            ("HostRegexp(`(`)", 12),
            ("PathRegexp(`[`)", 12),
            ("HeaderRegexp(`X`, `(`)", 19),
            ("QueryRegexp(`k`, `*`)", 18),
        ] {
            let err = parse_http(rule).expect_err(rule);
            assert_eq!(err.column, column, "{rule}");
            assert!(
                err.message.starts_with("invalid regexp for `"),
                "{rule}: {err}"
            );
        }
    }

    #[test]
    fn priority_defaults_to_rule_length() {
        let rule = parse_http("Host(`foobar.traefik.com`)").unwrap();
        assert_eq!(rule.default_priority(), 26);
        assert_eq!(rule.priority(0), 26);
        assert_eq!(rule.priority(-5), -5);
        let regex = parse_http(r"HostRegexp(`[a-z]+\.traefik\.com`)").unwrap();
        assert_eq!(regex.default_priority(), 34);
    }

    #[test]
    fn hosts_lists_every_host_value() {
        let rule =
            parse_http("Host(`A.com`) || !Host(`b.com`) && Path(`/`) || Host(`a.com`)").unwrap();
        assert_eq!(rule.hosts(), ["a.com", "b.com"]);
        assert!(parse_http("Path(`/`)").unwrap().hosts().is_empty());
    }
}
