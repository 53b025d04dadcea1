//! Locating kube-apiserver, etcd and helm: the build script builds them once and caches them.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use crate::error::{HarnessError, Result};

/// Paths of the binaries built by `tests/harness/build-control-plane.sh`.
#[derive(Debug, Clone)]
pub struct Binaries {
    pub kube_apiserver: PathBuf,
    pub etcd: PathBuf,
    pub helm: PathBuf,
}

/// `tests/harness/build-control-plane.sh` in this checkout.
pub fn build_script_path() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("harness/build-control-plane.sh")
}

impl Binaries {
    /// Runs the build script once per process (instant when cached) and returns the paths.
    pub fn get() -> Result<Self> {
        static CACHED: OnceLock<Result<Binaries, String>> = OnceLock::new();
        CACHED
            .get_or_init(|| {
                Self::build_with(&build_script_path()).map_err(|error| error.to_string())
            })
            .clone()
            .map_err(|detail| HarnessError::Build {
                script: build_script_path(),
                detail,
            })
    }

    /// The already built kube-apiserver and etcd, building nothing (`helm` may be missing):
    /// [`HarnessError::NotBuilt`] says how to build them.
    pub fn cached() -> Result<Self> {
        Self::cached_with(&build_script_path())
    }

    /// [`Binaries::cached`] with the build script at `script` (run with `--check`).
    pub fn cached_with(script: &Path) -> Result<Self> {
        let output = Command::new("bash")
            .arg(script)
            .arg("--check")
            .output()
            .map_err(HarnessError::io("running bash"))?;
        if !output.status.success() {
            return Err(HarnessError::NotBuilt {
                script: script.to_path_buf(),
                detail: String::from_utf8_lossy(&output.stderr).trim().to_string(),
            });
        }
        let binaries = Self::in_cache_dir(script, &output.stdout)?;
        for path in [&binaries.kube_apiserver, &binaries.etcd] {
            if !path.is_file() {
                return Err(HarnessError::NotBuilt {
                    script: script.to_path_buf(),
                    detail: format!("{} is missing", path.display()),
                });
            }
        }
        Ok(binaries)
    }

    /// Runs `script`, which prints the cache directory on its last stdout line.
    pub fn build_with(script: &Path) -> Result<Self> {
        let failed = |detail: String| HarnessError::Build {
            script: script.to_path_buf(),
            detail,
        };
        let output = Command::new("bash")
            .arg(script)
            .output()
            .map_err(|error| failed(format!("cannot run bash: {error}")))?;
        let stderr = String::from_utf8_lossy(&output.stderr);
        if !output.status.success() {
            let tail: Vec<&str> = stderr.lines().rev().take(20).collect();
            let tail: Vec<&str> = tail.into_iter().rev().collect();
            return Err(failed(format!("{}\n{}", output.status, tail.join("\n"))));
        }
        let binaries = Self::in_cache_dir(script, &output.stdout)?;
        for path in [&binaries.kube_apiserver, &binaries.etcd, &binaries.helm] {
            if !path.is_file() {
                return Err(failed(format!(
                    "{} is missing after the build",
                    path.display()
                )));
            }
        }
        Ok(binaries)
    }
}

impl Binaries {
    /// The binaries in the cache directory the script printed on its last stdout line.
    fn in_cache_dir(script: &Path, stdout: &[u8]) -> Result<Self> {
        let stdout = String::from_utf8_lossy(stdout);
        let dir = stdout
            .lines()
            .last()
            .map(str::trim)
            .filter(|line| !line.is_empty())
            .ok_or_else(|| HarnessError::Build {
                script: script.to_path_buf(),
                detail: "it printed no cache directory".into(),
            })?;
        let bin = Path::new(dir).join("bin");
        Ok(Self {
            kube_apiserver: bin.join("kube-apiserver"),
            etcd: bin.join("etcd"),
            helm: bin.join("helm"),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failing_build_script_reports_its_output() {
        let dir = tempfile::tempdir().expect("temp dir");
        let script = dir.path().join("build.sh");
        std::fs::write(&script, "echo 'go: module not found' >&2\nexit 1\n").expect("write script");
        let message = Binaries::build_with(&script)
            .expect_err("must fail")
            .to_string();
        assert!(message.contains("go: module not found"), "{message}");
        assert!(message.contains("build.sh"), "{message}");
    }

    #[test]
    fn an_unbuilt_cache_says_to_run_the_build_script() {
        let dir = tempfile::tempdir().expect("temp dir");
        let script = dir.path().join("build.sh");
        std::fs::write(
            &script,
            "[ \"$1\" = --check ] || exit 9\necho 'not built in /x/bin' >&2\nexit 3\n",
        )
        .expect("write script");
        let message = Binaries::cached_with(&script)
            .expect_err("must fail")
            .to_string();
        assert_eq!(
            message,
            format!(
                "kube-apiserver and etcd are not built yet (not built in /x/bin): run `{}` once (it builds them from source with Go)",
                script.display()
            )
        );
    }

    #[test]
    fn a_cache_dir_without_binaries_is_an_error() {
        let dir = tempfile::tempdir().expect("temp dir");
        let script = dir.path().join("build.sh");
        std::fs::write(&script, format!("echo {}\n", dir.path().display())).expect("write script");
        let message = Binaries::build_with(&script)
            .expect_err("must fail")
            .to_string();
        assert!(message.contains("kube-apiserver is missing"), "{message}");
    }
}
