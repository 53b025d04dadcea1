//! The structured access log: one JSON line per request, written by a background task so the
//! request path only pushes an entry into a bounded channel (entries are dropped, and
//! counted, when the writer falls behind rather than slowing traffic down).
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use http::Request;
use serde::Serialize;
use tokio::io::{AsyncWrite, AsyncWriteExt};
use tokio::sync::mpsc;

use super::{Connection, Route};
use crate::body::Body;

const QUEUE_CAPACITY: usize = 8192;

/// One request, with Traefik's JSON access log field names.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct AccessLogEntry {
    #[serde(rename = "StartUTC")]
    pub start_utc: String,
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
}

impl AccessLogEntry {
    pub(super) fn start(req: &Request<Body>, conn: &Connection, route: &Route) -> Self {
        let host = req
            .headers()
            .get(http::header::HOST)
            .and_then(|h| h.to_str().ok())
            .or_else(|| req.uri().authority().map(|a| a.as_str()))
            .unwrap_or_default();
        AccessLogEntry {
            start_utc: rfc3339(SystemTime::now()),
            client_addr: conn.client_addr.to_string(),
            request_method: req.method().to_string(),
            request_host: host.to_owned(),
            request_path: req
                .uri()
                .path_and_query()
                .map_or("/", |pq| pq.as_str())
                .to_owned(),
            request_protocol: format!("{:?}", req.version()),
            router_name: route.name.to_string(),
            service_name: route.service_name.to_string(),
            entry_point_name: conn.entry_point.to_string(),
            downstream_status: 0,
            duration: 0,
        }
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
    pub fn spawn_writer<W>(&self, mut out: W)
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
                if serde_json::to_writer(&mut line, &entry).is_err() {
                    continue;
                }
                line.push(b'\n');
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

/// `2026-11-24T04:40:29.123Z`, without a date library.
fn rfc3339(time: SystemTime) -> String {
    let since_epoch = time.duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = since_epoch.as_secs();
    let (days, rem) = (secs / 86_400, secs % 86_400);
    let (hour, minute, second) = (rem / 3600, rem % 3600 / 60, rem % 60);
    // Howard Hinnant's civil_from_days.
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{hour:02}:{minute:02}:{second:02}.{:03}Z",
        since_epoch.subsec_millis()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_utc_timestamps() {
        let t = UNIX_EPOCH + Duration::from_millis(1_795_494_029_123);
        assert_eq!(rfc3339(t), "2026-11-24T04:20:29.123Z");
        assert_eq!(rfc3339(UNIX_EPOCH), "1970-01-01T00:00:00.000Z");
        let leap = UNIX_EPOCH + Duration::from_secs(951_782_400); // 2000-02-29
        assert_eq!(rfc3339(leap), "2000-02-29T00:00:00.000Z");
    }

    #[test]
    fn entries_are_dropped_and_counted_without_a_writer_once_full() {
        let log = AccessLog::default();
        let entry = AccessLogEntry {
            start_utc: String::new(),
            client_addr: String::new(),
            request_method: "GET".into(),
            request_host: String::new(),
            request_path: "/".into(),
            request_protocol: "HTTP/1.1".into(),
            router_name: "r".into(),
            service_name: "s".into(),
            entry_point_name: "web".into(),
            downstream_status: 200,
            duration: 1,
        };
        for _ in 0..QUEUE_CAPACITY + 3 {
            log.send(entry.clone());
        }
        assert_eq!(log.dropped(), 3);
    }
}
