//! Reading a manifests folder: every `*.yaml`, `*.yml` and `*.json` file below it, every
//! document in each file (`---` separated, `kind: List` expanded).

use std::path::{Path, PathBuf};

use kube::api::DynamicObject;
use serde::Deserialize;
use serde_json::Value;

/// Why a file or document was skipped. The rest of the folder still loads.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: document {index}: {source}")]
    Yaml {
        path: PathBuf,
        index: usize,
        source: serde_yaml::Error,
    },
    #[error("{path}: document {index}: {problem}")]
    Object {
        path: PathBuf,
        index: usize,
        problem: String,
    },
}

/// What a folder holds: the objects that loaded and the problems met on the way.
#[derive(Debug, Default)]
pub struct Loaded {
    pub objects: Vec<DynamicObject>,
    pub errors: Vec<LoadError>,
}

/// Kinds without a namespace; everything else defaults to namespace `default`.
const CLUSTER_SCOPED: &[&str] = &[
    "Node",
    "IngressClass",
    "Namespace",
    "CustomResourceDefinition",
];

/// The manifest files below `root`, sorted so loading is deterministic.
pub fn manifest_files(root: &Path) -> Result<Vec<PathBuf>, LoadError> {
    let mut files = Vec::new();
    let mut pending = vec![root.to_path_buf()];
    while let Some(dir) = pending.pop() {
        let entries = std::fs::read_dir(&dir).map_err(|source| LoadError::Read {
            path: dir.clone(),
            source,
        })?;
        for entry in entries {
            let entry = entry.map_err(|source| LoadError::Read {
                path: dir.clone(),
                source,
            })?;
            let path = entry.path();
            let hidden = entry.file_name().to_string_lossy().starts_with('.');
            if hidden {
                continue;
            }
            if path.is_dir() {
                pending.push(path);
            } else if is_manifest(&path) {
                files.push(path);
            }
        }
    }
    files.sort();
    Ok(files)
}

fn is_manifest(path: &Path) -> bool {
    matches!(
        path.extension().and_then(|e| e.to_str()),
        Some("yaml" | "yml" | "json")
    )
}

/// Loads every manifest below each root (a root may also be a single file).
pub fn load_roots(roots: &[PathBuf]) -> Loaded {
    let mut loaded = Loaded::default();
    for root in roots {
        let files = if root.is_file() {
            Ok(vec![root.clone()])
        } else {
            manifest_files(root)
        };
        match files {
            Ok(files) => {
                for file in files {
                    load_file(&file, &mut loaded);
                }
            }
            Err(error) => loaded.errors.push(error),
        }
    }
    loaded
}

/// Loads one file's documents into `loaded`.
pub fn load_file(path: &Path, loaded: &mut Loaded) {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(source) => {
            loaded.errors.push(LoadError::Read {
                path: path.to_path_buf(),
                source,
            });
            return;
        }
    };
    for (index, document) in serde_yaml::Deserializer::from_str(&text).enumerate() {
        let value = match Value::deserialize(document) {
            Ok(value) => value,
            Err(source) => {
                loaded.errors.push(LoadError::Yaml {
                    path: path.to_path_buf(),
                    index,
                    source,
                });
                // A syntax error leaves the parser unable to find the next document.
                break;
            }
        };
        let problem = |problem: String| LoadError::Object {
            path: path.to_path_buf(),
            index,
            problem,
        };
        match value {
            Value::Null => {}
            Value::Object(_) if value.get("kind").and_then(Value::as_str) == Some("List") => {
                let items = value
                    .get("items")
                    .and_then(Value::as_array)
                    .cloned()
                    .unwrap_or_default();
                for item in items {
                    match to_object(item) {
                        Ok(object) => loaded.objects.push(object),
                        Err(message) => loaded.errors.push(problem(message)),
                    }
                }
            }
            value => match to_object(value) {
                Ok(object) => loaded.objects.push(object),
                Err(message) => loaded.errors.push(problem(message)),
            },
        }
    }
}

