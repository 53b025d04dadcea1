//! Services made of other services: weighted round robin, highest random weight, mirroring
//! and failover.
use std::collections::HashMap;
use std::ops::RangeInclusive;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use bytes::{Bytes, BytesMut};
use futures::future::BoxFuture;
use futures::{FutureExt, StreamExt};
use http::header::SET_COOKIE;
use http::{Request, Response, StatusCode};
use http_body_util::{BodyExt, BodyStream, StreamBody};

use super::rendezvous::{Rendezvous, client_key};
use super::sticky::StickyCookie;
use super::wrr::WrrOrder;
use super::{HttpService, RequestContext, errors};
use crate::body::{self, Body};

pub(crate) type Child = Arc<dyn HttpService>;

/// `weighted`: picks a child by weight, honouring (and setting) its own sticky cookie,
/// whose value is the child's name.
pub(crate) struct Weighted {
    inner: Arc<WeightedInner>,
}

struct WeightedInner {
    children: Vec<(Arc<str>, Child)>,
    order: WrrOrder,
    sticky: Option<StickyCookie>,
    by_name: HashMap<Arc<str>, usize>,
}

impl Weighted {
    pub(crate) fn new(children: Vec<(Arc<str>, Child, u32)>, sticky: Option<StickyCookie>) -> Self {
        let weights: Vec<u32> = children.iter().map(|(_, _, weight)| *weight).collect();
        let children: Vec<(Arc<str>, Child)> = children
            .into_iter()
            .map(|(name, child, _)| (name, child))
            .collect();
        let by_name = children
            .iter()
            .enumerate()
            .map(|(index, (name, _))| (Arc::clone(name), index))
            .collect();
        Weighted {
            inner: Arc::new(WeightedInner {
                order: WrrOrder::new(&weights),
                children,
                sticky,
                by_name,
            }),
        }
    }
}

impl HttpService for Weighted {
    fn call(&self, req: Request<Body>, cx: &RequestContext) -> BoxFuture<'static, Response<Body>> {
        let inner = &self.inner;
        let pinned = inner.sticky.as_ref().and_then(|sticky| {
            let name = sticky.find(req.headers())?;
            let &index = inner.by_name.get(name)?;
            inner.children[index].1.is_available().then_some(index)
        });
        let (index, set_cookie) = match pinned {
            Some(index) => (index, false),
            None => match inner
                .order
                .next(|index| inner.children[index].1.is_available())
            {
                Some(index) => (index, inner.sticky.is_some()),
                None => return futures::future::ready(errors::no_available_server()).boxed(),
            },
        };
        let (name, child) = &inner.children[index];
        let response = child.call(req, cx);
        let cookie = if set_cookie {
            inner
                .sticky
                .as_ref()
                .and_then(|sticky| sticky.set_cookie(name))
        } else {
            None
        };
        async move {
            let mut response = response.await;
            if let Some(cookie) = cookie {
                response.headers_mut().append(SET_COOKIE, cookie);
            }
            response
        }
        .boxed()
    }

    fn is_available(&self) -> bool {
        self.inner
            .children
            .iter()
            .any(|(_, child)| child.is_available())
    }
}

/// `highestRandomWeight`: the child for a request is chosen by rendezvous hashing of the
/// client IP, so a client stays on one child; unavailable children are skipped.
pub(crate) struct HighestRandomWeight {
    children: Vec<Child>,
    members: Rendezvous,
}

impl HighestRandomWeight {
    /// `children`: name (the hashing identity), service, weight.
    pub(crate) fn new(children: Vec<(Arc<str>, Child, u32)>) -> Self {
        let members = Rendezvous::new(
            children
                .iter()
                .map(|(name, _, weight)| (name.as_ref(), *weight)),
        );
        HighestRandomWeight {
            children: children.into_iter().map(|(_, child, _)| child).collect(),
            members,
        }
    }
}

impl HttpService for HighestRandomWeight {
    fn call(&self, req: Request<Body>, cx: &RequestContext) -> BoxFuture<'static, Response<Body>> {
        let key = client_key(cx.client_addr.ip());
        match self
            .members
            .pick(key, |index| self.children[index].is_available())
        {
            Some(index) => self.children[index].call(req, cx),
            None => futures::future::ready(errors::no_available_server()).boxed(),
        }
    }

    fn is_available(&self) -> bool {
        self.children.iter().any(|child| child.is_available())
    }
}

/// A mirror and its share of the traffic.
pub(crate) struct Mirror {
    service: Child,
    percent: u64,
    seen: AtomicU64,
    sent: AtomicU64,
}

impl Mirror {
    pub(crate) fn new(service: Child, percent: u32) -> Self {
        Mirror {
            service,
            percent: u64::from(percent.min(100)),
            seen: AtomicU64::new(0),
            sent: AtomicU64::new(0),
        }
    }

