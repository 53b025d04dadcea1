//! Mesh data plane. Knows nothing of Kubernetes: it serves a `Config`.
