//! `responseForwarding.flushInterval`: how long response body data may wait in the proxy
//! before it is written to the client, with the rules of Go's `httputil.ReverseProxy`,
//! which Traefik uses: a negative interval writes every chunk at once; a streaming
//! response (`text/event-stream`, or a body of unknown length) is always written at once;
//! otherwise data is coalesced and written at most every interval, and what is waiting is
//! written when the interval elapses, when the body ends or when enough has piled up.
use std::pin::Pin;
use std::task::{Context, Poll, ready};
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use http::HeaderMap;
use http::header::CONTENT_TYPE;
use http_body::{Body as HttpBody, Frame, SizeHint};
use tokio::time::{Instant, Sleep};

use crate::body::{self, Body, BoxError};
use crate::config::transport::Duration as ConfigDuration;

/// Traefik's default `flushInterval`.
pub const DEFAULT_FLUSH_INTERVAL: Duration = Duration::from_millis(100);

/// Data waiting past this size is written at once, as Go's 4 KiB response buffer does when
/// it fills: coalescing is for small writes, large ones gain nothing from waiting.
const MAX_WAITING: usize = 8 * 1024;

/// When the response body of a servers load balancer reaches the client.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FlushPolicy {
    /// Every chunk as soon as it arrives (a negative `flushInterval`).
    EachWrite,
    /// Coalesced, and written at least every interval (`None`: zero, no periodic write, only
    /// when the body ends or enough data is waiting).
    Coalesce(Option<Duration>),
}

impl FlushPolicy {
    /// The policy of a configured `flushInterval` (unset: Traefik's 100ms).
    pub fn from_config(interval: Option<ConfigDuration>) -> Self {
        match interval {
            None => FlushPolicy::Coalesce(Some(DEFAULT_FLUSH_INTERVAL)),
            Some(interval) if interval.is_negative() => FlushPolicy::EachWrite,
            Some(interval) => FlushPolicy::Coalesce(interval.to_std().filter(|d| !d.is_zero())),
        }
    }

    /// Boxes a response body, coalescing its data unless this policy, the response's type
    /// or its unknown length say to stream it.
    pub(crate) fn apply<B>(self, headers: &HeaderMap, body: B) -> Body
    where
        B: HttpBody<Data = Bytes> + Unpin + Send + 'static,
        B::Error: Into<BoxError>,
    {
        let FlushPolicy::Coalesce(interval) = self else {
            return body::boxed(body);
        };
        // An empty or already complete body has nothing to coalesce.
        let streaming = body.size_hint().exact().is_none() || is_event_stream(headers);
        if streaming || body.is_end_stream() {
            return body::boxed(body);
        }
        body::boxed(Coalesce::new(body, interval))
    }
}

/// Whether the response is server-sent events (Go compares the parsed media type).
fn is_event_stream(headers: &HeaderMap) -> bool {
    headers
        .get(CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.split(';').next())
        .is_some_and(|media_type| media_type.trim().eq_ignore_ascii_case("text/event-stream"))
}

/// A body whose data chunks are held back and handed on together.
pub(crate) struct Coalesce<B> {
    body: B,
    interval: Option<Duration>,
    waiting: Waiting,
    /// Started when data starts waiting, so a body completing in one go never has one.
    timer: Option<Pin<Box<Sleep>>>,
    timer_armed: bool,
    /// A trailers frame, handed on after the data that was waiting before it.
    held: Option<Frame<Bytes>>,
    ended: bool,
}

/// Data not yet handed on; a single chunk is kept as it is, without copying.
#[derive(Default)]
enum Waiting {
    #[default]
    Nothing,
    One(Bytes),
    Many(BytesMut),
}

impl Waiting {
    fn len(&self) -> usize {
        match self {
            Waiting::Nothing => 0,
            Waiting::One(bytes) => bytes.len(),
            Waiting::Many(bytes) => bytes.len(),
        }
    }

    fn is_empty(&self) -> bool {
        matches!(self, Waiting::Nothing)
    }

