//! Integration tests of the benchmark program: its children (Mesh and the backend, run as
//! the real binary) and a short end-to-end run.
mod children;
mod whole_run;

use std::path::Path;

/// The benchmark binary under test.
pub fn bench_binary() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_bench-proxy"))
}
