//! The access log: one line per request, JSON (Traefik's field names) or Common Log Format,
//! written by a background task so the request path only pushes an entry into a bounded
//! channel (entries are dropped, and counted, when the writer falls behind rather than
//! slowing traffic down).
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::Duration;

use chrono::{DateTime, SecondsFormat, Utc};

use serde::Serialize;
use tokio::io::{AsyncWrite, AsyncWriteExt};
use tokio::sync::mpsc;

use super::Connection;
use crate::config::AccessLogFormat;

const QUEUE_CAPACITY: usize = 8192;

/// One request, with Traefik's JSON access log field names.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct AccessLogEntry {
    #[serde(rename = "StartUTC", serialize_with = "rfc3339_millis")]
    pub start_utc: DateTime<Utc>,
    pub client_addr: String,
    pub request_method: String,
    pub request_host: String,
    pub request_path: String,
    pub request_protocol: String,
    pub router_name: String,
    pub service_name: String,
    #[serde(rename = "entryPointName")]
    pub entry_point_name: String,
    pub downstream_status: u16,
    /// Nanoseconds to response headers.
    pub duration: u64,
    /// For the Common Log Format line only.
    #[serde(skip)]
    pub referer: String,
    #[serde(skip)]
    pub user_agent: String,
}

impl AccessLogEntry {
    /// `router`/`service` are `-` for a request no router took.
    pub(super) fn start(
        req: &http::request::Parts,
        conn: &Connection,
        router: &str,
        service: &str,
    ) -> Self {
        let host = req
            .headers
            .get(http::header::HOST)
            .and_then(|h| h.to_str().ok())
            .or_else(|| req.uri.authority().map(|a| a.as_str()))
            .unwrap_or_default();
        let header = |name| {
            req.headers
                .get(name)
                .and_then(|value| value.to_str().ok())
                .unwrap_or("-")
                .to_owned()
        };
        AccessLogEntry {
            start_utc: Utc::now(),
            client_addr: conn.client_addr.to_string(),
            request_method: req.method.to_string(),
            request_host: host.to_owned(),
            request_path: req
                .uri
                .path_and_query()
                .map_or("/", |pq| pq.as_str())
                .to_owned(),
            request_protocol: format!("{:?}", req.version),
            router_name: router.to_owned(),
            service_name: service.to_owned(),
            entry_point_name: conn.entry_point.to_string(),
            downstream_status: 0,
            duration: 0,
            referer: header(http::header::REFERER),
            user_agent: header(http::header::USER_AGENT),
        }
    }

    /// Appends the entry as one line (with its newline) in `format`.
    fn write_line(&self, format: AccessLogFormat, line: &mut Vec<u8>) -> std::io::Result<()> {
        use std::io::Write as _;
        match format {
            AccessLogFormat::Json => serde_json::to_writer(&mut *line, self)?,
            // Traefik's CLF: the usual fields, then router, service and duration.
            AccessLogFormat::Common => write!(
                line,
                "{client} - - [{time}] \"{method} {path} {protocol}\" {status} - \"{referer}\" \"{agent}\" \"{router}\" \"{service}\" {millis}ms",
                client = self
                    .client_addr
                    .rsplit_once(':')
                    .map_or(&*self.client_addr, |(ip, _)| ip),
                time = self.start_utc.format("%d/%b/%Y:%H:%M:%S %z"),
                method = self.request_method,
                path = self.request_path,
                protocol = self.request_protocol,
                status = self.downstream_status,
                referer = self.referer,
                agent = self.user_agent,
                router = self.router_name,
                service = self.service_name,
                millis = self.duration / 1_000_000,
            )?,
        }
        line.push(b'\n');
        Ok(())
    }

    pub(super) fn finish(mut self, status: u16, elapsed: Duration) -> Self {
        self.downstream_status = status;
        self.duration = u64::try_from(elapsed.as_nanos()).unwrap_or(u64::MAX);
        self
    }
}

/// The request-path side of the access log.
#[derive(Debug)]
pub struct AccessLog {
    sender: mpsc::Sender<AccessLogEntry>,
    receiver: std::sync::Mutex<Option<mpsc::Receiver<AccessLogEntry>>>,
    dropped: Arc<AtomicU64>,
}

