//! Access reviews: what the caller may do (SelfSubjectAccessReview) or what another
//! identity, e.g. the controller's ServiceAccount, may do (SubjectAccessReview).

use k8s_openapi::api::authorization::v1::{
    ResourceAttributes, SelfSubjectAccessReview, SelfSubjectAccessReviewSpec, SubjectAccessReview,
    SubjectAccessReviewSpec,
};
use kube::api::{Api, PostParams};

use super::connect::Cluster;
use super::errors::{Operation, api_error};
use crate::error::CliResult;

/// One question: may the subject do `verb` on `group`/`resource`[/`subresource`] (in
/// `namespace`, or cluster-wide)?
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct AccessCheck {
    pub verb: &'static str,
    pub group: String,
    pub resource: String,
    pub subresource: Option<String>,
    pub namespace: Option<String>,
    pub name: Option<String>,
}

impl AccessCheck {
    pub fn new(verb: &'static str, group: &str, resource: &str) -> Self {
        AccessCheck {
            verb,
            group: group.to_owned(),
            resource: resource.to_owned(),
            subresource: None,
            namespace: None,
            name: None,
        }
    }

    pub fn subresource(mut self, subresource: &str) -> Self {
        self.subresource = Some(subresource.to_owned());
        self
    }

    pub fn in_namespace(mut self, namespace: &str) -> Self {
        self.namespace = Some(namespace.to_owned());
        self
    }

    pub fn named(mut self, name: &str) -> Self {
        self.name = Some(name.to_owned());
        self
    }

    /// `list ingressroutes.mesh.io`, `patch ingressroutes.mesh.io/status`.
    pub fn describe(&self) -> String {
        let mut text = format!("{} {}", self.verb, self.resource);
        if !self.group.is_empty() {
            text.push('.');
            text.push_str(&self.group);
        }
        if let Some(sub) = &self.subresource {
            text.push('/');
            text.push_str(sub);
        }
        if let Some(name) = &self.name {
            text.push_str(&format!(" {name}"));
        }
        if let Some(namespace) = &self.namespace {
            text.push_str(&format!(" in {namespace}"));
        }
        text
    }

    fn attributes(&self) -> ResourceAttributes {
        ResourceAttributes {
            verb: Some(self.verb.to_owned()),
            group: Some(self.group.clone()),
            resource: Some(self.resource.clone()),
            subresource: self.subresource.clone(),
            namespace: self.namespace.clone(),
            name: self.name.clone(),
            ..ResourceAttributes::default()
        }
    }
}

/// The user name and groups of ServiceAccount `name` in `namespace`, as the apiserver
/// authenticates its token.
pub(crate) fn service_account_user(namespace: &str, name: &str) -> (String, Vec<String>) {
    (
        format!("system:serviceaccount:{namespace}:{name}"),
        vec![
            "system:serviceaccounts".to_owned(),
            format!("system:serviceaccounts:{namespace}"),
            "system:authenticated".to_owned(),
        ],
    )
}

/// Whether `subject` (user and groups; `None` = the caller) is allowed `check`.
pub(crate) async fn can_i(
    cluster: &Cluster,
    subject: Option<&(String, Vec<String>)>,
    check: &AccessCheck,
) -> CliResult<bool> {
    let post = PostParams::default();
    let allowed = match subject {
        None => {
            let review = SelfSubjectAccessReview {
                spec: SelfSubjectAccessReviewSpec {
                    resource_attributes: Some(check.attributes()),
                    ..SelfSubjectAccessReviewSpec::default()
                },
                ..SelfSubjectAccessReview::default()
            };
            Api::<SelfSubjectAccessReview>::all(cluster.client.clone())
                .create(&post, &review)
                .await
                .map(|answer| answer.status.is_some_and(|s| s.allowed))
                .map_err(|error| {
                    api_error(
                        cluster,
                        &Operation::new(
                            "create",
                            "selfsubjectaccessreviews.authorization.k8s.io",
                            None,
                        ),
                        error,
                    )
                })?
        }
        Some((user, groups)) => {
            let review = SubjectAccessReview {
                spec: SubjectAccessReviewSpec {
                    user: Some(user.clone()),
                    groups: Some(groups.clone()),
                    resource_attributes: Some(check.attributes()),
                    ..SubjectAccessReviewSpec::default()
                },
                ..SubjectAccessReview::default()
            };
            Api::<SubjectAccessReview>::all(cluster.client.clone())
                .create(&post, &review)
                .await
                .map(|answer| answer.status.is_some_and(|s| s.allowed))
                .map_err(|error| {
                    api_error(
                        cluster,
                        &Operation::new(
                            "create",
                            "subjectaccessreviews.authorization.k8s.io",
                            None,
                        ),
                        error,
                    )
                })?
        }
    };
    Ok(allowed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checks_read_like_rbac_rules() {
        let check = AccessCheck::new("patch", "mesh.io", "ingressroutes").subresource("status");
        assert_eq!(check.describe(), "patch ingressroutes.mesh.io/status");
        let lease = AccessCheck::new("update", "coordination.k8s.io", "leases")
            .named("mesh-status")
            .in_namespace("mesh-system");
        assert_eq!(
            lease.describe(),
            "update leases.coordination.k8s.io mesh-status in mesh-system"
        );
        assert_eq!(
            AccessCheck::new("create", "", "events").describe(),
            "create events"
        );
    }
}
