//! The admin API, shaped like Traefik's so existing tools carry over: `/api/overview`,
//! `/api/entrypoints`, `/api/{http,tcp,udp}/{routers,services,middlewares}[/{name}]`,
//! `/api/rawdata`, `/api/version`, plus `/api/status` (the operator's conditions),
//! `/api/certificates` (the served certificates, never their keys),
//! `/metrics` (Prometheus), `/ping` (liveness) and `/ready` (readiness: a configuration is
//! applied).
mod certificates;
mod views;

use std::convert::Infallible;
use std::sync::Arc;

use http::{Method, Request, Response, StatusCode, header};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use serde::Serialize;
use tokio::net::TcpListener;

use crate::body::{self, Body};
use crate::runtime::Proxy;

pub(crate) async fn serve(listener: TcpListener, proxy: Proxy) {
    let builder = Arc::new(auto::Builder::new(TokioExecutor::new()));
    loop {
        let (stream, _) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(err) => {
                tracing::warn!(error = %err, "admin accept failed");
                tokio::time::sleep(std::time::Duration::from_millis(20)).await;
                continue;
            }
        };
        let proxy = proxy.clone();
        let builder = Arc::clone(&builder);
        tokio::spawn(async move {
            let service = service_fn(move |req: Request<Incoming>| {
                let response = handle(&proxy, &req);
                async move { Ok::<_, Infallible>(response) }
            });
            if let Err(err) = builder
                .serve_connection(TokioIo::new(stream), service)
                .await
            {
                tracing::debug!(error = %err, "admin connection ended with an error");
            }
        });
    }
}

/// Answers one admin request (no body is read: every endpoint is a GET).
pub fn handle<B>(proxy: &Proxy, req: &Request<B>) -> Response<Body> {
    if req.method() != Method::GET && req.method() != Method::HEAD {
        return text(StatusCode::METHOD_NOT_ALLOWED, "method not allowed\n");
    }
    let path = req.uri().path();
    let query = req.uri().query().unwrap_or("");
    let segments: Vec<String> = path
        .trim_matches('/')
        .split('/')
        .map(percent_decode)
        .collect();
    let segments: Vec<&str> = segments.iter().map(String::as_str).collect();
    let generation = proxy.current();
    match segments.as_slice() {
        ["ping"] => text(StatusCode::OK, "OK"),
        // Generation 0 is the empty table of a proxy that has applied nothing yet; the
        // operator applies its first configuration only after its initial lists, so a pod
        // is ready once the cluster's routes are served, not merely once it listens.
        ["ready"] if generation.number > 0 => text(StatusCode::OK, "OK"),
        ["ready"] => text(
            StatusCode::SERVICE_UNAVAILABLE,
            "not ready: no configuration applied yet\n",
        ),
        ["metrics"] => {
            let counters = &proxy.shared.counters;
            let rendered = crate::metrics::render_prometheus(
                &counters.router_snapshots(),
                &counters.service_snapshots(),
                generation.number,
            );
            let mut res = Response::new(body::full(rendered));
            res.headers_mut().insert(
                header::CONTENT_TYPE,
                header::HeaderValue::from_static("text/plain; version=0.0.4"),
            );
            res
        }
        ["api", "version"] => json(&serde_json::json!({
            "Version": env!("CARGO_PKG_VERSION"),
            "Codename": "mesh",
        })),
        ["api", "overview"] => json(&views::overview(proxy, &generation)),
        ["api", "entrypoints"] => json(&views::entry_points(proxy)),
        ["api", "entrypoints", name] => found(
            views::entry_points(proxy)
                .into_iter()
                .find(|e| e.name == *name),
            "entry point",
        ),
        ["api", "certificates"] => json(&certificates::certificates(&generation)),
        ["api", "rawdata"] => json(&views::raw_data(&generation)),
        ["api", "status"] => {
            let source = proxy
                .shared
                .status_source
                .read()
                .unwrap_or_else(|p| p.into_inner())
                .clone();
            match source {
                Some(source) => json(&source()),
                None => {
                    not_found("no status source is attached (the proxy runs without an operator)")
                }
            }
        }
        ["api", "http", "routers"] => json(&filter(views::http_routers(proxy, &generation), query)),
        ["api", "http", "routers", name] => found(
            views::http_routers(proxy, &generation)
                .into_iter()
                .find(|r| r.name == *name),
            "router",
        ),
        ["api", "http", "services"] => {
            json(&filter(views::http_services(proxy, &generation), query))
        }
        ["api", "http", "services", name] => found(
            views::http_services(proxy, &generation)
                .into_iter()
                .find(|s| s.name == *name),
            "service",
        ),
        ["api", "http", "middlewares"] => {
            json(&filter(views::http_middlewares(&generation), query))
        }
        ["api", "http", "middlewares", name] => found(
            views::http_middlewares(&generation)
                .into_iter()
                .find(|m| m.name == *name),
            "middleware",
        ),
        [
            "api",
            kind @ ("tcp" | "udp"),
            section @ ("routers" | "services" | "middlewares"),
        ] => json(&views::layer4_section(&generation, kind, section)),
        [
            "api",
            kind @ ("tcp" | "udp"),
            section @ ("routers" | "services" | "middlewares"),
            name,
        ] => found(
            views::layer4_section(&generation, kind, section)
                .into_iter()
                .find(|o| o.name == *name),
            "object",
        ),
        _ => not_found("404 page not found"),
    }
}

