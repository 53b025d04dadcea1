//! Path rewrites: addPrefix, stripPrefix, stripPrefixRegex, replacePath, replacePathRegex.
//!
//! They work on the path as received (still percent-encoded), like Traefik's `RawPath`
//! handling: decoding and re-encoding would change what the server sees.
use http::header::HeaderValue;
use http::uri::{PathAndQuery, Uri};
use http::{HeaderName, Request};
use regex::Regex;

use crate::body::Body;
use crate::config::middleware as cfg;

static X_FORWARDED_PREFIX: HeaderName = HeaderName::from_static("x-forwarded-prefix");
static X_REPLACED_PATH: HeaderName = HeaderName::from_static("x-replaced-path");

#[derive(Debug)]
pub struct AddPrefix {
    prefix: String,
}

impl AddPrefix {
    pub fn new(cfg: &cfg::AddPrefix) -> Result<Self, String> {
        if !cfg.prefix.starts_with('/') {
            return Err(format!(
                "addPrefix.prefix `{}` must start with `/`",
                cfg.prefix
            ));
        }
        Ok(AddPrefix {
            prefix: cfg.prefix.trim_end_matches('/').to_owned(),
        })
    }

    pub fn apply(&self, req: &mut Request<Body>) {
        let path = format!("{}{}", self.prefix, req.uri().path());
        set_path(req, &path);
    }
}

#[derive(Debug)]
pub struct StripPrefix {
    prefixes: Vec<String>,
}

impl StripPrefix {
    pub fn new(cfg: &cfg::StripPrefix) -> Self {
        StripPrefix {
            prefixes: cfg.prefixes.clone(),
        }
    }

    /// Removes the first prefix the path starts with and records it in `X-Forwarded-Prefix`.
    pub fn apply(&self, req: &mut Request<Body>) {
        let path = req.uri().path();
        let Some(prefix) = self
            .prefixes
            .iter()
            .find(|p| !p.is_empty() && path.starts_with(p.as_str()))
        else {
            return;
        };
        let rest = ensure_leading_slash(&path[prefix.len()..]).into_owned();
        strip(req, &rest, prefix.trim_end_matches('/'));
    }
}

#[derive(Debug)]
pub struct StripPrefixRegex {
    regexes: Vec<Regex>,
}

impl StripPrefixRegex {
    pub fn new(cfg: &cfg::StripPrefixRegex) -> Result<Self, String> {
        let regexes = cfg
            .regex
            .iter()
            .map(|source| {
                Regex::new(source).map_err(|err| format!("stripPrefixRegex `{source}`: {err}"))
            })
            .collect::<Result<_, _>>()?;
        Ok(StripPrefixRegex { regexes })
    }

    /// Removes the part of the path a regex matches at its start.
    pub fn apply(&self, req: &mut Request<Body>) {
        let path = req.uri().path();
        let Some(found) = self
            .regexes
            .iter()
            .find_map(|re| re.find(path).filter(|m| m.start() == 0 && !m.is_empty()))
        else {
            return;
        };
        let prefix = found.as_str().to_owned();
        let rest = ensure_leading_slash(&path[found.end()..]).into_owned();
        strip(req, &rest, prefix.trim_end_matches('/'));
    }
}

fn strip(req: &mut Request<Body>, rest: &str, prefix: &str) {
    if let Ok(value) = HeaderValue::from_str(prefix) {
        req.headers_mut().insert(X_FORWARDED_PREFIX.clone(), value);
    }
    set_path(req, rest);
}

#[derive(Debug)]
pub struct ReplacePath {
    path: String,
}

impl ReplacePath {
    pub fn new(cfg: &cfg::ReplacePath) -> Self {
        ReplacePath {
            path: cfg.path.clone(),
        }
    }

    pub fn apply(&self, req: &mut Request<Body>) {
        remember_original_path(req);
        set_path(req, &self.path);
    }
}

#[derive(Debug)]
pub struct ReplacePathRegex {
    regex: Regex,
    replacement: String,
}

impl ReplacePathRegex {
    pub fn new(cfg: &cfg::ReplacePathRegex) -> Result<Self, String> {
        let regex = Regex::new(&cfg.regex)
            .map_err(|err| format!("replacePathRegex `{}`: {err}", cfg.regex))?;
        Ok(ReplacePathRegex {
            regex,
            replacement: cfg.replacement.clone(),
        })
    }

    pub fn apply(&self, req: &mut Request<Body>) {
        let path = req.uri().path();
        if !self.regex.is_match(path) {
            return;
        }
        let replaced = self
            .regex
            .replace_all(path, self.replacement.as_str())
            .into_owned();
        remember_original_path(req);
        set_path(req, &replaced);
    }
}

fn remember_original_path(req: &mut Request<Body>) {
    if let Ok(value) = HeaderValue::from_str(req.uri().path()) {
        req.headers_mut().insert(X_REPLACED_PATH.clone(), value);
    }
}

fn ensure_leading_slash(path: &str) -> std::borrow::Cow<'_, str> {
    if path.starts_with('/') {
        path.into()
    } else {
        format!("/{path}").into()
    }
}

