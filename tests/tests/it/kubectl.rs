//! Printer columns and the `mesh` category, seen through the real kubectl.

use std::path::Path;

use kube::api::{Api, DynamicObject, Patch, PatchParams, PostParams};
use mesh_tests::{apply_yaml_file, workspace_root};
use serde_json::json;

use crate::kinds::{self, KINDS};

async fn kubectl(kubeconfig: &Path, args: &[&str]) -> anyhow::Result<String> {
    let output = tokio::process::Command::new("kubectl")
        .arg(format!("--kubeconfig={}", kubeconfig.display()))
        .args(args)
        .output()
        .await
        .map_err(|error| anyhow::anyhow!("running kubectl (is it on PATH?): {error}"))?;
    anyhow::ensure!(
        output.status.success(),
        "kubectl {} failed ({}): {}",
        args.join(" "),
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    Ok(String::from_utf8(output.stdout)?)
}

/// The header's column names and the row whose first column is `name`.
fn table(output: &str, name: &str) -> anyhow::Result<(Vec<String>, String)> {
    let mut lines = output.lines();
    let header = lines
        .next()
        .ok_or_else(|| anyhow::anyhow!("empty kubectl output"))?;
    let columns = header.split_whitespace().map(String::from).collect();
    let row = lines
        .find(|line| line.split_whitespace().next() == Some(name))
        .ok_or_else(|| anyhow::anyhow!("no row for {name} in:\n{output}"))?;
    Ok((columns, row.to_string()))
}

#[tokio::test]
async fn get_ingressroutes_shows_ready_and_reason_and_wide_adds_message() -> anyhow::Result<()> {
    let (plane, client, namespace) = crate::admin_in_fresh_namespace().await?;
    let api: Api<DynamicObject> =
        Api::namespaced_with(client, &namespace, &kinds::ingress_route().api_resource());
    api.create(
        &PostParams::default(),
        &serde_json::from_value(kinds::sample_ingress_route("shop"))?,
    )
    .await?;
    let message = "routes[0].services[0]: Service default/whoami not found";
    let status = json!({ "status": kinds::not_ready_status(1, message) });
    api.patch_status("shop", &PatchParams::default(), &Patch::Merge(&status))
        .await?;

    let output = kubectl(
        plane.admin_kubeconfig(),
        &["get", "ingressroutes", "-n", &namespace],
    )
    .await?;
    let (columns, row) = table(&output, "shop")?;
    for column in ["NAME", "READY", "REASON", "ENTRYPOINTS", "AGE"] {
        assert!(
            columns.iter().any(|c| c == column),
            "no {column} column in:\n{output}"
        );
    }
    assert!(
        !columns.iter().any(|c| c == "MESSAGE"),
        "MESSAGE belongs to -o wide:\n{output}"
    );
    let cells: Vec<&str> = row.split_whitespace().collect();
    let cell = |column: &str| {
        columns
            .iter()
            .position(|c| c == column)
            .and_then(|index| cells.get(index).copied())
    };
    assert_eq!(cell("READY"), Some("False"), "{output}");
    assert_eq!(cell("REASON"), Some("BackendNotFound"), "{output}");

    let wide = kubectl(
        plane.admin_kubeconfig(),
        &["get", "ingressroutes", "-n", &namespace, "-o", "wide"],
    )
    .await?;
    let (wide_columns, wide_row) = table(&wide, "shop")?;
    assert!(
        wide_columns.iter().any(|c| c == "MESSAGE"),
        "no MESSAGE column in:\n{wide}"
    );
    assert!(
        wide_row.contains(message),
        "the message is missing from:\n{wide}"
    );

    // The short name works too.
    let short = kubectl(
        plane.admin_kubeconfig(),
        &["get", "ir", "-n", &namespace, "-o", "name"],
    )
    .await?;
    assert_eq!(short.trim(), "ingressroute.mesh.io/shop");
    Ok(())
}

#[tokio::test]
async fn get_mesh_lists_every_kind() -> anyhow::Result<()> {
    let (plane, client, namespace) = crate::admin_in_fresh_namespace().await?;
    let dir = workspace_root().join("examples/kinds");
    for entry in std::fs::read_dir(&dir)
        .map_err(|error| anyhow::anyhow!("reading {}: {error}", dir.display()))?
    {
        let path = entry?.path();
        if path.extension().is_some_and(|ext| ext == "yaml") {
            apply_yaml_file(&client, &path, &namespace).await?;
        }
    }

    let output = kubectl(
        plane.admin_kubeconfig(),
        &["get", "mesh", "-n", &namespace, "-o", "name"],
    )
    .await?;
    for kind in &KINDS {
        let prefix = format!("{}.mesh.io/", kind.kind.to_lowercase());
        assert!(
            output.lines().any(|line| line.starts_with(&prefix)),
            "no {} in `kubectl get mesh`:\n{output}",
            kind.kind
        );
    }
    Ok(())
}
