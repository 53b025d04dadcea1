//! `kubectl mesh lint` on manifest folders: the good one is clean, each broken one names
//! the object and the operator's reason, a malformed file is named, and exit codes follow.

use std::path::{Path, PathBuf};

use crate::{kubectl_mesh, outcome};

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/it/fixtures")
}

/// Runs `kubectl mesh lint` from the fixtures folder, so paths print relative and the
/// output is the same on every machine.
fn lint(args: &[&str]) -> (String, String, Option<i32>) {
    let output = kubectl_mesh()
        .current_dir(fixtures())
        .arg("lint")
        .args(args)
        .output()
        .expect("kubectl-mesh runs");
    outcome(&output)
}

#[test]
fn the_good_folder_has_no_findings_and_exits_0() {
    let (stdout, stderr, code) = lint(&["-f", "good"]);
    assert_eq!(code, Some(0), "{stdout}{stderr}");
    assert_eq!(stdout, "✔ No problems found in 4 objects\n");
}

#[test]
fn a_port_the_service_does_not_have_is_an_error() {
    let (stdout, stderr, code) = lint(&["-f", "dangling-port"]);
    assert_eq!(code, Some(1), "{stdout}{stderr}");
    insta::assert_snapshot!("dangling_port", stdout);
}

#[test]
fn a_rule_that_does_not_parse_is_an_error() {
    let (stdout, stderr, code) = lint(&["-f", "bad-rule"]);
    assert_eq!(code, Some(1), "{stdout}{stderr}");
    insta::assert_snapshot!("bad_rule", stdout);
}

#[test]
fn a_missing_middleware_is_an_error() {
    let (stdout, stderr, code) = lint(&["-f", "missing-middleware"]);
    assert_eq!(code, Some(1), "{stdout}{stderr}");
    insta::assert_snapshot!("missing_middleware", stdout);
}

#[test]
fn a_malformed_file_is_named_with_the_parse_error() {
    let (stdout, stderr, code) = lint(&["-f", "malformed"]);
    assert_eq!(code, Some(1), "{stdout}{stderr}");
    assert!(
        stdout.starts_with("ERROR ParseError File malformed/broken.yaml: document 0: "),
        "{stdout}"
    );
    insta::assert_snapshot!("malformed", stdout);
}

#[test]
fn several_folders_lint_together_errors_first() {
    let (stdout, _, code) = lint(&["-f", "good", "-f", "bad-rule/route.yaml", "-f", "malformed"]);
    assert_eq!(code, Some(1));
    let reasons: Vec<&str> = stdout
        .lines()
        .filter_map(|line| line.split(' ').nth(1))
        .collect();
    assert_eq!(reasons[..2], ["ParseError", "InvalidRule"], "{stdout}");
    assert!(stdout.ends_with("2 errors in 7 objects\n"), "{stdout}");
}

#[test]
fn json_output_is_the_list_of_findings() {
    let (stdout, _, code) = lint(&["-f", "missing-middleware", "-o", "json"]);
    assert_eq!(code, Some(1));
    insta::assert_snapshot!("missing_middleware_json", stdout);
    let findings: serde_json::Value = serde_json::from_str(&stdout).expect("JSON");
    assert_eq!(findings["kind"], "List");
    let first = &findings["items"][0];
    assert_eq!(first["level"], "error");
    assert_eq!(first["reason"], "MiddlewareNotFound");
    assert_eq!(first["kind"], "IngressRoute");
}

#[test]
fn json_output_of_a_clean_folder_is_an_empty_list() {
    let (stdout, _, code) = lint(&["-f", "good", "-o", "json"]);
    assert_eq!(code, Some(0));
    let list: serde_json::Value = serde_json::from_str(&stdout).expect("JSON");
    assert_eq!(list["kind"], "List");
    assert_eq!(list["items"], serde_json::json!([]));
}

#[test]
fn the_quickstart_shows_its_deliberately_broken_route() {
    let quickstart = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/quickstart");
    let (stdout, _, code) = lint(&["-f", quickstart.to_str().expect("utf-8 path")]);
    assert_eq!(code, Some(1), "{stdout}");
    assert_eq!(
        stdout,
        "ERROR BackendNotFound IngressRoute default/api: routes[0].services[0]: Service default/api not found\n\
         1 error in 5 objects\n"
    );
}

#[test]
fn a_path_that_does_not_exist_is_a_usage_error() {
    let (stdout, stderr, code) = lint(&["-f", "no-such-folder"]);
    assert_eq!(code, Some(2), "{stdout}");
    assert_eq!(
        stderr,
        "error: the path \"no-such-folder\" does not exist\n"
    );
}
