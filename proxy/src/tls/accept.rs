//! Terminating TLS for HTTPS routers: the option picked by SNI runs the handshake over the
//! replayed ClientHello, and the result is a byte stream HTTP can be served on. Telling plain
//! from TLS connections, and TCP routers from HTTP ones, happens before (see `tcp::accept`).
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::server::TlsStream;

use super::hello::{ClientHelloInfo, Rewind};
use super::sni::TlsGeneration;

/// The byte stream HTTP is served on.
pub enum ClientIo {
    Plain(TcpStream),
    Tls(Box<TlsStream<Rewind<TcpStream>>>),
}

/// A connection ready for HTTP.
pub struct AcceptedConnection {
    pub io: ClientIo,
    /// The TLS option the handshake used; `None` on a plain connection.
    pub tls_option: Option<Arc<str>>,
    /// The ClientHello, for TLS connections.
    pub client_hello: Option<ClientHelloInfo>,
}

impl AcceptedConnection {
    pub fn is_tls(&self) -> bool {
        self.tls_option.is_some()
    }

    /// The protocol ALPN settled on (`h2`, `http/1.1`), if any.
    pub fn alpn_protocol(&self) -> Option<&[u8]> {
        match &self.io {
            ClientIo::Plain(_) => None,
            ClientIo::Tls(stream) => stream.get_ref().1.alpn_protocol(),
        }
    }
}

impl AcceptedConnection {
    /// A connection that did not start with a TLS record.
    pub fn plain(stream: TcpStream) -> AcceptedConnection {
        AcceptedConnection {
            io: ClientIo::Plain(stream),
            tls_option: None,
            client_hello: None,
        }
    }
}

impl TlsGeneration {
    /// Runs the handshake of a TLS connection to HTTPS routers on entry point `slot`, with
    /// the option its server name maps to. `raw` is the ClientHello already read from
    /// `stream`. `Err` says why the connection is refused (for a debug log).
    pub async fn terminate(
        &self,
        slot: usize,
        stream: TcpStream,
        hello: ClientHelloInfo,
        raw: Vec<u8>,
    ) -> Result<AcceptedConnection, String> {
        let server_name = hello.server_name.as_deref();
        let Some((option, config)) = self.server_config(slot, server_name) else {
            return Err(format!(
                "server name {:?}: its TLS option `{}` cannot serve",
                server_name.unwrap_or(""),
                self.option_for(slot, server_name)
            ));
        };
        let option: Arc<str> = Arc::from(option);
        let tls = TlsAcceptor::from(config)
            .accept(Rewind::new(raw, stream))
            .await
            .map_err(|err| format!("server name {:?}: {err}", server_name.unwrap_or("")))?;
        Ok(AcceptedConnection {
            io: ClientIo::Tls(Box::new(tls)),
            tls_option: Some(option),
            client_hello: Some(hello),
        })
    }
}

impl AsyncRead for ClientIo {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            ClientIo::Plain(stream) => Pin::new(stream).poll_read(cx, buf),
            ClientIo::Tls(stream) => Pin::new(stream.as_mut()).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for ClientIo {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            ClientIo::Plain(stream) => Pin::new(stream).poll_write(cx, buf),
            ClientIo::Tls(stream) => Pin::new(stream.as_mut()).poll_write(cx, buf),
        }
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            ClientIo::Plain(stream) => Pin::new(stream).poll_write_vectored(cx, bufs),
            ClientIo::Tls(stream) => Pin::new(stream.as_mut()).poll_write_vectored(cx, bufs),
        }
    }

    fn is_write_vectored(&self) -> bool {
        match self {
            ClientIo::Plain(stream) => stream.is_write_vectored(),
            ClientIo::Tls(stream) => stream.is_write_vectored(),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            ClientIo::Plain(stream) => Pin::new(stream).poll_flush(cx),
            ClientIo::Tls(stream) => Pin::new(stream.as_mut()).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            ClientIo::Plain(stream) => Pin::new(stream).poll_shutdown(cx),
            ClientIo::Tls(stream) => Pin::new(stream.as_mut()).poll_shutdown(cx),
        }
    }
}

/// The domain fronting guard for one request on a TLS connection that negotiated option
/// `negotiated`: a 421 when the request's host belongs to another option (reference §7.2.5),
/// so a client cannot pass a strict option's checks by naming a lax host in its SNI.
pub(crate) fn misdirected<B>(
    tls: &TlsGeneration,
    slot: usize,
    negotiated: Option<&str>,
    req: &http::Request<B>,
) -> Option<http::Response<crate::body::Body>> {
    let negotiated = negotiated?;
    tls.is_misdirected(slot, negotiated, request_host(req))
        .then(|| {
            crate::router::plain_response(
                http::StatusCode::MISDIRECTED_REQUEST,
                "421 Misdirected Request\n",
            )
        })
}

/// The host a request is for (`:authority` or `Host`), port and trailing dot removed, for
/// the misdirected-request guard.
pub(crate) fn request_host<B>(req: &http::Request<B>) -> Option<&str> {
    let raw = match req.uri().host() {
        Some(host) => host,
        None => req.headers().get(http::header::HOST)?.to_str().ok()?,
    };
    let host = if let Some(rest) = raw.strip_prefix('[') {
        rest.split(']').next().unwrap_or(rest)
    } else {
        raw.rsplit_once(':').map_or(raw, |(host, _)| host)
    };
    Some(host.strip_suffix('.').unwrap_or(host))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_host_strips_ports_and_prefers_the_authority() {
        let req = http::Request::get("/")
            .header("host", "api.example.com:8443")
            .body(())
            .unwrap();
        assert_eq!(request_host(&req), Some("api.example.com"));
        let req = http::Request::get("https://h2.example.com/x")
            .header("host", "other")
            .body(())
            .unwrap();
        assert_eq!(request_host(&req), Some("h2.example.com"));
        let req = http::Request::get("/")
            .header("host", "[::1]:443")
            .body(())
            .unwrap();
        assert_eq!(request_host(&req), Some("::1"));
        let req = http::Request::get("/")
            .header("host", "dot.example.com.")
            .body(())
            .unwrap();
        assert_eq!(request_host(&req), Some("dot.example.com"));
        let req = http::Request::get("/").body(()).unwrap();
        assert_eq!(request_host(&req), None);
    }
}
