//! The backend every target forwards to: HTTP/1.1 keep-alive, a static 12-byte body, one
//! thread (it shares the load core with wrk, so it must stay cheap).
use std::convert::Infallible;
use std::net::SocketAddr;

use bytes::Bytes;
use http_body_util::Full;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;

use crate::BACKEND_BODY;

/// Serves every connection `listener` accepts until the task is dropped.
pub async fn serve(listener: TcpListener) {
    loop {
        let stream = match listener.accept().await {
            Ok((stream, _)) => stream,
            Err(err) => {
                tracing::warn!(error = %err, "backend: accept failed");
                tokio::time::sleep(std::time::Duration::from_millis(20)).await;
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        tokio::spawn(async move {
            let service = service_fn(|_req: Request<hyper::body::Incoming>| async {
                Ok::<_, Infallible>(Response::new(Full::new(Bytes::from_static(BACKEND_BODY))))
            });
            if let Err(err) = http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await
            {
                tracing::debug!(error = %err, "backend: connection ended with an error");
            }
        });
    }
}

/// The `serve-backend` subcommand: binds `address` and serves on the calling thread.
pub fn run(address: SocketAddr) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let listener = TcpListener::bind(address)
            .await
            .map_err(|err| anyhow::anyhow!("backend: cannot listen on {address}: {err}"))?;
        serve(listener).await;
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn answers_every_request_with_the_twelve_byte_body() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let server = tokio::spawn(serve(listener));
        let response = tokio::task::spawn_blocking(move || crate::probe::get(address, "anything"))
            .await
            .unwrap()
            .unwrap();
        server.abort();
        assert_eq!(response.status, 200);
        assert_eq!(response.body, BACKEND_BODY);
        assert_eq!(BACKEND_BODY.len(), 12);
    }
}
