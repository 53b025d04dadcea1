//! Tests of the `kubectl-mesh` binary that need no cluster (`lint`, usage errors).

use std::process::Command;

fn kubectl_mesh() -> Command {
    Command::new(env!("CARGO_BIN_EXE_kubectl-mesh"))
}

#[test]
fn usage_errors_exit_2_and_name_kubectl_mesh() {
    let output = kubectl_mesh().arg("no-such-command").output().unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("kubectl mesh"), "{stderr}");
}
