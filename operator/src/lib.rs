//! Mesh operator: watches Kubernetes, translates to `mesh_proxy` config, writes status.
