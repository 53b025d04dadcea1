//! Turning `kube::Error` into what the user needs to read: which server could not be
//! reached, which verb on which resource was refused, which CRDs are missing.

use super::connect::Cluster;
use crate::error::CliError;

/// What was being done when an API call failed, for the message.
#[derive(Debug, Clone)]
pub(crate) struct Operation {
    /// `list`, `get`, `watch`, `create` ...
    pub verb: &'static str,
    /// `ingressroutes.mesh.io`, `pods`, `leases.coordination.k8s.io`.
    pub resource: String,
    /// `None` for every namespace or a cluster-scoped resource.
    pub namespace: Option<String>,
}

impl Operation {
    pub fn new(verb: &'static str, resource: impl Into<String>, namespace: Option<&str>) -> Self {
        Operation {
            verb,
            resource: resource.into(),
            namespace: namespace.map(str::to_owned),
        }
    }

    fn scope(&self) -> String {
        match &self.namespace {
            Some(namespace) => format!("in namespace {namespace}"),
            None => "at the cluster scope".to_string(),
        }
    }
}

/// The error shown when the CRDs of `mesh.io` are not served.
pub(crate) fn crds_missing(cluster: &Cluster) -> CliError {
    CliError::connection(format!(
        "Mesh's CRDs are not installed in the cluster at {} (no mesh.io/v1alpha1 resources are served)",
        cluster.server
    ))
    .with_hint(
        "install them with the chart (`helm install mesh helm/mesh -n mesh-system --create-namespace`) \
         or `kubectl apply -f helm/mesh/crds`",
    )
}

/// Classifies a failed API call of `operation`.
pub(crate) fn api_error(cluster: &Cluster, operation: &Operation, error: kube::Error) -> CliError {
    let status = match error {
        kube::Error::Api(status) => status,
        other => return unreachable(cluster, other),
    };
    let Operation { verb, resource, .. } = operation;
    match status.code {
        401 => unauthorized(cluster),
        403 => CliError::connection(format!(
            "permission denied: cannot {verb} {resource} {}",
            operation.scope()
        ))
        .with_hint(format!(
            "ask for a Role or ClusterRole granting `{verb}` on {resource}, or use a context with more rights \
             (`kubectl auth can-i {verb} {resource}{}`)",
            match &operation.namespace {
                Some(namespace) => format!(" -n {namespace}"),
                None => " -A".to_string(),
            }
        )),
        400 if status.message.contains("selector") => {
            CliError::usage(format!("invalid label selector: {}", status.message))
                .with_hint("selectors look like `app=web,tier!=cache`")
        }
        code => CliError::connection(format!(
            "cannot {verb} {resource} {}: {} ({code} {})",
            operation.scope(),
            status.message,
            status.reason
        )),
    }
}

/// The apiserver could not be reached at all, or did not answer HTTP.
pub(crate) fn unreachable(cluster: &Cluster, error: kube::Error) -> CliError {
    if let kube::Error::Api(status) = &error
        && status.code == 401
    {
        return unauthorized(cluster);
    }
    let context = cluster
        .context
        .as_deref()
        .map_or(String::new(), |c| format!(" of context `{c}`"));
    CliError::connection(format!(
        "no cluster reachable at {}: {}",
        cluster.server,
        causes(&error)
    ))
    .with_hint(format!(
        "is the apiserver{context} running? Check `kubectl config current-context`, or pick another cluster with --context or --kubeconfig"
    ))
}

fn unauthorized(cluster: &Cluster) -> CliError {
    CliError::connection(format!(
        "the cluster at {} rejected the credentials (401 Unauthorized)",
        cluster.server
    ))
    .with_hint("log in again or check the user of the kubeconfig context")
}

/// An error with its sources, `outer: inner: innermost`, without repeats.
pub(crate) fn causes(error: &dyn std::error::Error) -> String {
    let mut parts: Vec<String> = vec![error.to_string()];
    let mut source = error.source();
    while let Some(next) = source {
        let text = next.to_string();
        if !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
        source = next.source();
    }
    parts.join(": ")
}

/// Whether a 404 on a collection means its resource type is not served (as opposed
/// to a named object that does not exist).
pub(crate) fn is_type_not_served(error: &kube::Error) -> bool {
    match error {
        kube::Error::Api(status) if status.code == 404 => status
            .details
            .as_ref()
            .is_none_or(|details| details.name.is_empty()),
        _ => false,
    }
}
