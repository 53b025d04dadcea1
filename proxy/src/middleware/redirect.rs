//! redirectScheme and redirectRegex: answer with a redirect instead of calling the service.
//!
//! Status codes follow Traefik: 302 for GET/HEAD and 307 for other methods (the method must
//! be kept); `permanent` gives 301 / 308.
use http::header::{HOST, LOCATION};
use http::{Method, Request, Response, StatusCode};
use regex::Regex;

use super::{Flow, StepContext};
use crate::body::{self, Body};
use crate::config::middleware as cfg;

#[derive(Debug)]
pub struct RedirectScheme {
    scheme: String,
    /// `None`: the default port of the scheme (omitted from the URL).
    port: Option<u16>,
    permanent: bool,
}

impl RedirectScheme {
    pub fn new(cfg: &cfg::RedirectScheme) -> Result<Self, String> {
        let scheme = cfg.scheme.to_ascii_lowercase();
        if scheme.is_empty() {
            return Err("redirectScheme.scheme is required".to_owned());
        }
        if !scheme
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"+-.".contains(&b))
        {
            return Err(format!(
                "redirectScheme.scheme `{}` is not a URL scheme",
                cfg.scheme
            ));
        }
        let port = match cfg.port.as_str() {
            "" => None,
            text => Some(
                text.parse::<u16>()
                    .map_err(|_| format!("redirectScheme.port `{text}` is not a port number"))?,
            ),
        };
        let port = port.filter(|port| default_port(&scheme) != Some(*port));
        Ok(RedirectScheme {
            scheme,
            port,
            permanent: cfg.permanent,
        })
    }

    pub fn apply(&self, req: &Request<Body>, cx: StepContext) -> Flow {
        let current_scheme = request_scheme(req, cx);
        let authority = request_authority(req);
        let (host, current_port) = split_port(authority);
        let current_port = current_port.or_else(|| default_port(current_scheme));
        let target_port = self.port.or_else(|| default_port(&self.scheme));
        if current_scheme == self.scheme && current_port == target_port {
            return Flow::Continue;
        }
        let mut location = format!("{}://{}", self.scheme, host);
        if let Some(port) = self.port {
            location.push_str(&format!(":{port}"));
        }
        location.push_str(req.uri().path_and_query().map_or("/", |pq| pq.as_str()));
        Flow::Respond(redirect(&location, req.method(), self.permanent))
    }
}

#[derive(Debug)]
pub struct RedirectRegex {
    regex: Regex,
    replacement: String,
    permanent: bool,
}

impl RedirectRegex {
    pub fn new(cfg: &cfg::RedirectRegex) -> Result<Self, String> {
        let regex = Regex::new(&cfg.regex)
            .map_err(|err| format!("redirectRegex.regex `{}`: {err}", cfg.regex))?;
        Ok(RedirectRegex {
            regex,
            replacement: cfg.replacement.clone(),
            permanent: cfg.permanent,
        })
    }

    /// Matches the full request URL (`scheme://host[:port]/path?query`).
    pub fn apply(&self, req: &Request<Body>, cx: StepContext) -> Flow {
        let url = format!(
            "{}://{}{}",
            request_scheme(req, cx),
            request_authority(req),
            req.uri().path_and_query().map_or("/", |pq| pq.as_str())
        );
        if !self.regex.is_match(&url) {
            return Flow::Continue;
        }
        let location = self.regex.replace(&url, self.replacement.as_str());
        if location == url {
            // Redirecting to the same URL would loop forever.
            return Flow::Continue;
        }
        Flow::Respond(redirect(&location, req.method(), self.permanent))
    }
}

fn request_scheme(req: &Request<Body>, cx: StepContext) -> &'static str {
    if cx.tls || req.uri().scheme_str() == Some("https") {
        "https"
    } else {
        "http"
    }
}

fn request_authority(req: &Request<Body>) -> &str {
    req.headers()
        .get(HOST)
        .and_then(|host| host.to_str().ok())
        .or_else(|| req.uri().authority().map(|a| a.as_str()))
        .unwrap_or("")
}

fn split_port(authority: &str) -> (&str, Option<u16>) {
    match authority.rsplit_once(':') {
        Some((host, port)) if !port.contains(']') => (host, port.parse().ok()),
        _ => (authority, None),
    }
}

