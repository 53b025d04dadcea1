//! Mesh custom resource types (group `mesh.io`, version `v1alpha1`).
