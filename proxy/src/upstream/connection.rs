//! One kept-alive HTTP/1.1 connection to a server, driven by the request's own task: the
//! request is written and the response read in place. hyper's client connection is a task
//! of its own, fed through a channel and answering on another; on a proxy's hot path those
//! hand-offs and wake-ups cost more than encoding and parsing the messages.
use std::future::poll_fn;
use std::io;
use std::pin::pin;
use std::task::{Context, Poll, Waker, ready};

use bytes::{Buf, Bytes, BytesMut};
use http::{Method, request};
use http_body::{Body as HttpBody, Frame};
use http_body_util::BodyExt;
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;

use super::wire::{self, Decoded, RequestFraming, ResponseFraming, ResponseHead, WireError};
use crate::body::{Body, BoxError};

/// Room kept free in the read buffer before each read.
const MIN_READ_ROOM: usize = 2048;
/// What the read buffer grows by when it runs out of room.
const READ_BUFFER: usize = 16 * 1024;

/// Why one exchange on a connection failed.
#[derive(Debug, thiserror::Error)]
pub enum ExchangeError {
    #[error("writing the request: {0}")]
    Write(#[source] io::Error),
    #[error("reading the response: {0}")]
    Read(#[source] io::Error),
    #[error("the server closed the connection without responding")]
    ClosedBeforeResponse,
    #[error("the server closed the connection in the middle of the response head")]
    IncompleteHead,
    #[error("the server closed the connection before the end of the response body")]
    IncompleteBody,
    #[error("the request body had {sent} bytes, not the {declared} its length declared")]
    RequestBodyLength { sent: u64, declared: u64 },
    #[error(transparent)]
    Wire(#[from] WireError),
    #[error("request body: {0}")]
    RequestBody(#[source] BoxError),
}

impl ExchangeError {
    /// Whether the server closed the connection before it could have read the request:
    /// the race of reusing a connection the server is closing as idle.
    pub(super) fn is_stale_connection(&self) -> bool {
        match self {
            ExchangeError::ClosedBeforeResponse => true,
            ExchangeError::Write(io) | ExchangeError::Read(io) => matches!(
                io.kind(),
                io::ErrorKind::ConnectionReset | io::ErrorKind::BrokenPipe
            ),
            _ => false,
        }
    }
}

/// A TCP connection speaking HTTP/1.1 to one server, with its buffers.
#[derive(Debug)]
pub(super) struct Http1Connection {
    stream: TcpStream,
    /// Bytes read from the server and not consumed yet.
    buf: BytesMut,
    /// The request head being written, kept to reuse its allocation.
    head: Vec<u8>,
}

impl Http1Connection {
    pub(super) fn new(stream: TcpStream) -> Self {
        Http1Connection {
            stream,
            buf: BytesMut::with_capacity(READ_BUFFER),
            head: Vec::with_capacity(512),
        }
    }

    /// Whether an idle connection can carry a request: the server has not closed it or
    /// sent bytes nobody asked for. Costs no system call unless the socket turned readable.
    pub(super) fn is_reusable(&mut self) -> bool {
        let mut cx = Context::from_waker(Waker::noop());
        match self.stream.poll_read_ready(&mut cx) {
            Poll::Pending => true,
            Poll::Ready(Err(_)) => false,
            Poll::Ready(Ok(())) => {
                let mut probe = [0u8; 1];
                // Readiness may be left over from the last response: only a read tells.
                matches!(self.stream.try_read(&mut probe), Err(e) if e.kind() == io::ErrorKind::WouldBlock)
            }
        }
    }

    /// Writes the request and reads the response head. The body is written while the
    /// response is awaited, so a server answering early (say 413) is heard.
    pub(super) async fn exchange(
        &mut self,
        head: &request::Parts,
        body: Body,
    ) -> Result<ResponseHead, ExchangeError> {
        let framing = RequestFraming::of(body.is_end_stream(), body.size_hint().exact());
        self.head.clear();
        wire::encode_request_head(head, framing, &mut self.head);
        let Http1Connection {
            stream,
            buf,
            head: encoded,
        } = self;
        stream
            .write_all(encoded)
            .await
            .map_err(ExchangeError::Write)?;
        if framing == RequestFraming::Empty {
            return read_head(stream, buf, &head.method).await;
        }

        let (mut reader, mut writer) = stream.split();
        let mut reading = pin!(read_head(&mut reader, buf, &head.method));
        let mut writing = pin!(write_body(&mut writer, body, framing));
        let mut write_error = None;
        let mut written = false;
        loop {
            tokio::select! {
                biased;
                response = &mut reading => {
                    return match response {
                        Ok(mut response) => {
                            // A body cut short leaves the connection mid-message.
                            response.keep_alive &= written;
                            Ok(response)
                        }
                        // No answer after a failed write: the write says why.
                        Err(error) => Err(write_error.unwrap_or(error)),
                    };
                }
                result = &mut writing, if !written && write_error.is_none() => match result {
                    Ok(()) => written = true,
                    // The server may still answer (a 413 before it stopped reading).
                    Err(error @ (ExchangeError::Write(_) | ExchangeError::Read(_))) => {
                        write_error = Some(error);
                    }
                    Err(error) => return Err(error),
                },
            }
        }
    }

    /// The next piece of a response body delimited by `framing`; `None` at its end.
    pub(super) fn poll_body(
        &mut self,
        framing: &mut ResponseFraming,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, ExchangeError>>> {
        loop {
            match framing {
                ResponseFraming::Empty | ResponseFraming::Length(0) => return Poll::Ready(None),
                ResponseFraming::Length(left) if !self.buf.is_empty() => {
                    let take = usize::try_from(*left)
                        .unwrap_or(usize::MAX)
                        .min(self.buf.len());
                    *left -= take as u64;
                    let data = self.buf.split_to(take).freeze();
                    return Poll::Ready(Some(Ok(Frame::data(data))));
                }
                ResponseFraming::Length(_) => {}
                ResponseFraming::Chunked(decoder) => match decoder.decode(&mut self.buf) {
                    Ok(Some(Decoded::Data(data))) => {
                        return Poll::Ready(Some(Ok(Frame::data(data))));
                    }
                    Ok(Some(Decoded::Trailers(trailers))) => {
                        return Poll::Ready(Some(Ok(Frame::trailers(trailers))));
                    }
                    Ok(Some(Decoded::End)) => return Poll::Ready(None),
                    Ok(None) => {}
                    Err(error) => return Poll::Ready(Some(Err(error.into()))),
                },
                ResponseFraming::UntilClose if !self.buf.is_empty() => {
                    let data = self.buf.split().freeze();
                    return Poll::Ready(Some(Ok(Frame::data(data))));
                }
                ResponseFraming::UntilClose => {}
            }
            let read = ready!(poll_fill(&mut self.stream, &mut self.buf, cx));
            match read {
                Ok(0) if *framing == ResponseFraming::UntilClose => {
                    *framing = ResponseFraming::Empty;
                    return Poll::Ready(None);
                }
                Ok(0) => return Poll::Ready(Some(Err(ExchangeError::IncompleteBody))),
                Ok(_) => {}
                Err(error) => return Poll::Ready(Some(Err(ExchangeError::Read(error)))),
            }
        }
    }

    /// Called when a response was read to its end: whether the connection may be reused.
    pub(super) fn finish_exchange(&self, keep_alive: bool) -> bool {
        // Bytes past the response would be read as the next one's.
        keep_alive && self.buf.is_empty()
    }
}

/// Reads into `buf` until it holds a complete response head.
async fn read_head<R: AsyncRead + Unpin>(
    reader: &mut R,
    buf: &mut BytesMut,
    method: &Method,
) -> Result<ResponseHead, ExchangeError> {
    loop {
        if !buf.is_empty()
            && let Some(head) = wire::parse_response_head(buf, method)?
        {
            return Ok(head);
        }
        let read = poll_fn(|cx| poll_fill(reader, buf, cx))
            .await
            .map_err(ExchangeError::Read)?;
        if read == 0 {
            return Err(if buf.is_empty() {
                ExchangeError::ClosedBeforeResponse
            } else {
                ExchangeError::IncompleteHead
            });
        }
    }
}

/// One read from the server into `buf`; `Ok(0)` at the end of the stream.
fn poll_fill<R: AsyncRead + Unpin>(
    reader: &mut R,
    buf: &mut BytesMut,
    cx: &mut Context<'_>,
) -> Poll<io::Result<usize>> {
    if buf.capacity() - buf.len() < MIN_READ_ROOM {
        // Reclaims the front of the buffer when earlier responses released it.
        buf.reserve(READ_BUFFER);
    }
    tokio_util::io::poll_read_buf(std::pin::Pin::new(reader), cx, buf)
}

/// Streams the request body in the framing announced in its head.
async fn write_body<W: AsyncWrite + Unpin>(
    writer: &mut W,
    mut body: Body,
    framing: RequestFraming,
) -> Result<(), ExchangeError> {
    let chunked = framing == RequestFraming::Chunked;
    let mut sent = 0u64;
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(ExchangeError::RequestBody)?;
        let frame = match frame.into_data() {
            Ok(mut data) => {
                if data.is_empty() {
                    continue;
                }
                sent += data.len() as u64;
                if let RequestFraming::Length(declared) = framing
                    && sent > declared
                {
                    return Err(ExchangeError::RequestBodyLength { sent, declared });
                }
                if chunked {
                    let mut piece = wire::chunk_header(data.len())
                        .chain(data)
                        .chain(Bytes::from_static(b"\r\n"));
                    writer.write_all_buf(&mut piece).await
                } else {
                    writer.write_all_buf(&mut data).await
                }
                .map_err(ExchangeError::Write)?;
                continue;
            }
            Err(frame) => frame,
        };
        if chunked && let Ok(trailers) = frame.into_trailers() {
            let mut last = wire::last_chunk(Some(&trailers));
            return writer
                .write_all_buf(&mut last)
                .await
                .map_err(ExchangeError::Write);
        }
    }
    match framing {
        RequestFraming::Chunked => {
            let mut last = wire::last_chunk(None);
            writer
                .write_all_buf(&mut last)
                .await
                .map_err(ExchangeError::Write)
        }
        RequestFraming::Length(declared) if sent != declared => {
            Err(ExchangeError::RequestBodyLength { sent, declared })
        }
        _ => Ok(()),
    }
}
