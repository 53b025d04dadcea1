//! Translation fixture tests: `operator/tests/fixtures/<name>/` holds `input.yaml` (the
//! world), optionally `options.yaml` (`ProviderOptions`), and `expected.yaml` (the proxy
//! configuration and the status of every object). `MESH_BLESS=1` rewrites the expectations;
//! review the diff before committing it.

mod fixtures;
mod scale;
