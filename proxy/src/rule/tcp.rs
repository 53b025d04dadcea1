//! TCP rules: `HostSNI`, `HostSNIRegexp`, `ClientIP` and `ALPN`, decided from the
//! ClientHello (or nothing at all for non-TLS connections).
use std::borrow::Cow;
use std::net::IpAddr;
use std::sync::Arc;

use regex::bytes::Regex;

use super::error::RuleError;
use super::host::{HostPattern, host_key};
use super::http::compile_regex;
use super::ip::IpRange;
use super::syntax::{self, Call, Expr};
use super::v2::{self, RuleSyntax};

/// What TCP matchers see of a connection.
#[derive(Debug, Clone)]
pub struct ConnectionView<'a> {
    /// SNI from the ClientHello, lower-cased; empty for non-TLS or no SNI.
    pub server_name: Cow<'a, str>,
    /// ALPN protocols offered in the ClientHello.
    pub alpn: &'a [&'a [u8]],
    /// The TCP peer address.
    pub client_ip: IpAddr,
}

impl<'a> ConnectionView<'a> {
    /// Builds a view, lower-casing the SNI when needed.
    pub fn new(server_name: Option<&'a str>, alpn: &'a [&'a [u8]], client_ip: IpAddr) -> Self {
        let server_name = server_name.unwrap_or("");
        let server_name = if server_name.bytes().any(|b| b.is_ascii_uppercase()) {
            Cow::Owned(server_name.to_ascii_lowercase())
        } else {
            Cow::Borrowed(server_name)
        };
        Self {
            server_name,
            alpn,
            client_ip,
        }
    }

    /// The SNI in the form `HostSNI` compares: one trailing dot removed.
    pub fn server_name_key(&self) -> &str {
        host_key(&self.server_name)
    }
}

/// One compiled TCP matcher.
#[derive(Debug, Clone)]
pub enum TcpMatcher {
    /// `HostSNI(h)`; `*` matches every connection, TLS or not.
    HostSni(HostPattern),
    /// `HostSNIRegexp(re)`, unanchored, on the lower-cased SNI.
    HostSniRegexp(Regex),
    /// `ClientIP(ip or cidr)`.
    ClientIp(IpRange),
    /// `ALPN(protocol)`: the client offered this protocol.
    Alpn(Box<[u8]>),
}

impl TcpMatcher {
    /// Tests one connection.
    pub fn matches(&self, conn: &ConnectionView<'_>) -> bool {
        match self {
            TcpMatcher::HostSni(pattern) => pattern.matches_key(conn.server_name_key()),
            TcpMatcher::HostSniRegexp(re) => re.is_match(conn.server_name.as_bytes()),
            TcpMatcher::ClientIp(range) => range.contains(conn.client_ip),
            TcpMatcher::Alpn(protocol) => conn.alpn.contains(&&**protocol),
        }
    }
}

/// A compiled TCP rule. Cheap to clone (shared inside).
#[derive(Debug, Clone)]
pub struct TcpRule {
    inner: Arc<TcpRuleInner>,
}

#[derive(Debug)]
struct TcpRuleInner {
    source: Box<str>,
    expr: Expr<TcpMatcher>,
    sni_hosts: Vec<String>,
}

/// Parses and compiles a TCP rule (v3 syntax). Errors name the column and the problem.
pub fn parse_tcp(source: &str) -> Result<TcpRule, RuleError> {
    parse_tcp_with(source, RuleSyntax::V3)
}

/// Parses and compiles a TCP rule written in the given dialect.
pub fn parse_tcp_with(source: &str, dialect: RuleSyntax) -> Result<TcpRule, RuleError> {
    let mut sni_hosts: Vec<String> = Vec::new();
    let expr = syntax::parse(source, &mut |call| {
        let expr = match dialect {
            RuleSyntax::V3 => Expr::leaf(build_matcher(source, call)?),
            RuleSyntax::V2 => v2::build_tcp(source, call)?,
        };
        if syntax::name_matches(&call.name, "HostSNI") {
            for arg in &call.args {
                let host = arg.value.to_ascii_lowercase();
                if !sni_hosts.contains(&host) {
                    sni_hosts.push(host);
                }
            }
        }
        Ok(expr)
    })?;
    Ok(TcpRule {
        inner: Arc::new(TcpRuleInner {
            source: source.into(),
            expr,
            sni_hosts,
        }),
    })
}

impl TcpRule {
    /// Whether the connection matches.
    pub fn matches(&self, conn: &ConnectionView<'_>) -> bool {
        self.inner.expr.eval(&mut |matcher| matcher.matches(conn))
    }