    fn push(&mut self, data: Bytes) {
        if data.is_empty() {
            return;
        }
        *self = match std::mem::take(self) {
            Waiting::Nothing => Waiting::One(data),
            Waiting::One(first) => {
                let mut joined = BytesMut::with_capacity(first.len() + data.len());
                joined.extend_from_slice(&first);
                joined.extend_from_slice(&data);
                Waiting::Many(joined)
            }
            Waiting::Many(mut joined) => {
                joined.extend_from_slice(&data);
                Waiting::Many(joined)
            }
        };
    }

    fn take(&mut self) -> Option<Bytes> {
        match std::mem::take(self) {
            Waiting::Nothing => None,
            Waiting::One(bytes) => Some(bytes),
            Waiting::Many(bytes) => Some(bytes.freeze()),
        }
    }
}

impl<B> Coalesce<B> {
    pub(crate) fn new(body: B, interval: Option<Duration>) -> Self {
        Coalesce {
            body,
            interval,
            waiting: Waiting::Nothing,
            timer: None,
            timer_armed: false,
            held: None,
            ended: false,
        }
    }

    fn hand_on(&mut self) -> Poll<Option<Result<Frame<Bytes>, B::Error>>>
    where
        B: HttpBody<Data = Bytes>,
    {
        self.timer_armed = false;
        Poll::Ready(self.waiting.take().map(|data| Ok(Frame::data(data))))
    }

    /// Whether the interval since data started waiting has elapsed (arming it if needed).
    fn interval_elapsed(&mut self, cx: &mut Context<'_>) -> bool {
        let Some(interval) = self.interval else {
            return false;
        };
        let deadline = Instant::now() + interval;
        let timer = match &mut self.timer {
            Some(timer) => {
                if !self.timer_armed {
                    timer.as_mut().reset(deadline);
                }
                timer
            }
            None => self
                .timer
                .insert(Box::pin(tokio::time::sleep_until(deadline))),
        };
        self.timer_armed = true;
        timer.as_mut().poll(cx).is_ready()
    }
}

