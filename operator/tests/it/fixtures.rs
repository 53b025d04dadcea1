use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use mesh_operator::options::ProviderOptions;
use mesh_operator::snapshot::Snapshot;
use mesh_operator::translate::{ObjectStatus, Translation, translate};
use serde::Deserialize;
use serde_yaml::{Mapping, Value};

fn fixtures_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

/// Objects shared by every fixture (Services, EndpointSlices, Secrets, Nodes), like
/// Traefik's `services.yml`.
const SUPPORT_DIR: &str = "_support";

fn read_documents(path: &Path) -> Vec<serde_json::Value> {
    let text = fs::read_to_string(path)
        .unwrap_or_else(|error| panic!("reading {}: {error}", path.display()));
    serde_yaml::Deserializer::from_str(&text)
        .map(|document| {
            serde_json::Value::deserialize(document)
                .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        })
        .filter(|value| !value.is_null())
        .collect()
}

fn world(dir: &Path) -> Snapshot {
    let mut objects = Vec::new();
    let support = fixtures_dir().join(SUPPORT_DIR);
    let mut support_files: Vec<PathBuf> = fs::read_dir(&support)
        .expect("support dir")
        .map(|entry| entry.expect("entry").path())
        .collect();
    support_files.sort();
    for file in support_files {
        objects.extend(read_documents(&file));
    }
    objects.extend(read_documents(&dir.join("input.yaml")));
    let (snapshot, errors) = Snapshot::from_objects(objects);
    assert!(
        errors.is_empty(),
        "{}: objects not placed: {errors:?}",
        dir.display()
    );
    snapshot
}

fn options(dir: &Path) -> ProviderOptions {
    let path = dir.join("options.yaml");
    match fs::read_to_string(&path) {
        Ok(text) => {
            serde_yaml::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        }
        Err(_) => ProviderOptions::default(),
    }
}

fn status_value(status: &ObjectStatus) -> Value {
    let mut out = Mapping::new();
    if let Some(generation) = status.observed_generation {
        out.insert("observedGeneration".into(), generation.into());
    }
    let conditions: Vec<Value> = status
        .conditions
        .iter()
        .map(|c| {
            let mut m = Mapping::new();
            m.insert("type".into(), c.type_.as_str().into());
            m.insert("status".into(), c.status.as_str().into());
            m.insert("reason".into(), c.reason.as_str().into());
            if !c.message.is_empty() {
                m.insert("message".into(), c.message.clone().into());
            }
            Value::Mapping(m)
        })
        .collect();
    out.insert("conditions".into(), Value::Sequence(conditions));
    if !status.routes.is_empty() {
        let routes: Vec<Value> = status
            .routes
            .iter()
            .map(|r| {
                let mut m = Mapping::new();
                m.insert("index".into(), (r.index as u64).into());
                m.insert("router".into(), r.router.clone().into());
                m.insert("ready".into(), r.ready.into());
                if let Some(reason) = r.reason {
                    m.insert("reason".into(), reason.as_str().into());
                }
                if let Some(message) = &r.message {
                    m.insert("message".into(), message.clone().into());
                }
                Value::Mapping(m)
            })
            .collect();
        out.insert("routes".into(), Value::Sequence(routes));
    }
    Value::Mapping(out)
}

fn translation_value(translation: &Translation) -> Value {
    let mut out = Mapping::new();
    out.insert(
        "config".into(),
        serde_yaml::to_value(&translation.config).expect("config serialises"),
    );
    let statuses: BTreeMap<String, Value> = translation
        .statuses
        .iter()
        .map(|(object, status)| (object.to_string(), status_value(status)))
        .collect();
    out.insert(
        "statuses".into(),
        serde_yaml::to_value(statuses).expect("statuses serialise"),
    );
    Value::Mapping(out)
}

fn run(dir: &Path) -> Result<(), String> {
    let actual = translation_value(&translate(&world(dir), &options(dir)));
    let expected_path = dir.join("expected.yaml");
    if std::env::var_os("MESH_BLESS").is_some() {
        let text = serde_yaml::to_string(&actual).expect("yaml");
        fs::write(&expected_path, text).expect("write expected");
        return Ok(());
    }
    let text = fs::read_to_string(&expected_path).map_err(|e| {
        format!(
            "{}: {e} (run with MESH_BLESS=1 to create it)",
            expected_path.display()
        )
    })?;
    let expected: Value =
        serde_yaml::from_str(&text).map_err(|e| format!("{}: {e}", expected_path.display()))?;
    if expected == actual {
        Ok(())
    } else {
        Err(format!(
            "{}: translation differs\n--- expected\n{text}\n--- actual\n{}",
            dir.display(),
            serde_yaml::to_string(&actual).expect("yaml")
        ))
    }
}

fn fixture_dirs() -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = fs::read_dir(fixtures_dir())
        .expect("fixtures dir")
        .map(|entry| entry.expect("entry").path())
        .filter(|path| path.is_dir() && path.file_name().is_some_and(|name| name != SUPPORT_DIR))
        .collect();
    dirs.sort();
    dirs
}

#[test]
fn every_fixture_translates_as_expected() {
    let dirs = fixture_dirs();
    let failures: Vec<String> = dirs.iter().filter_map(|dir| run(dir).err()).collect();
    assert!(
        failures.is_empty(),
        "{} of {} fixtures failed:\n{}",
        failures.len(),
        dirs.len(),
        failures.join("\n\n")
    );
    // One fixture per behaviour of the reference; losing some would go unnoticed otherwise.
    assert!(dirs.len() >= 60, "only {} fixtures", dirs.len());
}

#[test]
fn translation_is_deterministic() {
    for dir in fixture_dirs() {
        let (world, options) = (world(&dir), options(&dir));
        let first = translation_value(&translate(&world, &options));
        let second = translation_value(&translate(&world, &options));
        assert_eq!(first, second, "{}", dir.display());
    }
}