impl Default for AccessLog {
    fn default() -> Self {
        let (sender, receiver) = mpsc::channel(QUEUE_CAPACITY);
        AccessLog {
            sender,
            receiver: std::sync::Mutex::new(Some(receiver)),
            dropped: Arc::new(AtomicU64::new(0)),
        }
    }
}

impl AccessLog {
    pub fn send(&self, entry: AccessLogEntry) {
        if self.sender.try_send(entry).is_err() {
            self.dropped.fetch_add(1, Relaxed);
        }
    }

    /// Entries lost because the writer was behind (or never started).
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Relaxed)
    }

    /// Starts the writer task on `out`. Only the first call starts one.
    pub fn spawn_writer<W>(&self, mut out: W, format: AccessLogFormat)
    where
        W: AsyncWrite + Unpin + Send + 'static,
    {
        let receiver = self
            .receiver
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take();
        let Some(mut receiver) = receiver else {
            return;
        };
        tokio::spawn(async move {
            let mut line = Vec::with_capacity(512);
            while let Some(entry) = receiver.recv().await {
                line.clear();
                if entry.write_line(format, &mut line).is_err() {
                    continue;
                }
                if let Err(err) = out.write_all(&line).await {
                    tracing::warn!(error = %err, "access log write failed; stopping the access log");
                    return;
                }
                // Flush when the queue is drained, not per line.
                if receiver.is_empty()
                    && let Err(err) = out.flush().await
                {
                    tracing::warn!(error = %err, "access log flush failed; stopping the access log");
                    return;
                }
            }
        });
    }
}

/// `2026-11-24T04:40:29.123Z`, as Traefik writes `StartUTC`.
fn rfc3339_millis<S: serde::Serializer>(time: &DateTime<Utc>, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&time.to_rfc3339_opts(SecondsFormat::Millis, true))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry() -> AccessLogEntry {
        AccessLogEntry {
            start_utc: DateTime::from_timestamp_millis(1_795_494_029_123).unwrap_or_default(),
            client_addr: "10.0.0.7:51234".into(),
            request_method: "GET".into(),
            request_host: "app.example".into(),
            request_path: "/a?b=1".into(),
            request_protocol: "HTTP/1.1".into(),
            router_name: "r".into(),
            service_name: "s".into(),
            entry_point_name: "web".into(),
            downstream_status: 200,
            duration: 12_300_000,
            referer: "-".into(),
            user_agent: "curl/8".into(),
        }
    }

    #[test]
    fn json_lines_carry_traefik_field_names_and_a_utc_timestamp() {
        let mut line = Vec::new();
        entry()
            .write_line(AccessLogFormat::Json, &mut line)
            .unwrap();
        let value: serde_json::Value = serde_json::from_slice(&line).unwrap();
        assert_eq!(value["StartUTC"], "2026-11-24T04:20:29.123Z");
        assert_eq!(value["DownstreamStatus"], 200);
        assert_eq!(value["entryPointName"], "web");
        assert!(
            value.get("UserAgent").is_none(),
            "CLF-only fields stay out of JSON"
        );
        assert_eq!(line.last(), Some(&b'\n'));
    }

    #[test]
    fn common_log_format_lines_follow_traefik() {
        let mut line = Vec::new();
        entry()
            .write_line(AccessLogFormat::Common, &mut line)
            .unwrap();
        assert_eq!(
            String::from_utf8(line).unwrap(),
            "10.0.0.7 - - [24/Nov/2026:04:20:29 +0000] \"GET /a?b=1 HTTP/1.1\" 200 - \"-\" \"curl/8\" \"r\" \"s\" 12ms\n"
        );
    }

    #[test]
    fn entries_are_dropped_and_counted_without_a_writer_once_full() {
        let log = AccessLog::default();
        let entry = entry();
        for _ in 0..QUEUE_CAPACITY + 3 {
            log.send(entry.clone());
        }
        assert_eq!(log.dropped(), 3);
    }
}
