//! The request controls: query parameters or `x-backend-*` headers that shape the answer.

use std::time::Duration;

use http::{HeaderMap, StatusCode, Uri};

/// What the client asked the backend to do.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Controls {
    pub status: Option<StatusCode>,
    pub delay: Duration,
    pub echo: bool,
    pub chunks: Option<u32>,
    pub chunk_delay: Duration,
}

impl Controls {
    /// Reads controls from the query string, then headers (a header wins over the query).
    pub(crate) fn from_request(uri: &Uri, headers: &HeaderMap) -> Result<Self, String> {
        let mut controls = Self::default();
        let query = uri.query().unwrap_or("");
        let from_query = query
            .split('&')
            .filter_map(|pair| pair.split_once('=').or(Some((pair, ""))))
            .filter(|(key, _)| !key.is_empty());
        let from_headers = headers.iter().filter_map(|(name, value)| {
            let key = name.as_str().strip_prefix("x-backend-")?;
            Some((key, value.to_str().unwrap_or("\u{fffd}")))
        });
        for (key, value) in from_query.chain(from_headers) {
            controls.set(key, value)?;
        }
        Ok(controls)
    }

    fn set(&mut self, key: &str, value: &str) -> Result<(), String> {
        match key {
            "status" => {
                let status = value
                    .parse::<u16>()
                    .ok()
                    .and_then(|code| StatusCode::from_u16(code).ok())
                    .ok_or_else(|| format!("status: {value:?} is not an HTTP status code"))?;
                self.status = Some(status);
            }
            "delay" => {
                self.delay = parse_duration(value).map_err(|error| format!("delay: {error}"))?
            }
            "echo" => self.echo = parse_flag(value).map_err(|error| format!("echo: {error}"))?,
            "chunks" => {
                let count = value
                    .parse::<u32>()
                    .map_err(|_| format!("chunks: {value:?} is not a count"))?;
                self.chunks = Some(count);
            }
            "chunk-delay" => {
                self.chunk_delay =
                    parse_duration(value).map_err(|error| format!("chunk-delay: {error}"))?
            }
            // Anything else (including the backend's own response headers) is not a control.
            _ => {}
        }
        Ok(())
    }
}

/// `250ms`, `2s` or a plain number of milliseconds.
fn parse_duration(text: &str) -> Result<Duration, String> {
    let invalid = || format!("{text:?} is not a duration (use 250ms, 2s or 250)");
    if let Some(ms) = text.strip_suffix("ms") {
        return ms.parse().map(Duration::from_millis).map_err(|_| invalid());
    }
    if let Some(seconds) = text.strip_suffix('s') {
        return seconds
            .parse()
            .map(Duration::from_secs)
            .map_err(|_| invalid());
    }
    text.parse()
        .map(Duration::from_millis)
        .map_err(|_| invalid())
}

fn parse_flag(text: &str) -> Result<bool, String> {
    match text {
        "" | "1" | "true" | "yes" => Ok(true),
        "0" | "false" | "no" => Ok(false),
        _ => Err(format!("{text:?} is not a flag (use 1 or 0)")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn controls(uri: &str, headers: &[(&str, &str)]) -> Result<Controls, String> {
        let uri: Uri = uri.parse().expect("uri");
        let mut map = HeaderMap::new();
        for (name, value) in headers {
            map.insert(
                http::HeaderName::from_bytes(name.as_bytes()).expect("name"),
                value.parse().expect("value"),
            );
        }
        Controls::from_request(&uri, &map)
    }

    #[test]
    fn query_and_headers_set_controls() {
        let parsed =
            controls("/x?status=503&delay=20ms&chunks=3&chunk-delay=1s&echo", &[]).expect("valid");
        assert_eq!(
            parsed,
            Controls {
                status: Some(StatusCode::SERVICE_UNAVAILABLE),
                delay: Duration::from_millis(20),
                echo: true,
                chunks: Some(3),
                chunk_delay: Duration::from_secs(1),
            }
        );
        let parsed = controls(
            "/x?status=503",
            &[("x-backend-status", "418"), ("x-backend-delay", "7")],
        )
        .expect("valid");
        assert_eq!(parsed.status, Some(StatusCode::IM_A_TEAPOT));
        assert_eq!(parsed.delay, Duration::from_millis(7));
    }

    #[test]
    fn no_controls_means_a_plain_answer() {
        assert_eq!(
            controls("/plain?user=x", &[("x-backend-name", "b1")]).expect("valid"),
            Controls::default()
        );
    }

    #[test]
    fn bad_values_are_named() {
        assert_eq!(
            controls("/?status=abc", &[]).expect_err("invalid"),
            "status: \"abc\" is not an HTTP status code"
        );
        assert_eq!(
            controls("/?status=42", &[]).expect_err("invalid"),
            "status: \"42\" is not an HTTP status code"
        );
        assert_eq!(
            controls("/", &[("x-backend-delay", "soon")]).expect_err("invalid"),
            "delay: \"soon\" is not a duration (use 250ms, 2s or 250)"
        );
        assert_eq!(
            controls("/?chunks=-1", &[]).expect_err("invalid"),
            "chunks: \"-1\" is not a count"
        );
        assert_eq!(
            controls("/?echo=maybe", &[]).expect_err("invalid"),
            "echo: \"maybe\" is not a flag (use 1 or 0)"
        );
    }
}
