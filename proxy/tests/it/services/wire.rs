//! HTTP/1.1 on the wire to `http://` servers, against raw TCP backends that misbehave on
//! purpose: what the client gets when a server answers garbage, cuts a response, closes a
//! kept-alive connection, or answers before reading the request body.
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use bytes::Bytes;
use http::{Request, StatusCode};
use http_body_util::{BodyExt, StreamBody};
use mesh_proxy::body::{self, Body};
use mesh_proxy::service::Services;
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use super::backend::{Backend, handler, text};
use super::{build, call, context, get};

/// A backend that runs `script` on every connection it accepts, with the connection's
/// number (0 for the first); returns its address and the count of connections.
async fn raw_backend<F, Fut>(script: F) -> (SocketAddr, Arc<AtomicUsize>)
where
    F: Fn(usize, TcpStream) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let accepted = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&accepted);
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let number = counter.fetch_add(1, Ordering::SeqCst);
            tokio::spawn(script(number, stream));
        }
    });
    (addr, accepted)
}

/// Reads one request head (up to its empty line) from `stream`.
async fn read_head(stream: &mut TcpStream) -> String {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        match stream.read(&mut byte).await {
            Ok(1) => head.push(byte[0]),
            _ => break,
        }
    }
    String::from_utf8_lossy(&head).into_owned()
}

fn service_for(addr: SocketAddr) -> Services {
    build(json!({"services": {"svc": {"loadBalancer": {
        "servers": [{"url": format!("http://{addr}")}]
    }}}}))
}

#[tokio::test]
async fn a_garbage_response_is_a_502_and_the_next_request_still_works() {
    let (addr, _) = raw_backend(|number, mut stream| async move {
        read_head(&mut stream).await;
        let answer: &[u8] = if number == 0 {
            b"SPDY/9 ok\r\n\r\n"
        } else {
            b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
        };
        let _ = stream.write_all(answer).await;
    })
    .await;
    let services = service_for(addr);
    let answer = call(&services, "svc", get("/")).await;
    assert_eq!(answer.status, StatusCode::BAD_GATEWAY);
    assert_eq!(answer.text(), "bad gateway\n");
    let answer = call(&services, "svc", get("/")).await;
    assert_eq!((answer.status, answer.text()), (StatusCode::OK, "ok"));
}