/// Checks the envelope (apiVersion, kind, metadata.name) and fills what a cluster would:
/// the default namespace and generation 1.
fn to_object(mut value: Value) -> Result<DynamicObject, String> {
    let Some(map) = value.as_object_mut() else {
        return Err("not a mapping".to_owned());
    };
    for field in ["apiVersion", "kind"] {
        if !map.get(field).is_some_and(Value::is_string) {
            return Err(format!("missing `{field}`"));
        }
    }
    let kind = map
        .get("kind")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    let metadata = map
        .entry("metadata")
        .or_insert_with(|| Value::Object(Default::default()));
    let Some(metadata) = metadata.as_object_mut() else {
        return Err(format!("{kind}: `metadata` is not a mapping"));
    };
    if !metadata.get("name").is_some_and(Value::is_string) {
        return Err(format!("{kind}: missing `metadata.name`"));
    }
    if !CLUSTER_SCOPED.contains(&kind.as_str()) && !metadata.contains_key("namespace") {
        metadata.insert("namespace".into(), Value::from("default"));
    }
    metadata
        .entry("generation")
        .or_insert_with(|| Value::from(1));
    serde_json::from_value(value).map_err(|e| format!("{kind}: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    #[test]
    fn loads_every_document_recursively_and_skips_hidden_files() {
        let dir = tempfile::tempdir().unwrap();
        fs::create_dir(dir.path().join("sub")).unwrap();
        fs::write(
            dir.path().join("a.yaml"),
            "apiVersion: v1\nkind: Service\nmetadata: {name: whoami}\n---\n---\n\
             apiVersion: mesh.io/v1alpha1\nkind: IngressRoute\nmetadata: {name: r, namespace: apps}\n",
        )
        .unwrap();
        fs::write(
            dir.path().join("sub/b.yml"),
            "apiVersion: v1\nkind: List\nitems:\n- {apiVersion: v1, kind: Secret, metadata: {name: s}}\n",
        )
        .unwrap();
        fs::write(dir.path().join(".hidden.yaml"), "not: [valid").unwrap();
        fs::write(dir.path().join("notes.txt"), "ignored").unwrap();

        let loaded = load_roots(&[dir.path().to_path_buf()]);
        assert!(loaded.errors.is_empty(), "{:?}", loaded.errors);
        let names: Vec<(String, String, String)> = loaded
            .objects
            .iter()
            .map(|o| {
                (
                    o.types.as_ref().unwrap().kind.clone(),
                    o.metadata.namespace.clone().unwrap(),
                    o.metadata.name.clone().unwrap(),
                )
            })
            .collect();
        assert_eq!(
            names,
            [
                ("Service".into(), "default".into(), "whoami".into()),
                ("IngressRoute".into(), "apps".into(), "r".into()),
                ("Secret".into(), "default".into(), "s".into()),
            ]
        );
        assert_eq!(loaded.objects[0].metadata.generation, Some(1));
    }

    #[test]
    fn a_broken_document_is_reported_and_its_neighbours_still_load() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(
            dir.path().join("a.yaml"),
            "apiVersion: v1\nkind: Service\nmetadata: {name: ok}\n---\nkind: Service\nmetadata: {name: noversion}\n---\n- 1\n",
        )
        .unwrap();
        fs::write(dir.path().join("b.yaml"), "apiVersion: v1\nkind: [oops\n").unwrap();
        let loaded = load_roots(&[dir.path().to_path_buf()]);
        assert_eq!(loaded.objects.len(), 1);
        let errors: Vec<String> = loaded.errors.iter().map(ToString::to_string).collect();
        assert_eq!(errors.len(), 3, "{errors:?}");
        assert!(
            errors[0].contains("document 1: missing `apiVersion`"),
            "{errors:?}"
        );
        assert!(
            errors[1].contains("document 2: not a mapping"),
            "{errors:?}"
        );
        assert!(errors[2].contains("b.yaml: document 0"), "{errors:?}");
    }

    #[test]
    fn a_missing_folder_is_an_error_not_a_crash() {
        let loaded = load_roots(&[PathBuf::from("/nonexistent/mesh-manifests")]);
        assert!(loaded.objects.is_empty());
        assert!(matches!(loaded.errors[0], LoadError::Read { .. }));
    }

    #[test]
    fn cluster_scoped_kinds_get_no_namespace() {
        let mut loaded = Loaded::default();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("n.yaml");
        fs::write(&path, "apiVersion: v1\nkind: Node\nmetadata: {name: n1}\n").unwrap();
        load_file(&path, &mut loaded);
        assert_eq!(loaded.objects[0].metadata.namespace, None);
    }
}