impl<B> HttpBody for Coalesce<B>
where
    B: HttpBody<Data = Bytes> + Unpin,
{
    type Data = Bytes;
    type Error = B::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, B::Error>>> {
        let this = self.get_mut();
        if let Some(trailers) = this.held.take() {
            return Poll::Ready(Some(Ok(trailers)));
        }
        if this.ended {
            return this.hand_on();
        }
        loop {
            let polled = Pin::new(&mut this.body).poll_frame(cx);
            if polled.is_pending() {
                if this.waiting.is_empty() || !this.interval_elapsed(cx) {
                    return Poll::Pending;
                }
                return this.hand_on();
            }
            match ready!(polled) {
                None => {
                    this.ended = true;
                    return this.hand_on();
                }
                Some(Err(error)) => return Poll::Ready(Some(Err(error))),
                Some(Ok(frame)) => match frame.into_data() {
                    Ok(data) => {
                        let complete = this.body.is_end_stream();
                        // The fast path: nothing waits, nothing will follow, no copy, no timer.
                        if this.waiting.is_empty() && (complete || data.len() >= MAX_WAITING) {
                            return Poll::Ready(Some(Ok(Frame::data(data))));
                        }
                        this.waiting.push(data);
                        if complete || this.waiting.len() >= MAX_WAITING {
                            return this.hand_on();
                        }
                    }
                    Err(trailers) => {
                        if this.waiting.is_empty() {
                            return Poll::Ready(Some(Ok(trailers)));
                        }
                        this.held = Some(trailers);
                        return this.hand_on();
                    }
                },
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.waiting.is_empty() && self.held.is_none() && (self.ended || self.body.is_end_stream())
    }

    fn size_hint(&self) -> SizeHint {
        let waiting = self.waiting.len() as u64;
        let inner = self.body.size_hint();
        let mut hint = SizeHint::new();
        hint.set_lower(inner.lower().saturating_add(waiting));
        if let Some(upper) = inner.upper() {
            hint.set_upper(upper.saturating_add(waiting));
        }
        hint
    }
}

#[cfg(test)]
mod tests {
    use std::convert::Infallible;

    use futures::channel::mpsc;
    use http::HeaderValue;
    use http_body_util::{BodyExt, Full, StreamBody};

    use super::*;

    type Chunks = mpsc::UnboundedSender<Result<Frame<Bytes>, Infallible>>;
    type ChunkBody = StreamBody<mpsc::UnboundedReceiver<Result<Frame<Bytes>, Infallible>>>;

    fn stream() -> (Chunks, ChunkBody) {
        let (sender, receiver) = mpsc::unbounded();
        (sender, StreamBody::new(receiver))
    }

    fn chunk(sender: &Chunks, data: &'static [u8]) {
        sender
            .unbounded_send(Ok(Frame::data(Bytes::from_static(data))))
            .expect("receiver alive");
    }

    #[test]
    fn the_configured_interval_picks_the_policy() {
        assert_eq!(
            FlushPolicy::from_config(None),
            FlushPolicy::Coalesce(Some(DEFAULT_FLUSH_INTERVAL))
        );
        assert_eq!(
            FlushPolicy::from_config(Some(ConfigDuration::from_millis(-1))),
            FlushPolicy::EachWrite
        );
        assert_eq!(
            FlushPolicy::from_config(Some(ConfigDuration::ZERO)),
            FlushPolicy::Coalesce(None)
        );
        assert_eq!(
            FlushPolicy::from_config(Some(ConfigDuration::from_secs(2))),
            FlushPolicy::Coalesce(Some(Duration::from_secs(2)))
        );
    }

    #[test]
    fn event_streams_are_recognised_by_their_media_type() {
        let mut headers = HeaderMap::new();
        assert!(!is_event_stream(&headers));
        headers.insert(
            CONTENT_TYPE,
            HeaderValue::from_static("Text/Event-Stream; charset=utf-8"),
        );
        assert!(is_event_stream(&headers));
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("text/plain"));
        assert!(!is_event_stream(&headers));
    }

    #[tokio::test]
    async fn waiting_data_is_handed_on_when_the_interval_elapses() {
        let (sender, inner) = stream();
        let mut body = Coalesce::new(inner, Some(Duration::from_millis(20)));
        chunk(&sender, b"a");
        chunk(&sender, b"b");
        // The body has not ended (the sender is alive): only the timer can hand this on.
        let frame = body.frame().await.expect("frame").expect("data");
        assert_eq!(frame.into_data().ok(), Some(Bytes::from_static(b"ab")));
        chunk(&sender, b"c");
        drop(sender);
        let rest = body.collect().await.expect("rest").to_bytes();
        assert_eq!(rest, "c");
    }

    #[tokio::test]
    async fn trailers_follow_the_data_that_waited_before_them() {
        let (sender, inner) = stream();
        let mut body = Coalesce::new(inner, None);
        chunk(&sender, b"data");
        let mut trailers = HeaderMap::new();
        trailers.insert("x-checksum", HeaderValue::from_static("1"));
        sender
            .unbounded_send(Ok(Frame::trailers(trailers)))
            .expect("send");
        drop(sender);
        let first = body.frame().await.expect("frame").expect("data");
        assert_eq!(first.into_data().ok(), Some(Bytes::from_static(b"data")));
        let second = body.frame().await.expect("frame").expect("trailers");
        assert!(second.is_trailers());
        assert!(body.frame().await.is_none());
    }

    #[tokio::test]
    async fn a_body_complete_in_one_chunk_is_handed_on_without_a_timer() {
        let mut body = Coalesce::new(
            Full::new(Bytes::from_static(b"whole")),
            Some(Duration::from_secs(60)),
        );
        let frame = body.frame().await.expect("frame").expect("data");
        assert_eq!(frame.into_data().ok(), Some(Bytes::from_static(b"whole")));
        assert!(body.timer.is_none());
        assert!(body.is_end_stream());
    }

    #[tokio::test]
    async fn large_data_does_not_wait() {
        let (sender, inner) = stream();
        let mut body = Coalesce::new(inner, None);
        sender
            .unbounded_send(Ok(Frame::data(Bytes::from(vec![7u8; MAX_WAITING]))))
            .expect("send");
        let frame = body.frame().await.expect("frame").expect("data");
        assert_eq!(frame.into_data().map(|d| d.len()).ok(), Some(MAX_WAITING));
    }
}
