//! Traefik's deprecated v2 rule dialect, chosen per router with `ruleSyntax: v2`.
//!
//! The grammar is the v3 one; the matcher set differs. Each v2 call is translated into
//! v3 matchers, so evaluation and indexing are shared:
//! - multi-value `Host`/`HostHeader`, `Method`, `Path`, `PathPrefix`, `ClientIP`,
//!   `HostSNI` and `HostRegexp`/`HostSNIRegexp` become an `Any` of one leaf per value;
//!   `Query(`a=1`, `b=2`)` becomes an `All`;
//! - v2 `Host` values are plain names (no `*.` wildcard);
//! - `{name}` / `{name:re}` templates (gorilla/mux) become anchored regexes: a host
//!   variable defaults to `[^.]+`, a path variable to `[^/]+`, a query value to `.*`.
//!
//! Known differences, kept on purpose: paths are matched on the routing path (v2 matched
//! the fully decoded path) and a query pair matches any value of its key (v2 looked only at
//! the first one).
use super::error::RuleError;
use super::host::HostPattern;
use super::http::{HttpMatcher, compile_regex};
use super::ip::IpRange;
use super::syntax::{self, Arg, Call, Expr};
use super::tcp::TcpMatcher;

/// Which rule dialect a router's rule is written in.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum RuleSyntax {
    /// The current syntax (the default).
    #[default]
    V3,
    /// The deprecated v2 syntax.
    V2,
}

impl RuleSyntax {
    /// Reads a router's `ruleSyntax`/`syntax` field: `v2` selects v2; anything else,
    /// including an unknown value, falls back to v3 as Traefik does.
    pub fn from_config(value: Option<&str>) -> Self {
        match value {
            Some("v2") => RuleSyntax::V2,
            _ => RuleSyntax::V3,
        }
    }
}

const HTTP_MATCHERS: [&str; 10] = [
    "Host",
    "HostHeader",
    "HostRegexp",
    "Method",
    "Path",
    "PathPrefix",
    "Headers",
    "HeadersRegexp",
    "Query",
    "ClientIP",
];

/// Translates one v2 HTTP matcher call.
pub(crate) fn build_http(source: &str, call: &Call) -> Result<Expr<HttpMatcher>, RuleError> {
    let name = canonical_name(source, call, &HTTP_MATCHERS)?;
    let arity = match name {
        "Headers" | "HeadersRegexp" => 2..=2,
        _ => 1..=usize::MAX,
    };
    syntax::check_args(source, call, name, arity)?;
    let error = |arg: &Arg, message: String| RuleError::at(source, arg.offset, message);
    match name {
        "Headers" | "HeadersRegexp" => {
            let (key, value) = (&call.args[0], &call.args[1]);
            let header = http::HeaderName::from_bytes(key.value.as_bytes())
                .map_err(|_| error(key, format!("invalid header name {:?}", key.value)))?;
            Ok(Expr::leaf(if name == "Headers" {
                HttpMatcher::Header(header, value.value.as_bytes().into())
            } else {
                HttpMatcher::HeaderRegexp(
                    header,
                    compile_regex(source, value.offset, name, &value.value)?,
                )
            }))
        }
        "Query" => {
            let pairs = call.args.iter().map(|arg| {
                let Some((key, value)) = arg.value.split_once('=') else {
                    return Err(error(
                        arg,
                        format!("`Query` value {:?} must be `key=value`", arg.value),
                    ));
                };
                let pattern = template_regex(value, ".*", true)
                    .map_err(|reason| error(arg, format!("invalid `Query` template: {reason}")))?;
                let key = key.as_bytes().into();
                Ok(match pattern {
                    Template::Literal if !value.is_empty() => {
                        HttpMatcher::Query(key, value.as_bytes().into())
                    }
                    Template::Literal => {
                        HttpMatcher::QueryRegexp(key, compile_regex(source, arg.offset, name, "")?)
                    }
                    Template::Regex(re) => {
                        HttpMatcher::QueryRegexp(key, compile_regex(source, arg.offset, name, &re)?)
                    }
                })
            });
            all(pairs)
        }
        _ => any(call.args.iter().map(|arg| http_value(source, name, arg))),
    }
}