    /// The rule text as given.
    pub fn source(&self) -> &str {
        &self.inner.source
    }

    /// Whether the whole rule is ``HostSNI(`*`)``: the catch-all.
    pub fn is_catch_all(&self) -> bool {
        matches!(
            &self.inner.expr,
            Expr::Leaf {
                matcher: TcpMatcher::HostSni(HostPattern::Any),
                negated: false,
            }
        )
    }

    /// Traefik's default priority: -1 for the catch-all ``HostSNI(`*`)`` (so it is tried
    /// last), else the rule's length in bytes.
    pub fn default_priority(&self) -> i64 {
        if self.is_catch_all() {
            -1
        } else {
            i64::try_from(self.inner.source.len()).unwrap_or(i64::MAX)
        }
    }

    /// The priority a router gets: `explicit` unless it is 0 (unset), else the default.
    pub fn priority(&self, explicit: i64) -> i64 {
        if explicit == 0 {
            self.default_priority()
        } else {
            explicit
        }
    }

    /// Every `HostSNI(...)` value, lower-cased: the names used for TLS options.
    pub fn sni_hosts(&self) -> &[String] {
        &self.inner.sni_hosts
    }

    /// Whether the rule names a specific SNI (`HostSNI` with a value other than `*`), which
    /// needs TLS: on a router without TLS this is the error
    /// "has HostSNI matcher, but no TLS on router" and the router is disabled.
    pub fn requires_tls(&self) -> bool {
        self.inner.sni_hosts.iter().any(|host| host != "*")
    }

    pub(crate) fn expr(&self) -> &Expr<TcpMatcher> {
        &self.inner.expr
    }
}

impl std::fmt::Display for TcpRule {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.source())
    }
}

/// The ALPN protocol reserved for ACME TLS-ALPN-01 challenges.
const ACME_TLS_ALPN: &str = "acme-tls/1";

fn build_matcher(source: &str, call: &Call) -> Result<TcpMatcher, RuleError> {
    #[derive(Clone, Copy)]
    enum Kind {
        HostSni,
        HostSniRegexp,
        ClientIp,
        Alpn,
    }
    const KINDS: [(&str, Kind); 4] = [
        ("HostSNI", Kind::HostSni),
        ("HostSNIRegexp", Kind::HostSniRegexp),
        ("ClientIP", Kind::ClientIp),
        ("ALPN", Kind::Alpn),
    ];
    let Some((name, kind)) = KINDS
        .into_iter()
        .find(|(canonical, _)| syntax::name_matches(&call.name, canonical))
    else {
        return Err(RuleError::at(
            source,
            call.offset,
            format!("unknown matcher `{}`", call.name),
        ));
    };
    syntax::check_args(source, call, name, 1..=1)?;
    let arg = &call.args[0];
    let value = arg.value.as_str();
    let error = |message: String| RuleError::at(source, arg.offset, message);
    Ok(match kind {
        Kind::HostSni => {
            if value != "*" && !is_sni_value(value) {
                return Err(error(format!(
                    "`HostSNI` value {value:?} is not a valid hostname or IP"
                )));
            }
            TcpMatcher::HostSni(
                HostPattern::parse(value)
                    .ok_or_else(|| error(format!("invalid host wildcard {value:?}")))?,
            )
        }
        Kind::HostSniRegexp => {
            if !value.is_ascii() {
                return Err(error(format!(
                    "`HostSNIRegexp` value {value:?} has non-ASCII characters, use punycode"
                )));
            }
            TcpMatcher::HostSniRegexp(compile_regex(source, arg.offset, name, value)?)
        }
        Kind::ClientIp => TcpMatcher::ClientIp(
            IpRange::parse(value)
                .ok_or_else(|| error(format!("invalid IP address or CIDR {value:?}")))?,
        ),
        Kind::Alpn => {
            if value == ACME_TLS_ALPN {
                return Err(error(format!(
                    "`ALPN` value {ACME_TLS_ALPN:?} is reserved for ACME challenges"
                )));
            }
            TcpMatcher::Alpn(value.as_bytes().into())
        }
    })
}