    /// Whether this request is copied: exactly `percent` of requests over time, spread
    /// evenly rather than at random.
    fn takes_this_one(&self) -> bool {
        let seen = self.seen.fetch_add(1, Ordering::Relaxed) + 1;
        let due = seen * self.percent / 100;
        let sent = self.sent.load(Ordering::Relaxed);
        sent < due
            && self
                .sent
                .compare_exchange(sent, sent + 1, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
    }
}

/// `mirroring`: the main service answers; chosen mirrors get a copy in the background and
/// their answers are discarded, so they never delay or change the main response.
pub(crate) struct Mirroring {
    inner: Arc<MirroringInner>,
}

struct MirroringInner {
    main: Child,
    mirrors: Vec<Mirror>,
    mirror_body: bool,
    /// `None`: no limit.
    max_body_size: Option<u64>,
}

impl Mirroring {
    pub(crate) fn new(
        main: Child,
        mirrors: Vec<Mirror>,
        mirror_body: bool,
        max_body_size: i64,
    ) -> Self {
        Mirroring {
            inner: Arc::new(MirroringInner {
                main,
                mirrors,
                mirror_body,
                max_body_size: u64::try_from(max_body_size).ok(),
            }),
        }
    }
}

impl HttpService for Mirroring {
    fn call(&self, req: Request<Body>, cx: &RequestContext) -> BoxFuture<'static, Response<Body>> {
        let chosen: Vec<Child> = self
            .inner
            .mirrors
            .iter()
            .filter(|mirror| mirror.takes_this_one())
            .map(|mirror| Arc::clone(&mirror.service))
            .collect();
        if chosen.is_empty() {
            return self.inner.main.call(req, cx);
        }
        if !self.inner.mirror_body {
            let (parts, body) = req.into_parts();
            send_to_mirrors(&chosen, &parts, Bytes::new(), cx);
            return self.inner.main.call(Request::from_parts(parts, body), cx);
        }
        let inner = Arc::clone(&self.inner);
        let cx = cx.clone();
        async move {
            let (parts, body) = req.into_parts();
            match buffer_body(body, inner.max_body_size).await {
                Ok(Buffered::Complete(bytes)) => {
                    send_to_mirrors(&chosen, &parts, bytes.clone(), &cx);
                    let req = Request::from_parts(parts, body::full(bytes));
                    inner.main.call(req, &cx).await
                }
                // Too big to copy: the main service still gets it, mirrors don't.
                Ok(Buffered::TooLarge(body)) => {
                    inner.main.call(Request::from_parts(parts, body), &cx).await
                }
                Err(response) => response,
            }
        }
        .boxed()
    }

    fn is_available(&self) -> bool {
        self.inner.main.is_available()
    }
}

fn send_to_mirrors(
    mirrors: &[Child],
    parts: &http::request::Parts,
    bytes: Bytes,
    cx: &RequestContext,
) {
    for mirror in mirrors {
        let mut copy = Request::new(body::full(bytes.clone()));
        *copy.method_mut() = parts.method.clone();
        *copy.uri_mut() = parts.uri.clone();
        *copy.version_mut() = parts.version;
        *copy.headers_mut() = parts.headers.clone();
        // The copy's body may be empty (mirrorBody: false): its length is the body's own.
        copy.headers_mut().remove(http::header::CONTENT_LENGTH);
        let response = mirror.call(copy, cx);
        tokio::spawn(async move {
            // Read the answer to the end so the connection can go back to the pool.
            let _ = response.await.into_body().collect().await;
        });
    }
}

/// `failover`: the main service while it is available, else the fallback; also the
/// fallback when the main service answers one of the listed statuses.
pub(crate) struct Failover {
    inner: Arc<FailoverInner>,
}

struct FailoverInner {
    main: Child,
    fallback: Child,
    statuses: Vec<RangeInclusive<u16>>,
    max_request_body: Option<u64>,
}

/// A `failover.errors.status` entry that is neither a status nor a range of them.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid status `{0}` (expected e.g. \"500\" or \"502-504\")")]
pub struct StatusRangeError(pub String);

pub(crate) fn parse_status_ranges(
    entries: &[String],
) -> Result<Vec<RangeInclusive<u16>>, StatusRangeError> {
    entries
        .iter()
        .map(|entry| {
            let invalid = || StatusRangeError(entry.clone());
            let status = |text: &str| {
                text.trim()
                    .parse::<u16>()
                    .ok()
                    .filter(|code| (100..600).contains(code))
                    .ok_or_else(invalid)
            };
            let range = match entry.split_once('-') {
                Some((low, high)) => status(low)?..=status(high)?,
                None => status(entry)?..=status(entry)?,
            };
            if range.is_empty() {
                return Err(invalid());
            }
            Ok(range)
        })
        .collect()
}