#[tokio::test]
async fn chunked_responses_are_decoded_and_the_connection_is_reused() {
    let (addr, accepted) = raw_backend(|_, mut stream| async move {
        for _ in 0..2 {
            read_head(&mut stream).await;
            // Split mid-chunk, as a slow server would send it.
            let _ = stream
                .write_all(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhel")
                .await;
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
            let _ = stream
                .write_all(b"lo\r\n6\r\n world\r\n0\r\nx-trailer: 1\r\n\r\n")
                .await;
        }
    })
    .await;
    let services = service_for(addr);
    for _ in 0..2 {
        let answer = call(&services, "svc", get("/")).await;
        assert_eq!(
            (answer.status, answer.text()),
            (StatusCode::OK, "hello world")
        );
    }
    assert_eq!(
        accepted.load(Ordering::SeqCst),
        1,
        "one kept-alive connection"
    );
}

#[tokio::test]
async fn a_response_cut_short_ends_the_client_body_with_an_error() {
    let (addr, _) = raw_backend(|_, mut stream| async move {
        read_head(&mut stream).await;
        let _ = stream
            .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nhalf")
            .await;
    })
    .await;
    let services = service_for(addr);
    let service = services.get("svc").expect("built");
    let response = service.call(get("/"), &context()).await;
    assert_eq!(response.status(), StatusCode::OK);
    let error = response
        .into_body()
        .collect()
        .await
        .expect_err("the body cannot complete");
    assert!(
        error
            .to_string()
            .contains("before the end of the response body"),
        "{error}"
    );
}

/// The first connection answers one request, then takes the next one and closes without
/// answering: what a server closing an idle connection looks like when the close crosses
/// the proxy's next request.
async fn closing_backend() -> (SocketAddr, Arc<AtomicUsize>) {
    raw_backend(|number, mut stream| async move {
        read_head(&mut stream).await;
        let _ = stream
            .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nfirst")
            .await;
        if number == 0 {
            read_head(&mut stream).await;
            return;
        }
        read_head(&mut stream).await;
    })
    .await
}

#[tokio::test]
async fn a_get_is_sent_again_when_a_reused_connection_closes_unanswered() {
    let (addr, accepted) = closing_backend().await;
    let services = service_for(addr);
    assert_eq!(call(&services, "svc", get("/")).await.text(), "first");
    let answer = call(&services, "svc", get("/")).await;
    assert_eq!((answer.status, answer.text()), (StatusCode::OK, "first"));
    assert_eq!(accepted.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn a_post_is_not_replayed_when_a_reused_connection_closes_unanswered() {
    let (addr, _) = closing_backend().await;
    let services = service_for(addr);
    assert_eq!(call(&services, "svc", get("/")).await.text(), "first");
    let post = Request::post("/")
        .header(http::header::HOST, "example.com")
        .body(body::full("payload"))
        .expect("request");
    let answer = call(&services, "svc", post).await;
    assert_eq!(answer.status, StatusCode::BAD_GATEWAY);
}

#[tokio::test]
async fn an_early_answer_reaches_the_client_while_the_body_is_still_sent() {
    let (addr, _) = raw_backend(|_, mut stream| async move {
        read_head(&mut stream).await;
        let _ = stream
            .write_all(
                b"HTTP/1.1 413 Payload Too Large\r\nConnection: close\r\nContent-Length: 8\r\n\r\ntoo big!",
            )
            .await;
        let _ = stream.shutdown().await;
        // Drain what is still coming, so the close is a FIN and not a reset.
        let mut sink = [0u8; 64 * 1024];
        while matches!(stream.read(&mut sink).await, Ok(n) if n > 0) {}
    })
    .await;
    let services = service_for(addr);
    // 32 MiB that the server never reads, streamed without a length.
    let chunks = (0..512).map(|_| {
        Ok::<_, mesh_proxy::body::BoxError>(http_body::Frame::data(Bytes::from(vec![
            b'x';
            64 * 1024
        ])))
    });
    let upload: Body = body::boxed(StreamBody::new(futures::stream::iter(chunks)));
    let post = Request::post("/upload")
        .header(http::header::HOST, "example.com")
        .body(upload)
        .expect("request");
    let answer = call(&services, "svc", post).await;
    assert_eq!(
        (answer.status, answer.text()),
        (StatusCode::PAYLOAD_TOO_LARGE, "too big!")
    );
}

#[tokio::test]
async fn request_bodies_arrive_whole_with_and_without_a_length() {
    let backend = Backend::start(handler(|seen, _| async move {
        let framing = if seen.headers.contains_key(http::header::CONTENT_LENGTH) {
            "length"
        } else {
            "chunked"
        };
        text(
            200,
            format!("{framing} {}", String::from_utf8_lossy(&seen.body)),
        )
    }))
    .await;
    let services = build(json!({"services": {"svc": {"loadBalancer": {
        "servers": [{"url": backend.url}]
    }}}}));
    let sized = Request::put("/")
        .header(http::header::HOST, "example.com")
        .body(body::full("sized body"))
        .expect("request");
    assert_eq!(
        call(&services, "svc", sized).await.text(),
        "length sized body"
    );
    let pieces = ["streamed ", "in ", "pieces"].map(|piece| {
        Ok::<_, mesh_proxy::body::BoxError>(http_body::Frame::data(Bytes::from_static(
            piece.as_bytes(),
        )))
    });
    let streamed = Request::post("/")
        .header(http::header::HOST, "example.com")
        .body(body::boxed(StreamBody::new(futures::stream::iter(pieces))))
        .expect("request");
    assert_eq!(
        call(&services, "svc", streamed).await.text(),
        "chunked streamed in pieces"
    );
}

#[tokio::test]
async fn a_server_answering_while_the_client_uploads_gets_the_whole_upload() {
    // hyper's echo: the response starts at once and streams the request body back.
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            tokio::spawn(async move {
                let echo =
                    hyper::service::service_fn(|req: Request<hyper::body::Incoming>| async {
                        Ok::<_, std::convert::Infallible>(http::Response::new(req.into_body()))
                    });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(hyper_util::rt::TokioIo::new(stream), echo)
                    .await;
            });
        }
    });
    let services = service_for(addr);
    let (pieces, received) = tokio::sync::mpsc::channel::<Bytes>(1);
    let upload = futures::stream::unfold(received, |mut received| async move {
        let piece = received.recv().await?;
        Some((
            Ok::<_, mesh_proxy::body::BoxError>(http_body::Frame::data(piece)),
            received,
        ))
    });
    let req = Request::post("/echo")
        .header(http::header::HOST, "example.com")
        .body(body::boxed(StreamBody::new(upload)))
        .expect("request");
    let bound = std::time::Duration::from_secs(10);
    pieces
        .send(Bytes::from_static(b"one "))
        .await
        .expect("send");
    let service = services.get("svc").expect("built");
    let response = tokio::time::timeout(bound, service.call(req, &context()))
        .await
        .expect("the answer starts before the upload ends");
    assert_eq!(response.status(), StatusCode::OK);
    let mut answer = response.into_body();
    let mut echoed = Vec::new();
    // Each piece is sent only once the one before came back.
    for (piece, expected) in [(&b"two "[..], &b"one "[..]), (b"three", b"one two ")] {
        while echoed != expected {
            let frame = tokio::time::timeout(bound, answer.frame())
                .await
                .expect("the echo arrives while the upload goes on")
                .expect("a frame")
                .expect("no error");
            echoed.extend_from_slice(&frame.into_data().unwrap_or_default());
            assert!(expected.starts_with(&echoed), "{echoed:?}");
        }
        pieces.send(Bytes::from(piece)).await.expect("send");
    }
    drop(pieces);
    let rest = tokio::time::timeout(bound, answer.collect())
        .await
        .expect("the answer ends with the upload")
        .expect("body")
        .to_bytes();
    echoed.extend_from_slice(&rest);
    assert_eq!(echoed, b"one two three");
}