fn default_port(scheme: &str) -> Option<u16> {
    match scheme {
        "http" | "ws" => Some(80),
        "https" | "wss" => Some(443),
        _ => None,
    }
}

fn redirect(location: &str, method: &Method, permanent: bool) -> Response<Body> {
    let keeps_method = matches!(*method, Method::GET | Method::HEAD);
    let status = match (permanent, keeps_method) {
        (false, true) => StatusCode::FOUND,
        (false, false) => StatusCode::TEMPORARY_REDIRECT,
        (true, true) => StatusCode::MOVED_PERMANENTLY,
        (true, false) => StatusCode::PERMANENT_REDIRECT,
    };
    let mut res = Response::new(body::full(status.canonical_reason().unwrap_or("Redirect")));
    *res.status_mut() = status;
    if let Ok(value) = http::HeaderValue::from_str(location) {
        res.headers_mut().insert(LOCATION, value);
    }
    res
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(method: Method, host: &str, uri: &str) -> Request<Body> {
        Request::builder()
            .method(method)
            .uri(uri)
            .header("host", host)
            .body(body::empty())
            .unwrap()
    }

    fn location(flow: Flow) -> (StatusCode, String) {
        match flow {
            Flow::Respond(res) => (
                res.status(),
                res.headers()[LOCATION].to_str().unwrap().to_owned(),
            ),
            Flow::Continue => panic!("expected a redirect"),
        }
    }

    const PLAIN: StepContext = StepContext { tls: false };
    const TLS: StepContext = StepContext { tls: true };

    #[test]
    fn redirect_scheme_drops_default_ports_and_keeps_the_path() {
        let step = RedirectScheme::new(&cfg::RedirectScheme {
            scheme: "https".into(),
            port: String::new(),
            permanent: true,
        })
        .unwrap();
        let req = request(Method::GET, "example.com:80", "/a?b=c");
        assert_eq!(
            location(step.apply(&req, PLAIN)),
            (
                StatusCode::MOVED_PERMANENTLY,
                "https://example.com/a?b=c".into()
            )
        );
        let post = request(Method::POST, "example.com", "/form");
        assert_eq!(
            location(step.apply(&post, PLAIN)).0,
            StatusCode::PERMANENT_REDIRECT
        );
        // Already on https: no loop.
        let req = request(Method::GET, "example.com", "/a");
        assert!(matches!(step.apply(&req, TLS), Flow::Continue));
    }

    #[test]
    fn redirect_scheme_with_port() {
        let step = RedirectScheme::new(&cfg::RedirectScheme {
            scheme: "https".into(),
            port: "8443".into(),
            permanent: false,
        })
        .unwrap();
        let req = request(Method::PUT, "example.com:8000", "/x");
        assert_eq!(
            location(step.apply(&req, PLAIN)),
            (
                StatusCode::TEMPORARY_REDIRECT,
                "https://example.com:8443/x".into()
            )
        );
        let bad = RedirectScheme::new(&cfg::RedirectScheme {
            scheme: "https".into(),
            port: "99999".into(),
            permanent: false,
        });
        assert!(bad.unwrap_err().contains("not a port number"));
        let missing = RedirectScheme::new(&cfg::RedirectScheme::default());
        assert!(missing.unwrap_err().contains("scheme is required"));
    }

    #[test]
    fn redirect_regex_rewrites_the_full_url() {
        let step = RedirectRegex::new(&cfg::RedirectRegex {
            regex: "^http://localhost/(.*)".into(),
            replacement: "http://mydomain/${1}".into(),
            permanent: false,
        })
        .unwrap();
        let req = request(Method::GET, "localhost", "/foo?x=1");
        assert_eq!(
            location(step.apply(&req, PLAIN)),
            (StatusCode::FOUND, "http://mydomain/foo?x=1".into())
        );
        let other = request(Method::GET, "other", "/foo");
        assert!(matches!(step.apply(&other, PLAIN), Flow::Continue));
        assert!(
            RedirectRegex::new(&cfg::RedirectRegex {
                regex: "(".into(),
                ..Default::default()
            })
            .is_err()
        );
    }
}
