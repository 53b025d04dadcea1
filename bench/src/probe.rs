//! One blocking HTTP/1.1 request, used to check that a target serves the route before it is
//! measured: a proxy answering 404 fast would otherwise look like a fast proxy.
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

const TIMEOUT: Duration = Duration::from_secs(2);

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProbeResponse {
    pub status: u16,
    pub body: Vec<u8>,
}

#[derive(Debug, thiserror::Error)]
pub enum ProbeError {
    #[error("{address}: {source}")]
    Io {
        address: SocketAddr,
        #[source]
        source: std::io::Error,
    },
    #[error("{address}: malformed response ({what})")]
    Malformed {
        address: SocketAddr,
        what: &'static str,
    },
}

/// `GET /` with `Host: host`, the connection closed after the response.
pub fn get(address: SocketAddr, host: &str) -> Result<ProbeResponse, ProbeError> {
    let io = |source| ProbeError::Io { address, source };
    let mut stream = TcpStream::connect_timeout(&address, TIMEOUT).map_err(io)?;
    stream.set_read_timeout(Some(TIMEOUT)).map_err(io)?;
    stream.set_write_timeout(Some(TIMEOUT)).map_err(io)?;
    let request = format!("GET / HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).map_err(io)?;
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).map_err(io)?;
    parse_response(&raw).map_err(|what| ProbeError::Malformed { address, what })
}

fn parse_response(raw: &[u8]) -> Result<ProbeResponse, &'static str> {
    let head_end = find(raw, b"\r\n\r\n").ok_or("no end of headers")?;
    let head = std::str::from_utf8(&raw[..head_end]).map_err(|_| "headers are not UTF-8")?;
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .and_then(|line| line.split_ascii_whitespace().nth(1))
        .and_then(|code| code.parse::<u16>().ok())
        .ok_or("no status line")?;
    let chunked = lines.any(|line| {
        line.split_once(':').is_some_and(|(name, value)| {
            name.trim().eq_ignore_ascii_case("transfer-encoding")
                && value.trim().eq_ignore_ascii_case("chunked")
        })
    });
    let body = &raw[head_end + 4..];
    let body = if chunked {
        decode_chunked(body)?
    } else {
        body.to_vec()
    };
    Ok(ProbeResponse { status, body })
}

fn decode_chunked(mut rest: &[u8]) -> Result<Vec<u8>, &'static str> {
    let mut body = Vec::new();
    loop {
        let line_end = find(rest, b"\r\n").ok_or("unterminated chunk size")?;
        let size_text = std::str::from_utf8(&rest[..line_end]).map_err(|_| "bad chunk size")?;
        let size_text = size_text.split(';').next().unwrap_or_default().trim();
        let size = usize::from_str_radix(size_text, 16).map_err(|_| "bad chunk size")?;
        rest = &rest[line_end + 2..];
        if size == 0 {
            return Ok(body);
        }
        let chunk = rest.get(..size).ok_or("truncated chunk")?;
        body.extend_from_slice(chunk);
        rest = rest.get(size + 2..).ok_or("truncated chunk")?;
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack
        .windows(needle.len())
        .position(|window| window == needle)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::TcpListener;

    #[test]
    fn reads_status_and_body() {
        let raw = b"HTTP/1.1 200 OK\r\nContent-Length: 12\r\n\r\nhello, mesh\n";
        let response = parse_response(raw).unwrap();
        assert_eq!(
            response,
            ProbeResponse {
                status: 200,
                body: b"hello, mesh\n".to_vec()
            }
        );
    }

    #[test]
    fn decodes_chunked_bodies() {
        let raw = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n7\r\n, mesh\n\r\n0\r\n\r\n";
        assert_eq!(parse_response(raw).unwrap().body, b"hello, mesh\n");
        let truncated = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n50\r\nhello";
        assert_eq!(parse_response(truncated), Err("truncated chunk"));
    }

    #[test]
    fn garbage_is_malformed() {
        assert_eq!(
            parse_response(b"SSH-2.0-OpenSSH\r\n"),
            Err("no end of headers")
        );
        assert_eq!(parse_response(b"nonsense\r\n\r\n"), Err("no status line"));
    }

    #[test]
    fn sends_the_host_header_to_a_live_server() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let address = listener.local_addr().unwrap();
        let server = std::thread::spawn(move || {
            let (mut stream, _) = listener.accept().unwrap();
            let mut request = vec![0; 1024];
            let n = stream.read(&mut request).unwrap();
            stream
                .write_all(b"HTTP/1.1 404 Not Found\r\nContent-Length: 3\r\n\r\nno\n")
                .unwrap();
            String::from_utf8_lossy(&request[..n]).into_owned()
        });
        let response = get(address, "h9.bench.test").unwrap();
        let request = server.join().unwrap();
        assert_eq!(response.status, 404);
        assert!(request.contains("\r\nHost: h9.bench.test\r\n"), "{request}");
    }

    #[test]
    fn closed_port_is_an_io_error_naming_the_address() {
        let address = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap();
        let err = get(address, "x").unwrap_err();
        assert!(matches!(err, ProbeError::Io { .. }));
        assert!(err.to_string().contains(&address.to_string()), "{err}");
    }
}
