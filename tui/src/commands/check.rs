//! `kubectl mesh check` (linkerd check style): grouped checks, each `√` (fine), `‼`
//! (a warning) or `×` (a failure) with a hint. Exit 1 when any check fails, 0 with
//! warnings only, 2 when the cluster cannot be reached at all.
//!
//! `--pre`: only what matters before installing (the apiserver, the rights to install,
//! no conflicting CRDs).

use chrono::Utc;
use futures::future::join_all;
use k8s_openapi::api::networking::v1::IngressClass;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{Api, ListParams};
use mesh_crds::Kind;

use crate::cli::{CheckArgs, GlobalArgs};
use crate::cluster::{self, AccessCheck, Cluster, ControllerPod, LEASE_NAME};
use crate::error::{CliError, CliResult};

/// The IngressClass controller name Mesh answers to (the chart's IngressClass).
const INGRESS_CONTROLLER: &str = "mesh.io/ingress-controller";
const INSTALL_CRDS: &str = "install them with `helm install mesh helm/mesh -n mesh-system --create-namespace` \
                            or `kubectl apply -f helm/mesh/crds`";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mark {
    Pass,
    Warn,
    Fail,
}

impl Mark {
    fn symbol(self) -> &'static str {
        match self {
            Mark::Pass => "√",
            Mark::Warn => "‼",
            Mark::Fail => "×",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Outcome {
    mark: Mark,
    text: String,
    hint: Option<String>,
}

impl Outcome {
    fn pass(text: impl Into<String>) -> Outcome {
        Outcome {
            mark: Mark::Pass,
            text: text.into(),
            hint: None,
        }
    }

    fn warn(text: impl Into<String>, hint: impl Into<String>) -> Outcome {
        Outcome {
            mark: Mark::Warn,
            text: text.into(),
            hint: Some(hint.into()),
        }
    }

    fn fail(text: impl Into<String>, hint: impl Into<String>) -> Outcome {
        Outcome {
            mark: Mark::Fail,
            text: text.into(),
            hint: Some(hint.into()),
        }
    }

    /// A check that could not run because an API call failed: a warning naming why.
    fn could_not(what: &str, error: &CliError) -> Outcome {
        Outcome {
            mark: Mark::Warn,
            text: format!("could not check {what}: {}", error.message),
            hint: error.hint.clone(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Group {
    name: &'static str,
    outcomes: Vec<Outcome>,
}

pub async fn run(global: &GlobalArgs, args: &CheckArgs) -> CliResult {
    let cluster = cluster::connect(global).await?;
    let mut groups = vec![Group {
        name: "kubernetes-api",
        outcomes: vec![
            Outcome::pass(format!("can reach the apiserver at {}", cluster.server)),
            Outcome::pass(format!("apiserver version {}", cluster.server_version())),
        ],
    }];
    if args.pre {
        groups.push(pre_install(&cluster).await);
    } else {
        groups.push(crds(&cluster).await);
        groups.push(controller_rbac(&cluster, global, &args.service_account).await);
        groups.push(ingress_class(&cluster).await);
        let pods = cluster::controller_pods(
            &cluster,
            &global.controller_namespace,
            &global.controller_selector,
        )
        .await;
        groups.push(controllers(&cluster, global, &pods).await);
        groups.push(versions(&pods));
    }
    print!("{}", render(&groups));
    if failed(&groups) {
        Err(CliError::findings())
    } else {
        Ok(())
    }
}

fn failed(groups: &[Group]) -> bool {
    groups
        .iter()
        .flat_map(|g| &g.outcomes)
        .any(|o| o.mark == Mark::Fail)
}

/// linkerd's layout: a header per group, one mark per check, hints indented below.
fn render(groups: &[Group]) -> String {
    let mut out = String::new();
    for group in groups {
        out.push_str(group.name);
        out.push('\n');
        out.push_str(&"-".repeat(group.name.chars().count()));
        out.push('\n');
        for outcome in &group.outcomes {
            out.push_str(&format!("{} {}\n", outcome.mark.symbol(), outcome.text));
            if let (Some(hint), true) = (&outcome.hint, outcome.mark != Mark::Pass) {
                out.push_str(&format!("    hint: {hint}\n"));
            }
        }
        out.push('\n');
    }
    let summary = if failed(groups) {
        Mark::Fail
    } else {
        Mark::Pass
    };
    out.push_str(&format!("Status check results are {}\n", summary.symbol()));
    out
}

/// Each of the ten CRDs: installed, established, with the status subresource and the
/// Ready/Reason printer columns.
async fn crds(cluster: &Cluster) -> Group {
    let api: Api<CustomResourceDefinition> = Api::all(cluster.client.clone());
    let found = join_all(Kind::ALL.iter().map(|kind| {
        let name = format!("{}.{}", kind.plural(), mesh_crds::GROUP);
        let api = api.clone();
        async move {
            let answer = api.get_opt(&name).await;
            (name, answer)
        }
    }))
    .await;
    let mut outcomes = Vec::new();
    for (name, answer) in found {
        outcomes.push(match answer {
            Ok(Some(crd)) => crd_outcome(&name, &crd),
            Ok(None) => Outcome::fail(format!("{name} is not installed"), INSTALL_CRDS),
            Err(error) => {
                let operation = cluster::Operation::new(
                    "get",
                    "customresourcedefinitions.apiextensions.k8s.io",
                    None,
                );
                Outcome::could_not(&name, &cluster::api_error(cluster, &operation, error))
            }
        });
    }
    Group {
        name: "mesh-crds",
        outcomes,
    }
}

fn crd_outcome(name: &str, crd: &CustomResourceDefinition) -> Outcome {
    let established = crd
        .status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .is_some_and(|c| {
            c.iter()
                .any(|c| c.type_ == "Established" && c.status == "True")
        });
    let version = crd
        .spec
        .versions
        .iter()
        .find(|v| v.name == mesh_crds::VERSION);
    let mut missing = Vec::new();
    if !established {
        missing.push("not established".to_string());
    }
    match version {
        None => missing.push(format!("does not serve {}", mesh_crds::VERSION)),
        Some(version) => {
            if version
                .subresources
                .as_ref()
                .is_none_or(|s| s.status.is_none())
            {
                missing.push("no status subresource".into());
            }
            let columns: Vec<&str> = version
                .additional_printer_columns
                .iter()
                .flatten()
                .map(|c| c.name.as_str())
                .collect();
            for column in ["Ready", "Reason"] {
                if !columns.contains(&column) {
                    missing.push(format!("no {column} printer column"));
                }
            }
        }
    }
    if missing.is_empty() {
        Outcome::pass(format!(
            "{name} is installed with the status subresource and printer columns"
        ))
    } else {
        Outcome::fail(
            format!("{name}: {}", missing.join(", ")),
            "an older or foreign copy of the CRD: update it with \
             `kubectl apply --server-side --force-conflicts -f helm/mesh/crds`",
        )
    }
}

/// What the controller's ServiceAccount may do, asked with SubjectAccessReviews.
async fn controller_rbac(cluster: &Cluster, global: &GlobalArgs, account: &str) -> Group {
    let namespace = global.controller_namespace.as_str();
    let subject = cluster::service_account_user(namespace, account);
    let mut areas: Vec<(String, Vec<AccessCheck>)> = Vec::new();
    let mesh = mesh_crds::GROUP;
    areas.push((
        "list and watch Mesh's kinds".into(),
        Kind::ALL
            .iter()
            .flat_map(|k| ["list", "watch"].map(|verb| AccessCheck::new(verb, mesh, k.plural())))
            .collect(),
    ));
    areas.push((
        "patch the status of Mesh's kinds".into(),
        Kind::ALL
            .iter()
            .map(|k| AccessCheck::new("patch", mesh, k.plural()).subresource("status"))
            .collect(),
    ));
    let world = [
        ("", "services"),
        ("discovery.k8s.io", "endpointslices"),
        ("", "secrets"),
        ("networking.k8s.io", "ingresses"),
        ("networking.k8s.io", "ingressclasses"),
    ];
    areas.push((
        "list and watch Services, EndpointSlices, Secrets, Ingresses, IngressClasses".into(),
        world
            .iter()
            .flat_map(|(group, resource)| {
                ["list", "watch"].map(|verb| AccessCheck::new(verb, group, resource))
            })
            .collect(),
    ));
    areas.push((
        "patch the status of Ingresses".into(),
        vec![AccessCheck::new("patch", "networking.k8s.io", "ingresses").subresource("status")],
    ));
    areas.push((
        "create Events".into(),
        vec![AccessCheck::new("create", "", "events")],
    ));
    areas.push((
        format!("get and update Lease {LEASE_NAME} in {namespace}"),
        ["get", "update"]
            .map(|verb| {
                AccessCheck::new(verb, "coordination.k8s.io", "leases")
                    .named(LEASE_NAME)
                    .in_namespace(namespace)
            })
            .into_iter()
            .collect(),
    ));
    let who = format!("ServiceAccount {namespace}/{account}");
    let mut outcomes = Vec::new();
    for (area, checks) in areas {
        let answers = join_all(
            checks
                .iter()
                .map(|c| cluster::can_i(cluster, Some(&subject), c)),
        )
        .await;
        let mut denied = Vec::new();
        let mut trouble = None;
        for (check, answer) in checks.iter().zip(answers) {
            match answer {
                Ok(true) => {}
                Ok(false) => denied.push(check.describe()),
                Err(error) => {
                    trouble.get_or_insert(error);
                }
            }
        }
        outcomes.push(match trouble {
            Some(error) => Outcome::could_not(&format!("whether {who} can {area}"), &error),
            None => rbac_outcome(&who, &area, &denied),
        });
    }
    Group {
        name: "controller-rbac",
        outcomes,
    }
}

fn rbac_outcome(who: &str, area: &str, denied: &[String]) -> Outcome {
    if denied.is_empty() {
        return Outcome::pass(format!("{who} can {area}"));
    }
    Outcome::fail(
        format!("{who} cannot {}", denied.join(", ")),
        "the chart's ClusterRole and Role grant these (rbac.create=true); check their bindings \
         to this ServiceAccount, or pass --service-account / --controller-namespace",
    )
}

async fn ingress_class(cluster: &Cluster) -> Group {
    let api: Api<IngressClass> = Api::all(cluster.client.clone());
    let outcome = match api.list(&ListParams::default()).await {
        Err(error) => {
            let operation =
                cluster::Operation::new("list", "ingressclasses.networking.k8s.io", None);
            Outcome::could_not(
                "IngressClasses",
                &cluster::api_error(cluster, &operation, error),
            )
        }
        Ok(list) => {
            let ours: Vec<String> = list
                .items
                .iter()
                .filter(|c| {
                    c.spec.as_ref().and_then(|s| s.controller.as_deref())
                        == Some(INGRESS_CONTROLLER)
                })
                .filter_map(|c| c.metadata.name.clone())
                .collect();
            if ours.is_empty() {
                Outcome::warn(
                    format!("no IngressClass has controller {INGRESS_CONTROLLER}"),
                    "Ingresses naming a class need one: the chart creates it (ingressClass.enabled=true)",
                )
            } else {
                Outcome::pass(format!(
                    "IngressClass {} has controller {INGRESS_CONTROLLER}",
                    ours.join(", ")
                ))
            }
        }
    };
    Group {
        name: "ingress-class",
        outcomes: vec![outcome],
    }
}

async fn controllers(
    cluster: &Cluster,
    global: &GlobalArgs,
    pods: &CliResult<Vec<ControllerPod>>,
) -> Group {
    let namespace = &global.controller_namespace;
    let lease = cluster::lease_holder(cluster, namespace).await;
    Group {
        name: "mesh-controller",
        outcomes: controller_outcomes(global, pods, &lease, Utc::now()),
    }
}

fn controller_outcomes(
    global: &GlobalArgs,
    pods: &CliResult<Vec<ControllerPod>>,
    lease: &CliResult<Option<cluster::LeaseHolder>>,
    now: chrono::DateTime<Utc>,
) -> Vec<Outcome> {
    let namespace = &global.controller_namespace;
    let selector = &global.controller_selector;
    let mut outcomes = Vec::new();
    let pods = match pods {
        Err(error) => {
            outcomes.push(Outcome::could_not("the controller pods", error));
            None
        }
        Ok(pods) if pods.is_empty() => {
            outcomes.push(Outcome::fail(
                format!(
                    "no controller pods found with selector {selector} in namespace {namespace}"
                ),
                "is Mesh installed (`helm install mesh helm/mesh -n mesh-system`)? \
                 --controller-namespace and --controller-selector point elsewhere",
            ));
            None
        }
        Ok(pods) => {
            let not_ready: Vec<String> = pods
                .iter()
                .filter(|p| !p.ready)
                .map(|p| format!("{} ({})", p.name, p.phase))
                .collect();
            outcomes.push(if not_ready.is_empty() {
                Outcome::pass(format!("{} controller pods are ready", pods.len()))
            } else {
                Outcome::fail(
                    format!(
                        "{} of {} controller pods are not ready: {}",
                        not_ready.len(),
                        pods.len(),
                        not_ready.join(", ")
                    ),
                    format!("`kubectl -n {namespace} describe pod` and `kubectl -n {namespace} logs` tell why"),
                )
            });
            Some(pods)
        }
    };
    outcomes.push(match lease {
        Err(error) => Outcome::could_not(&format!("Lease {LEASE_NAME}"), error),
        Ok(None) => Outcome::fail(
            format!("nobody holds Lease {LEASE_NAME} in {namespace}: no controller writes status"),
            "the controllers elect a status writer when they start with --leader-elect; check their logs",
        ),
        Ok(Some(holder)) if holder.expired(now) => Outcome::warn(
            format!("Lease {LEASE_NAME} of {} has expired", holder.identity),
            "its holder stopped renewing it; another replica should take over within the lease duration",
        ),
        Ok(Some(holder)) => match pods {
            Some(pods) if !pods.iter().any(|p| p.name == holder.identity) => Outcome::warn(
                format!("Lease {LEASE_NAME} is held by {}, which is not one of the controller pods", holder.identity),
                "a controller outside this selector (another install, or `mesh run` on a workstation) writes status",
            ),
            _ => Outcome::pass(format!("Lease {LEASE_NAME} is held by {}", holder.identity)),
        },
    });
    outcomes
}

/// The plugin's version against the controller pods' image tags.
fn versions(pods: &CliResult<Vec<ControllerPod>>) -> Group {
    let plugin = env!("CARGO_PKG_VERSION");
    let mut outcomes = vec![Outcome::pass(format!("kubectl-mesh is version {plugin}"))];
    if let Ok(pods) = pods {
        let differing: Vec<String> = pods
            .iter()
            .filter_map(|p| {
                let tag = p.image_tag()?;
                (tag.trim_start_matches('v') != plugin).then(|| format!("{} runs {tag}", p.name))
            })
            .collect();
        if !pods.is_empty() {
            outcomes.push(if differing.is_empty() {
                Outcome::pass("the controllers run the same version")
            } else {
                Outcome::warn(
                    format!(
                        "controller versions differ from the plugin's: {}",
                        differing.join(", ")
                    ),
                    "use a kubectl-mesh of the controllers' version",
                )
            });
        }
    }
    Group {
        name: "versions",
        outcomes,
    }
}

/// Before installing: the rights to install, and no other project's `mesh.io` CRDs.
async fn pre_install(cluster: &Cluster) -> Group {
    let rights = [
        AccessCheck::new(
            "create",
            "apiextensions.k8s.io",
            "customresourcedefinitions",
        ),
        AccessCheck::new("create", "rbac.authorization.k8s.io", "clusterroles"),
        AccessCheck::new("create", "rbac.authorization.k8s.io", "clusterrolebindings"),
        AccessCheck::new("create", "", "namespaces"),
    ];
    let answers = join_all(rights.iter().map(|c| cluster::can_i(cluster, None, c))).await;
    let mut outcomes = Vec::new();
    for (check, answer) in rights.iter().zip(answers) {
        outcomes.push(match answer {
            Ok(true) => Outcome::pass(format!("can {}", check.describe())),
            Ok(false) => Outcome::fail(
                format!("cannot {}", check.describe()),
                "installing Mesh needs cluster-admin rights; ask an administrator",
            ),
            Err(error) => {
                Outcome::could_not(&format!("whether you can {}", check.describe()), &error)
            }
        });
    }
    let api: Api<CustomResourceDefinition> = Api::all(cluster.client.clone());
    outcomes.push(match api.list(&ListParams::default()).await {
        Err(error) => {
            let operation = cluster::Operation::new(
                "list",
                "customresourcedefinitions.apiextensions.k8s.io",
                None,
            );
            Outcome::could_not(
                "the installed CRDs",
                &cluster::api_error(cluster, &operation, error),
            )
        }
        Ok(list) => {
            let names: Vec<String> = list
                .items
                .iter()
                .filter(|c| c.spec.group == mesh_crds::GROUP)
                .filter_map(|c| c.metadata.name.clone())
                .collect();
            crd_conflicts(&names)
        }
    });
    Group {
        name: "pre-install",
        outcomes,
    }
}

/// `names`: the installed CRDs of group mesh.io.
fn crd_conflicts(names: &[String]) -> Outcome {
    let ours: Vec<String> = Kind::ALL
        .iter()
        .map(|k| format!("{}.{}", k.plural(), mesh_crds::GROUP))
        .collect();
    let foreign: Vec<&str> = names
        .iter()
        .filter(|n| !ours.contains(n))
        .map(String::as_str)
        .collect();
    if !foreign.is_empty() {
        return Outcome::fail(
            format!(
                "other CRDs use the group {}: {}",
                mesh_crds::GROUP,
                foreign.join(", ")
            ),
            "another project owns this API group; remove its CRDs before installing Mesh",
        );
    }
    if names.is_empty() {
        Outcome::pass(format!(
            "no CRDs of group {} are installed yet",
            mesh_crds::GROUP
        ))
    } else {
        Outcome::warn(
            format!("{} of Mesh's CRDs are already installed", names.len()),
            "Helm keeps existing CRDs: upgrade them with \
             `kubectl apply --server-side --force-conflicts -f helm/mesh/crds`",
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    fn global() -> GlobalArgs {
        crate::cli::Cli::parse_from(["kubectl-mesh", "check"]).global
    }

    fn pod(name: &str, ready: bool) -> ControllerPod {
        ControllerPod {
            name: name.into(),
            namespace: "mesh-system".into(),
            ready,
            phase: if ready { "Running" } else { "Pending" }.into(),
            image: Some("mesh:0.1.0".into()),
            restarts: 0,
        }
    }

    #[test]
    fn groups_render_with_marks_and_hints_and_a_summary() {
        let groups = [
            Group {
                name: "kubernetes-api",
                outcomes: vec![Outcome::pass("can reach the apiserver")],
            },
            Group {
                name: "ingress-class",
                outcomes: vec![Outcome::warn("no IngressClass", "create one")],
            },
        ];
        assert_eq!(
            render(&groups),
            "kubernetes-api\n--------------\n√ can reach the apiserver\n\n\
             ingress-class\n-------------\n‼ no IngressClass\n    hint: create one\n\n\
             Status check results are √\n"
        );
        assert!(!failed(&groups), "warnings alone pass");
        let mut with_failure = groups.to_vec();
        with_failure[1]
            .outcomes
            .push(Outcome::fail("broken", "fix it"));
        assert!(failed(&with_failure));
        assert!(render(&with_failure).ends_with("Status check results are ×\n"));
    }

    #[test]
    fn missing_pods_fail_and_a_foreign_lease_holder_warns() {
        let lease = Ok(Some(cluster::LeaseHolder {
            identity: "laptop".into(),
            renewed: Some(Utc::now()),
            duration_seconds: Some(15),
        }));
        let outcomes = controller_outcomes(&global(), &Ok(vec![]), &lease, Utc::now());
        assert_eq!(outcomes[0].mark, Mark::Fail);
        assert!(outcomes[0].text.contains("no controller pods found with selector app.kubernetes.io/name=mesh in namespace mesh-system"));
        assert_eq!(outcomes[1].mark, Mark::Pass, "no pods to compare with");

        let pods = Ok(vec![pod("mesh-a", true), pod("mesh-b", false)]);
        let outcomes = controller_outcomes(&global(), &pods, &lease, Utc::now());
        assert_eq!(outcomes[0].mark, Mark::Fail);
        assert!(
            outcomes[0]
                .text
                .contains("1 of 2 controller pods are not ready: mesh-b (Pending)")
        );
        assert_eq!(outcomes[1].mark, Mark::Warn);
        assert!(
            outcomes[1]
                .text
                .contains("held by laptop, which is not one of the controller pods")
        );

        let outcomes = controller_outcomes(&global(), &pods, &Ok(None), Utc::now());
        assert_eq!(outcomes[1].mark, Mark::Fail);
    }

    #[test]
    fn denied_rights_are_listed_by_name() {
        let outcome = rbac_outcome(
            "ServiceAccount mesh-system/mesh",
            "create Events",
            &["create events".into()],
        );
        assert_eq!(outcome.mark, Mark::Fail);
        assert_eq!(
            outcome.text,
            "ServiceAccount mesh-system/mesh cannot create events"
        );
        assert_eq!(rbac_outcome("sa", "x", &[]).mark, Mark::Pass);
    }

    #[test]
    fn foreign_crds_of_the_group_conflict_and_ours_only_warn() {
        assert_eq!(crd_conflicts(&[]).mark, Mark::Pass);
        assert_eq!(
            crd_conflicts(&["ingressroutes.mesh.io".into()]).mark,
            Mark::Warn
        );
        let conflict = crd_conflicts(&["widgets.mesh.io".into()]);
        assert_eq!(conflict.mark, Mark::Fail);
        assert!(conflict.text.contains("widgets.mesh.io"));
    }

    #[test]
    fn a_crd_without_status_or_columns_fails_with_what_is_missing() {
        let yaml = std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../helm/mesh/crds/ingressroutes.mesh.io.yaml"
        ))
        .unwrap();
        let mut crd: CustomResourceDefinition = serde_yaml::from_str(&yaml).unwrap();
        let name = "ingressroutes.mesh.io";
        crd.status = serde_json::from_value(serde_json::json!({
            "conditions": [{"type": "Established", "status": "True"}]
        }))
        .unwrap();
        assert_eq!(crd_outcome(name, &crd).mark, Mark::Pass);
        crd.spec.versions[0].subresources = None;
        crd.spec.versions[0].additional_printer_columns = None;
        let outcome = crd_outcome(name, &crd);
        assert_eq!(outcome.mark, Mark::Fail);
        assert_eq!(
            outcome.text,
            "ingressroutes.mesh.io: no status subresource, no Ready printer column, no Reason printer column"
        );
    }

    #[test]
    fn differing_controller_versions_warn() {
        let mut old = pod("mesh-a", true);
        old.image = Some("mesh:0.0.9".into());
        let group = versions(&Ok(vec![old]));
        assert_eq!(group.outcomes[1].mark, Mark::Warn);
        assert!(group.outcomes[1].text.contains("mesh-a runs 0.0.9"));
        let group = versions(&Ok(vec![pod("mesh-b", true)]));
        assert_eq!(group.outcomes[1].mark, Mark::Pass);
    }
}
