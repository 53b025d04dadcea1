//! Test support: a real Kubernetes control plane and a pod network for backends.
