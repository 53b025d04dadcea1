//! WebSocket upgrade (HTTP/1.1) and message echo.

use futures::{SinkExt, StreamExt};
use http::{Request, Response, StatusCode, header};
use http_body_util::{BodyExt, Empty};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;
use tokio_tungstenite::tungstenite::protocol::Role;

use crate::http_server::{Body, json_response, response_for};

pub(crate) fn is_upgrade<B>(request: &Request<B>) -> bool {
    request
        .headers()
        .get(header::UPGRADE)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| value.eq_ignore_ascii_case("websocket"))
}

/// Answers `101 Switching Protocols` and echoes every message once the upgrade completes.
pub(crate) fn accept(mut request: Request<Incoming>, name: &str) -> Response<Body> {
    let Some(key) = request.headers().get(header::SEC_WEBSOCKET_KEY) else {
        let body = serde_json::json!({ "name": name, "error": "websocket upgrade without Sec-WebSocket-Key" });
        return json_response(name, StatusCode::BAD_REQUEST, &body);
    };
    let accept_key = derive_accept_key(key.as_bytes());
    let upgrade = hyper::upgrade::on(&mut request);
    tokio::spawn(async move {
        match upgrade.await {
            Ok(upgraded) => {
                echo(
                    WebSocketStream::from_raw_socket(TokioIo::new(upgraded), Role::Server, None)
                        .await,
                )
                .await
            }
            Err(error) => tracing::debug!(%error, "websocket upgrade failed"),
        }
    });
    let mut response = response_for(
        name,
        StatusCode::SWITCHING_PROTOCOLS,
        Empty::new().map_err(|never| match never {}).boxed(),
    );
    let headers = response.headers_mut();
    headers.insert(
        header::CONNECTION,
        header::HeaderValue::from_static("Upgrade"),
    );
    headers.insert(
        header::UPGRADE,
        header::HeaderValue::from_static("websocket"),
    );
    if let Ok(value) = header::HeaderValue::from_str(&accept_key) {
        headers.insert(header::SEC_WEBSOCKET_ACCEPT, value);
    }
    response
}

async fn echo<S>(mut socket: WebSocketStream<S>)
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    while let Some(message) = socket.next().await {
        let message = match message {
            Ok(message) => message,
            Err(error) => {
                tracing::debug!(%error, "websocket read failed");
                return;
            }
        };
        if message.is_text() || message.is_binary() {
            if socket.send(message).await.is_err() {
                return;
            }
        } else if message.is_close() {
            // tungstenite answers the close frame itself; finish the handshake.
            let _ = socket.close(None).await;
            return;
        }
    }
}
