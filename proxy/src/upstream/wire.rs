//! HTTP/1.1 on the server leg, as bytes: request heads out, response heads and body
//! framing in (RFC 9112). Pure functions over buffers, so every rule is unit-tested here
//! and the connection code only moves bytes.
use std::mem::MaybeUninit;

use bytes::{Bytes, BytesMut};
use http::header::{self, HeaderMap, HeaderName, HeaderValue};
use http::{Method, StatusCode, Version, request, response};

/// A response head larger than this is refused (Go's default is 1 MiB, hyper's ~400 KiB).
pub(super) const MAX_HEAD_BYTES: usize = 256 * 1024;
/// Response headers (or trailers) beyond this count are refused.
const MAX_HEADERS: usize = 128;
/// A chunk-size line (with extensions) longer than this is refused.
const MAX_CHUNK_LINE: usize = 4096;

/// What a response from the server broke.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WireError {
    #[error("invalid response head: {0}")]
    Head(String),
    #[error("response head larger than {MAX_HEAD_BYTES} bytes")]
    HeadTooLarge,
    #[error("invalid Content-Length `{0}`")]
    ContentLength(String),
    #[error("invalid chunked encoding: {0}")]
    Chunked(&'static str),
    #[error("unexpected `101 Switching Protocols` to a request that did not ask to upgrade")]
    UnexpectedSwitch,
}

/// How the request body goes on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum RequestFraming {
    /// No body: the head is the whole request.
    Empty,
    /// `Content-Length` bytes follow the head.
    Length(u64),
    Chunked,
}

impl RequestFraming {
    /// From what the body knows of itself: ended, of an exact size, or streamed.
    pub(super) fn of(end_stream: bool, exact_size: Option<u64>) -> Self {
        match (end_stream, exact_size) {
            (true, _) | (false, Some(0)) => RequestFraming::Empty,
            (false, Some(length)) => RequestFraming::Length(length),
            (false, None) => RequestFraming::Chunked,
        }
    }
}

/// Writes `METHOD origin-form HTTP/1.1`, the headers, then `appended` (absent values
/// skipped) and the framing header into `out`. The framing header is written from
/// `framing`, whatever the request said, so the server always reads exactly the body that
/// is sent. Header names go out as the map holds them (lower case), as hyper's client does.
pub(super) fn encode_request_head(
    head: &request::Parts,
    appended: &[(&HeaderName, Option<HeaderValue>)],
    framing: RequestFraming,
    out: &mut Vec<u8>,
) {
    let path = head.uri.path_and_query().map_or("/", |p| p.as_str());
    out.extend_from_slice(head.method.as_str().as_bytes());
    out.push(b' ');
    out.extend_from_slice(path.as_bytes());
    out.extend_from_slice(b" HTTP/1.1\r\n");
    for (name, value) in &head.headers {
        if *name == header::CONTENT_LENGTH || *name == header::TRANSFER_ENCODING {
            continue;
        }
        write_field(out, name, value);
    }
    for (name, value) in appended {
        if let Some(value) = value {
            write_field(out, name, value);
        }
    }
    match framing {
        RequestFraming::Empty => {
            // As Go does: methods that carry a payload say that this one is empty.
            if matches!(head.method, Method::POST | Method::PUT | Method::PATCH) {
                out.extend_from_slice(b"content-length: 0\r\n");
            }
        }
        RequestFraming::Length(length) => {
            out.extend_from_slice(b"content-length: ");
            out.extend_from_slice(itoa(length, &mut [0; 20]));
            out.extend_from_slice(b"\r\n");
        }
        RequestFraming::Chunked => out.extend_from_slice(b"transfer-encoding: chunked\r\n"),
    }
    out.extend_from_slice(b"\r\n");
}

fn write_field(out: &mut Vec<u8>, name: &HeaderName, value: &HeaderValue) {
    out.extend_from_slice(name.as_str().as_bytes());
    out.extend_from_slice(b": ");
    out.extend_from_slice(value.as_bytes());
    out.extend_from_slice(b"\r\n");
}

/// The decimal digits of `n`, written into `buf`.
fn itoa(mut n: u64, buf: &mut [u8; 20]) -> &[u8] {
    let mut at = buf.len();
    loop {
        at -= 1;
        buf[at] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            return &buf[at..];
        }
    }
}

