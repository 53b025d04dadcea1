//! kubectl-style output: aligned tables (with `--no-headers`), JSON and YAML.
