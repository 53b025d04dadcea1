//! One kept-alive HTTP/1.1 connection to a server, driven by the request's own task: the
//! request is written and the response read in place. hyper's client connection is a task
//! of its own, fed through a channel and answering on another; on a proxy's hot path those
//! hand-offs and wake-ups cost more than encoding and parsing the messages.
use std::future::poll_fn;
use std::io;
use std::task::{Context, Poll, Waker, ready};

use bytes::{Bytes, BytesMut};
use http::header::{HeaderName, HeaderValue};
use http::{HeaderMap, Method, request};
use http_body::{Body as HttpBody, Frame};
use tokio::io::{AsyncRead, AsyncWriteExt};
use tokio::net::TcpStream;

use super::upload::Upload;
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
    #[error("the request body failed before it was sent whole")]
    RequestBodyAborted,
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
    /// The request body still being written, if any.
    upload: Option<Upload>,
    /// Why the request body could not be written whole, if it could not.
    upload_failed: Option<ExchangeError>,
}

impl Http1Connection {
    pub(super) fn new(stream: TcpStream) -> Self {
        Http1Connection {
            stream,
            buf: BytesMut::with_capacity(READ_BUFFER),
            head: Vec::with_capacity(512),
            upload: None,
            upload_failed: None,
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

    /// Writes the request head and reads the response head. A body is written while the
    /// response is awaited, and after: the response body's polls go on writing it, so a
    /// server answering early (say 413) is heard, and one streaming its answer while the
    /// client uploads works.
    pub(super) async fn exchange(
        &mut self,
        head: &mut request::Parts,
        appended: &[(&HeaderName, Option<HeaderValue>)],
        body: Body,
    ) -> Result<ResponseHead, ExchangeError> {
        let framing = RequestFraming::of(body.is_end_stream(), body.size_hint().exact());
        self.head.clear();
        wire::encode_request_head(head, appended, framing, &mut self.head);
        self.stream
            .write_all(&self.head)
            .await
            .map_err(ExchangeError::Write)?;
        self.upload_failed = None;
        if framing != RequestFraming::Empty {
            self.upload = Some(Upload::new(body, framing));
        }
        // The request's headers make room for the response's once it is complete; until
        // then they stay, for the request to be sent again elsewhere.
        poll_fn(|cx| self.poll_head(&head.method, &mut head.headers, cx)).await
    }

    fn poll_head(
        &mut self,
        method: &Method,
        recycled: &mut HeaderMap,
        cx: &mut Context<'_>,
    ) -> Poll<Result<ResponseHead, ExchangeError>> {
        self.drive_upload(cx)?;
        loop {
            if !self.buf.is_empty()
                && let Some(head) = wire::parse_response_head(&mut self.buf, method, recycled)?
            {
                return Poll::Ready(Ok(head));
            }
            let error = match ready!(poll_fill(&mut self.stream, &mut self.buf, cx)) {
                Ok(0) if self.buf.is_empty() => ExchangeError::ClosedBeforeResponse,
                Ok(0) => ExchangeError::IncompleteHead,
                Ok(_) => continue,
                Err(error) => ExchangeError::Read(error),
            };
            // No answer after a failed write: the write says why.
            return Poll::Ready(Err(self.upload_failed.take().unwrap_or(error)));
        }
    }

    /// Moves the request body on as far as it can without waiting. A failed write is kept
    /// (the server may still answer, having stopped reading); a failed body is the
    /// exchange's error.
    fn drive_upload(&mut self, cx: &mut Context<'_>) -> Result<(), ExchangeError> {
        let Some(upload) = self.upload.as_mut() else {
            return Ok(());
        };
        let Poll::Ready(result) = upload.poll(&mut self.stream, cx) else {
            return Ok(());
        };
        self.upload = None;
        match result {
            Ok(()) => Ok(()),
            Err(error @ ExchangeError::Write(_)) => {
                self.upload_failed = Some(error);
                Ok(())
            }
            Err(error) => {
                self.upload_failed = Some(ExchangeError::RequestBodyAborted);
                Err(error)
            }
        }
    }

    /// The next piece of a response body delimited by `framing`; `None` at its end.
    pub(super) fn poll_body(
        &mut self,
        framing: &mut ResponseFraming,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, ExchangeError>>> {
        if let Err(error) = self.drive_upload(cx) {
            return Poll::Ready(Some(Err(error)));
        }
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
        // Bytes past the response would be read as the next one's, and a request body not
        // wholly written leaves the server mid-message.
        keep_alive && self.buf.is_empty() && self.upload.is_none() && self.upload_failed.is_none()
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
