//! Every manifest under `examples/` decodes into the matching type and passes the schema
//! checks the apiserver would make.

use std::path::{Path, PathBuf};

use k8s_openapi::api::core::v1::{Secret, Service};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use mesh_crds::{Kind, MeshObject};
use serde_json::Value;

use crate::crd_schema::schema;
use crate::schema_check::object_problems;

fn examples_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../examples")
}

fn yaml_files(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let entries =
        std::fs::read_dir(dir).unwrap_or_else(|error| panic!("reading {}: {error}", dir.display()));
    for entry in entries.filter_map(Result::ok) {
        let path = entry.path();
        if path.is_dir() {
            files.extend(yaml_files(&path));
        } else if path
            .extension()
            .is_some_and(|ext| ext == "yaml" || ext == "yml")
        {
            files.push(path);
        }
    }
    files.sort();
    files
}

/// The documents of a multi-document YAML file, as JSON values (empty documents skipped).
fn documents(path: &Path) -> Vec<Value> {
    let text = std::fs::read_to_string(path)
        .unwrap_or_else(|error| panic!("reading {}: {error}", path.display()));
    serde_yaml::Deserializer::from_str(&text)
        .map(|document| {
            let value: serde_yaml::Value = serde::Deserialize::deserialize(document)
                .unwrap_or_else(|error| panic!("{}: invalid YAML: {error}", path.display()));
            serde_json::to_value(value)
                .unwrap_or_else(|error| panic!("{}: {error}", path.display()))
        })
        .filter(|value| !value.is_null())
        .collect()
}

/// Checks one document; returns the Mesh kind it holds, if any, or what is wrong with it.
fn check_document(path: &Path, document: Value) -> Result<Option<Kind>, String> {
    let kind_name = document["kind"].as_str().unwrap_or_default().to_string();
    let api_version = document["apiVersion"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let place = format!(
        "{} ({kind_name} {})",
        path.display(),
        document["metadata"]["name"]
    );
    let decoded = match (api_version.as_str(), kind_name.as_str()) {
        ("mesh.io/v1alpha1", _) => {
            let kind =
                Kind::from_kind(&kind_name).ok_or_else(|| format!("{place}: not a Mesh kind"))?;
            let problems = object_problems(&document, &schema(kind));
            if !problems.is_empty() {
                return Err(format!(
                    "{place} would be rejected: {}",
                    problems.join("; ")
                ));
            }
            let object =
                mesh_crds::decode(kind, document).map_err(|error| format!("{place}: {error}"))?;
            assert_eq!(object.kind(), kind);
            return Ok(Some(kind));
        }
        ("v1", "Service") => serde_json::from_value::<Service>(document).map(drop),
        ("v1", "Secret") => serde_json::from_value::<Secret>(document).map(drop),
        ("discovery.k8s.io/v1", "EndpointSlice") => {
            serde_json::from_value::<EndpointSlice>(document).map(drop)
        }
        _ => {
            return Err(format!(
                "{place}: unexpected apiVersion {api_version:?} in examples"
            ));
        }
    };
    decoded
        .map(|()| None)
        .map_err(|error| format!("{place}: {error}"))
}

#[test]
fn every_example_decodes_and_validates() {
    let files = yaml_files(&examples_dir());
    assert!(files.len() >= 12, "examples/ looks empty: {files:?}");
    let mut failures = Vec::new();
    for path in files {
        let documents = documents(&path);
        assert!(!documents.is_empty(), "{}: no documents", path.display());
        failures.extend(
            documents
                .into_iter()
                .filter_map(|document| check_document(&path, document).err()),
        );
    }
    assert!(
        failures.is_empty(),
        "invalid examples:\n{}",
        failures.join("\n")
    );
}

#[test]
fn kinds_folder_has_one_namespace_less_object_of_each_kind() {
    let mut seen = Vec::new();
    for path in yaml_files(&examples_dir().join("kinds")) {
        for document in documents(&path) {
            assert!(
                document["metadata"].get("namespace").is_none(),
                "{}: examples/kinds must not set a namespace",
                path.display()
            );
            if let Some(kind) =
                check_document(&path, document).unwrap_or_else(|error| panic!("{error}"))
            {
                seen.push(kind);
            }
        }
    }
    seen.sort();
    assert_eq!(seen, Kind::ALL.to_vec());
}

#[test]
fn quickstart_world_is_complete() {
    let mut kinds = Vec::new();
    let mut names = Vec::new();
    for path in yaml_files(&examples_dir().join("quickstart")) {
        for document in documents(&path) {
            kinds.push(document["kind"].as_str().unwrap_or_default().to_string());
            names.push(
                document["metadata"]["name"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string(),
            );
            check_document(&path, document).unwrap_or_else(|error| panic!("{error}"));
        }
    }
    for kind in ["Service", "EndpointSlice", "IngressRoute", "Middleware"] {
        assert!(kinds.iter().any(|k| k == kind), "quickstart lacks a {kind}");
    }
    assert!(
        kinds.iter().filter(|k| *k == "IngressRoute").count() >= 2,
        "quickstart needs the broken route too"
    );
    assert!(names.iter().any(|name| name == "whoami"));
}

#[test]
fn traefik_manifests_decode_unchanged() {
    // A Traefik manifest read from traefik.io: only the group differs.
    let manifest = r#"
apiVersion: traefik.io/v1alpha1
kind: IngressRoute
metadata: { name: app, namespace: default }
spec:
  entryPoints: [web]
  routes:
  - match: Host(`app.example.com`)
    kind: Rule
    priority: 10
    middlewares: [{ name: auth }]
    observability: { accesslogs: true }
    services:
    - name: app
      port: http
      strategy: RoundRobin
      sticky: { cookie: { name: c, sameSite: none } }
"#;
    let value: Value = serde_yaml::from_str(manifest).expect("valid YAML");
    let MeshObject::IngressRoute(route) = mesh_crds::decode_any(value).expect("decodes") else {
        panic!("not an IngressRoute");
    };
    let service = &route.spec.routes[0].services[0];
    assert_eq!(
        service.port,
        Some(k8s_openapi::apimachinery::pkg::util::intstr::IntOrString::String("http".into()))
    );
    assert!(service.pass_host_header, "defaults apply");
    assert_eq!(service.weight, 1);
    assert_eq!(
        route.spec.routes[0]
            .observability
            .as_ref()
            .and_then(|o| o.access_logs),
        Some(true)
    );
}
