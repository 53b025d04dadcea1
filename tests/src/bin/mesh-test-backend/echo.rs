//! TCP and UDP echo servers.

use std::sync::Arc;

use anyhow::Context;
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, UdpSocket};

pub(crate) async fn serve_tcp(
    listener: TcpListener,
    name: String,
    announce: bool,
) -> anyhow::Result<()> {
    let greeting: Arc<str> = format!("{name}\n").into();
    loop {
        let (mut stream, peer) = listener
            .accept()
            .await
            .context("accepting a TCP connection")?;
        let greeting = greeting.clone();
        tokio::spawn(async move {
            let (mut reader, mut writer) = stream.split();
            if announce && writer.write_all(greeting.as_bytes()).await.is_err() {
                return;
            }
            if let Err(error) = tokio::io::copy(&mut reader, &mut writer).await {
                tracing::debug!(%peer, %error, "tcp echo connection ended");
            }
        });
    }
}

pub(crate) async fn serve_udp(
    socket: UdpSocket,
    name: String,
    announce: bool,
) -> anyhow::Result<()> {
    let prefix = if announce {
        format!("{name} ").into_bytes()
    } else {
        Vec::new()
    };
    let mut buffer = vec![0u8; 65_536];
    loop {
        let (len, peer) = socket
            .recv_from(&mut buffer)
            .await
            .context("receiving a datagram")?;
        let mut reply = prefix.clone();
        reply.extend_from_slice(&buffer[..len]);
        if let Err(error) = socket.send_to(&reply, peer).await {
            tracing::debug!(%peer, %error, "udp echo reply failed");
        }
    }
}
