//! `kubectl mesh status`: one row per Mesh resource and Ingress with its Ready verdict,
//! problems first. `-w` prints again on every change until interrupted.
//!
//! Exit code 0 whatever the verdicts (like `kubectl get`; `kubectl wait` is for waiting on
//! them), 2 when the cluster cannot be read.

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::cli::{GlobalArgs, OutputFormat, StatusArgs};
use crate::cluster::{self, ResourceKind, WatchUpdate};
use crate::error::{CliError, CliResult};
use crate::model::{Resource, Severity, sort_problems_first};
use crate::output::{Table, age, is_document, render_list, truncate};

/// Message width in the plain table; `-o wide` shows it whole.
const MESSAGE_WIDTH: usize = 80;

pub async fn run(global: &GlobalArgs, args: &StatusArgs) -> CliResult {
    let kinds = parse_kinds(&args.kinds)?;
    let cluster = cluster::connect(global).await?;
    let scope = cluster.scope(global);
    let selector = global.selector.as_deref();
    if !args.watch {
        let resources = cluster::list_resources(&cluster, &scope, selector, &kinds).await?;
        let view = select(resources, args.problems);
        if view.is_empty() && !is_document(global.output) {
            eprintln!("{}", nothing_found(scope.namespace(), args.problems));
            return Ok(());
        }
        print!("{}", render(&view, global, Utc::now())?);
        return Ok(());
    }
    let mut updates = cluster::watch_resources(&cluster, &scope, selector, &kinds).await?;
    let mut last_printed = String::new();
    while let Some(update) = updates.recv().await {
        match update {
            WatchUpdate::Snapshot(resources) => {
                let view = select(resources, args.problems);
                let text = if view.is_empty() && !is_document(global.output) {
                    format!("{}\n", nothing_found(scope.namespace(), args.problems))
                } else {
                    render(&view, global, Utc::now())?
                };
                // Ages tick every second; print only when something else changed.
                if without_ages(&text) != without_ages(&last_printed) {
                    if !last_printed.is_empty() {
                        println!();
                    }
                    print!("{text}");
                    last_printed = text;
                }
            }
            WatchUpdate::Trouble(trouble) => eprintln!("warning: {trouble}"),
        }
    }
    Err(
        CliError::connection("the watch ended: the cluster closed the connection")
            .with_hint("run the command again"),
    )
}

/// The `--kind` values as kinds; every kind without any.
fn parse_kinds(names: &[String]) -> CliResult<Vec<ResourceKind>> {
    if names.is_empty() {
        return Ok(ResourceKind::ALL.to_vec());
    }
    let mut kinds = Vec::new();
    for name in names.iter().flat_map(|n| n.split(',')) {
        let kind = ResourceKind::parse(name).ok_or_else(|| {
            CliError::usage(format!("unknown kind `{name}`"))
                .with_hint(format!("kinds are {}", ResourceKind::names_help()))
        })?;
        if !kinds.contains(&kind) {
            kinds.push(kind);
        }
    }
    Ok(kinds)
}

/// Problems first; only the non-Ready ones with `--problems`.
fn select(mut resources: Vec<Resource>, problems_only: bool) -> Vec<Resource> {
    if problems_only {
        resources.retain(|r| r.severity() != Severity::Ok);
    }
    sort_problems_first(&mut resources);
    resources
}

fn nothing_found(namespace: Option<&str>, problems_only: bool) -> String {
    let what = if problems_only {
        "No problems found"
    } else {
        "No resources found"
    };
    match namespace {
        Some(namespace) => format!("{what} in {namespace} namespace."),
        None => format!("{what}."),
    }
}

/// One row of `-o json|yaml`: the resource with its verdict spelled out.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct StatusRow<'a> {
    ready: &'a str,
    reason: &'a str,
    message: &'a str,
    severity: Severity,
    #[serde(flatten)]
    resource: &'a Resource,
}

fn render(resources: &[Resource], global: &GlobalArgs, now: DateTime<Utc>) -> CliResult<String> {
    if is_document(global.output) {
        let rows: Vec<StatusRow> = resources
            .iter()
            .map(|resource| StatusRow {
                ready: resource.ready(),
                reason: resource.reason(),
                message: resource.message(),
                severity: resource.severity(),
                resource,
            })
            .collect();
        return render_list(global.output, &rows);
    }
    Ok(table(resources, global.output == OutputFormat::Wide, now).render(global.no_headers))
}

fn table(resources: &[Resource], wide: bool, now: DateTime<Utc>) -> Table {
    let mut headers = vec!["KIND", "NAMESPACE", "NAME", "READY", "REASON", "AGE"];
    if wide {
        headers.push("ROUTES");
    }
    headers.push("MESSAGE");
    let mut table = Table::new(headers);
    for resource in resources {
        let mut cells = vec![
            resource.kind.clone(),
            resource.namespace.clone(),
            resource.name.clone(),
            resource.ready().to_owned(),
            resource.reason().to_owned(),
            age(resource.created, now),
        ];
        if wide {
            cells.push(route_summary(resource));
            cells.push(resource.message().replace('\n', " "));
        } else {
            cells.push(truncate(resource.message(), MESSAGE_WIDTH));
        }
        table.row(cells);
    }
    table
}

