//! The test backend's behaviour, on loopback.

use bytes::Bytes;
use futures::{SinkExt, StreamExt};
use http::Request;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use mesh_tests::{BackendMode, BackendSpec, RunningBackend, free_loopback_ports};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio_tungstenite::tungstenite::Message;

use crate::{backend_binary, http_client};

async fn start(
    name: &str,
    mode: BackendMode,
) -> anyhow::Result<(RunningBackend, tempfile::TempDir)> {
    let logs = tempfile::tempdir()?;
    let port = free_loopback_ports(1)?[0];
    let spec = BackendSpec::new(backend_binary(), name, mode, port).announce();
    Ok((spec.start_on_loopback(logs.path()).await?, logs))
}

#[tokio::test]
async fn answers_with_its_name_and_the_request() -> anyhow::Result<()> {
    let (backend, _logs) = start("b1", BackendMode::Http).await?;
    let request = Request::get(format!("http://{}/path?q=1", backend.addr()))
        .header("x-test", "one")
        .header("x-test", "two")
        .body(Full::default())?;
    let answer = http_client::send(request, false).await?;
    assert_eq!(answer.status, 200);
    assert_eq!(answer.headers["x-backend-name"], "b1");
    let body = answer.json()?;
    assert_eq!(body["name"], "b1");
    assert_eq!(body["method"], "GET");
    assert_eq!(body["uri"], "/path?q=1");
    assert_eq!(body["version"], "HTTP/1.1");
    assert_eq!(body["headers"]["x-test"], serde_json::json!(["one", "two"]));
    assert_eq!(body["local"], backend.addr().to_string());
    Ok(())
}

#[tokio::test]
async fn status_and_delay_controls_shape_the_answer() -> anyhow::Result<()> {
    let (backend, _logs) = start("b2", BackendMode::Http).await?;
    let answer =
        http_client::get(&format!("http://{}/?status=503&delay=20ms", backend.addr())).await?;
    assert_eq!(answer.status, 503);
    assert_eq!(answer.json()?["name"], "b2");

    let request = Request::get(format!("http://{}/", backend.addr()))
        .header("x-backend-status", "418")
        .body(Full::default())?;
    assert_eq!(http_client::send(request, false).await?.status, 418);
    Ok(())
}

#[tokio::test]
async fn bad_controls_get_400_with_the_reason() -> anyhow::Result<()> {
    let (backend, _logs) = start("b3", BackendMode::Http).await?;
    let answer = http_client::get(&format!("http://{}/?delay=soon", backend.addr())).await?;
    assert_eq!(answer.status, 400);
    assert_eq!(
        answer.json()?["error"],
        "delay: \"soon\" is not a duration (use 250ms, 2s or 250)"
    );
    Ok(())
}

#[tokio::test]
async fn echo_returns_the_request_body() -> anyhow::Result<()> {
    let (backend, _logs) = start("b4", BackendMode::Http).await?;
    let request = Request::post(format!("http://{}/?echo=1", backend.addr()))
        .header("content-type", "text/plain")
        .body(Full::new(Bytes::from_static(b"ping pong")))?;
    let answer = http_client::send(request, false).await?;
    assert_eq!(answer.status, 200);
    assert_eq!(answer.text(), "ping pong");
    assert_eq!(answer.headers["content-type"], "text/plain");
    Ok(())
}

#[tokio::test]
async fn chunks_are_streamed_one_by_one() -> anyhow::Result<()> {
    let (backend, _logs) = start("b5", BackendMode::Http).await?;
    let client = Client::builder(TokioExecutor::new()).build_http::<Full<Bytes>>();
    let request = Request::get(format!(
        "http://{}/?chunks=3&chunk-delay=30ms",
        backend.addr()
    ))
    .body(Full::default())?;
    let mut body = client.request(request).await?.into_body();
    // The first chunk arrives on its own, before the others exist.
    let first = body
        .frame()
        .await
        .ok_or_else(|| anyhow::anyhow!("no first frame"))??;
    assert_eq!(
        first.into_data().ok(),
        Some(Bytes::from_static(b"chunk 1 of 3\n"))
    );
    let rest = body.collect().await?.to_bytes();
    assert_eq!(rest, Bytes::from_static(b"chunk 2 of 3\nchunk 3 of 3\n"));
    Ok(())
}

#[tokio::test]
async fn speaks_h2c() -> anyhow::Result<()> {
    let (backend, _logs) = start("b6", BackendMode::Http).await?;
    let answer = http_client::send(
        Request::get(format!("http://{}/h2", backend.addr())).body(Full::default())?,
        true,
    )
    .await?;
    assert_eq!(answer.status, 200);
    let body = answer.json()?;
    assert_eq!(body["version"], "HTTP/2.0");
    assert_eq!(body["name"], "b6");
    Ok(())
}

#[tokio::test]
async fn websocket_messages_are_echoed() -> anyhow::Result<()> {
    let (backend, _logs) = start("b7", BackendMode::Http).await?;
    let (mut socket, response) =
        tokio_tungstenite::connect_async(format!("ws://{}/ws", backend.addr())).await?;
    assert_eq!(response.status(), 101);
    assert_eq!(response.headers()["x-backend-name"], "b7");

    socket.send(Message::text("hello")).await?;
    assert_eq!(
        socket.next().await.transpose()?,
        Some(Message::text("hello"))
    );
    socket.send(Message::binary(vec![1u8, 2, 3])).await?;
    assert_eq!(
        socket.next().await.transpose()?,
        Some(Message::binary(vec![1u8, 2, 3]))
    );
    socket.close(None).await?;
    Ok(())
}

#[tokio::test]
async fn tcp_echo_announces_its_name_then_echoes() -> anyhow::Result<()> {
    let (backend, _logs) = start("t1", BackendMode::TcpEcho).await?;
    let stream = tokio::net::TcpStream::connect(backend.addr()).await?;
    let mut reader = BufReader::new(stream);
    let mut greeting = String::new();
    reader.read_line(&mut greeting).await?;
    assert_eq!(greeting, "t1\n");
    reader.get_mut().write_all(b"abc").await?;
    let mut echoed = [0u8; 3];
    reader.read_exact(&mut echoed).await?;
    assert_eq!(&echoed, b"abc");
    Ok(())
}

#[tokio::test]
async fn udp_echo_prefixes_its_name() -> anyhow::Result<()> {
    let (backend, _logs) = start("u1", BackendMode::UdpEcho).await?;
    let socket = tokio::net::UdpSocket::bind("127.0.0.1:0").await?;
    socket.send_to(b"hi", backend.addr()).await?;
    let mut buffer = [0u8; 64];
    let (len, _) = socket.recv_from(&mut buffer).await?;
    assert_eq!(&buffer[..len], b"u1 hi");
    Ok(())
}

#[tokio::test]
async fn a_taken_port_is_a_startup_error_with_the_log() -> anyhow::Result<()> {
    let holder = tokio::net::UdpSocket::bind("127.0.0.1:0").await?;
    let port = holder.local_addr()?.port();
    let logs = tempfile::tempdir()?;
    let spec = BackendSpec::new(backend_binary(), "clash", BackendMode::UdpEcho, port);
    let error = spec
        .start_on_loopback(logs.path())
        .await
        .expect_err("the UDP port is taken");
    let message = error.to_string();
    assert!(
        message.starts_with("backend clash did not start: exited with"),
        "{message}"
    );
    assert!(
        message.contains(&format!("binding UDP 127.0.0.1:{port}")),
        "{message}"
    );
    Ok(())
}