/// The line that opens a chunk of `length` bytes.
pub(super) fn chunk_header(length: usize) -> Bytes {
    Bytes::from(format!("{length:x}\r\n"))
}

/// Ends a chunked body, with trailers when there are some.
pub(super) fn last_chunk(trailers: Option<&HeaderMap>) -> Bytes {
    let mut out = b"0\r\n".to_vec();
    for (name, value) in trailers.into_iter().flatten() {
        write_field(&mut out, name, value);
    }
    out.extend_from_slice(b"\r\n");
    Bytes::from(out)
}

/// A parsed response head and how its body is delimited.
#[derive(Debug)]
pub(super) struct ResponseHead {
    pub parts: response::Parts,
    pub framing: ResponseFraming,
    /// Whether the connection can carry another exchange once the body is read.
    pub keep_alive: bool,
}

/// How the response body ends (RFC 9112 §6.3).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum ResponseFraming {
    Empty,
    Length(u64),
    Chunked(ChunkedDecoder),
    /// No length given: the body runs until the server closes the connection.
    UntilClose,
}

/// Parses one response head from the front of `buf` and removes it. `Ok(None)` asks for
/// more bytes. Interim responses (1xx) are consumed and skipped.
///
/// The headers go into `recycled`'s allocation (cleared first; it is left empty): the
/// request's own map, already grown to a request's size. hyper's server reuses a
/// response's map to parse the next request on its connection, so in a steady state no
/// header map is allocated or grown per request.
pub(super) fn parse_response_head(
    buf: &mut BytesMut,
    method: &Method,
    recycled: &mut HeaderMap,
) -> Result<Option<ResponseHead>, WireError> {
    loop {
        let Some(head) = parse_one_head(buf, method, recycled)? else {
            return Ok(None);
        };
        if head.parts.status.is_informational() {
            if head.parts.status == StatusCode::SWITCHING_PROTOCOLS {
                return Err(WireError::UnexpectedSwitch);
            }
            continue;
        }
        return Ok(Some(head));
    }
}

