//! `headers` with custom request/response headers: set, or remove when the value is empty.
use http::{HeaderName, HeaderValue, Request, Response};

use crate::body::Body;
use crate::config::middleware::Headers;

/// A header to set, or to remove when `value` is `None`.
type HeaderEdit = (HeaderName, Option<HeaderValue>);

#[derive(Debug)]
pub struct CustomHeaders {
    request: Vec<HeaderEdit>,
    response: Vec<HeaderEdit>,
}

impl CustomHeaders {
    pub fn new(cfg: &Headers) -> Result<Self, String> {
        Ok(CustomHeaders {
            request: edits(&cfg.custom_request_headers, "customRequestHeaders")?,
            response: edits(&cfg.custom_response_headers, "customResponseHeaders")?,
        })
    }

    pub fn apply_request(&self, req: &mut Request<Body>) {
        apply(req.headers_mut(), &self.request);
    }

    pub fn apply_response(&self, res: &mut Response<Body>) {
        apply(res.headers_mut(), &self.response);
    }
}

fn edits(
    headers: &std::collections::BTreeMap<String, String>,
    field: &str,
) -> Result<Vec<HeaderEdit>, String> {
    headers
        .iter()
        .map(|(name, value)| {
            let header = HeaderName::from_bytes(name.as_bytes())
                .map_err(|_| format!("headers.{field}: invalid header name `{name}`"))?;
            if value.is_empty() {
                return Ok((header, None));
            }
            let value = HeaderValue::from_str(value)
                .map_err(|_| format!("headers.{field}.{name}: invalid header value"))?;
            Ok((header, Some(value)))
        })
        .collect()
}

fn apply(headers: &mut http::HeaderMap, edits: &[HeaderEdit]) {
    for (name, value) in edits {
        match value {
            Some(value) => {
                headers.insert(name.clone(), value.clone());
            }
            None => {
                headers.remove(name);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sets_and_removes_headers_on_both_sides() {
        let cfg: Headers = serde_yaml::from_str(
            "
customRequestHeaders: {X-Team: blue, Authorization: ''}
customResponseHeaders: {Server: '', X-Frame: deny}
",
        )
        .unwrap();
        let step = CustomHeaders::new(&cfg).unwrap();
        let mut req = Request::get("/")
            .header("authorization", "secret")
            .header("x-team", "red")
            .body(crate::body::empty())
            .unwrap();
        step.apply_request(&mut req);
        assert_eq!(req.headers()["x-team"], "blue");
        assert!(req.headers().get("authorization").is_none());

        let mut res = Response::builder()
            .header("server", "nginx")
            .body(crate::body::empty())
            .unwrap();
        step.apply_response(&mut res);
        assert!(res.headers().get("server").is_none());
        assert_eq!(res.headers()["x-frame"], "deny");
    }

    #[test]
    fn invalid_names_are_configuration_errors() {
        let cfg: Headers = serde_yaml::from_str("customRequestHeaders: {'bad name': x}").unwrap();
        let err = CustomHeaders::new(&cfg).unwrap_err();
        assert!(err.contains("invalid header name `bad name`"), "{err}");
    }
}