fn http_value(source: &str, name: &str, arg: &Arg) -> Result<HttpMatcher, RuleError> {
    let value = arg.value.as_str();
    let error = |message: String| RuleError::at(source, arg.offset, message);
    let ascii_only = || {
        if value.is_ascii() {
            Ok(())
        } else {
            Err(error(format!(
                "`{name}` value {value:?} has non-ASCII characters, use punycode"
            )))
        }
    };
    Ok(match name {
        "Host" | "HostHeader" => {
            ascii_only()?;
            HttpMatcher::Host(HostPattern::exact(value))
        }
        "HostRegexp" => {
            ascii_only()?;
            let pattern = match template_regex(&value.to_ascii_lowercase(), "[^.]+", true) {
                Ok(Template::Regex(pattern)) => pattern,
                Ok(Template::Literal) => {
                    format!("^{}$", regex::escape(&value.to_ascii_lowercase()))
                }
                Err(reason) => {
                    return Err(error(format!("invalid `HostRegexp` template: {reason}")));
                }
            };
            HttpMatcher::HostRegexp(compile_regex(source, arg.offset, name, &pattern)?)
        }
        "Method" => HttpMatcher::Method(value.to_uppercase().into()),
        "Path" | "PathPrefix" => {
            if !value.starts_with('/') {
                return Err(error(format!(
                    "`{name}` value {value:?} must start with `/`"
                )));
            }
            let exact = name == "Path";
            match template_regex(value, "[^/]+", exact) {
                Ok(Template::Literal) if exact => HttpMatcher::Path(value.as_bytes().into()),
                Ok(Template::Literal) => HttpMatcher::PathPrefix(value.as_bytes().into()),
                Ok(Template::Regex(pattern)) => {
                    HttpMatcher::PathRegexp(compile_regex(source, arg.offset, name, &pattern)?)
                }
                Err(reason) => return Err(error(format!("invalid `{name}` template: {reason}"))),
            }
        }
        _ => HttpMatcher::ClientIp(
            IpRange::parse(value)
                .ok_or_else(|| error(format!("invalid IP address or CIDR {value:?}")))?,
        ),
    })
}

/// Translates one v2 TCP matcher call (`HostSNI`, `HostSNIRegexp`, `ClientIP`).
pub(crate) fn build_tcp(source: &str, call: &Call) -> Result<Expr<TcpMatcher>, RuleError> {
    let name = canonical_name(source, call, &["HostSNI", "HostSNIRegexp", "ClientIP"])?;
    syntax::check_args(source, call, name, 1..=usize::MAX)?;
    any(call.args.iter().map(|arg| {
        let value = arg.value.as_str();
        let error = |message: String| RuleError::at(source, arg.offset, message);
        Ok(match name {
            "HostSNI" if value == "*" => TcpMatcher::HostSni(HostPattern::Any),
            "HostSNI" => {
                if !value
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-')
                {
                    return Err(error(format!(
                        "`HostSNI` value {value:?} is not a valid hostname"
                    )));
                }
                TcpMatcher::HostSni(HostPattern::exact(value))
            }
            "HostSNIRegexp" => {
                if !value.is_ascii() {
                    return Err(error(format!(
                        "`HostSNIRegexp` value {value:?} has non-ASCII characters, use punycode"
                    )));
                }
                let pattern = match template_regex(&value.to_ascii_lowercase(), "[^.]+", true) {
                    Ok(Template::Regex(pattern)) => pattern,
                    Ok(Template::Literal) => {
                        format!("^{}$", regex::escape(&value.to_ascii_lowercase()))
                    }
                    Err(reason) => {
                        return Err(error(format!("invalid `HostSNIRegexp` template: {reason}")));
                    }
                };
                TcpMatcher::HostSniRegexp(compile_regex(source, arg.offset, name, &pattern)?)
            }
            _ => TcpMatcher::ClientIp(
                IpRange::parse(value)
                    .ok_or_else(|| error(format!("invalid IP address or CIDR {value:?}")))?,
            ),
        })
    }))
}

