use std::process::Command;
use std::time::Duration;

use mesh_bench::BACKEND_BODY;
use mesh_bench::configs::dynamic_config_yaml;
use mesh_bench::probe;
use mesh_bench::process::{Spawned, free_loopback_address};
use mesh_bench::routes::RouteSet;

use crate::bench_binary;

const START: Duration = Duration::from_secs(60);

#[test]
fn serve_mesh_forwards_the_last_declared_host_to_the_backend() {
    let dir = tempfile::tempdir().unwrap();
    let backend_address = free_loopback_address().unwrap();
    let listen = backend_address.to_string();
    let mut backend = Spawned::start(
        "backend",
        0,
        bench_binary(),
        ["serve-backend", "--listen", &listen],
        &[],
        dir.path(),
    )
    .unwrap();
    backend
        .wait_serving(backend_address, "any", BACKEND_BODY, START)
        .unwrap();

    let routes = RouteSet::new(500, backend_address);
    let config = dir.path().join("mesh.yml");
    std::fs::write(&config, dynamic_config_yaml(&routes)).unwrap();
    let mesh_address = free_loopback_address().unwrap();
    let (config, listen) = (config.display().to_string(), mesh_address.to_string());
    let mut mesh = Spawned::start(
        "mesh",
        1,
        bench_binary(),
        [
            "serve-mesh",
            "--config",
            &config,
            "--listen",
            &listen,
            "--threads",
            "1",
        ],
        &[],
        dir.path(),
    )
    .unwrap();
    mesh.wait_serving(mesh_address, &routes.target_host(), BACKEND_BODY, START)
        .unwrap();

    let first = probe::get(mesh_address, "h0.bench.test").unwrap();
    assert_eq!((first.status, first.body.as_slice()), (200, BACKEND_BODY));
    let unknown = probe::get(mesh_address, "h500.bench.test").unwrap();
    assert_eq!(
        unknown.status, 404,
        "a host with no router must not reach the backend"
    );
}

#[test]
fn serve_mesh_refuses_a_configuration_with_a_router_left_out() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("broken.yml");
    std::fs::write(
        &config,
        "http:\n  routers:\n    orphan: {rule: \"Host(`a.test`)\", service: nowhere}\n",
    )
    .unwrap();
    let listen = free_loopback_address().unwrap().to_string();
    let output = Command::new(bench_binary())
        .args(["serve-mesh", "--config"])
        .arg(&config)
        .args(["--listen", &listen])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success());
    assert!(
        stderr.contains("Mesh left routers out: orphan:"),
        "{stderr}"
    );
}

#[test]
fn serve_mesh_reports_an_unreadable_configuration() {
    let listen = free_loopback_address().unwrap().to_string();
    let output = Command::new(bench_binary())
        .args([
            "serve-mesh",
            "--config",
            "/nonexistent/mesh.yml",
            "--listen",
            &listen,
        ])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success());
    assert!(
        stderr.contains("cannot read Mesh configuration /nonexistent/mesh.yml"),
        "{stderr}"
    );
}
