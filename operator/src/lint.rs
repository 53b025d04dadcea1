//! Linting manifests offline (`kubectl mesh lint`): the same steps `mesh run --manifests`
//! takes (load the folders into a world, translate, apply to a proxy, fold the proxy's
//! verdict into the statuses), with a proxy that is never started, so what it refuses counts
//! too. The statuses then become findings: `Ready=False` is an error, `Degraded=True` a
//! warning, and a file that cannot be read or parsed is an error naming the file.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use clap::Parser as _;
use mesh_crds::status::{ConditionStatus, ConditionType};
use mesh_proxy::{Proxy, StaticConfig};
use serde::Serialize;

use crate::dataplane::verdict_of;
use crate::manifests::{LoadError, Loaded, MANIFESTS_SOURCE, load_roots};
use crate::options::ProviderOptions;
use crate::snapshot::ObjectRef;
use crate::status::apply_verdict;
use crate::translate::{ObjectStatus, translate};
use crate::world::World;

/// What the folders hold and what Mesh makes of them.
#[derive(Debug)]
pub struct LintReport {
    /// Objects loaded from the files (every kind, Services and Secrets included).
    pub objects: usize,
    /// Files or documents that could not be loaded.
    pub load_errors: Vec<LoadError>,
    /// The status of every object the controller owns, `Programmed` included.
    pub statuses: BTreeMap<ObjectRef, ObjectStatus>,
}

/// The statuses `mesh run --manifests roots` would write. Must run inside a Tokio runtime:
/// the proxy builds services (health checks) the way it does when serving.
pub fn lint(roots: &[PathBuf], options: &ProviderOptions, proxy: StaticConfig) -> LintReport {
    let Loaded { objects, errors } = load_roots(roots);
    let count = objects.len();
    let world = World::new();
    world.replace_source(MANIFESTS_SOURCE, objects);
    let mut translation = world.read(|view| translate(&view.snapshot, options));
    let proxy = Proxy::new(proxy);
    let verdict = verdict_of(&proxy.apply(std::mem::take(&mut translation.config)));
    let mut statuses = translation.statuses;
    apply_verdict(&mut statuses, &translation.router_owners, &verdict);
    LintReport {
        objects: count,
        load_errors: errors,
        statuses,
    }
}

/// The proxy settings `mesh run` starts with when given no flags (its default entry points).
pub fn default_proxy_settings() -> StaticConfig {
    match crate::cli::Cli::try_parse_from(["mesh", "run"]) {
        Ok(crate::cli::Cli {
            command: crate::cli::Command::Run(run),
        }) => run.static_config(),
        Err(_) => StaticConfig::default(),
    }
}

/// How bad a finding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    Error,
    Warning,
}

impl Level {
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Error => "ERROR",
            Level::Warning => "WARNING",
        }
    }
}

/// One problem, about an object or a file.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Finding {
    pub level: Level,
    /// The object's kind, or `File` for a file that did not load.
    pub kind: String,
    pub namespace: String,
    /// The object's name, or the file's path.
    pub name: String,
    pub reason: String,
    pub message: String,
}

impl Finding {
    /// `ERROR InvalidRule IngressRoute default/web: routes[0]: ...`, istioctl analyze style.
    pub fn line(&self) -> String {
        let subject = if self.namespace.is_empty() {
            self.name.clone()
        } else {
            format!("{}/{}", self.namespace, self.name)
        };
        format!(
            "{} {} {} {}: {}",
            self.level.as_str(),
            self.reason,
            self.kind,
            subject,
            self.message
        )
    }
}

impl LintReport {
    /// Every finding, errors first, then by kind, namespace and name.
    pub fn findings(&self) -> Vec<Finding> {
        let mut findings: Vec<Finding> = self.load_errors.iter().map(load_finding).collect();
        for (object, status) in &self.statuses {
            let finding = |level, condition: &crate::translate::ConditionState| Finding {
                level,
                reason: condition.reason.to_string(),
                kind: object.kind.as_str().to_owned(),
                namespace: object.namespace.clone(),
                name: object.name.clone(),
                message: condition.message.clone(),
            };
            if let Some(ready) = status
                .condition(ConditionType::Ready)
                .filter(|c| c.status == ConditionStatus::False)
            {
                findings.push(finding(Level::Error, ready));
            }
            if let Some(degraded) = status
                .condition(ConditionType::Degraded)
                .filter(|c| c.status == ConditionStatus::True)
            {
                findings.push(finding(Level::Warning, degraded));
            }
        }
        findings.sort();
        findings
    }
}

