//! Tests of the `kubectl-mesh` binary that need no cluster (`lint`, usage errors, the admin
//! API's error paths).

mod admin_errors;
mod lint;

use std::process::{Command, Output};

pub fn kubectl_mesh() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_kubectl-mesh"));
    // The caller's environment must not pick another admin API or cluster.
    command
        .env_remove("MESH_ADMIN_URL")
        .env_remove("KUBECONFIG")
        .env("NO_COLOR", "1");
    command
}

/// Standard output, standard error and the exit code of a finished run.
pub fn outcome(output: &Output) -> (String, String, Option<i32>) {
    (
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
        output.status.code(),
    )
}

#[test]
fn usage_errors_exit_2_and_name_kubectl_mesh() {
    let output = kubectl_mesh().arg("no-such-command").output().unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("kubectl mesh"), "{stderr}");
}
