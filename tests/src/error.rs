//! The harness's error type: every variant says what was being done and with what.

use std::path::PathBuf;

/// Errors of the test harness. Messages name the file, process or object involved.
#[derive(Debug, thiserror::Error)]
pub enum HarnessError {
    #[error("building the control plane binaries with {script} failed: {detail}")]
    Build { script: PathBuf, detail: String },

    #[error("kube-apiserver and etcd are not built yet ({detail}): run `{}` once (it builds them from source with Go)", script.display())]
    NotBuilt { script: PathBuf, detail: String },

    #[error("{context}")]
    Io {
        context: String,
        #[source]
        source: std::io::Error,
    },

    #[error("generating certificates")]
    Certificates(#[from] rcgen::Error),

    #[error("{process} did not start: {reason}\n--- last lines of {} ---\n{log_tail}", log.display())]
    StartUp {
        process: String,
        reason: String,
        log: PathBuf,
        log_tail: String,
    },

    #[error("the shared control plane failed to start earlier in this test run: {0}")]
    SharedStartFailed(String),

    #[error("kubeconfig {}", path.display())]
    Kubeconfig {
        path: PathBuf,
        #[source]
        source: kube::config::KubeconfigError,
    },

    #[error("Kubernetes API: {context}")]
    Kube {
        context: String,
        #[source]
        source: kube::Error,
    },

    #[error("no CRD manifests (*.yaml) in {}; generate them with `cargo run -p mesh-crds --bin gen-crds`", .0.display())]
    NoCrds(PathBuf),

    #[error("CRD {name} did not become Established: {detail}")]
    CrdNotEstablished { name: String, detail: String },

    #[error("YAML in {origin}")]
    Yaml {
        origin: String,
        #[source]
        source: serde_yaml::Error,
    },

    #[error("{origin}: {detail}")]
    InvalidManifest { origin: String, detail: String },

    #[error("`{tool}` is not installed or not on PATH ({hint})")]
    MissingTool { tool: String, hint: String },

    #[error("`{command}` failed ({status}): {stderr}")]
    Command {
        command: String,
        status: String,
        stderr: String,
    },

    #[error("pod network: {0}")]
    PodNetwork(String),

    #[error("backend {name}: {detail}")]
    InvalidBackend { name: String, detail: String },
}

pub type Result<T, E = HarnessError> = std::result::Result<T, E>;

impl HarnessError {
    /// The message followed by each underlying cause (`a: b: c`), for users to read.
    pub fn with_causes(&self) -> String {
        let mut text = self.to_string();
        let mut cause = std::error::Error::source(self);
        while let Some(inner) = cause {
            text = format!("{text}: {inner}");
            cause = inner.source();
        }
        text
    }

    pub(crate) fn io(context: impl Into<String>) -> impl FnOnce(std::io::Error) -> Self {
        let context = context.into();
        move |source| Self::Io { context, source }
    }

    pub(crate) fn kube(context: impl Into<String>) -> impl FnOnce(kube::Error) -> Self {
        let context = context.into();
        move |source| Self::Kube { context, source }
    }
}