fn canonical_name<'n>(source: &str, call: &Call, names: &[&'n str]) -> Result<&'n str, RuleError> {
    names
        .iter()
        .copied()
        .find(|canonical| syntax::name_matches(&call.name, canonical))
        .ok_or_else(|| {
            RuleError::at(
                source,
                call.offset,
                format!("unknown matcher `{}` (rule syntax v2)", call.name),
            )
        })
}

fn any<M>(leaves: impl Iterator<Item = Result<M, RuleError>>) -> Result<Expr<M>, RuleError> {
    let mut leaves = leaves
        .map(|leaf| leaf.map(Expr::leaf))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(if leaves.len() == 1 {
        leaves.remove(0)
    } else {
        Expr::Any(leaves)
    })
}

fn all<M>(leaves: impl Iterator<Item = Result<M, RuleError>>) -> Result<Expr<M>, RuleError> {
    let mut leaves = leaves
        .map(|leaf| leaf.map(Expr::leaf))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(if leaves.len() == 1 {
        leaves.remove(0)
    } else {
        Expr::All(leaves)
    })
}

/// A gorilla/mux template: either plain text or an anchored regex.
#[derive(Debug, PartialEq, Eq)]
enum Template {
    Literal,
    Regex(String),
}

/// Converts `/users/{id:[0-9]+}` into `^/users/(?:[0-9]+)$` (`$` only if `anchor_end`);
/// `{name}` uses `default_pattern`. Text outside braces is matched literally.
fn template_regex(
    template: &str,
    default_pattern: &str,
    anchor_end: bool,
) -> Result<Template, String> {
    if !template.contains(['{', '}']) {
        return Ok(Template::Literal);
    }
    let mut pattern = String::from("^");
    let mut literal_start = 0;
    let mut depth = 0usize;
    let mut open = 0;
    for (at, c) in template.char_indices() {
        match c {
            '{' => {
                if depth == 0 {
                    pattern.push_str(&regex::escape(&template[literal_start..at]));
                    open = at;
                }
                depth += 1;
            }
            '}' => {
                depth = depth
                    .checked_sub(1)
                    .ok_or_else(|| format!("unbalanced braces in {template:?}"))?;
                if depth == 0 {
                    let variable = &template[open + 1..at];
                    let (name, variable_pattern) = variable
                        .split_once(':')
                        .unwrap_or((variable, default_pattern));
                    if name.is_empty() || variable_pattern.is_empty() {
                        return Err(format!("missing name or pattern in {template:?}"));
                    }
                    pattern.push_str("(?:");
                    pattern.push_str(variable_pattern);
                    pattern.push(')');
                    literal_start = at + 1;
                }
            }
            _ => {}
        }
    }
    if depth != 0 {
        return Err(format!("unbalanced braces in {template:?}"));
    }
    pattern.push_str(&regex::escape(&template[literal_start..]));
    if anchor_end {
        pattern.push('$');
    }
    Ok(Template::Regex(pattern))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templates_become_anchored_regexes() {
        assert_eq!(
            template_regex("/plain", "[^/]+", true),
            Ok(Template::Literal)
        );
        assert_eq!(
            template_regex("/users/{id:[0-9]{2}}/x.y", "[^/]+", true),
            Ok(Template::Regex(r"^/users/(?:[0-9]{2})/x\.y$".into()))
        );
        assert_eq!(
            template_regex("{sub}.example.com", "[^.]+", true),
            Ok(Template::Regex(r"^(?:[^.]+)\.example\.com$".into()))
        );
        assert_eq!(
            template_regex("/api/{v}", "[^/]+", false),
            Ok(Template::Regex(r"^/api/(?:[^/]+)".into()))
        );
        assert!(template_regex("/a/{id", "[^/]+", true).is_err());
        assert!(template_regex("/a/id}", "[^/]+", true).is_err());
        assert!(template_regex("/a/{:x}", "[^/]+", true).is_err());
    }

    #[test]
    fn syntax_selection_falls_back_to_v3() {
        assert_eq!(RuleSyntax::from_config(Some("v2")), RuleSyntax::V2);
        assert_eq!(RuleSyntax::from_config(Some("v3")), RuleSyntax::V3);
        assert_eq!(RuleSyntax::from_config(Some("v4")), RuleSyntax::V3);
        assert_eq!(RuleSyntax::from_config(None), RuleSyntax::V3);
    }

    fn http_matches(rule: &str, method: &str, host: &str, uri: &str) -> bool {
        let rule = crate::rule::parse_http_with(rule, RuleSyntax::V2)
            .unwrap_or_else(|err| panic!("{rule}: {err}"));
        let (parts, ()) = http::Request::builder()
            .method(method)
            .uri(uri)
            .header("host", host)
            .header("x-env", "prod")
            .body(())
            .expect("valid request")
            .into_parts();
        let view = crate::rule::RequestView::from_request(&parts, [10, 0, 0, 1].into())
            .expect("valid path");
        rule.matches(&view)
    }

    #[test]
    fn multi_value_matchers_match_any_value() {
        let rule = "Host(`a.com`, `B.com`) && Method(`get`, `POST`)";
        assert!(http_matches(rule, "GET", "a.com", "/"));
        assert!(http_matches(rule, "POST", "b.com", "/"));
        assert!(!http_matches(rule, "PUT", "a.com", "/"));
        assert!(!http_matches(rule, "GET", "c.com", "/"));
        assert!(http_matches("HostHeader(`a.com`)", "GET", "a.com:80", "/"));
        assert!(http_matches(
            "ClientIP(`192.168.0.1`, `10.0.0.0/8`)",
            "GET",
            "a",
            "/"
        ));
        let parsed = crate::rule::parse_http_with(rule, RuleSyntax::V2).expect("valid");
        assert_eq!(parsed.hosts(), ["a.com", "b.com"]);
    }

    #[test]
    fn host_has_no_wildcards_in_v2() {
        assert!(!http_matches("Host(`*.a.com`)", "GET", "x.a.com", "/"));
        assert!(!http_matches("Host(`*`)", "GET", "x.a.com", "/"));
    }

    #[test]
    fn templates_in_hosts_and_paths() {
        let host = "HostRegexp(`{sub:[a-z]+}.example.com`)";
        assert!(http_matches(host, "GET", "API.example.com", "/"));
        assert!(!http_matches(host, "GET", "a.b.example.com", "/"));
        assert!(!http_matches(host, "GET", "api.example.com.evil", "/"));
        assert!(http_matches(
            "HostRegexp(`{any}.a.com`)",
            "GET",
            "x.a.com",
            "/"
        ));
        assert!(http_matches("HostRegexp(`a.com`)", "GET", "a.com", "/"));
        assert!(!http_matches("HostRegexp(`a.com`)", "GET", "xa.com", "/"));

        let path = "Path(`/users/{id:[0-9]+}`)";
        assert!(http_matches(path, "GET", "a", "/users/42"));
        assert!(!http_matches(path, "GET", "a", "/users/42/x"));
        assert!(http_matches(
            "PathPrefix(`/users/{id}`)",
            "GET",
            "a",
            "/users/42/x"
        ));
        assert!(http_matches("Path(`/a`, `/b`)", "GET", "a", "/b"));
        assert!(!http_matches("Path(`/a`, `/b`)", "GET", "a", "/bb"));
        assert!(http_matches("PathPrefix(`/b`)", "GET", "a", "/bb"));
    }

    #[test]
    fn headers_and_queries() {
        assert!(http_matches("Headers(`X-Env`, `prod`)", "GET", "a", "/"));
        assert!(!http_matches("Headers(`X-Env`, `dev`)", "GET", "a", "/"));
        assert!(http_matches(
            "HeadersRegexp(`X-Env`, `^pr`)",
            "GET",
            "a",
            "/"
        ));
        assert!(http_matches("Query(`a=1`, `b=2`)", "GET", "a", "/?b=2&a=1"));
        assert!(!http_matches("Query(`a=1`, `b=2`)", "GET", "a", "/?a=1"));
        assert!(http_matches("Query(`a=`)", "GET", "a", "/?a=anything"));
        assert!(!http_matches("Query(`a=`)", "GET", "a", "/?b=1"));
        assert!(http_matches(
            "Query(`id={id:[0-9]+}`)",
            "GET",
            "a",
            "/?id=7"
        ));
        assert!(!http_matches(
            "Query(`id={id:[0-9]+}`)",
            "GET",
            "a",
            "/?id=x7"
        ));
    }

    #[test]
    fn negating_a_multi_value_matcher_negates_all_values() {
        assert!(!http_matches(
            "!Host(`a.com`, `b.com`)",
            "GET",
            "b.com",
            "/"
        ));
        assert!(http_matches("!Host(`a.com`, `b.com`)", "GET", "c.com", "/"));
    }

    #[test]
    fn v2_errors() {
        let error = |rule: &str| {
            crate::rule::parse_http_with(rule, RuleSyntax::V2)
                .expect_err(rule)
                .to_string()
        };
        assert_eq!(
            error("PathRegexp(`/a`)"),
            "column 1: unknown matcher `PathRegexp` (rule syntax v2)"
        );
        assert_eq!(
            error("Query(`a`)"),
            "column 7: `Query` value \"a\" must be `key=value`"
        );
        assert_eq!(
            error("Path(`a`)"),
            "column 6: `Path` value \"a\" must start with `/`"
        );
        assert_eq!(
            error("Path(`/{id`)"),
            "column 6: invalid `Path` template: unbalanced braces in \"/{id\""
        );
        assert_eq!(
            error("Headers(`a`)"),
            "column 1: `Headers` takes 2 arguments, got 1"
        );
        assert_eq!(
            error("Host(`a`, ``)"),
            "column 11: empty argument for `Host`"
        );
    }

    #[test]
    fn tcp_v2_matchers() {
        use crate::rule::{ConnectionView, parse_tcp_with};
        let matches = |rule: &str, sni: Option<&str>| {
            let rule =
                parse_tcp_with(rule, RuleSyntax::V2).unwrap_or_else(|e| panic!("{rule}: {e}"));
            rule.matches(&ConnectionView::new(sni, &[], [10, 0, 0, 1].into()))
        };
        assert!(matches("HostSNI(`a.com`, `b.com`)", Some("b.com")));
        assert!(!matches("HostSNI(`a.com`, `b.com`)", Some("c.com")));
        assert!(matches("HostSNI(`*`)", None));
        assert!(matches("HostSNIRegexp(`{sub}.a.com`)", Some("x.a.com")));
        assert!(!matches("HostSNIRegexp(`{sub}.a.com`)", Some("x.y.a.com")));
        assert!(matches("ClientIP(`10.0.0.1`)", None));
        assert!(parse_tcp_with("ALPN(`h2`)", RuleSyntax::V2).is_err());
        assert!(parse_tcp_with("HostSNI(`*.a.com`)", RuleSyntax::V2).is_err());
        let catch_all = parse_tcp_with("HostSNI(`*`)", RuleSyntax::V2).expect("valid");
        assert!(catch_all.is_catch_all());
    }
}
