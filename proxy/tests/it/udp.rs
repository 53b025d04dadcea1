//! UDP routers through real sockets: datagrams reach the router's service, replies come back
//! from the entry point, a client keeps its server for the session, and sessions of
//! different clients are balanced.
use std::net::SocketAddr;

use mesh_proxy::Config;
use mesh_proxy::config::EntryPoint;
use tokio::net::UdpSocket;

use crate::support::TestProxy;

/// A UDP server answering every datagram with `"{name}: {datagram}"`.
struct UdpEcho {
    addr: SocketAddr,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for UdpEcho {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl UdpEcho {
    async fn start(name: &'static str) -> UdpEcho {
        let socket = UdpSocket::bind("127.0.0.1:0")
            .await
            .expect("udp backend binds");
        let addr = socket.local_addr().expect("address");
        let task = tokio::spawn(async move {
            let mut buffer = [0u8; 1500];
            loop {
                let Ok((length, from)) = socket.recv_from(&mut buffer).await else {
                    continue;
                };
                let answer = format!("{name}: {}", String::from_utf8_lossy(&buffer[..length]));
                let _ = socket.send_to(answer.as_bytes(), from).await;
            }
        });
        UdpEcho { addr, task }
    }
}

async fn ask(client: &UdpSocket, proxy: SocketAddr, question: &str) -> (String, SocketAddr) {
    client
        .send_to(question.as_bytes(), proxy)
        .await
        .expect("send");
    let mut buffer = [0u8; 1500];
    let (length, from) = client.recv_from(&mut buffer).await.expect("reply");
    (
        String::from_utf8_lossy(&buffer[..length]).into_owned(),
        from,
    )
}

#[tokio::test]
async fn datagrams_reach_the_service_and_sessions_stick_to_their_server() {
    let first = UdpEcho::start("first").await;
    let second = UdpEcho::start("second").await;
    let proxy = TestProxy::start_with(|config| {
        let (name, dns) = EntryPoint::parse_named("dns=127.0.0.1:0/udp").expect("entry point");
        config.entry_points.insert(name, dns);
    })
    .await;
    let dns = proxy
        .running
        .entry_point("dns")
        .expect("dns entry point is bound");
    let yaml = format!(
        "udp:\n  routers:\n    resolver: {{service: dns, entryPoints: [dns]}}\n  services:\n    dns: {{loadBalancer: {{servers: [{{address: \"{}\"}}, {{address: \"{}\"}}]}}}}\n",
        first.addr, second.addr
    );
    proxy.proxy.apply(Config::from_yaml(&yaml).expect("config"));
    let generation = proxy.proxy.current();
    assert!(
        generation.udp.routers["resolver"].errors.is_empty(),
        "{:?}",
        generation.udp.routers
    );

    let alice = UdpSocket::bind("127.0.0.1:0").await.expect("client");
    let bob = UdpSocket::bind("127.0.0.1:0").await.expect("client");
    let (answer, from) = ask(&alice, dns, "a?").await;
    assert_eq!(answer, "first: a?");
    assert_eq!(from, dns, "replies come from the entry point");
    assert_eq!(
        ask(&bob, dns, "b?").await.0,
        "second: b?",
        "a new session goes to the next server"
    );
    assert_eq!(
        ask(&alice, dns, "again?").await.0,
        "first: again?",
        "a session keeps its server"
    );
}