#[tokio::test]
async fn a_request_without_forwarded_headers_reaches_the_server_with_all_of_them() {
    let backend = Backend::named("seen").await;
    let services = build(json!({"services": {"svc": {"loadBalancer": {
        "servers": [{"url": backend.url}]
    }}}}));
    assert_eq!(call(&services, "svc", get("/")).await.text(), "seen");
    let seen = backend.requests().pop().expect("request");
    let header = |name: &str| {
        let values: Vec<_> = seen.headers.get_all(name).iter().collect();
        assert_eq!(values.len(), 1, "{name} once");
        values[0].to_str().expect("text").to_owned()
    };
    assert_eq!(header("host"), "example.com");
    assert_eq!(header("x-forwarded-for"), "127.0.0.9");
    assert_eq!(header("x-real-ip"), "127.0.0.9");
    assert_eq!(header("x-forwarded-proto"), "http");
    assert_eq!(header("x-forwarded-host"), "example.com");
    assert_eq!(header("x-forwarded-port"), "80");
    assert!(!header("x-forwarded-server").is_empty());
}

#[tokio::test]
async fn a_request_body_that_fails_mid_upload_is_a_502_and_the_connection_is_not_reused() {
    let (addr, accepted) = raw_backend(|_, mut stream| async move {
        read_head(&mut stream).await;
        // Reads whatever comes, answering only once the client side has given up.
        let mut sink = [0u8; 1024];
        while matches!(stream.read(&mut sink).await, Ok(n) if n > 0) {}
    })
    .await;
    let services = service_for(addr);
    let pieces = [
        Ok(http_body::Frame::data(Bytes::from_static(b"partial"))),
        Err(mesh_proxy::body::BoxError::from("client went away")),
    ];
    let post = Request::post("/upload")
        .header(http::header::HOST, "example.com")
        .body(body::boxed(StreamBody::new(futures::stream::iter(pieces))))
        .expect("request");
    let answer = call(&services, "svc", post).await;
    assert_eq!(answer.status, StatusCode::BAD_GATEWAY);
    // A half-sent body leaves the connection mid-message: the next request opens another.
    let post = Request::post("/upload")
        .header(http::header::HOST, "example.com")
        .body(body::boxed(StreamBody::new(futures::stream::iter([
            Err::<http_body::Frame<Bytes>, _>(mesh_proxy::body::BoxError::from("again")),
        ]))))
        .expect("request");
    assert_eq!(
        call(&services, "svc", post).await.status,
        StatusCode::BAD_GATEWAY
    );
    assert_eq!(accepted.load(Ordering::SeqCst), 2);
}