/// Objects that carry a name and a status, for `?search=` and `?status=` filters.
pub(crate) trait Listed {
    fn name(&self) -> &str;
    fn status(&self) -> &str;
}

fn filter<T: Listed>(items: Vec<T>, query: &str) -> Vec<T> {
    let mut search = None;
    let mut status = None;
    for pair in query.split('&') {
        match pair.split_once('=') {
            Some(("search", value)) if !value.is_empty() => search = Some(percent_decode(value)),
            Some(("status", value)) if !value.is_empty() => status = Some(percent_decode(value)),
            _ => {}
        }
    }
    items
        .into_iter()
        .filter(|item| search.as_deref().is_none_or(|s| item.name().contains(s)))
        .filter(|item| status.as_deref().is_none_or(|s| item.status() == s))
        .collect()
}

fn found<T: Serialize>(item: Option<T>, what: &str) -> Response<Body> {
    match item {
        Some(item) => json(&item),
        None => not_found(&format!("{what} not found")),
    }
}

fn json<T: Serialize + ?Sized>(value: &T) -> Response<Body> {
    match serde_json::to_vec(value) {
        Ok(bytes) => {
            let mut res = Response::new(body::full(bytes));
            res.headers_mut().insert(
                header::CONTENT_TYPE,
                header::HeaderValue::from_static("application/json"),
            );
            res
        }
        Err(err) => {
            tracing::error!(error = %err, "admin API serialisation failed");
            text(StatusCode::INTERNAL_SERVER_ERROR, "serialisation failed\n")
        }
    }
}

fn not_found(message: &str) -> Response<Body> {
    let mut res = json(&serde_json::json!({ "message": message }));
    *res.status_mut() = StatusCode::NOT_FOUND;
    res
}

fn text(status: StatusCode, text: &'static str) -> Response<Body> {
    let mut res = Response::new(body::full(text));
    *res.status_mut() = status;
    res.headers_mut().insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static("text/plain"),
    );
    res
}

/// Router names carry `@` and such; clients may percent-encode them.
fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        if bytes[i] == b'%'
            && i + 2 < bytes.len()
            && let (Some(hi), Some(lo)) = (hex(bytes[i + 1]), hex(bytes[i + 2]))
        {
            out.push((hi * 16 + lo) as u8);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_names_and_leaves_broken_escapes() {
        assert_eq!(percent_decode("a%40b"), "a@b");
        assert_eq!(percent_decode("100%"), "100%");
        assert_eq!(percent_decode("%zz"), "%zz");
    }
}
