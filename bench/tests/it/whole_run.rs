use std::process::Command;

use crate::bench_binary;

#[test]
fn proxy_and_load_on_the_same_core_is_refused() {
    let output = Command::new(bench_binary())
        .args(["--proxy-cpu", "0", "--load-cpu", "0"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success());
    assert!(stderr.contains("two different cores"), "{stderr}");
}

#[test]
fn bad_duration_is_refused_with_the_expected_form() {
    let output = Command::new(bench_binary())
        .args(["--duration", "fast"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success());
    assert!(stderr.contains("invalid duration `fast`"), "{stderr}");
}

/// A short run of Mesh alone, end to end: scenario tables, apply time, idle RSS, targets.
/// Without wrk the program must say how to install it instead.
#[test]
fn short_run_prints_every_section_or_says_how_to_install_wrk() {
    let output = Command::new(bench_binary())
        .args([
            "--proxies",
            "mesh",
            "--routers",
            "1,20",
            "--duration",
            "1s",
            "--warmup",
            "0s",
            "--rounds",
            "1",
            "--connections",
            "4",
            "--apply-routers",
            "20",
            "--nice",
            "1",
        ])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    let wrk_installed = std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default())
        .any(|dir| dir.join("wrk").is_file());
    if !wrk_installed {
        assert!(!output.status.success());
        assert!(stderr.contains("run bench/install-peers.sh"), "{stderr}");
        return;
    }
    assert!(output.status.success(), "{stdout}\n{stderr}");
    for section in [
        "niceness of every process of the benchmark: 1",
        "== 1 Host() router(s), request to the last-declared host h0.bench.test ==",
        "== 20 Host() router(s), request to the last-declared host h19.bench.test ==",
        "== apply time",
        "20 routers: first apply",
        "== Mesh idle RSS ==",
        "== targets ==",
        "Mesh req/s at 20 routers >= 0.9x at 1",
        "apply of 20 routers < 100 ms",
    ] {
        assert!(
            stdout.contains(section),
            "missing `{section}` in:\n{stdout}\n{stderr}"
        );
    }
    let mesh_rows = stdout.lines().filter(|l| l.starts_with("mesh ")).count();
    assert_eq!(
        mesh_rows, 2,
        "one measured Mesh row per scenario:\n{stdout}"
    );
    assert!(!stdout.contains("not measured:"), "{stdout}\n{stderr}");
    // Peers not selected: their targets have no figures, never a verdict.
    assert!(
        stdout.contains("[ n/a  ] req/s Mesh >= 0.9x nginx (1 routers)"),
        "{stdout}"
    );
}
