//! `kubectl mesh describe KIND/NAME`: the object's conditions, then per route the live
//! chain route -> router -> middlewares -> service -> servers as a controller serves it,
//! then the object's Events.
//!
//! The live chain needs a controller's admin API; without one, describe still prints the
//! conditions and Events and says why the chain is missing.

use chrono::{DateTime, Utc};

use crate::cli::{DescribeArgs, GlobalArgs};
use crate::cluster::{self, ResourceKind};
use crate::error::{CliError, CliResult};
use crate::model::{ControllerSet, ControllerView, EventRow, Protocol, Resource};
use crate::output::{Table, age, is_document, render_list};

pub async fn run(global: &GlobalArgs, args: &DescribeArgs) -> CliResult {
    let (kind, name) = parse_object(&args.object)?;
    let cluster = cluster::connect(global).await?;
    let resource = cluster::get_resource(&cluster, kind, &cluster.namespace, name).await?;
    if is_document(global.output) {
        print!(
            "{}",
            render_list(global.output, std::slice::from_ref(&resource.object))?
        );
        return Ok(());
    }
    let events = cluster::events_for(&cluster, &resource)
        .await
        .map_err(|error| error.message);
    let controllers = live_controllers(global, &cluster).await;
    print!(
        "{}",
        render(
            &resource,
            controllers.as_ref().map_err(String::as_str),
            events.as_deref().map_err(String::as_str),
            Utc::now()
        )
    );
    Ok(())
}

/// What the controllers serve, or why it cannot be known.
async fn live_controllers(
    global: &GlobalArgs,
    cluster: &cluster::Cluster,
) -> Result<ControllerSet, String> {
    crate::admin::fetch_controllers(global, Some(cluster))
        .await
        .map_err(|error| error.message)
}

/// `KIND/NAME` (or `KIND NAME`-less forms kubectl accepts: `ir/web`, `ingressroute.mesh.io/web`).
fn parse_object(object: &str) -> CliResult<(ResourceKind, &str)> {
    let usage = || {
        CliError::usage(format!("`{object}` is not KIND/NAME"))
            .with_hint("e.g. `kubectl mesh describe ir/web -n shop`")
    };
    let (kind, name) = object.split_once('/').ok_or_else(usage)?;
    if name.is_empty() || name.contains('/') {
        return Err(usage());
    }
    let kind = ResourceKind::parse(kind).ok_or_else(|| {
        CliError::usage(format!("unknown kind `{kind}`"))
            .with_hint(format!("kinds are {}", ResourceKind::names_help()))
    })?;
    Ok((kind, name))
}

/// The whole description, as text.
fn render(
    resource: &Resource,
    controllers: Result<&ControllerSet, &str>,
    events: Result<&[EventRow], &str>,
    now: DateTime<Utc>,
) -> String {
    let mut out = String::new();
    let api_version = resource.object["apiVersion"].as_str().unwrap_or_default();
    let field = |out: &mut String, label: &str, value: &str| {
        out.push_str(&format!("{:<14}{value}\n", format!("{label}:")));
    };
    field(&mut out, "Name", &resource.name);
    field(&mut out, "Namespace", &resource.namespace);
    field(
        &mut out,
        "Kind",
        &format!("{} ({api_version})", resource.kind),
    );
    field(&mut out, "Age", &age(resource.created, now));
    if let Some(generation) = resource.generation {
        let observed = resource
            .observed_generation
            .map_or("never".to_string(), |g| g.to_string());
        field(
            &mut out,
            "Generation",
            &format!("{generation} (status observed at {observed})"),
        );
    }
    field(
        &mut out,
        "Ready",
        &format!("{} ({})", resource.ready(), resource.reason()),
    );
    field(&mut out, "Message", resource.message());

    out.push_str("\nConditions:\n");
    if resource.conditions.is_empty() {
        out.push_str("  <none>\n");
    } else {
        let mut table = Table::new(["TYPE", "STATUS", "REASON", "LAST TRANSITION", "MESSAGE"]);
        for condition in &resource.conditions {
            let transition = crate::cluster::to_chrono(&condition.last_transition_time);
            table.row([
                condition.type_.clone(),
                condition.status.clone(),
                condition.reason.clone(),
                age(transition, now),
                condition.message.clone(),
            ]);
        }
        out.push_str(&indent(&table.render(false), "  "));
    }

    if !resource.routes.is_empty() {
        out.push_str("\nRoutes:\n");
        out.push_str(&indent(&routes(resource, controllers), "  "));
    }

    out.push_str("\nEvents:\n");
    match events {
        Err(why) => out.push_str(&format!("  <unavailable: {why}>\n")),
        Ok([]) => out.push_str("  <none>\n"),
        Ok(events) => {
            let mut table = Table::new(["TYPE", "REASON", "AGE", "COUNT", "MESSAGE"]);
            for event in events {
                table.row([
                    event.type_.clone(),
                    event.reason.clone(),
                    age(event.last_seen, now),
                    event.count.to_string(),
                    event.message.clone(),
                ]);
            }
            out.push_str(&indent(&table.render(false), "  "));
        }
    }
    out
}

