//! Child processes that never outlive the test binary.
//!
//! Linux sends `PR_SET_PDEATHSIG` when the *thread* that forked a child exits, and test
//! harnesses run every test on a short-lived thread. So all children are forked by one
//! dedicated thread that lives as long as the process: when the test binary dies, for any
//! reason, the kernel kills its children.

use std::fs::File;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Mutex, OnceLock, mpsc};
use std::time::{Duration, Instant};

use crate::error::{HarnessError, Result};

type SpawnRequest = (Command, mpsc::Sender<std::io::Result<Child>>);

/// A running child process whose stdout and stderr go to a log file. Killed on drop.
#[derive(Debug)]
pub struct ManagedProcess {
    name: String,
    child: Child,
    log: PathBuf,
}

impl ManagedProcess {
    /// Starts `command` with its output appended to `log`.
    pub fn start(name: impl Into<String>, mut command: Command, log: &Path) -> Result<Self> {
        let name = name.into();
        // Appending lets a restarted process continue the log of its predecessor.
        let out = File::options()
            .create(true)
            .append(true)
            .open(log)
            .map_err(HarnessError::io(format!(
                "creating log file {}",
                log.display()
            )))?;
        let err = out
            .try_clone()
            .map_err(HarnessError::io("duplicating the log file handle"))?;
        command.stdin(Stdio::null()).stdout(out).stderr(err);
        let child =
            spawn_tied_to_process(command).map_err(HarnessError::io(format!("starting {name}")))?;
        Ok(Self {
            name,
            child,
            log: log.to_path_buf(),
        })
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn log_path(&self) -> &Path {
        &self.log
    }

    /// The exit status if the process has already exited.
    /// Kills the process (SIGKILL, like a crash) and reaps it.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Asks the process to stop (SIGTERM), waits up to `grace` for it to exit, then kills it.
    /// Returns its exit status (`None` if it had to be killed).
    pub fn terminate(&mut self, grace: Duration) -> Option<ExitStatus> {
        if let Some(status) = self.exit_status() {
            return Some(status);
        }
        // SAFETY: plain kill(2) on our own, not yet reaped child.
        unsafe {
            libc::kill(self.child.id() as libc::pid_t, libc::SIGTERM);
        }
        let deadline = Instant::now() + grace;
        while Instant::now() < deadline {
            if let Some(status) = self.exit_status() {
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        self.kill();
        None
    }

    pub fn exit_status(&mut self) -> Option<ExitStatus> {
        self.child.try_wait().ok().flatten()
    }

    /// The last `lines` lines of the process's log, for error messages.
    pub fn log_tail(&self, lines: usize) -> String {
        log_tail(&self.log, lines)
    }

    /// A start-up error carrying this process's log tail.
    pub fn startup_error(&self, reason: impl Into<String>) -> HarnessError {
        HarnessError::StartUp {
            process: self.name.clone(),
            reason: reason.into(),
            log: self.log.clone(),
            log_tail: self.log_tail(40),
        }
    }
}

impl Drop for ManagedProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The last `lines` lines of a text file ("" if unreadable).
pub(crate) fn log_tail(path: &Path, lines: usize) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

/// Forks `command` from the long-lived spawner thread with `PR_SET_PDEATHSIG = SIGKILL`.
fn spawn_tied_to_process(mut command: Command) -> std::io::Result<Child> {
    let parent = std::process::id();
    // SAFETY: the closure runs between fork and exec and only calls async-signal-safe
    // functions (prctl, getppid) and builds errors from raw codes: it must not allocate.
    unsafe {
        command.pre_exec(move || {
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            // The parent may have died between fork and prctl: then nobody will signal us.
            if libc::getppid() as u32 != parent {
                return Err(std::io::Error::from_raw_os_error(libc::ESRCH));
            }
            Ok(())
        });
    }
    let (reply_tx, reply_rx) = mpsc::channel();
    spawner()
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
        .send((command, reply_tx))
        .map_err(|_| std::io::Error::other("the process spawner thread is gone"))?;
    reply_rx
        .recv()
        .map_err(|_| std::io::Error::other("the process spawner thread is gone"))?
}

fn spawner() -> &'static Mutex<mpsc::Sender<SpawnRequest>> {
    static SPAWNER: OnceLock<Mutex<mpsc::Sender<SpawnRequest>>> = OnceLock::new();
    SPAWNER.get_or_init(|| {
        let (tx, rx) = mpsc::channel::<SpawnRequest>();
        std::thread::Builder::new()
            .name("mesh-harness-spawner".into())
            .spawn(move || {
                // Lives until the process exits: every sender is in a static.
                for (mut command, reply) in rx {
                    let _ = reply.send(command.spawn());
                }
            })
            .map(|_| ())
            .unwrap_or_else(|error| {
                eprintln!("mesh-tests: cannot start the spawner thread: {error}")
            });
        Mutex::new(tx)
    })
}

/// Runs a short command to completion; a non-zero exit is an error carrying its stderr.
pub(crate) fn run(program: &str, args: &[&str]) -> Result<String> {
    let command_line = format!("{program} {}", args.join(" "));
    let output = Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .map_err(HarnessError::io(format!("running `{command_line}`")))?;
    if !output.status.success() {
        return Err(HarnessError::Command {
            command: command_line,
            status: output.status.to_string(),
            stderr: String::from_utf8_lossy(&output.stderr).trim().to_string(),
        });
    }
    Ok(String::from_utf8_lossy(&output.stdout).into_owned())
}

/// Checks that `tool` can be executed, with an installation hint otherwise.
pub(crate) fn require_tool(tool: &str, hint: &str) -> Result<()> {
    match Command::new(tool)
        .arg("-V")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
    {
        Ok(_) => Ok(()),
        Err(_) => Err(HarnessError::MissingTool {
            tool: tool.to_string(),
            hint: hint.to_string(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_tail_keeps_only_the_last_lines() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("log");
        std::fs::write(&path, "one\ntwo\nthree\nfour\n").expect("write log");
        assert_eq!(log_tail(&path, 2), "three\nfour");
        assert_eq!(log_tail(&path, 10), "one\ntwo\nthree\nfour");
        assert_eq!(log_tail(&dir.path().join("missing"), 3), "");
    }

    #[test]
    fn a_failing_command_reports_its_stderr() {
        let error = run("sh", &["-c", "echo broken >&2; exit 3"]).expect_err("must fail");
        let message = error.to_string();
        assert!(message.contains("broken"), "{message}");
        assert!(message.contains("exit status: 3"), "{message}");
    }

    #[test]
    fn a_missing_tool_is_named_with_its_hint() {
        let error =
            require_tool("mesh-no-such-tool", "apt-get install nothing").expect_err("must fail");
        assert_eq!(
            error.to_string(),
            "`mesh-no-such-tool` is not installed or not on PATH (apt-get install nothing)"
        );
    }

    #[test]
    fn terminate_lets_a_process_exit_on_sigterm() {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut command = Command::new("sh");
        // exec: SIGTERM reaches sleep itself, which dies of it at once.
        command.args(["-c", "exec sleep 600"]);
        let mut process =
            ManagedProcess::start("sleeper", command, &dir.path().join("log")).expect("start");
        let status = process.terminate(Duration::from_secs(30));
        use std::os::unix::process::ExitStatusExt;
        assert_eq!(status.and_then(|s| s.signal()), Some(libc::SIGTERM));
    }

    #[test]
    fn terminate_kills_a_process_that_ignores_sigterm() {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut command = Command::new("sh");
        command.args([
            "-c",
            "trap '' TERM; echo ready; while :; do sleep 0.1; done",
        ]);
        let mut process =
            ManagedProcess::start("stubborn", command, &dir.path().join("log")).expect("start");
        // SIGTERM before the trap is set would simply kill the shell.
        let deadline = Instant::now() + Duration::from_secs(30);
        while process.log_tail(1) != "ready" {
            assert!(Instant::now() < deadline, "the shell never set its trap");
            std::thread::sleep(Duration::from_millis(20));
        }
        assert_eq!(process.terminate(Duration::from_millis(300)), None);
        assert!(process.exit_status().is_some(), "killed and reaped");
    }

    #[test]
    fn children_are_killed_on_drop() {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut command = Command::new("sleep");
        command.arg("600");
        let mut process = ManagedProcess::start("sleeper", command, &dir.path().join("log"))
            .expect("start sleep");
        assert!(process.exit_status().is_none());
        let pid = process.pid();
        drop(process);
        // Reaped by drop: the pid no longer names our child.
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
        assert!(
            !status.contains("sleep"),
            "sleep {pid} still alive: {status}"
        );
    }
}
