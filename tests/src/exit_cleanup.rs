//! Clean-up that runs when the test binary exits normally.
//!
//! Process-wide instances (the shared control plane) live in statics, which Rust never
//! drops; an `atexit` hook kills their processes and removes their directories instead.

use std::sync::{Mutex, Once};

type Task = Box<dyn FnOnce() + Send>;

static TASKS: Mutex<Vec<Task>> = Mutex::new(Vec::new());
static REGISTER_HOOK: Once = Once::new();

/// Runs `task` when the process exits through `exit()` or a return from `main`.
pub(crate) fn at_exit(task: impl FnOnce() + Send + 'static) {
    REGISTER_HOOK.call_once(|| {
        // SAFETY: `run_tasks` is a plain `extern "C"` function with no arguments, as
        // atexit requires; it never unwinds (panics are caught inside).
        unsafe {
            libc::atexit(run_tasks);
        }
    });
    let mut tasks = TASKS
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    tasks.push(Box::new(task));
}

extern "C" fn run_tasks() {
    let tasks = {
        let mut tasks = TASKS
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        std::mem::take(&mut *tasks)
    };
    // Newest first, like destructors.
    for task in tasks.into_iter().rev() {
        let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(task));
    }
}