/// Per route: its verdict, then the live chain as one controller serves it.
fn routes(resource: &Resource, controllers: Result<&ControllerSet, &str>) -> String {
    let protocol = match resource.kind.as_str() {
        "IngressRouteTCP" => Protocol::Tcp,
        "IngressRouteUDP" => Protocol::Udp,
        _ => Protocol::Http,
    };
    let view = controllers
        .and_then(|set| serving_controller(set).ok_or("no controller answered its admin API"));
    let mut out = String::new();
    for route in &resource.routes {
        let verdict = if route.ready {
            "Ready".to_string()
        } else {
            let reason = route.reason.as_deref().unwrap_or("NotReady");
            match &route.message {
                Some(message) => format!("not ready: {reason}: {message}"),
                None => format!("not ready: {reason}"),
            }
        };
        out.push_str(&format!("routes[{}]  {verdict}\n", route.index));
        if route.router.is_empty() {
            out.push_str("  no router was built from this route\n");
            continue;
        }
        match view {
            Ok(view) => out.push_str(&indent(&chain(view, protocol, &route.router), "  ")),
            Err(_) => out.push_str(&format!("  router   {}\n", route.router)),
        }
    }
    if let Err(why) = view {
        out.push_str(&format!("(live chain unavailable: {why})\n"));
    }
    out
}

/// The Lease holder's view if it answered, else the first controller that did.
fn serving_controller(set: &ControllerSet) -> Option<&ControllerView> {
    let answered = |c: &&ControllerView| c.error.is_none();
    set.controllers
        .iter()
        .filter(answered)
        .find(|c| set.lease_holder.as_deref() == Some(c.name.as_str()))
        .or_else(|| set.controllers.iter().find(answered))
}

/// Admin API names carry a provider suffix (`web@kubernetescrd`) that statuses and
/// router fields may leave out; names match with or without it.
fn same_name(a: &str, b: &str) -> bool {
    let base = |name: &str| name.split('@').next().unwrap_or(name).to_owned();
    a == b || (!(a.contains('@') && b.contains('@')) && base(a) == base(b))
}

