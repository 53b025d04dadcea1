//! A minimal HTTP client for the tests (HTTP/1.1 or h2c prior knowledge).

use bytes::Bytes;
use http::{HeaderMap, Request, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;

pub struct Answer {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Answer {
    pub fn json(&self) -> anyhow::Result<serde_json::Value> {
        Ok(serde_json::from_slice(&self.body)?)
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

pub async fn send(request: Request<Full<Bytes>>, h2c: bool) -> anyhow::Result<Answer> {
    let client = Client::builder(TokioExecutor::new())
        .http2_only(h2c)
        .build_http();
    let response = client.request(request).await?;
    let (parts, body) = response.into_parts();
    let body = body.collect().await?.to_bytes();
    Ok(Answer {
        status: parts.status,
        headers: parts.headers,
        body,
    })
}

pub async fn get(url: &str) -> anyhow::Result<Answer> {
    send(Request::get(url).body(Full::default())?, false).await
}
