//! The HTTP side: HTTP/1.1 + h2c on one port, JSON answers shaped by [`Controls`].

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use bytes::Bytes;
use http::{Request, Response, StatusCode, header};
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full, StreamBody};
use hyper::body::{Frame, Incoming};
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use serde_json::json;
use tokio::net::TcpListener;

use crate::controls::Controls;
use crate::websocket;

pub(crate) type Body = BoxBody<Bytes, Infallible>;

pub(crate) async fn serve(listener: TcpListener, name: String) -> anyhow::Result<()> {
    let name: Arc<str> = name.into();
    let local = listener
        .local_addr()
        .context("reading the listen address")?;
    loop {
        let (stream, peer) = listener.accept().await.context("accepting a connection")?;
        let name = name.clone();
        tokio::spawn(async move {
            let service = service_fn(move |request| answer(request, name.clone(), peer, local));
            // `auto` tells HTTP/1.1 from the h2c preface; upgrades carry WebSockets.
            let builder = auto::Builder::new(TokioExecutor::new());
            if let Err(error) = builder
                .serve_connection_with_upgrades(TokioIo::new(stream), service)
                .await
            {
                tracing::debug!(%peer, %error, "connection ended with an error");
            }
        });
    }
}

async fn answer(
    request: Request<Incoming>,
    name: Arc<str>,
    peer: SocketAddr,
    local: SocketAddr,
) -> Result<Response<Body>, Infallible> {
    let controls = match Controls::from_request(request.uri(), request.headers()) {
        Ok(controls) => controls,
        Err(error) => {
            return Ok(json_response(
                &name,
                StatusCode::BAD_REQUEST,
                &json!({ "name": &*name, "error": error }),
            ));
        }
    };
    if websocket::is_upgrade(&request) {
        return Ok(websocket::accept(request, &name));
    }
    if !controls.delay.is_zero() {
        tokio::time::sleep(controls.delay).await;
    }
    let status = controls.status.unwrap_or(StatusCode::OK);

    let description = json!({
        "name": &*name,
        "method": request.method().as_str(),
        "uri": request.uri().to_string(),
        "path": request.uri().path(),
        "version": format!("{:?}", request.version()),
        "headers": headers_of(&request),
        "peer": peer.to_string(),
        "local": local.to_string(),
    });
    let content_type = request.headers().get(header::CONTENT_TYPE).cloned();
    let body = match request.into_body().collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(error) => {
            let message = format!("reading the request body: {error}");
            return Ok(json_response(
                &name,
                StatusCode::BAD_REQUEST,
                &json!({ "name": &*name, "error": message }),
            ));
        }
    };

    if let Some(count) = controls.chunks {
        return Ok(streamed(&name, status, count, controls.chunk_delay));
    }
    if controls.echo {
        let mut response = response_for(&name, status, Full::new(body).boxed());
        if let Some(content_type) = content_type {
            response
                .headers_mut()
                .insert(header::CONTENT_TYPE, content_type);
        }
        return Ok(response);
    }
    let mut description = description;
    description["body_length"] = json!(body.len());
    Ok(json_response(&name, status, &description))
}

/// Header values grouped by name, in the order received.
fn headers_of<B>(request: &Request<B>) -> BTreeMap<String, Vec<String>> {
    let mut headers: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (name, value) in request.headers() {
        let value = String::from_utf8_lossy(value.as_bytes()).into_owned();
        headers
            .entry(name.as_str().to_string())
            .or_default()
            .push(value);
    }
    headers
}

/// `count` lines `chunk I of N`, each sent as its own frame after `pause`.
fn streamed(name: &str, status: StatusCode, count: u32, pause: Duration) -> Response<Body> {
    let chunks = futures::stream::unfold(1u32, move |index| async move {
        if index > count {
            return None;
        }
        if index > 1 && !pause.is_zero() {
            tokio::time::sleep(pause).await;
        }
        let frame = Frame::data(Bytes::from(format!("chunk {index} of {count}\n")));
        Some((Ok::<_, Infallible>(frame), index + 1))
    });
    let mut response = response_for(name, status, StreamBody::new(chunks).boxed());
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static("text/plain"),
    );
    response
}

pub(crate) fn json_response(
    name: &str,
    status: StatusCode,
    body: &serde_json::Value,
) -> Response<Body> {
    let mut response = response_for(
        name,
        status,
        Full::new(Bytes::from(body.to_string())).boxed(),
    );
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static("application/json"),
    );
    response
}

pub(crate) fn response_for(name: &str, status: StatusCode, body: Body) -> Response<Body> {
    let mut response = Response::new(body);
    *response.status_mut() = status;
    if let Ok(value) = header::HeaderValue::from_str(name) {
        response.headers_mut().insert("x-backend-name", value);
    }
    response
}