/// router -> middlewares -> service -> servers, from `view`'s live tables.
fn chain(view: &ControllerView, protocol: Protocol, router_name: &str) -> String {
    let Some(router) = view
        .routers
        .iter()
        .find(|r| r.protocol == protocol && same_name(&r.name, router_name))
    else {
        return format!(
            "router   {router_name}: not in the live table of {} (not programmed)\n",
            view.name
        );
    };
    let mut out = format!(
        "router   {}  [{}]  entry points: {}",
        router.name,
        router.state,
        router.entry_points.join(",")
    );
    if !router.rule.is_empty() {
        out.push_str(&format!("  rule: {}", router.rule));
    }
    out.push('\n');
    for problem in &router.problems {
        out.push_str(&format!("  problem: {problem}\n"));
    }
    for name in &router.middlewares {
        match view
            .middlewares
            .iter()
            .find(|m| m.protocol == protocol && same_name(&m.name, name))
        {
            Some(m) => out.push_str(&format!(
                "-> middleware   {} ({}) [{}]\n",
                m.name, m.type_, m.state
            )),
            None => out.push_str(&format!("-> middleware   {name}: not in the live table\n")),
        }
    }
    match view
        .services
        .iter()
        .find(|s| s.protocol == protocol && same_name(&s.name, &router.service))
    {
        None => out.push_str(&format!(
            "-> service      {}: not in the live table\n",
            router.service
        )),
        Some(service) => {
            out.push_str(&format!(
                "-> service      {} ({}) [{}]\n",
                service.name, service.type_, service.state
            ));
            if service.servers.is_empty() {
                out.push_str("   -> no servers\n");
            }
            for server in &service.servers {
                out.push_str(&format!(
                    "   -> server     {}  {}\n",
                    server.url, server.status
                ));
            }
        }
    }
    out
}

