//! Applying configurations while traffic flows: no request fails, counters survive.
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use http::StatusCode;

use crate::support::{EchoBackend, TestProxy, get, http1_client};

fn config(iteration: usize, blue: &str, green: &str) -> String {
    // The served router stays; its backend alternates and an extra router comes and goes,
    // so every apply changes the table.
    let backend = if iteration.is_multiple_of(2) {
        blue
    } else {
        green
    };
    format!(
        r#"
http:
  routers:
    app: {{rule: "Host(`app.test`)", service: app}}
    extra-{iteration}: {{rule: "Host(`extra{iteration}.test`)", service: app}}
  services:
    app: {{loadBalancer: {{servers: [{{url: "{backend}"}}]}}}}
"#
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hundred_applies_under_load_fail_no_request() {
    let blue = EchoBackend::start("blue").await;
    let green = EchoBackend::start("green").await;
    let proxy = TestProxy::start().await;
    proxy.apply_yaml(&config(0, &blue.url(), &green.url()));

    let stop = Arc::new(AtomicBool::new(false));
    let served = Arc::new(AtomicUsize::new(0));
    let mut clients = Vec::new();
    for _ in 0..4 {
        let (stop, served, web) = (Arc::clone(&stop), Arc::clone(&served), proxy.web());
        clients.push(tokio::spawn(async move {
            let client = http1_client();
            let mut failures = Vec::new();
            while !stop.load(Ordering::Relaxed) {
                let answer = get(&client, web, "app.test", "/ping").await;
                if answer.status != StatusCode::OK || !answer.body.ends_with("GET /ping") {
                    failures.push((answer.status, answer.body));
                }
                served.fetch_add(1, Ordering::Relaxed);
            }
            failures
        }));
    }

    for iteration in 1..=100 {
        let report = proxy.apply_yaml(&config(iteration, &blue.url(), &green.url()));
        assert!(report.is_clean(), "{report:?}");
        // Let requests run between applies.
        let before = served.load(Ordering::Relaxed);
        while served.load(Ordering::Relaxed) < before + 2 {
            tokio::task::yield_now().await;
        }
    }
    stop.store(true, Ordering::Relaxed);
    for client in clients {
        let failures = client.await.expect("client task ends");
        assert!(failures.is_empty(), "failed requests: {failures:?}");
    }
    assert_eq!(proxy.proxy.generation(), 101);
    assert!(served.load(Ordering::Relaxed) >= 200);

    // The router kept its name through every apply, so its counter kept counting.
    let generation = proxy.proxy.current();
    assert!(generation.report.routers.contains_key("app"));
    let (_, routers) = crate::support::admin_json(&proxy, "/api/http/routers/app").await;
    let requests = routers["stats"]["requests"].as_u64().expect("router stats");
    assert!(
        requests as usize >= served.load(Ordering::Relaxed) - 4,
        "{routers}"
    );
}
