//! The admin API that cannot be reached: a clear error naming the URL, exit 2.

use crate::{kubectl_mesh, outcome};

/// A loopback URL where nothing listens (the port was free a moment ago).
fn closed_url() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port");
    let port = listener.local_addr().expect("address").port();
    drop(listener);
    format!("http://127.0.0.1:{port}")
}

#[test]
fn routes_and_certs_name_an_admin_url_that_does_not_answer() {
    let url = closed_url();
    for command in ["routes", "certs"] {
        let output = kubectl_mesh()
            .args([command, "--admin-url", &url])
            .output()
            .expect("kubectl-mesh runs");
        let (stdout, stderr, code) = outcome(&output);
        assert_eq!(code, Some(2), "{command}: {stdout}{stderr}");
        assert!(stderr.starts_with("error: "), "{stderr}");
        assert!(stderr.contains(&url), "{command} names the URL: {stderr}");
        assert!(stderr.contains("hint: "), "{stderr}");
        assert!(stdout.is_empty(), "{stdout}");
    }
}

#[test]
fn an_admin_url_that_is_not_a_url_is_a_usage_error() {
    let output = kubectl_mesh()
        .args(["routes", "--admin-url", "not a url"])
        .output()
        .expect("kubectl-mesh runs");
    let (_, stderr, code) = outcome(&output);
    assert_eq!(code, Some(2));
    assert!(stderr.contains("`not a url` is not a URL"), "{stderr}");
}