/// `(*.)?[word characters . - :]+`, as Traefik accepts for `HostSNI`.
fn is_sni_value(value: &str) -> bool {
    let name = value.strip_prefix("*.").unwrap_or(value);
    !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-' | b':'))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn matches(rule: &str, sni: Option<&str>, alpn: &[&[u8]], ip: &str) -> bool {
        let rule = parse_tcp(rule).unwrap_or_else(|err| panic!("{rule}: {err}"));
        let ip = ip.parse().expect("valid ip");
        rule.matches(&ConnectionView::new(sni, alpn, ip))
    }

    fn sni(rule: &str, name: Option<&str>) -> bool {
        matches(rule, name, &[], "10.0.0.1")
    }

    #[test]
    fn host_sni() {
        assert!(sni("HostSNI(`db.example.com`)", Some("DB.example.com")));
        assert!(sni("HostSNI(`db.example.com.`)", Some("db.example.com")));
        assert!(!sni("HostSNI(`db.example.com`)", Some("other.example.com")));
        assert!(!sni("HostSNI(`db.example.com`)", None));
        assert!(sni("HostSNI(`*.example.com`)", Some("db.example.com")));
        assert!(!sni("HostSNI(`*.example.com`)", Some("a.db.example.com")));
        assert!(sni("HostSNI(`*`)", None));
        assert!(sni("HostSNI(`*`)", Some("anything")));
    }

    #[test]
    fn host_sni_regexp_client_ip_and_alpn() {
        assert!(sni(
            r"HostSNIRegexp(`^db[0-9]+\.example\.com$`)",
            Some("db1.example.com")
        ));
        assert!(!sni(
            r"HostSNIRegexp(`^db[0-9]+\.example\.com$`)",
            Some("db.example.com")
        ));
        assert!(matches("ClientIP(`10.0.0.0/8`)", None, &[], "10.9.9.9"));
        assert!(!matches("ClientIP(`10.0.0.0/8`)", None, &[], "11.0.0.1"));
        assert!(matches(
            "ALPN(`h2`)",
            Some("a"),
            &[b"http/1.1", b"h2"],
            "10.0.0.1"
        ));
        assert!(!matches(
            "ALPN(`h2`)",
            Some("a"),
            &[b"http/1.1"],
            "10.0.0.1"
        ));
        assert!(matches(
            "HostSNI(`a.com`) && !ALPN(`h2`) || ClientIP(`::1`)",
            Some("a.com"),
            &[b"postgresql"],
            "10.0.0.1"
        ));
    }

    #[test]
    fn catch_all_priority_and_tls_requirement() {
        let catch_all = parse_tcp("HostSNI(`*`)").unwrap();
        assert!(catch_all.is_catch_all());
        assert_eq!(catch_all.default_priority(), -1);
        assert!(!catch_all.requires_tls());

        let client_ip = parse_tcp("HostSNI(`*`) && ClientIP(`10.0.0.1`)").unwrap();
        assert!(!client_ip.is_catch_all());
        assert_eq!(client_ip.default_priority(), 36);
        assert!(!client_ip.requires_tls());

        let specific = parse_tcp("HostSNI(`Db.example.com`) || HostSNI(`*`)").unwrap();
        assert!(specific.requires_tls());
        assert_eq!(specific.sni_hosts(), ["db.example.com", "*"]);
        assert_eq!(specific.priority(7), 7);
    }

    #[test]
    fn invalid_rules() {
        let cases = [
            ("Host(`a`)", "column 1: unknown matcher `Host`"),
            (
                "HostSNI(`a b`)",
                "column 9: `HostSNI` value \"a b\" is not a valid hostname or IP",
            ),
            (
                "HostSNI(`a.*.com`)",
                "column 9: `HostSNI` value \"a.*.com\" is not a valid hostname or IP",
            ),
            ("HostSNI(``)", "column 9: empty argument for `HostSNI`"),
            (
                "ALPN(`acme-tls/1`)",
                "column 6: `ALPN` value \"acme-tls/1\" is reserved for ACME challenges",
            ),
            (
                "ClientIP(`x`)",
                "column 10: invalid IP address or CIDR \"x\"",
            ),
            (
                "HostSNI(`a`, `b`)",
                "column 1: `HostSNI` takes 1 argument, got 2",
            ),
        ];
        for (rule, expected) in cases {
            let err = parse_tcp(rule).expect_err(rule);
            assert_eq!(err.to_string(), expected, "{rule}");
        }
        assert!(parse_tcp("HostSNIRegexp(`(`)").is_err());
        assert!(parse_tcp("hostsni(`a`) && ALPN(`h2`) && CLIENTIP(`::1`)").is_ok());
        assert!(parse_tcp("HostSNI(`10.0.0.1:443`)").is_ok());
    }
}
