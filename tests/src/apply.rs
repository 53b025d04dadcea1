//! Applying manifests of any kind (multi-document YAML) with server-side apply.

use std::path::{Path, PathBuf};

use kube::api::{Api, DynamicObject, GroupVersionKind, Patch, PatchParams};
use kube::discovery::{self, Scope};
use serde::Deserialize;
use serde::de::DeserializeOwned;

use crate::control_plane::FIELD_MANAGER;
use crate::error::{HarnessError, Result};

/// Parses every non-empty document of a multi-document YAML text.
pub(crate) fn parse_documents<T: DeserializeOwned>(text: &str, origin: &str) -> Result<Vec<T>> {
    let yaml_error = |source| HarnessError::Yaml {
        origin: origin.to_string(),
        source,
    };
    let mut documents = Vec::new();
    for document in serde_yaml::Deserializer::from_str(text) {
        let value = serde_yaml::Value::deserialize(document).map_err(yaml_error)?;
        if value.is_null() {
            continue;
        }
        documents.push(serde_yaml::from_value(value).map_err(yaml_error)?);
    }
    Ok(documents)
}

/// The `*.yaml` and `*.yml` files directly in `dir`, sorted by name.
pub fn yaml_files_in(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)?
        .filter_map(|entry| entry.ok().map(|entry| entry.path()))
        .filter(|path| {
            matches!(
                path.extension().and_then(|ext| ext.to_str()),
                Some("yaml" | "yml")
            )
        })
        .collect();
    files.sort();
    Ok(files)
}

pub(crate) fn read_documents<T: DeserializeOwned>(path: &Path) -> Result<Vec<T>> {
    let text = std::fs::read_to_string(path)
        .map_err(HarnessError::io(format!("reading {}", path.display())))?;
    parse_documents(&text, &path.display().to_string())
}

/// Server-side applies each object of `text` (as the client's user), resolving kinds through
/// discovery. Namespaced objects without a namespace go to `default_namespace`.
/// Returns the objects as the apiserver stored them.
pub async fn apply_yaml(
    client: &kube::Client,
    text: &str,
    default_namespace: &str,
) -> Result<Vec<DynamicObject>> {
    let mut applied = Vec::new();
    for object in parse_documents::<DynamicObject>(text, "manifest")? {
        applied.push(apply_object(client, object, default_namespace, false).await?);
    }
    Ok(applied)
}

/// [`apply_yaml`] for a file.
pub async fn apply_yaml_file(
    client: &kube::Client,
    path: &Path,
    default_namespace: &str,
) -> Result<Vec<DynamicObject>> {
    let text = std::fs::read_to_string(path)
        .map_err(HarnessError::io(format!("reading {}", path.display())))?;
    apply_yaml(client, &text, default_namespace)
        .await
        .map_err(|error| HarnessError::InvalidManifest {
            origin: path.display().to_string(),
            detail: format!("{error:#}"),
        })
}

/// One object of a manifest and what the apiserver made of it.
#[derive(Debug)]
pub struct ApplyOutcome {
    /// `Kind namespace/name` (`Kind name` when cluster-scoped or nameless).
    pub object: String,
    pub result: Result<DynamicObject>,
}

impl ApplyOutcome {
    /// Why the object was not applied: the apiserver's own message when it refused it.
    pub fn refusal(&self) -> Option<String> {
        match &self.result {
            Ok(_) => None,
            Err(HarnessError::Kube {
                source: kube::Error::Api(status),
                ..
            }) => Some(status.message.clone()),
            Err(error) => Some(error.with_causes()),
        }
    }
}

/// Server-side applies every object of `file` on its own, creating the namespaces they
/// need, and reports each outcome: one refused object does not stop the others. Only a file
/// that cannot be read or parsed is an error.
pub async fn apply_each_in_file(
    client: &kube::Client,
    file: &Path,
    default_namespace: &str,
) -> Result<Vec<ApplyOutcome>> {
    let mut outcomes = Vec::new();
    for object in read_documents::<DynamicObject>(file)? {
        let kind = object
            .types
            .as_ref()
            .map_or_else(|| "<no kind>".to_string(), |types| types.kind.clone());
        let name = object.metadata.name.as_deref().unwrap_or("<no name>");
        let label = match object.metadata.namespace.as_deref() {
            Some(namespace) => format!("{kind} {namespace}/{name}"),
            None => format!("{kind} {name}"),
        };
        let result = apply_object(client, object, default_namespace, true).await;
        let label = match &result {
            Ok(applied) => match (&applied.metadata.namespace, &applied.metadata.name) {
                (Some(namespace), Some(name)) => format!("{kind} {namespace}/{name}"),
                _ => label,
            },
            Err(_) => label,
        };
        outcomes.push(ApplyOutcome {
            object: label,
            result,
        });
    }
    Ok(outcomes)
}

async fn apply_object(
    client: &kube::Client,
    mut object: DynamicObject,
    default_namespace: &str,
    create_namespace: bool,
) -> Result<DynamicObject> {
    let types = object
        .types
        .clone()
        .ok_or_else(|| HarnessError::InvalidManifest {
            origin: "manifest".into(),
            detail: "an object without apiVersion/kind".into(),
        })?;
    let gvk =
        GroupVersionKind::try_from(&types).map_err(|error| HarnessError::InvalidManifest {
            origin: "manifest".into(),
            detail: format!("apiVersion {}: {error}", types.api_version),
        })?;
    let name = object
        .metadata
        .name
        .clone()
        .ok_or_else(|| HarnessError::InvalidManifest {
            origin: "manifest".into(),
            detail: format!("a {} without metadata.name", types.kind),
        })?;
    let (resource, capabilities) =
        discovery::pinned_kind(client, &gvk)
            .await
            .map_err(HarnessError::kube(format!(
                "discovering {}",
                types.api_version
            )))?;
    let api: Api<DynamicObject> = match capabilities.scope {
        Scope::Namespaced => {
            let namespace = object
                .metadata
                .namespace
                .get_or_insert_with(|| default_namespace.to_string())
                .clone();
            if create_namespace {
                crate::namespace::ensure_namespace(client, &namespace).await?;
            }
            Api::namespaced_with(client.clone(), &namespace, &resource)
        }
        Scope::Cluster => Api::all_with(client.clone(), &resource),
    };
    api.patch(
        &name,
        &PatchParams::apply(FIELD_MANAGER).force(),
        &Patch::Apply(&object),
    )
    .await
    .map_err(HarnessError::kube(format!(
        "applying {} {name}",
        types.kind
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_documents_are_skipped() {
        let text = "---\napiVersion: v1\nkind: Namespace\nmetadata: {name: a}\n---\n# only a comment\n---\napiVersion: v1\nkind: Namespace\nmetadata: {name: b}\n";
        let objects: Vec<DynamicObject> = parse_documents(text, "test").expect("parse");
        let names: Vec<_> = objects
            .iter()
            .filter_map(|object| object.metadata.name.clone())
            .collect();
        assert_eq!(names, ["a", "b"]);
    }

    #[test]
    fn broken_yaml_names_its_origin() {
        let error = parse_documents::<DynamicObject>("kind: [unclosed", "crds/x.yaml")
            .expect_err("must fail");
        assert_eq!(error.to_string(), "YAML in crds/x.yaml");
    }
}