impl Failover {
    pub(crate) fn new(
        main: Child,
        fallback: Child,
        statuses: Vec<RangeInclusive<u16>>,
        max_request_body: i64,
    ) -> Self {
        Failover {
            inner: Arc::new(FailoverInner {
                main,
                fallback,
                statuses,
                max_request_body: u64::try_from(max_request_body).ok(),
            }),
        }
    }
}

impl FailoverInner {
    fn falls_back_on(&self, status: StatusCode) -> bool {
        self.statuses
            .iter()
            .any(|range| range.contains(&status.as_u16()))
    }
}

impl HttpService for Failover {
    fn call(&self, req: Request<Body>, cx: &RequestContext) -> BoxFuture<'static, Response<Body>> {
        let inner = &self.inner;
        if !inner.main.is_available() {
            return inner.fallback.call(req, cx);
        }
        if inner.statuses.is_empty() {
            return inner.main.call(req, cx);
        }
        let inner = Arc::clone(inner);
        let cx = cx.clone();
        async move {
            let (parts, body) = req.into_parts();
            let bytes = match buffer_body(body, inner.max_request_body).await {
                Ok(Buffered::Complete(bytes)) => bytes,
                // Too big to replay: the main service's answer stands, whatever it is.
                Ok(Buffered::TooLarge(body)) => {
                    return inner.main.call(Request::from_parts(parts, body), &cx).await;
                }
                Err(response) => return response,
            };
            let retry_parts = parts.clone();
            let first = Request::from_parts(parts, body::full(bytes.clone()));
            let response = inner.main.call(first, &cx).await;
            if !inner.falls_back_on(response.status()) {
                return response;
            }
            let second = Request::from_parts(retry_parts, body::full(bytes));
            inner.fallback.call(second, &cx).await
        }
        .boxed()
    }

    fn is_available(&self) -> bool {
        self.inner.main.is_available() || self.inner.fallback.is_available()
    }
}

enum Buffered {
    Complete(Bytes),
    /// Over the limit: what was read, followed by the rest, still streaming.
    TooLarge(Body),
}

/// Reads a request body into memory, up to `limit` bytes.
async fn buffer_body(body: Body, limit: Option<u64>) -> Result<Buffered, Response<Body>> {
    use http_body::Body as _;
    let too_large = |size: u64| limit.is_some_and(|limit| size > limit);
    if body.size_hint().lower() > 0 && too_large(body.size_hint().lower()) {
        return Ok(Buffered::TooLarge(body));
    }
    let mut stream = BodyStream::new(body);
    let mut buffer = BytesMut::new();
    while let Some(frame) = stream.next().await {
        let frame = match frame {
            Ok(frame) => frame,
            Err(error) => {
                tracing::debug!(%error, "reading the request body failed");
                let mut response = Response::new(body::full("cannot read request body\n"));
                *response.status_mut() = StatusCode::BAD_REQUEST;
                return Err(response);
            }
        };
        if let Some(data) = frame.data_ref() {
            buffer.extend_from_slice(data);
            if too_large(buffer.len() as u64) {
                let read = futures::stream::once(futures::future::ready(Ok(
                    http_body::Frame::data(buffer.freeze()),
                )));
                return Ok(Buffered::TooLarge(body::boxed(StreamBody::new(
                    read.chain(stream),
                ))));
            }
        }
    }
    Ok(Buffered::Complete(buffer.freeze()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_ranges_parse_and_reject_nonsense() {
        let ranges = parse_status_ranges(&["500".to_owned(), "502-504".to_owned()]).expect("ok");
        assert_eq!(ranges, vec![500..=500, 502..=504]);
        for bad in ["5xx", "504-502", "700", ""] {
            let error = parse_status_ranges(&[bad.to_owned()]).expect_err(bad);
            assert!(error.to_string().contains(&format!("`{bad}`")));
        }
    }

    #[test]
    fn mirror_share_is_exact_over_time() {
        struct Never;
        impl HttpService for Never {
            fn call(
                &self,
                _: Request<Body>,
                _: &RequestContext,
            ) -> BoxFuture<'static, Response<Body>> {
                futures::future::ready(errors::bad_gateway()).boxed()
            }
        }
        let mirror = Mirror::new(Arc::new(Never), 25);
        let sent = (0..400).filter(|_| mirror.takes_this_one()).count();
        assert_eq!(sent, 100);
        let all = Mirror::new(Arc::new(Never), 100);
        assert!((0..10).all(|_| all.takes_this_one()));
        let none = Mirror::new(Arc::new(Never), 0);
        assert!((0..10).all(|_| !none.takes_this_one()));
    }
}