fn load_finding(error: &LoadError) -> Finding {
    let file = |path: &Path, reason: &str, message: String| Finding {
        level: Level::Error,
        reason: reason.to_owned(),
        kind: "File".to_owned(),
        namespace: String::new(),
        name: path.display().to_string(),
        message,
    };
    match error {
        LoadError::Read { path, source } => {
            file(path, "ParseError", format!("cannot read: {source}"))
        }
        LoadError::Yaml {
            path,
            index,
            source,
        } => file(path, "ParseError", format!("document {index}: {source}")),
        LoadError::Object {
            path,
            index,
            problem,
        } => file(path, "InvalidSpec", format!("document {index}: {problem}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn folder(files: &[(&str, &str)]) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        for (name, text) in files {
            std::fs::write(dir.path().join(name), text).unwrap();
        }
        dir
    }

    /// A Service with one ready endpoint, so a route to it has nothing to report.
    const SERVICE: &str = "apiVersion: v1\nkind: Service\nmetadata: {name: whoami}\nspec:\n  ports: [{name: http, port: 80}]\n---\napiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\nmetadata: {name: whoami-a, labels: {kubernetes.io/service-name: whoami}}\naddressType: IPv4\nports: [{name: http, port: 8080}]\nendpoints: [{addresses: [10.0.0.1], conditions: {ready: true}}]\n";

    fn route(rule: &str) -> String {
        format!(
            "apiVersion: mesh.io/v1alpha1\nkind: IngressRoute\nmetadata: {{name: web}}\nspec:\n  entryPoints: [web]\n  routes:\n    - match: \"{rule}\"\n      kind: Rule\n      services: [{{name: whoami, port: 80}}]\n"
        )
    }

    fn lint_dir(dir: &tempfile::TempDir) -> LintReport {
        lint(
            &[dir.path().to_path_buf()],
            &ProviderOptions {
                allow_empty_services: true,
                ..ProviderOptions::default()
            },
            default_proxy_settings(),
        )
    }

    #[tokio::test]
    async fn a_rule_only_the_proxy_refuses_is_an_error() {
        let dir = folder(&[
            ("svc.yaml", SERVICE),
            ("route.yaml", &route("Host(`a`) &&")),
        ]);
        let report = lint_dir(&dir);
        assert_eq!(report.objects, 3);
        let findings = report.findings();
        assert_eq!(findings.len(), 1, "{findings:#?}");
        assert_eq!(findings[0].level, Level::Error);
        assert_eq!(findings[0].reason, "InvalidRule");
        assert!(
            findings[0]
                .line()
                .starts_with("ERROR InvalidRule IngressRoute default/web: routes[0]: "),
            "{}",
            findings[0].line()
        );
    }

    #[tokio::test]
    async fn a_good_folder_has_no_findings_and_a_broken_file_is_named() {
        let dir = folder(&[
            ("svc.yaml", SERVICE),
            ("route.yaml", &route("Host(`a.test`)")),
            ("bad.yaml", "kind: [unclosed\n"),
        ]);
        let findings = lint_dir(&dir).findings();
        assert_eq!(findings.len(), 1, "{findings:#?}");
        let line = findings[0].line();
        assert!(line.starts_with("ERROR ParseError File "), "{line}");
        assert!(line.contains("bad.yaml: document 0: "), "{line}");
    }

    #[test]
    fn defaults_are_those_of_mesh_run() {
        let names: Vec<String> = default_proxy_settings()
            .entry_points
            .keys()
            .cloned()
            .collect();
        assert_eq!(names, ["web", "websecure"]);
    }
}