fn parse_one_head(
    buf: &mut BytesMut,
    method: &Method,
    recycled: &mut HeaderMap,
) -> Result<Option<ResponseHead>, WireError> {
    let mut slots = [const { MaybeUninit::<httparse::Header<'_>>::uninit() }; MAX_HEADERS];
    let mut parsed = httparse::Response::new(&mut []);
    let length = match httparse::ParserConfig::default().parse_response_with_uninit_headers(
        &mut parsed,
        buf,
        &mut slots,
    ) {
        Ok(httparse::Status::Complete(length)) => length,
        Ok(httparse::Status::Partial) if buf.len() > MAX_HEAD_BYTES => {
            return Err(WireError::HeadTooLarge);
        }
        Ok(httparse::Status::Partial) => return Ok(None),
        Err(error) => return Err(WireError::Head(error.to_string())),
    };
    if length > MAX_HEAD_BYTES {
        return Err(WireError::HeadTooLarge);
    }
    let code = parsed.code.unwrap_or_default();
    let status =
        StatusCode::from_u16(code).map_err(|_| WireError::Head(format!("status code {code}")))?;
    let version = if parsed.version == Some(0) {
        Version::HTTP_10
    } else {
        Version::HTTP_11
    };
    // Names and values are cut from the head's bytes once they are split off the buffer,
    // so values share those bytes instead of being copied one by one.
    let base = buf.as_ptr() as usize;
    let mut spans = [(0u32, 0u32, 0u32, 0u32); MAX_HEADERS];
    let count = parsed.headers.len();
    for (span, h) in spans.iter_mut().zip(parsed.headers.iter()) {
        let name = h.name.as_ptr() as usize - base;
        let value = h.value.as_ptr() as usize - base;
        // The head is at most MAX_HEAD_BYTES long, so offsets fit.
        *span = (
            name as u32,
            (name + h.name.len()) as u32,
            value as u32,
            (value + h.value.len()) as u32,
        );
    }
    let head_bytes = buf.split_to(length).freeze();
    let mut headers = std::mem::take(recycled);
    headers.clear();
    headers.reserve(count);
    let mut fields = FramingFields::default();
    for &(name_start, name_end, value_start, value_end) in &spans[..count] {
        let name = &head_bytes[name_start as usize..name_end as usize];
        let name = HeaderName::from_bytes(name).map_err(|_| {
            WireError::Head(format!("header name `{}`", String::from_utf8_lossy(name)))
        })?;
        let value = head_bytes.slice(value_start as usize..value_end as usize);
        let value = HeaderValue::from_maybe_shared(value)
            .map_err(|_| WireError::Head(format!("value of header `{name}`")))?;
        fields.observe(&name, &value);
        headers.append(name, value);
    }

    let (mut parts, ()) = http::Response::new(()).into_parts();
    parts.status = status;
    parts.version = version;
    parts.headers = headers;
    let framing = fields.framing(status, method)?;
    let keep_alive = version == Version::HTTP_11
        && !fields.close
        // With both, the length cannot be trusted to end the message (RFC 9112 §6.1).
        && !(fields.transfer_encoding && fields.content_length_seen)
        && framing != ResponseFraming::UntilClose;
    Ok(Some(ResponseHead {
        parts,
        framing,
        keep_alive,
    }))
}

/// What the fields that delimit a response said, gathered as its headers are read (one
/// comparison per header instead of map lookups afterwards).
#[derive(Debug, Default)]
struct FramingFields {
    content_length_seen: bool,
    /// The agreed length, or the first value that disagreed or did not parse.
    content_length: Option<Result<u64, String>>,
    transfer_encoding: bool,
    /// Whether the last transfer coding named is `chunked`.
    chunked_last: bool,
    /// `Connection: close`.
    close: bool,
}

impl FramingFields {
    fn observe(&mut self, name: &HeaderName, value: &HeaderValue) {
        if *name == header::CONTENT_LENGTH {
            self.content_length_seen = true;
            self.observe_length(value);
        } else if *name == header::TRANSFER_ENCODING {
            self.transfer_encoding = true;
            let last = tokens(value).rfind(|coding| !coding.is_empty());
            if let Some(coding) = last {
                self.chunked_last = coding.eq_ignore_ascii_case("chunked");
            }
        } else if *name == header::CONNECTION
            && tokens(value).any(|token| token.eq_ignore_ascii_case("close"))
        {
            self.close = true;
        }
    }

    /// Repeated values (`5, 5`, or two headers) are accepted only when they agree.
    fn observe_length(&mut self, value: &HeaderValue) {
        if matches!(self.content_length, Some(Err(_))) {
            return;
        }
        for item in value.as_bytes().split(|&b| b == b',') {
            let text = std::str::from_utf8(item).unwrap_or_default().trim();
            let parsed = (!text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()))
                .then(|| text.parse::<u64>().ok())
                .flatten();
            self.content_length = match (parsed, self.content_length.take()) {
                (Some(n), None) => Some(Ok(n)),
                (Some(n), Some(Ok(seen))) if n == seen => Some(Ok(n)),
                _ => {
                    let value = String::from_utf8_lossy(value.as_bytes()).into_owned();
                    self.content_length = Some(Err(value));
                    return;
                }
            };
        }
    }

    fn framing(&self, status: StatusCode, method: &Method) -> Result<ResponseFraming, WireError> {
        if *method == Method::HEAD
            || status == StatusCode::NO_CONTENT
            || status == StatusCode::NOT_MODIFIED
            || status.is_informational()
        {
            return Ok(ResponseFraming::Empty);
        }
        if self.transfer_encoding {
            // Only a final `chunked` delimits the body; any other coding runs until close.
            return Ok(if self.chunked_last {
                ResponseFraming::Chunked(ChunkedDecoder::default())
            } else {
                ResponseFraming::UntilClose
            });
        }
        match &self.content_length {
            Some(Ok(0)) => Ok(ResponseFraming::Empty),
            Some(Ok(n)) => Ok(ResponseFraming::Length(*n)),
            Some(Err(value)) => Err(WireError::ContentLength(value.clone())),
            None => Ok(ResponseFraming::UntilClose),
        }
    }
}

/// The comma-separated tokens of a header value, trimmed.
fn tokens(value: &HeaderValue) -> impl DoubleEndedIterator<Item = &str> {
    value.to_str().unwrap_or_default().split(',').map(str::trim)
}

/// Where a chunked body is (RFC 9112 §7.1).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(super) enum ChunkedDecoder {
    /// Expecting a chunk-size line.
    #[default]
    Size,
    /// Inside a chunk: this many data bytes left.
    Data(u64),
    /// After a chunk's data: expecting its CRLF.
    DataEnd,
    /// After the last chunk: trailer fields, then an empty line.
    Trailers,
    Done,
}