/// `2/3` routes ready (the not-ready ones' indexes after it), `-` for kinds without routes.
fn route_summary(resource: &Resource) -> String {
    if resource.routes.is_empty() {
        return "-".into();
    }
    let ready = resource.routes.iter().filter(|r| r.ready).count();
    let failing: Vec<String> = resource
        .routes
        .iter()
        .filter(|r| !r.ready)
        .map(|r| format!("[{}]", r.index))
        .collect();
    if failing.is_empty() {
        format!("{ready}/{}", resource.routes.len())
    } else {
        format!(
            "{ready}/{} ({} failing)",
            resource.routes.len(),
            failing.join("")
        )
    }
}

/// The text with every AGE-like token masked, to tell real changes from ticking ages.
fn without_ages(text: &str) -> String {
    text.split_whitespace()
        .map(|word| {
            let is_age = word.len() > 1
                && word.ends_with(['s', 'm', 'h', 'd', 'y'])
                && word.chars().next().is_some_and(|c| c.is_ascii_digit())
                && word
                    .chars()
                    .all(|c| c.is_ascii_digit() || "smhdy".contains(c));
            if is_age { "<age>" } else { word }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
    use mesh_crds::status::RouteStatus;

    fn resource(kind: &str, name: &str, ready: Option<(&str, &str, &str)>) -> Resource {
        Resource {
            kind: kind.into(),
            group: "mesh.io".into(),
            namespace: "shop".into(),
            name: name.into(),
            generation: Some(1),
            observed_generation: Some(1),
            created: DateTime::from_timestamp(1_000, 0),
            conditions: ready
                .map(|(status, reason, message)| Condition {
                    type_: "Ready".into(),
                    status: status.into(),
                    reason: reason.into(),
                    message: message.into(),
                    last_transition_time: Time(k8s_openapi::jiff::Timestamp::UNIX_EPOCH),
                    observed_generation: Some(1),
                })
                .into_iter()
                .collect(),
            routes: Vec::new(),
            object: serde_json::Value::Null,
        }
    }

    fn sample() -> Vec<Resource> {
        let mut broken = resource(
            "IngressRoute",
            "broken",
            Some((
                "False",
                "BackendNotFound",
                "routes[0].services[0]: Service shop/api not found",
            )),
        );
        broken.routes = vec![
            RouteStatus {
                index: 0,
                router: String::new(),
                ready: false,
                reason: Some("BackendNotFound".into()),
                message: None,
            },
            RouteStatus {
                index: 1,
                router: "shop-broken-1".into(),
                ready: true,
                reason: None,
                message: None,
            },
        ];
        vec![
            resource("Middleware", "auth", Some(("True", "Ready", "ready"))),
            broken,
            resource("IngressRoute", "fresh", None),
        ]
    }

    #[test]
    fn the_table_puts_problems_first_with_their_reason() {
        let now = DateTime::from_timestamp(1_000 + 3 * 60, 0).unwrap();
        let text = table(&select(sample(), false), false, now).render(false);
        assert_eq!(
            text,
            "KIND           NAMESPACE   NAME     READY     REASON            AGE   MESSAGE\n\
             IngressRoute   shop        broken   False     BackendNotFound   3m    routes[0].services[0]: Service shop/api not found\n\
             IngressRoute   shop        fresh    Unknown   Pending           3m    not processed by a Mesh controller yet\n\
             Middleware     shop        auth     True      Ready             3m    ready\n"
        );
    }

    #[test]
    fn wide_adds_the_route_verdicts_and_problems_only_drops_ready_objects() {
        let now = DateTime::from_timestamp(1_000, 0).unwrap();
        let text = table(&select(sample(), true), true, now).render(true);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 2, "{text}");
        assert!(lines[0].contains("1/2 ([0] failing)"), "{text}");
        assert!(lines[1].contains(" - "), "{text}");
    }

    #[test]
    fn kinds_accept_short_names_and_lists_and_refuse_unknown_ones() {
        let kinds = parse_kinds(&["ir,mw".into(), "ingressroutes".into()]).unwrap();
        assert_eq!(
            kinds,
            [
                ResourceKind::Mesh(mesh_crds::Kind::IngressRoute),
                ResourceKind::Mesh(mesh_crds::Kind::Middleware)
            ]
        );
        assert_eq!(parse_kinds(&[]).unwrap().len(), 11);
        let error = parse_kinds(&["pods".into()]).unwrap_err();
        assert_eq!(error.message, "unknown kind `pods`");
        assert!(error.hint.unwrap().contains("ingressroutes (ir)"));
    }

    #[test]
    fn ticking_ages_are_not_changes() {
        assert_eq!(
            without_ages("IngressRoute  web  True  45s  ok"),
            without_ages("IngressRoute  web  True  2m10s  ok")
        );
        assert_ne!(without_ages("web True 4s"), without_ages("web False 4s"));
    }

    #[test]
    fn empty_results_say_where_nothing_was_found() {
        assert_eq!(
            nothing_found(Some("shop"), false),
            "No resources found in shop namespace."
        );
        assert_eq!(nothing_found(None, true), "No problems found.");
    }
}
