//! Reading a ClientHello without losing it.
//!
//! The server name and ALPN list decide which TLS option terminates the connection (or, for
//! TCP routers, whether the bytes are passed through untouched), so the ClientHello is read
//! before any handshake. rustls's `Acceptor` parses it (however it is fragmented); the raw
//! bytes are kept and replayed in front of the socket by [`Rewind`].
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, ReadBuf};

/// The first byte of a TLS handshake record.
pub(crate) const TLS_HANDSHAKE_RECORD: u8 = 0x16;

/// A ClientHello is at most a few records; anything larger is not a client we serve.
const MAX_CLIENT_HELLO_BYTES: usize = 64 * 1024;

/// What routing needs from a ClientHello.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClientHelloInfo {
    /// The SNI, lower-cased; `None` when the client sent none.
    pub server_name: Option<String>,
    /// ALPN protocols the client offered, in its order.
    pub alpn: Vec<Vec<u8>>,
}

/// Why no ClientHello could be read.
#[derive(Debug, thiserror::Error)]
pub(crate) enum HelloError {
    #[error("connection closed before the ClientHello was complete")]
    Closed,
    #[error("ClientHello larger than {MAX_CLIENT_HELLO_BYTES} bytes")]
    TooLarge,
    #[error("invalid ClientHello: {0}")]
    Invalid(rustls::Error),
    #[error("reading the ClientHello: {0}")]
    Io(#[from] io::Error),
}

/// Reads from `io` until a complete ClientHello is parsed. Returns it with every byte read,
/// which the caller must replay (see [`Rewind`]).
pub(crate) async fn read_client_hello<IO>(
    io: &mut IO,
) -> Result<(ClientHelloInfo, Vec<u8>), HelloError>
where
    IO: AsyncRead + Unpin,
{
    let mut acceptor = rustls::server::Acceptor::default();
    let mut buffer = Vec::with_capacity(1024);
    let mut fed = 0;
    loop {
        if buffer.len() >= MAX_CLIENT_HELLO_BYTES {
            return Err(HelloError::TooLarge);
        }
        let mut chunk = [0u8; 4096];
        let read = io.read(&mut chunk).await?;
        if read == 0 {
            return Err(HelloError::Closed);
        }
        buffer.extend_from_slice(&chunk[..read]);
        while fed < buffer.len() {
            let consumed = acceptor.read_tls(&mut &buffer[fed..])?;
            if consumed == 0 {
                break;
            }
            fed += consumed;
            match acceptor.accept() {
                Ok(Some(accepted)) => {
                    let hello = accepted.client_hello();
                    let info = ClientHelloInfo {
                        server_name: hello.server_name().map(str::to_ascii_lowercase),
                        alpn: hello
                            .alpn()
                            .map(|protocols| protocols.map(<[u8]>::to_vec).collect())
                            .unwrap_or_default(),
                    };
                    return Ok((info, buffer));
                }
                Ok(None) => {}
                Err((err, _alert)) => return Err(HelloError::Invalid(err)),
            }
        }
    }
}

/// A stream whose first bytes are replayed from a buffer: the ClientHello already read.
#[derive(Debug)]
pub struct Rewind<S> {
    prefix: Vec<u8>,
    position: usize,
    inner: S,
}

impl<S> Rewind<S> {
    pub fn new(prefix: Vec<u8>, inner: S) -> Self {
        Rewind {
            prefix,
            position: 0,
            inner,
        }
    }

    pub fn get_ref(&self) -> &S {
        &self.inner
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Rewind<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = &mut *self;
        if this.position < this.prefix.len() {
            let rest = &this.prefix[this.position..];
            let n = rest.len().min(buf.remaining());
            buf.put_slice(&rest[..n]);
            this.position += n;
            if this.position == this.prefix.len() {
                this.prefix = Vec::new();
                this.position = 0;
            }
            return Poll::Ready(Ok(()));
        }
        Pin::new(&mut this.inner).poll_read(cx, buf)
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Rewind<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use rustls::pki_types::ServerName;
    use tokio::io::AsyncWriteExt;

    use super::*;

    /// The bytes a real rustls client sends first.
    fn client_hello_bytes(server_name: &str, alpn: &[&[u8]]) -> Vec<u8> {
        let mut config = rustls::ClientConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(rustls::RootCertStore::empty())
        .with_no_client_auth();
        config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
        let name = ServerName::try_from(server_name.to_owned()).unwrap();
        let mut client = rustls::ClientConnection::new(Arc::new(config), name).unwrap();
        let mut bytes = Vec::new();
        client.write_tls(&mut bytes).unwrap();
        bytes
    }

    #[tokio::test]
    async fn reads_sni_and_alpn_and_keeps_every_byte() {
        let hello = client_hello_bytes("API.Example.com", &[b"h2", b"http/1.1"]);
        let (mut client, mut server) = tokio::io::duplex(64);
        let sent = hello.clone();
        let writer = tokio::spawn(async move {
            // Small writes: the ClientHello arrives in pieces.
            for piece in sent.chunks(50) {
                client.write_all(piece).await.unwrap();
            }
            client
        });
        let (info, raw) = read_client_hello(&mut server).await.unwrap();
        assert_eq!(info.server_name.as_deref(), Some("api.example.com"));
        assert_eq!(info.alpn, vec![b"h2".to_vec(), b"http/1.1".to_vec()]);
        assert_eq!(raw, hello);
        drop(writer.await.unwrap());

        let mut replayed = Vec::new();
        Rewind::new(raw, server)
            .read_to_end(&mut replayed)
            .await
            .unwrap();
        assert_eq!(replayed, hello);
    }

    #[tokio::test]
    async fn plain_http_is_not_a_client_hello() {
        let mut bytes: &[u8] = b"\x16\x03\x01\x00\x05GET / HTTP/1.1\r\n\r\n";
        assert!(matches!(
            read_client_hello(&mut bytes).await,
            Err(HelloError::Invalid(_))
        ));
        let mut truncated: &[u8] = &client_hello_bytes("a.example", &[])[..20];
        assert!(matches!(
            read_client_hello(&mut truncated).await,
            Err(HelloError::Closed)
        ));
    }
}
