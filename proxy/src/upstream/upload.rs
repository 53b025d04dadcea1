//! A request body on its way to the server. It is polled next to the response (head, then
//! body) by the same task, so HTTP/1.1 stays full duplex: a server may answer early, or
//! stream its answer while the client is still uploading, as with hyper's or Go's client.
use std::collections::VecDeque;
use std::io::{self, IoSlice};
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use bytes::{Buf, Bytes};
use http_body::Body as HttpBody;
use tokio::io::AsyncWrite;
use tokio::net::TcpStream;

use super::connection::ExchangeError;
use super::wire::{self, RequestFraming};
use crate::body::Body;

/// Pieces written in one vectored write at most.
const MAX_SLICES: usize = 8;

pub(super) struct Upload {
    body: Body,
    framing: RequestFraming,
    /// Encoded bytes not written yet (chunk framing and data, in order).
    out: VecDeque<Bytes>,
    sent: u64,
    /// The body ended and its end is in `out`.
    ended: bool,
}

impl std::fmt::Debug for Upload {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Upload")
            .field("framing", &self.framing)
            .field("sent", &self.sent)
            .field("ended", &self.ended)
            .finish_non_exhaustive()
    }
}

impl Upload {
    /// Drops `written` bytes from the front of `out`.
    fn consume(&mut self, mut written: usize) {
        while written > 0
            && let Some(front) = self.out.front_mut()
        {
            if front.len() <= written {
                written -= front.len();
                self.out.pop_front();
            } else {
                front.advance(written);
                written = 0;
            }
        }
    }

    pub(super) fn new(body: Body, framing: RequestFraming) -> Self {
        Upload {
            body,
            framing,
            out: VecDeque::new(),
            sent: 0,
            ended: false,
        }
    }

    /// Writes what the body has to give; `Ready(Ok)` once all of it is on the wire.
    pub(super) fn poll(
        &mut self,
        stream: &mut TcpStream,
        cx: &mut Context<'_>,
    ) -> Poll<Result<(), ExchangeError>> {
        loop {
            ready!(self.poll_write_out(stream, cx)).map_err(ExchangeError::Write)?;
            if self.ended {
                return Poll::Ready(Ok(()));
            }
            match ready!(Pin::new(&mut self.body).poll_frame(cx)) {
                Some(Ok(frame)) => match frame.into_data() {
                    Ok(data) => self.queue_data(data)?,
                    Err(frame) => {
                        // Trailers go out only in chunked framing; with a length they are lost
                        // as in any HTTP/1.1 client.
                        if let (RequestFraming::Chunked, Ok(trailers)) =
                            (self.framing, frame.into_trailers())
                        {
                            self.out.push_back(wire::last_chunk(Some(&trailers)));
                            self.ended = true;
                        }
                    }
                },
                Some(Err(error)) => return Poll::Ready(Err(ExchangeError::RequestBody(error))),
                None => self.queue_end()?,
            }
        }
    }

    fn queue_data(&mut self, data: Bytes) -> Result<(), ExchangeError> {
        if data.is_empty() {
            return Ok(());
        }
        self.sent += data.len() as u64;
        match self.framing {
            RequestFraming::Length(declared) if self.sent > declared => {
                return Err(ExchangeError::RequestBodyLength {
                    sent: self.sent,
                    declared,
                });
            }
            RequestFraming::Chunked => {
                self.out.push_back(wire::chunk_header(data.len()));
                self.out.push_back(data);
                self.out.push_back(Bytes::from_static(b"\r\n"));
            }
            _ => self.out.push_back(data),
        }
        Ok(())
    }

    fn queue_end(&mut self) -> Result<(), ExchangeError> {
        self.ended = true;
        match self.framing {
            RequestFraming::Chunked => self.out.push_back(wire::last_chunk(None)),
            RequestFraming::Length(declared) if self.sent != declared => {
                return Err(ExchangeError::RequestBodyLength {
                    sent: self.sent,
                    declared,
                });
            }
            _ => {}
        }
        Ok(())
    }

    fn poll_write_out(
        &mut self,
        stream: &mut TcpStream,
        cx: &mut Context<'_>,
    ) -> Poll<io::Result<()>> {
        while !self.out.is_empty() {
            let mut slices = [IoSlice::new(&[]); MAX_SLICES];
            let mut count = 0;
            for (slot, piece) in slices.iter_mut().zip(&self.out) {
                *slot = IoSlice::new(piece);
                count += 1;
            }
            let written = ready!(Pin::new(&mut *stream).poll_write_vectored(cx, &slices[..count]))?;
            if written == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            self.consume(written);
        }
        Poll::Ready(Ok(()))
    }
}
