//! Children of the benchmark: each pinned to a core with `taskset`, its output kept in a log
//! file, and stopped (SIGTERM, then SIGKILL) when dropped, so no run leaves a proxy behind.
use std::ffi::OsStr;
use std::fs::File;
use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use crate::probe;

const STOP_GRACE: Duration = Duration::from_secs(5);

#[derive(Debug, thiserror::Error)]
pub enum ProcessError {
    #[error("{name}: cannot create log file {path}: {source}")]
    Log {
        name: String,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{name}: cannot start `{program}` (is taskset installed?): {source}")]
    Spawn {
        name: String,
        program: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{name} exited ({status}) before serving; its log ends with:\n{log}")]
    Exited {
        name: String,
        status: ExitStatus,
        log: String,
    },
    #[error(
        "{name} did not serve the route within {waited:?}; last probe: {last}; log ends with:\n{log}"
    )]
    NotServing {
        name: String,
        waited: Duration,
        last: String,
        log: String,
    },
}

/// A started child process.
#[derive(Debug)]
pub struct Spawned {
    name: String,
    child: Child,
    log: PathBuf,
}

impl Spawned {
    /// Starts `taskset -c CPU PROGRAM ARGS..`; taskset execs the program, so the child's pid
    /// is the program's.
    pub fn start<I, S>(
        name: &str,
        cpu: usize,
        program: &Path,
        args: I,
        envs: &[(&str, &str)],
        log_dir: &Path,
    ) -> Result<Spawned, ProcessError>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        let log = log_dir.join(format!(
            "{}.log",
            name.replace(|c: char| !c.is_ascii_alphanumeric(), "-")
        ));
        let log_error = |source| ProcessError::Log {
            name: name.to_owned(),
            path: log.clone(),
            source,
        };
        let stdout = File::create(&log).map_err(log_error)?;
        let stderr = stdout.try_clone().map_err(log_error)?;
        let child = Command::new("taskset")
            .arg("-c")
            .arg(cpu.to_string())
            .arg(program)
            .args(args)
            .envs(envs.iter().copied())
            .stdin(Stdio::null())
            .stdout(stdout)
            .stderr(stderr)
            .spawn()
            .map_err(|source| ProcessError::Spawn {
                name: name.to_owned(),
                program: program.display().to_string(),
                source,
            })?;
        Ok(Spawned {
            name: name.to_owned(),
            child,
            log,
        })
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The last `lines` lines of the child's output.
    pub fn log_tail(&self, lines: usize) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let all: Vec<&str> = text.lines().collect();
        all[all.len().saturating_sub(lines)..].join("\n")
    }

    /// Waits until `GET /` with `Host: host` answers 200 with `body`, or fails with why not
    /// (the child exited, or the deadline passed with the last answer it gave).
    pub fn wait_serving(
        &mut self,
        address: SocketAddr,
        host: &str,
        body: &[u8],
        limit: Duration,
    ) -> Result<Duration, ProcessError> {
        let started = Instant::now();
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Err(ProcessError::Exited {
                    name: self.name.clone(),
                    status,
                    log: self.log_tail(20),
                });
            }
            let last = match probe::get(address, host) {
                Ok(response) if response.status == 200 && response.body == body => {
                    return Ok(started.elapsed());
                }
                Ok(response) => format!(
                    "status {} body {:?}",
                    response.status,
                    String::from_utf8_lossy(&response.body)
                ),
                Err(err) => err.to_string(),
            };
            if started.elapsed() >= limit {
                return Err(ProcessError::NotServing {
                    name: self.name.clone(),
                    waited: limit,
                    last,
                    log: self.log_tail(20),
                });
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// SIGTERM (nginx's master then stops its workers), SIGKILL if still alive after a grace.
    pub fn stop(&mut self) {
        if matches!(self.child.try_wait(), Ok(Some(_))) {
            return;
        }
        if let Ok(pid) = libc::pid_t::try_from(self.child.id()) {
            // SAFETY: kill has no memory preconditions; the pid is our own unreaped child,
            // so it cannot have been reused by another process.
            unsafe { libc::kill(pid, libc::SIGTERM) };
        }
        let deadline = Instant::now() + STOP_GRACE;
        while Instant::now() < deadline {
            if matches!(self.child.try_wait(), Ok(Some(_))) {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        tracing::warn!(name = %self.name, "did not stop on SIGTERM; killing it");
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Spawned {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A loopback address with a port free right now (the target binds it a moment later).
pub fn free_loopback_address() -> std::io::Result<SocketAddr> {
    TcpListener::bind("127.0.0.1:0")?.local_addr()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn child_that_exits_early_is_reported_with_its_output() {
        let dir = tempfile::tempdir().unwrap();
        let mut child = Spawned::start(
            "failing",
            0,
            Path::new("/bin/sh"),
            ["-c", "echo config is broken >&2; exit 3"],
            &[],
            dir.path(),
        )
        .unwrap();
        let address = free_loopback_address().unwrap();
        let err = child
            .wait_serving(address, "x", b"", Duration::from_secs(30))
            .unwrap_err();
        let text = err.to_string();
        assert!(matches!(err, ProcessError::Exited { .. }), "{text}");
        assert!(text.contains("config is broken"), "{text}");
        assert!(text.contains("exit status: 3"), "{text}");
    }

    #[test]
    fn silent_child_times_out_with_the_last_probe_error() {
        let dir = tempfile::tempdir().unwrap();
        let mut child = Spawned::start(
            "sleeper",
            0,
            Path::new("/bin/sleep"),
            ["30"],
            &[],
            dir.path(),
        )
        .unwrap();
        let address = free_loopback_address().unwrap();
        let err = child
            .wait_serving(address, "x", b"", Duration::from_millis(200))
            .unwrap_err();
        assert!(matches!(err, ProcessError::NotServing { .. }), "{err}");
        assert!(err.to_string().contains(&address.to_string()), "{err}");
        let pid = child.pid();
        drop(child);
        assert!(
            !Path::new(&format!("/proc/{pid}")).exists(),
            "child {pid} still running after drop"
        );
    }

    #[test]
    fn child_runs_on_the_requested_core() {
        let dir = tempfile::tempdir().unwrap();
        let mut child = Spawned::start(
            "affinity",
            0,
            Path::new("/bin/sh"),
            ["-c", "grep Cpus_allowed_list /proc/self/status"],
            &[],
            dir.path(),
        )
        .unwrap();
        let status = child.child.wait().unwrap();
        assert!(status.success());
        let log = child.log_tail(5);
        assert!(log.contains("Cpus_allowed_list:\t0"), "{log}");
    }
}