fn indent(text: &str, prefix: &str) -> String {
    text.lines()
        .map(|line| format!("{prefix}{line}\n"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{MiddlewareRow, RouterRow, ServerRow, ServiceRow};
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
    use mesh_crds::status::RouteStatus;

    fn resource() -> Resource {
        Resource {
            kind: "IngressRoute".into(),
            group: "mesh.io".into(),
            namespace: "shop".into(),
            name: "web".into(),
            generation: Some(2),
            observed_generation: Some(2),
            created: DateTime::from_timestamp(0, 0),
            conditions: vec![Condition {
                type_: "Ready".into(),
                status: "False".into(),
                reason: "BackendNotFound".into(),
                message: "routes[1].services[0]: Service shop/gone not found".into(),
                last_transition_time: Time(k8s_openapi::jiff::Timestamp::from_second(60).unwrap()),
                observed_generation: Some(2),
            }],
            routes: vec![
                RouteStatus {
                    index: 0,
                    router: "shop-web-0@kubernetescrd".into(),
                    ready: true,
                    reason: None,
                    message: None,
                },
                RouteStatus {
                    index: 1,
                    router: String::new(),
                    ready: false,
                    reason: Some("BackendNotFound".into()),
                    message: Some("Service shop/gone not found".into()),
                },
            ],
            object: serde_json::json!({"apiVersion": "mesh.io/v1alpha1"}),
        }
    }

    fn controllers() -> ControllerSet {
        let view = ControllerView {
            name: "mesh-0".into(),
            generation: 4,
            routers: vec![RouterRow {
                protocol: Protocol::Http,
                name: "shop-web-0@kubernetescrd".into(),
                entry_points: vec!["web".into()],
                rule: "Host(`shop.example`)".into(),
                priority: 0,
                service: "shop-api-80".into(),
                middlewares: vec!["shop-auth@kubernetescrd".into()],
                tls: String::new(),
                state: "enabled".into(),
                problems: Vec::new(),
                requests: 0,
                server_errors: 0,
            }],
            services: vec![ServiceRow {
                protocol: Protocol::Http,
                name: "shop-api-80@kubernetescrd".into(),
                type_: "loadBalancer".into(),
                state: "enabled".into(),
                servers: vec![
                    ServerRow {
                        url: "http://10.0.0.7:8080".into(),
                        status: "UP".into(),
                    },
                    ServerRow {
                        url: "http://10.0.0.8:8080".into(),
                        status: "DOWN".into(),
                    },
                ],
                used_by: Vec::new(),
            }],
            middlewares: vec![MiddlewareRow {
                protocol: Protocol::Http,
                name: "shop-auth@kubernetescrd".into(),
                type_: "basicAuth".into(),
                state: "enabled".into(),
                problems: Vec::new(),
            }],
            ..ControllerView::default()
        };
        let failed = ControllerView {
            name: "mesh-1".into(),
            error: Some("connection refused".into()),
            ..ControllerView::default()
        };
        ControllerSet {
            controllers: vec![failed, view],
            lease_holder: Some("mesh-1".into()),
        }
    }

    #[test]
    fn the_chain_runs_from_route_to_servers() {
        let events = [EventRow {
            type_: "Warning".into(),
            reason: "BackendNotFound".into(),
            message: "Service shop/gone not found".into(),
            count: 2,
            last_seen: DateTime::from_timestamp(90, 0),
        }];
        let text = render(
            &resource(),
            Ok(&controllers()),
            Ok(&events),
            DateTime::from_timestamp(120, 0).unwrap(),
        );
        let expected = "\
Name:         web
Namespace:    shop
Kind:         IngressRoute (mesh.io/v1alpha1)
Age:          2m
Generation:   2 (status observed at 2)
Ready:        False (BackendNotFound)
Message:      routes[1].services[0]: Service shop/gone not found

Conditions:
  TYPE    STATUS   REASON            LAST TRANSITION   MESSAGE
  Ready   False    BackendNotFound   60s               routes[1].services[0]: Service shop/gone not found

Routes:
  routes[0]  Ready
    router   shop-web-0@kubernetescrd  [enabled]  entry points: web  rule: Host(`shop.example`)
    -> middleware   shop-auth@kubernetescrd (basicAuth) [enabled]
    -> service      shop-api-80@kubernetescrd (loadBalancer) [enabled]
       -> server     http://10.0.0.7:8080  UP
       -> server     http://10.0.0.8:8080  DOWN
  routes[1]  not ready: BackendNotFound: Service shop/gone not found
    no router was built from this route

Events:
  TYPE      REASON            AGE   COUNT   MESSAGE
  Warning   BackendNotFound   30s   2       Service shop/gone not found
";
        assert_eq!(text, expected);
    }

    #[test]
    fn without_controllers_the_chain_says_why_and_the_rest_is_printed() {
        let text = render(
            &resource(),
            Err("no controller pod found"),
            Err("permission denied: cannot list events in namespace shop"),
            DateTime::from_timestamp(120, 0).unwrap(),
        );
        assert!(
            text.contains("  Ready   False    BackendNotFound"),
            "{text}"
        );
        assert!(
            text.contains("    router   shop-web-0@kubernetescrd\n"),
            "{text}"
        );
        assert!(
            text.contains("(live chain unavailable: no controller pod found)"),
            "{text}"
        );
        assert!(
            text.contains("<unavailable: permission denied: cannot list events in namespace shop>"),
            "{text}"
        );
    }

    #[test]
    fn a_router_missing_from_the_live_table_is_named() {
        let mut set = controllers();
        set.controllers[1].routers.clear();
        let text = routes(&resource(), Ok(&set));
        assert!(
            text.contains(
                "shop-web-0@kubernetescrd: not in the live table of mesh-0 (not programmed)"
            ),
            "{text}"
        );
    }

    #[test]
    fn objects_are_kind_slash_name() {
        let (kind, name) = parse_object("ir/broken").unwrap();
        assert_eq!((kind.as_str(), name), ("IngressRoute", "broken"));
        assert_eq!(
            parse_object("ir").unwrap_err().message,
            "`ir` is not KIND/NAME"
        );
        assert_eq!(
            parse_object("ir/a/b").unwrap_err().message,
            "`ir/a/b` is not KIND/NAME"
        );
        assert_eq!(
            parse_object("pod/x").unwrap_err().message,
            "unknown kind `pod`"
        );
    }

    #[test]
    fn provider_suffixes_do_not_hide_a_match() {
        assert!(same_name("api@kubernetescrd", "api"));
        assert!(same_name("api", "api"));
        assert!(!same_name("api@kubernetescrd", "api@file"));
        assert!(!same_name("api", "web"));
    }
}