/// Replaces the request path, keeping the query, scheme and authority. Bytes a URI path may
/// not hold (a replacement can produce them) are percent-encoded.
pub(crate) fn set_path(req: &mut Request<Body>, path: &str) {
    let path = if path.is_empty() { "/" } else { path };
    let path_and_query = match req.uri().query() {
        Some(query) => format!("{path}?{query}"),
        None => path.to_owned(),
    };
    let path_and_query = PathAndQuery::try_from(path_and_query.as_str())
        .or_else(|_| PathAndQuery::try_from(encode_invalid(&path_and_query).as_str()));
    let Ok(path_and_query) = path_and_query else {
        return;
    };
    let mut parts = req.uri().clone().into_parts();
    parts.path_and_query = Some(path_and_query);
    if let Ok(uri) = Uri::from_parts(parts) {
        *req.uri_mut() = uri;
    }
}

fn encode_invalid(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 8);
    for byte in text.bytes() {
        let allowed = byte.is_ascii_alphanumeric() || b"-._~!$&'()*+,;=:@/?%".contains(&byte);
        if allowed {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(uri: &str) -> Request<Body> {
        Request::get(uri).body(crate::body::empty()).unwrap()
    }

    #[test]
    fn add_prefix_keeps_query_and_authority() {
        let step = AddPrefix::new(&cfg::AddPrefix {
            prefix: "/api".into(),
        })
        .unwrap();
        let mut req = request("http://example.com/users?id=1");
        step.apply(&mut req);
        assert_eq!(req.uri().to_string(), "http://example.com/api/users?id=1");
        let err = AddPrefix::new(&cfg::AddPrefix {
            prefix: "api".into(),
        })
        .unwrap_err();
        assert!(err.contains("must start with `/`"), "{err}");
    }

    #[test]
    fn strip_prefix_takes_the_first_matching_prefix_and_sets_header() {
        let step = StripPrefix::new(&cfg::StripPrefix {
            prefixes: vec!["/foo".into(), "/api".into()],
            force_slash: None,
        });
        let mut req = request("/api/users?x");
        step.apply(&mut req);
        assert_eq!(req.uri().to_string(), "/users?x");
        assert_eq!(req.headers()["x-forwarded-prefix"], "/api");

        let mut req = request("/api");
        step.apply(&mut req);
        assert_eq!(req.uri().path(), "/", "an emptied path becomes /");

        let mut req = request("/other");
        step.apply(&mut req);
        assert_eq!(req.uri().path(), "/other");
        assert!(req.headers().get("x-forwarded-prefix").is_none());
    }

    #[test]
    fn strip_prefix_regex_strips_only_at_the_start() {
        let step = StripPrefixRegex::new(&cfg::StripPrefixRegex {
            regex: vec!["/v[0-9]+".into()],
        })
        .unwrap();
        let mut req = request("/v12/items");
        step.apply(&mut req);
        assert_eq!(req.uri().path(), "/items");
        assert_eq!(req.headers()["x-forwarded-prefix"], "/v12");

        let mut req = request("/items/v1");
        step.apply(&mut req);
        assert_eq!(req.uri().path(), "/items/v1");

        let err = StripPrefixRegex::new(&cfg::StripPrefixRegex {
            regex: vec!["(".into()],
        });
        assert!(err.unwrap_err().contains("stripPrefixRegex `(`"));
    }

    #[test]
    fn replace_path_keeps_the_original_in_a_header() {
        let step = ReplacePath::new(&cfg::ReplacePath {
            path: "/health".into(),
        });
        let mut req = request("/anything?q=1");
        step.apply(&mut req);
        assert_eq!(req.uri().to_string(), "/health?q=1");
        assert_eq!(req.headers()["x-replaced-path"], "/anything");
    }

    #[test]
    fn replace_path_regex_substitutes_groups_and_encodes_bad_bytes() {
        let step = ReplacePathRegex::new(&cfg::ReplacePathRegex {
            regex: "^/foo/(.*)".into(),
            replacement: "/bar/$1".into(),
        })
        .unwrap();
        let mut req = request("/foo/a/b");
        step.apply(&mut req);
        assert_eq!(req.uri().path(), "/bar/a/b");
        assert_eq!(req.headers()["x-replaced-path"], "/foo/a/b");

        let mut req = request("/nomatch");
        step.apply(&mut req);
        assert_eq!(req.uri().path(), "/nomatch");
        assert!(req.headers().get("x-replaced-path").is_none());

        let spaced = ReplacePathRegex::new(&cfg::ReplacePathRegex {
            regex: "^/x".into(),
            replacement: "/a b".into(),
        })
        .unwrap();
        let mut req = request("/x");
        spaced.apply(&mut req);
        assert_eq!(req.uri().path(), "/a%20b");

        let bad = ReplacePathRegex::new(&cfg::ReplacePathRegex {
            regex: "[".into(),
            replacement: String::new(),
        });
        assert!(bad.is_err());
    }
}
