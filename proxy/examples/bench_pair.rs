//! A proxy and a small backend for load tests (e.g. `wrk`), each on its own single-threaded
//! runtime so their CPU use can be pinned and measured apart.
//!
//! ```text
//! cargo run --release -p mesh-proxy --example bench_pair -- 127.0.0.1:8000 127.0.0.1:9100 [routers]
//! wrk -t1 -c50 -d8s -H 'Host: h0.test' http://127.0.0.1:8000/
//! ```
//! `routers` (default 1) Host routers `h0.test` .. `hN.test` all point at the backend.
use std::convert::Infallible;
use std::net::SocketAddr;

use bytes::Bytes;
use http_body_util::Full;
use hyper::Response;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use mesh_proxy::Proxy;
use mesh_proxy::config::service::{Server, ServersLoadBalancer, Service};
use mesh_proxy::config::{Config, EntryPoint, Router, StaticConfig};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let proxy_addr: SocketAddr = args
        .next()
        .unwrap_or_else(|| "127.0.0.1:8000".into())
        .parse()?;
    let backend_addr: SocketAddr = args
        .next()
        .unwrap_or_else(|| "127.0.0.1:9100".into())
        .parse()?;
    let routers: usize = args.next().map_or(Ok(1), |n| n.parse())?;

    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build();
        match runtime {
            Ok(runtime) => runtime.block_on(backend(backend_addr)),
            Err(err) => eprintln!("backend runtime: {err}"),
        }
    });

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        let mut static_config = StaticConfig { admin_address: None, ..StaticConfig::default() };
        let (name, ep) = EntryPoint::parse_named(&format!("web={proxy_addr}"))?;
        static_config.entry_points.insert(name, ep);
        let proxy = Proxy::new(static_config);
        let mut config = Config::default();
        let servers = ServersLoadBalancer {
            servers: vec![Server::new(format!("http://{backend_addr}"))],
            ..Default::default()
        };
        config.http.services.insert("backend".into(), Service::load_balancer(servers));
        for i in 0..routers {
            let router = Router {
                rule: format!("Host(`h{i}.test`)"),
                service: "backend".into(),
                ..Router::default()
            };
            config.http.routers.insert(format!("r{i}"), router);
        }
        let report = proxy.apply(config);
        println!(
            "proxy on {proxy_addr} -> backend {backend_addr}: {routers} routers applied in {:.1} ms",
            report.apply_seconds * 1e3
        );
        proxy.serve().await?;
        Ok::<_, Box<dyn std::error::Error>>(())
    })
}

async fn backend(addr: SocketAddr) {
    let listener = match tokio::net::TcpListener::bind(addr).await {
        Ok(listener) => listener,
        Err(err) => {
            eprintln!("backend bind {addr}: {err}");
            return;
        }
    };
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        let _ = stream.set_nodelay(true);
        tokio::spawn(async move {
            let service = service_fn(|_req| async {
                Ok::<_, Infallible>(Response::new(Full::new(Bytes::from_static(
                    b"hello world\n",
                ))))
            });
            let _ = auto::Builder::new(TokioExecutor::new())
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}
