//! `mesh-test-backend`: the backend every Mesh end-to-end test talks to.
//!
//! HTTP (default): HTTP/1.1 and h2c on the same port. Every answer carries the backend's
//! name (`x-backend-name` header and the JSON body) and the request it saw: method, URI,
//! version, headers, peer. Query parameters or `x-backend-*` headers control the answer:
//!
//! | control                              | effect                                          |
//! |--------------------------------------|-------------------------------------------------|
//! | `status=503` / `x-backend-status`    | answer with that status                         |
//! | `delay=250ms` / `x-backend-delay`    | wait before answering (`ms`, `s`, or plain ms)  |
//! | `echo=1` / `x-backend-echo`          | answer with the request body instead of JSON    |
//! | `chunks=N` / `x-backend-chunks`      | stream N lines `chunk I of N`                   |
//! | `chunk-delay=50ms` / `x-backend-chunk-delay` | pause between chunks                    |
//!
//! A bad control value gets `400` with a JSON `error`. A WebSocket upgrade is accepted and
//! every message is echoed. `--tcp-echo` / `--udp-echo` echo bytes instead; with
//! `--announce` a TCP connection first receives `NAME\n` and UDP replies start with `NAME `.

mod controls;
mod echo;
mod http_server;
mod websocket;

use std::net::SocketAddr;

use anyhow::Context;
use clap::Parser;

#[derive(Debug, Parser)]
#[command(
    name = "mesh-test-backend",
    about = "Test backend for Mesh: HTTP/h2c/WebSocket, TCP or UDP echo"
)]
struct Args {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8080")]
    listen: SocketAddr,
    /// Name reported in every answer (default: the listen address).
    #[arg(long)]
    name: Option<String>,
    /// Echo TCP bytes instead of serving HTTP.
    #[arg(long, conflicts_with = "udp_echo")]
    tcp_echo: bool,
    /// Echo UDP datagrams instead of serving HTTP.
    #[arg(long)]
    udp_echo: bool,
    /// TCP/UDP echo: send the name first (TCP) or prefix replies with it (UDP).
    #[arg(long)]
    announce: bool,
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    match run().await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            // One line with the cause chain: it ends up in the harness's start-up errors.
            eprintln!("mesh-test-backend: {error:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn run() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_target(false)
        .init();
    let args = Args::parse();
    let name = args.name.unwrap_or_else(|| args.listen.to_string());
    if args.tcp_echo {
        let listener = tokio::net::TcpListener::bind(args.listen)
            .await
            .with_context(|| format!("binding TCP {}", args.listen))?;
        tracing::info!(%name, addr = %args.listen, "listening (tcp echo)");
        echo::serve_tcp(listener, name, args.announce).await
    } else if args.udp_echo {
        let socket = tokio::net::UdpSocket::bind(args.listen)
            .await
            .with_context(|| format!("binding UDP {}", args.listen))?;
        tracing::info!(%name, addr = %args.listen, "listening (udp echo)");
        echo::serve_udp(socket, name, args.announce).await
    } else {
        let listener = tokio::net::TcpListener::bind(args.listen)
            .await
            .with_context(|| format!("binding TCP {}", args.listen))?;
        tracing::info!(%name, addr = %args.listen, "listening (http, h2c, websocket)");
        http_server::serve(listener, name).await
    }
}
