//! Protocols through the proxy: h2c on the HTTP port, WebSocket upgrades, gRPC-style trailers.
use std::convert::Infallible;

use bytes::Bytes;
use http::{HeaderMap, Request, Response, StatusCode, Version};
use http_body_util::{BodyExt, Full, StreamBody};
use hyper::body::Frame;
use mesh_proxy::body;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::support::{EchoBackend, TestProxy, get, h2c_client, http1_client, send, serve_backend};

fn one_route(url: &str) -> String {
    format!(
        "http: {{routers: {{r: {{rule: 'PathPrefix(`/`)', service: s}}}}, services: {{s: {{loadBalancer: {{servers: [{{url: '{url}'}}]}}}}}}}}"
    )
}

#[tokio::test]
async fn http2_prior_knowledge_and_http1_share_the_port() {
    let backend = EchoBackend::start("b").await;
    let proxy = TestProxy::start().await;
    proxy.apply_yaml(&one_route(&backend.url()));

    let req = Request::get(format!("http://{}/h2", proxy.web()))
        .body(Full::new(Bytes::new()))
        .expect("request");
    let res = h2c_client().request(req).await.expect("h2c response");
    assert_eq!(res.version(), Version::HTTP_2);
    assert_eq!(res.status(), StatusCode::OK);
    let text = res.into_body().collect().await.expect("body").to_bytes();
    assert_eq!(text, "b GET /h2");

    let answer = get(&http1_client(), proxy.web(), "x.test", "/h1").await;
    assert_eq!(answer.body, "b GET /h1");
}

#[tokio::test]
async fn websocket_upgrade_is_spliced_both_ways() {
    // The backend accepts the upgrade and echoes bytes upper-cased on the raw connection.
    let backend = serve_backend(|mut req: Request<hyper::body::Incoming>| async move {
        if req.headers().get(http::header::UPGRADE).is_none() {
            return Ok::<_, Infallible>(Response::new(body::full("not an upgrade")));
        }
        let upgrade = hyper::upgrade::on(&mut req);
        tokio::spawn(async move {
            let Ok(upgraded) = upgrade.await else { return };
            let mut io = hyper_util::rt::TokioIo::new(upgraded);
            let mut buf = [0u8; 64];
            while let Ok(n) = io.read(&mut buf).await {
                if n == 0 || io.write_all(&buf[..n].to_ascii_uppercase()).await.is_err() {
                    break;
                }
            }
        });
        let mut res = Response::new(body::empty());
        *res.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
        res.headers_mut()
            .insert(http::header::CONNECTION, "Upgrade".parse().expect("value"));
        res.headers_mut()
            .insert(http::header::UPGRADE, "websocket".parse().expect("value"));
        Ok(res)
    })
    .await;
    let proxy = TestProxy::start().await;
    proxy.apply_yaml(&one_route(&backend.url()));

    let mut stream = tokio::net::TcpStream::connect(proxy.web())
        .await
        .expect("connects");
    stream
        .write_all(
            b"GET /ws HTTP/1.1\r\nHost: ws.test\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\
              Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n",
        )
        .await
        .expect("writes handshake");
    let mut head = Vec::new();
    while !head.ends_with(b"\r\n\r\n") {
        let mut byte = [0u8; 1];
        assert_eq!(
            stream.read(&mut byte).await.expect("reads handshake"),
            1,
            "closed early"
        );
        head.push(byte[0]);
    }
    let head = String::from_utf8_lossy(&head);
    assert!(head.starts_with("HTTP/1.1 101"), "{head}");
    assert!(
        head.to_ascii_lowercase().contains("upgrade: websocket"),
        "{head}"
    );

    for message in [&b"hello"[..], b"again"] {
        stream.write_all(message).await.expect("writes frame");
        let mut echoed = vec![0u8; message.len()];
        stream.read_exact(&mut echoed).await.expect("reads echo");
        assert_eq!(echoed, message.to_ascii_uppercase());
    }
}

#[tokio::test]
async fn grpc_style_streams_and_trailers_pass_through() {
    // An h2c backend streaming two messages then `grpc-status` trailers, like gRPC.
    let backend = serve_backend(|req: Request<hyper::body::Incoming>| async move {
        let te_trailers = req
            .headers()
            .get(http::header::TE)
            .is_some_and(|te| te == "trailers");
        let request_body = req
            .into_body()
            .collect()
            .await
            .map(|b| b.to_bytes())
            .unwrap_or_default();
        let mut trailers = HeaderMap::new();
        trailers.insert("grpc-status", "0".parse().expect("value"));
        trailers.insert(
            "x-te-trailers",
            te_trailers.to_string().parse().expect("value"),
        );
        let frames = vec![
            Ok::<_, Infallible>(Frame::data(Bytes::from_static(b"first;"))),
            Ok(Frame::data(request_body)),
            Ok(Frame::trailers(trailers)),
        ];
        let mut res = Response::new(body::boxed(StreamBody::new(futures::stream::iter(frames))));
        res.headers_mut().insert(
            http::header::CONTENT_TYPE,
            "application/grpc".parse().expect("value"),
        );
        Ok(res)
    })
    .await;
    let proxy = TestProxy::start().await;
    proxy.apply_yaml(&one_route(&format!("h2c://{}", backend.addr)));

    let req = Request::post(format!("http://{}/pkg.Service/Method", proxy.web()))
        .header(http::header::CONTENT_TYPE, "application/grpc")
        .header(http::header::TE, "trailers")
        .body(Full::new(Bytes::from_static(b"payload")))
        .expect("request");
    let res = h2c_client().request(req).await.expect("response");
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(
        res.headers()[http::header::CONTENT_TYPE],
        "application/grpc"
    );
    let collected = res.into_body().collect().await.expect("body");
    let trailers = collected.trailers().cloned().expect("trailers arrive");
    assert_eq!(trailers["grpc-status"], "0");
    assert_eq!(
        trailers["x-te-trailers"], "true",
        "TE: trailers reached the backend"
    );
    assert_eq!(collected.to_bytes(), "first;payload");

    // The same through the plain HTTP/1.1 client still gets the data.
    let req = Request::post(format!("http://{}/pkg.Service/Method", proxy.web()))
        .body(Full::new(Bytes::from_static(b"x")))
        .expect("request");
    assert_eq!(send(&http1_client(), req).await.body, "first;x");
}
