//! `kubectl mesh version`: the plugin's and the controllers' versions.
//!
//! The plugin's version always prints; the controllers' come from their admin API
//! (`/api/version`), and when none can be reached the reason is printed instead (exit 0:
//! the plugin's own version was still answered).

use crate::admin::fetch_controllers;
use crate::cli::GlobalArgs;
use crate::error::CliResult;
use crate::model::ControllerSet;

pub async fn run(global: &GlobalArgs) -> CliResult {
    let controllers = fetch_controllers(global, None).await;
    print!(
        "{}",
        render(controllers.as_ref().map_err(|error| error.message.as_str()))
    );
    Ok(())
}

fn render(controllers: Result<&ControllerSet, &str>) -> String {
    let mut out = format!("kubectl-mesh {}\n", env!("CARGO_PKG_VERSION"));
    match controllers {
        Ok(set) => {
            for controller in &set.controllers {
                let version = match &controller.error {
                    Some(error) => format!("unknown ({error})"),
                    None => controller.version.clone(),
                };
                out.push_str(&format!("controller {}: {version}\n", controller.name));
            }
        }
        Err(reason) => out.push_str(&format!("controllers: unknown ({reason})\n")),
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::ControllerView;

    #[test]
    fn each_controller_shows_its_version_or_why_not() {
        let set = ControllerSet {
            controllers: vec![
                ControllerView {
                    name: "mesh-0".into(),
                    version: "0.1.0".into(),
                    ..ControllerView::default()
                },
                ControllerView {
                    name: "mesh-1".into(),
                    error: Some("connection refused".into()),
                    ..ControllerView::default()
                },
            ],
            lease_holder: None,
        };
        let text = render(Ok(&set));
        assert!(text.contains("controller mesh-0: 0.1.0\n"), "{text}");
        assert!(
            text.contains("controller mesh-1: unknown (connection refused)"),
            "{text}"
        );
        let text = render(Err("no Mesh controller pods match"));
        assert!(text.ends_with("controllers: unknown (no Mesh controller pods match)\n"));
    }
}
