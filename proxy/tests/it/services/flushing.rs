//! `responseForwarding.flushInterval` end to end: a raw backend sends a body in two parts
//! with a pause between them, and a raw client shows when each part reaches it.
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Notify;

use crate::support::TestProxy;

/// Longest wait for something that must happen; the tests never assert a duration.
const BOUND: Duration = Duration::from_secs(10);

/// A backend answering every request with `head` and body `A`, then `B` once told to.
struct TwoPartBackend {
    addr: SocketAddr,
    send_second_part: Arc<Notify>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for TwoPartBackend {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl TwoPartBackend {
    async fn start(content_type: &'static str) -> TwoPartBackend {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("address");
        let send_second_part = Arc::new(Notify::new());
        let signal = Arc::clone(&send_second_part);
        let task = tokio::spawn(async move {
            let Ok((mut stream, _)) = listener.accept().await else {
                return;
            };
            if read_head(&mut stream).await.is_none() {
                return;
            }
            let head = format!(
                "HTTP/1.1 200 OK\r\nContent-Type: {content_type}\r\nContent-Length: 2\r\n\r\nA"
            );
            if stream.write_all(head.as_bytes()).await.is_err() {
                return;
            }
            signal.notified().await;
            let _ = stream.write_all(b"B").await;
            // Keep the connection open: the proxy may pool it.
            let mut rest = [0u8; 64];
            while matches!(stream.read(&mut rest).await, Ok(n) if n > 0) {}
        });
        TwoPartBackend {
            addr,
            send_second_part,
            task,
        }
    }
}

/// Reads up to the end of an HTTP head; returns what was read after it.
async fn read_head(stream: &mut TcpStream) -> Option<Vec<u8>> {
    let mut read = Vec::new();
    let mut buffer = [0u8; 1024];
    loop {
        if let Some(end) = read.windows(4).position(|w| w == b"\r\n\r\n") {
            return Some(read.split_off(end + 4));
        }
        let n = stream.read(&mut buffer).await.ok()?;
        if n == 0 {
            return None;
        }
        read.extend_from_slice(&buffer[..n]);
    }
}

/// A proxy routing everything to `backend` with the given `flushInterval`, and a client
/// connection that sent one GET; returns the client and the body bytes read with the head.
async fn request_through_proxy(
    backend: &TwoPartBackend,
    flush_interval: &str,
) -> (TestProxy, TcpStream, Vec<u8>) {
    let proxy = TestProxy::start().await;
    proxy.apply_yaml(&format!(
        r#"
http:
  routers:
    r: {{rule: "PathPrefix(`/`)", service: s}}
  services:
    s:
      loadBalancer:
        servers: [{{url: "http://{}"}}]
        responseForwarding: {{flushInterval: "{flush_interval}"}}
"#,
        backend.addr
    ));
    let mut client = TcpStream::connect(proxy.web()).await.expect("connect");
    client
        .write_all(b"GET /parts HTTP/1.1\r\nHost: flush.test\r\n\r\n")
        .await
        .expect("write");
    let body = tokio::time::timeout(BOUND, read_head(&mut client))
        .await
        .expect("response head in time")
        .expect("response head");
    (proxy, client, body)
}

/// The next body bytes the client receives.
async fn next_body_bytes(client: &mut TcpStream) -> Vec<u8> {
    let mut buffer = [0u8; 64];
    let n = tokio::time::timeout(BOUND, client.read(&mut buffer))
        .await
        .expect("body bytes in time")
        .expect("read");
    buffer[..n].to_vec()
}

/// The first part reaches the client while the backend still holds the second one back.
async fn assert_first_part_arrives_alone(backend: &TwoPartBackend, flush_interval: &str) {
    let (_proxy, mut client, mut body) = request_through_proxy(backend, flush_interval).await;
    if body.is_empty() {
        body = next_body_bytes(&mut client).await;
    }
    assert_eq!(
        body, b"A",
        "first part alone, before the backend sent the second"
    );
    backend.send_second_part.notify_one();
    assert_eq!(next_body_bytes(&mut client).await, b"B");
}

#[tokio::test]
async fn a_long_flush_interval_sends_the_parts_together() {
    let backend = TwoPartBackend::start("text/plain").await;
    let (_proxy, mut client, mut body) = request_through_proxy(&backend, "10s").await;
    // Give a proxy that forwards each chunk at once the time to send the first part.
    tokio::time::sleep(Duration::from_millis(300)).await;
    backend.send_second_part.notify_one();
    if body.is_empty() {
        body = next_body_bytes(&mut client).await;
    }
    assert_eq!(
        body, b"AB",
        "both parts in one write, at the end of the body"
    );
}

#[tokio::test]
async fn a_negative_flush_interval_sends_each_part_at_once() {
    let backend = TwoPartBackend::start("text/plain").await;
    assert_first_part_arrives_alone(&backend, "-1ms").await;
}

#[tokio::test]
async fn an_event_stream_is_sent_at_once_whatever_the_interval() {
    let backend = TwoPartBackend::start("text/event-stream").await;
    assert_first_part_arrives_alone(&backend, "10s").await;
}

#[tokio::test]
async fn waiting_data_is_sent_when_the_interval_elapses() {
    let backend = TwoPartBackend::start("text/plain").await;
    assert_first_part_arrives_alone(&backend, "50ms").await;
}