/// What the decoder took from the buffer.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Decoded {
    Data(Bytes),
    Trailers(HeaderMap),
    /// The body is complete.
    End,
}

impl ChunkedDecoder {
    /// Decodes the next piece from the front of `buf`; `Ok(None)` asks for more bytes.
    pub(super) fn decode(&mut self, buf: &mut BytesMut) -> Result<Option<Decoded>, WireError> {
        loop {
            match *self {
                ChunkedDecoder::Size => {
                    let Some(line_end) = find_crlf(buf, MAX_CHUNK_LINE)? else {
                        return Ok(None);
                    };
                    let size = parse_chunk_size(&buf[..line_end])?;
                    let _ = buf.split_to(line_end + 2);
                    *self = if size == 0 {
                        ChunkedDecoder::Trailers
                    } else {
                        ChunkedDecoder::Data(size)
                    };
                }
                ChunkedDecoder::Data(left) => {
                    if buf.is_empty() {
                        return Ok(None);
                    }
                    let take = usize::try_from(left).unwrap_or(usize::MAX).min(buf.len());
                    let data = buf.split_to(take).freeze();
                    let left = left - take as u64;
                    *self = if left == 0 {
                        ChunkedDecoder::DataEnd
                    } else {
                        ChunkedDecoder::Data(left)
                    };
                    return Ok(Some(Decoded::Data(data)));
                }
                ChunkedDecoder::DataEnd => {
                    if buf.len() < 2 {
                        return Ok(None);
                    }
                    if &buf[..2] != b"\r\n" {
                        return Err(WireError::Chunked("chunk data not followed by CRLF"));
                    }
                    let _ = buf.split_to(2);
                    *self = ChunkedDecoder::Size;
                }
                ChunkedDecoder::Trailers => {
                    if buf.starts_with(b"\r\n") {
                        let _ = buf.split_to(2);
                        *self = ChunkedDecoder::Done;
                        return Ok(Some(Decoded::End));
                    }
                    let Some(trailers) = parse_trailers(buf)? else {
                        return Ok(None);
                    };
                    *self = ChunkedDecoder::Done;
                    return Ok(Some(Decoded::Trailers(trailers)));
                }
                ChunkedDecoder::Done => return Ok(Some(Decoded::End)),
            }
        }
    }

    pub(super) fn is_done(&self) -> bool {
        *self == ChunkedDecoder::Done
    }
}

/// The position of the first CRLF, if it comes within `limit` bytes.
fn find_crlf(buf: &[u8], limit: usize) -> Result<Option<usize>, WireError> {
    match buf.windows(2).position(|w| w == b"\r\n") {
        Some(at) if at <= limit => Ok(Some(at)),
        Some(_) => Err(WireError::Chunked("chunk-size line too long")),
        None if buf.len() > limit => Err(WireError::Chunked("chunk-size line too long")),
        None => Ok(None),
    }
}

/// `1a;name=value` -> 26: hex digits, then optional whitespace and extensions.
fn parse_chunk_size(line: &[u8]) -> Result<u64, WireError> {
    let digits = line.iter().take_while(|b| b.is_ascii_hexdigit()).count();
    if digits == 0 {
        return Err(WireError::Chunked("chunk size is not hexadecimal"));
    }
    if digits > 15 {
        return Err(WireError::Chunked("chunk size too large"));
    }
    let rest = &line[digits..];
    let rest_ok = rest
        .iter()
        .position(|&b| b == b';')
        .map_or(rest, |semicolon| &rest[..semicolon])
        .iter()
        .all(|&b| b == b' ' || b == b'\t');
    if !rest_ok {
        return Err(WireError::Chunked("chunk size is not hexadecimal"));
    }
    let text = std::str::from_utf8(&line[..digits]).unwrap_or_default();
    u64::from_str_radix(text, 16).map_err(|_| WireError::Chunked("chunk size too large"))
}

