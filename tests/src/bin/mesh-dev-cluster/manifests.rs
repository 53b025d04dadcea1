//! `--apply DIR`: every object of the folder applied on its own, each outcome printed, so
//! an object the apiserver refuses (a loopback EndpointSlice) does not hold back the rest.

use std::path::Path;

use anyhow::Context as _;
use mesh_tests::{apply_each_in_file, yaml_files_in};

use crate::say;

/// Namespace of objects that name none, as with `kubectl apply`.
const DEFAULT_NAMESPACE: &str = "default";

/// Applies the folder and prints one line per object. A file that cannot be read or parsed
/// is reported like a refused object; only an unreadable folder is an error.
pub async fn apply_folder(client: &kube::Client, dir: &Path) -> anyhow::Result<()> {
    let files = yaml_files_in(dir).with_context(|| format!("reading {}", dir.display()))?;
    say(&format!(
        "applying {} ({} YAML files)",
        dir.display(),
        files.len()
    ));
    let (mut applied, mut refused) = (0, 0);
    for file in files {
        let file_name = file
            .file_name()
            .map(|name| name.to_string_lossy().into_owned())
            .unwrap_or_default();
        match apply_each_in_file(client, &file, DEFAULT_NAMESPACE).await {
            Ok(outcomes) => {
                for outcome in outcomes {
                    match outcome.refusal() {
                        None => {
                            applied += 1;
                            println!("  applied  {} ({file_name})", outcome.object);
                        }
                        Some(reason) => {
                            refused += 1;
                            println!("  REFUSED  {} ({file_name}): {reason}", outcome.object);
                        }
                    }
                }
            }
            Err(error) => {
                refused += 1;
                println!("  SKIPPED  {file_name}: {}", error.with_causes());
            }
        }
    }
    say(&format!(
        "{}: {applied} objects applied, {refused} refused or skipped",
        dir.display()
    ));
    Ok(())
}