/// Trailer fields up to and including the empty line that ends them.
fn parse_trailers(buf: &mut BytesMut) -> Result<Option<HeaderMap>, WireError> {
    let mut slots = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let (length, fields) = match httparse::parse_headers(buf, &mut slots) {
        Ok(httparse::Status::Complete((length, fields))) => (length, fields),
        Ok(httparse::Status::Partial) if buf.len() > MAX_HEAD_BYTES => {
            return Err(WireError::HeadTooLarge);
        }
        Ok(httparse::Status::Partial) => return Ok(None),
        Err(_) => return Err(WireError::Chunked("invalid trailer fields")),
    };
    let mut trailers = HeaderMap::with_capacity(fields.len());
    for field in fields.iter() {
        let name = HeaderName::from_bytes(field.name.as_bytes())
            .map_err(|_| WireError::Chunked("invalid trailer name"))?;
        let value = HeaderValue::from_bytes(field.value)
            .map_err(|_| WireError::Chunked("invalid trailer value"))?;
        trailers.append(name, value);
    }
    let _ = buf.split_to(length);
    Ok(Some(trailers))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn head_of(req: http::Request<()>, framing: RequestFraming) -> String {
        let (parts, ()) = req.into_parts();
        let mut out = Vec::new();
        encode_request_head(&parts, &[], framing, &mut out);
        String::from_utf8(out).expect("ascii")
    }

    #[test]
    fn a_get_is_its_head_alone() {
        let req = http::Request::get("/a/b?c=1")
            .header("host", "app.test")
            .header("x-forwarded-for", "10.0.0.1")
            .body(())
            .unwrap();
        assert_eq!(
            head_of(req, RequestFraming::Empty),
            "GET /a/b?c=1 HTTP/1.1\r\nhost: app.test\r\nx-forwarded-for: 10.0.0.1\r\n\r\n"
        );
    }

    #[test]
    fn appended_fields_follow_the_map_and_absent_ones_are_skipped() {
        let (parts, ()) = http::Request::get("/")
            .header("host", "app.test")
            .body(())
            .unwrap()
            .into_parts();
        let real_ip = HeaderName::from_static("x-real-ip");
        let server = HeaderName::from_static("x-forwarded-server");
        let appended = [
            (&real_ip, Some(HeaderValue::from_static("10.0.0.1"))),
            (&server, None),
        ];
        let mut out = Vec::new();
        encode_request_head(&parts, &appended, RequestFraming::Length(2), &mut out);
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "GET / HTTP/1.1\r\nhost: app.test\r\nx-real-ip: 10.0.0.1\r\ncontent-length: 2\r\n\r\n"
        );
    }

    #[test]
    fn the_framing_header_is_written_from_the_body_not_copied() {
        let req = || {
            http::Request::post("/")
                .header("content-length", "99")
                .header("transfer-encoding", "gzip")
                .body(())
                .unwrap()
        };
        assert_eq!(
            head_of(req(), RequestFraming::Length(12)),
            "POST / HTTP/1.1\r\ncontent-length: 12\r\n\r\n"
        );
        assert_eq!(
            head_of(req(), RequestFraming::Chunked),
            "POST / HTTP/1.1\r\ntransfer-encoding: chunked\r\n\r\n"
        );
        assert_eq!(
            head_of(req(), RequestFraming::Empty),
            "POST / HTTP/1.1\r\ncontent-length: 0\r\n\r\n"
        );
    }

    #[test]
    fn request_framing_follows_what_the_body_knows() {
        assert_eq!(RequestFraming::of(true, Some(0)), RequestFraming::Empty);
        assert_eq!(RequestFraming::of(false, Some(0)), RequestFraming::Empty);
        assert_eq!(
            RequestFraming::of(false, Some(7)),
            RequestFraming::Length(7)
        );
        assert_eq!(RequestFraming::of(false, None), RequestFraming::Chunked);
        assert_eq!(itoa(0, &mut [0; 20]), b"0");
        assert_eq!(itoa(u64::MAX, &mut [0; 20]), b"18446744073709551615");
    }

    fn parse(text: &str, method: &Method) -> Result<Option<ResponseHead>, WireError> {
        parse_response_head(&mut BytesMut::from(text), method, &mut HeaderMap::new())
    }

    #[test]
    fn a_response_head_is_parsed_and_removed_from_the_buffer() {
        let mut buf = BytesMut::from(
            "HTTP/1.1 201 Created\r\nContent-Length: 5\r\nX-A: 1\r\nX-A: 2\r\n\r\nhello",
        );
        let mut recycled = HeaderMap::with_capacity(32);
        recycled.insert("x-request", HeaderValue::from_static("gone"));
        let head = parse_response_head(&mut buf, &Method::GET, &mut recycled)
            .unwrap()
            .expect("complete");
        assert_eq!(head.parts.status, StatusCode::CREATED);
        assert_eq!(head.parts.version, Version::HTTP_11);
        assert_eq!(head.parts.headers["content-length"], "5");
        let values: Vec<_> = head.parts.headers.get_all("x-a").iter().collect();
        assert_eq!(values, ["1", "2"]);
        assert_eq!(head.framing, ResponseFraming::Length(5));
        assert!(head.keep_alive);
        assert_eq!(&buf[..], b"hello");
        // The request's map was reused, without the request's headers.
        assert!(!head.parts.headers.contains_key("x-request"));
        assert!(head.parts.headers.capacity() >= 32);
        assert!(recycled.is_empty());
    }

    #[test]
    fn a_partial_head_asks_for_more() {
        let mut buf = BytesMut::from("HTTP/1.1 200 OK\r\nContent-Le");
        assert_eq!(
            parse_response_head(&mut buf, &Method::GET, &mut HeaderMap::new())
                .unwrap()
                .map(|h| h.parts.status),
            None
        );
        assert_eq!(buf.len(), 27, "nothing consumed");
    }

    #[test]
    fn interim_responses_are_skipped() {
        let head = parse(
            "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </s.css>\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n",
            &Method::POST,
        )
        .unwrap()
        .expect("complete");
        assert_eq!(head.parts.status, StatusCode::OK);
        assert!(!head.parts.headers.contains_key("link"));
        assert_eq!(head.framing, ResponseFraming::Empty);
    }

    #[test]
    fn body_framing_follows_rfc_9112() {
        let framing = |text: &str, method: &Method| parse(text, method).unwrap().unwrap().framing;
        assert_eq!(
            framing(
                "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n",
                &Method::HEAD
            ),
            ResponseFraming::Empty
        );
        assert_eq!(
            framing("HTTP/1.1 204 No Content\r\n\r\n", &Method::GET),
            ResponseFraming::Empty
        );
        assert_eq!(
            framing(
                "HTTP/1.1 304 Not Modified\r\nContent-Length: 10\r\n\r\n",
                &Method::GET
            ),
            ResponseFraming::Empty
        );
        assert_eq!(
            framing(
                "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n",
                &Method::GET
            ),
            ResponseFraming::Chunked(ChunkedDecoder::Size)
        );
        assert_eq!(
            framing(
                "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n",
                &Method::GET
            ),
            ResponseFraming::UntilClose
        );
        assert_eq!(
            framing(
                "HTTP/1.1 200 OK\r\nContent-Length: 3, 3\r\n\r\n",
                &Method::GET
            ),
            ResponseFraming::Length(3)
        );
        assert_eq!(
            framing("HTTP/1.1 200 OK\r\n\r\n", &Method::GET),
            ResponseFraming::UntilClose
        );
    }

    #[test]
    fn keep_alive_is_refused_when_the_server_or_the_framing_says_so() {
        let keep = |text: &str| parse(text, &Method::GET).unwrap().unwrap().keep_alive;
        assert!(!keep(
            "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 0\r\n\r\n"
        ));
        assert!(!keep("HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n"));
        assert!(!keep("HTTP/1.1 200 OK\r\n\r\n"));
        assert!(!keep(
            "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 4\r\n\r\n"
        ));
        assert!(keep(
            "HTTP/1.1 200 OK\r\nConnection: keep-alive\r\nContent-Length: 0\r\n\r\n"
        ));
    }

    #[test]
    fn broken_heads_are_errors() {
        let error = |text: &str| parse(text, &Method::GET).expect_err(text);
        assert!(matches!(
            error("HTTP/1.1 20x OK\r\n\r\n"),
            WireError::Head(_)
        ));
        assert!(matches!(error("garbage\r\n\r\n"), WireError::Head(_)));
        assert_eq!(
            error("HTTP/1.1 200 OK\r\nContent-Length: 3, 4\r\n\r\n"),
            WireError::ContentLength("3, 4".into())
        );
        assert_eq!(
            error("HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n"),
            WireError::ContentLength("-1".into())
        );
        assert_eq!(
            error("HTTP/1.1 101 Switching Protocols\r\n\r\n"),
            WireError::UnexpectedSwitch
        );
        let huge = format!("HTTP/1.1 200 OK\r\nX-Big: {}", "a".repeat(MAX_HEAD_BYTES));
        assert_eq!(error(&huge), WireError::HeadTooLarge);
    }

    /// Feeds `wire` to a decoder one byte at a time and collects what comes out.
    fn decode_bytewise(wire: &[u8]) -> Result<(Vec<u8>, Option<HeaderMap>), WireError> {
        let mut decoder = ChunkedDecoder::default();
        let mut buf = BytesMut::new();
        let (mut data, mut trailers) = (Vec::new(), None);
        for &byte in wire {
            buf.extend_from_slice(&[byte]);
            while let Some(piece) = decoder.decode(&mut buf)? {
                match piece {
                    Decoded::Data(bytes) => data.extend_from_slice(&bytes),
                    Decoded::Trailers(map) => trailers = Some(map),
                    Decoded::End => return Ok((data, trailers)),
                }
                if decoder.is_done() {
                    return Ok((data, trailers));
                }
            }
        }
        Err(WireError::Chunked("incomplete"))
    }

    #[test]
    fn chunked_bodies_decode_across_any_split() {
        let (data, trailers) =
            decode_bytewise(b"5;ext=1\r\nhello\r\n1A\r\nabcdefghijklmnopqrstuvwxyz\r\n0\r\n\r\n")
                .unwrap();
        assert_eq!(data, b"helloabcdefghijklmnopqrstuvwxyz");
        assert_eq!(trailers, None);
    }

    #[test]
    fn chunked_trailers_become_a_trailers_frame() {
        let (data, trailers) =
            decode_bytewise(b"3\r\nabc\r\n0\r\ngrpc-status: 0\r\nx-t: 1\r\n\r\n").unwrap();
        assert_eq!(data, b"abc");
        let trailers = trailers.expect("trailers");
        assert_eq!(trailers["grpc-status"], "0");
        assert_eq!(trailers["x-t"], "1");
    }

    #[test]
    fn broken_chunked_bodies_are_errors() {
        assert_eq!(
            decode_bytewise(b"zz\r\n"),
            Err(WireError::Chunked("chunk size is not hexadecimal"))
        );
        assert_eq!(
            decode_bytewise(b"3\r\nabcXY"),
            Err(WireError::Chunked("chunk data not followed by CRLF"))
        );
        assert_eq!(
            decode_bytewise(b"ffffffffffffffff0\r\n"),
            Err(WireError::Chunked("chunk size too large"))
        );
        let long_line = [b"1;".as_slice(), &[b'x'; MAX_CHUNK_LINE + 1]].concat();
        assert_eq!(
            decode_bytewise(&long_line),
            Err(WireError::Chunked("chunk-size line too long"))
        );
    }

    #[test]
    fn chunk_framing_is_written_in_hex() {
        assert_eq!(chunk_header(26), Bytes::from_static(b"1a\r\n"));
        assert_eq!(last_chunk(None), Bytes::from_static(b"0\r\n\r\n"));
        let mut trailers = HeaderMap::new();
        trailers.insert("grpc-status", HeaderValue::from_static("0"));
        assert_eq!(
            last_chunk(Some(&trailers)),
            Bytes::from_static(b"0\r\ngrpc-status: 0\r\n\r\n")
        );
    }
}
