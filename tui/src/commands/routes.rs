//! `kubectl mesh routes`: the live router tables (HTTP, TCP, UDP) of every controller.
//!
//! Routers that every controller serves the same way are one row, their counters summed
//! (traffic is spread over the replicas). A controller whose config generation differs from
//! the others is named in a warning; `-o wide` shows which controllers serve each row.

use serde::Serialize;

use crate::admin::fetch_controllers;
use crate::cli::{GlobalArgs, OutputFormat, RouteProtocol, RoutesArgs};
use crate::error::CliResult;
use crate::model::{ControllerSet, Protocol, RouterRow};
use crate::output::{Table, print_list};

pub async fn run(global: &GlobalArgs, args: &RoutesArgs) -> CliResult {
    let set = fetch_controllers(global, None).await?;
    for warning in controller_warnings(&set) {
        eprintln!("Warning: {warning}");
    }
    let protocols: Vec<Protocol> = match args.protocol {
        None => Protocol::ALL.to_vec(),
        Some(RouteProtocol::Http) => vec![Protocol::Http],
        Some(RouteProtocol::Tcp) => vec![Protocol::Tcp],
        Some(RouteProtocol::Udp) => vec![Protocol::Udp],
    };
    let entries: Vec<RouteEntry> = merge_routers(&set)
        .into_iter()
        .filter(|entry| protocols.contains(&entry.router.protocol))
        .collect();
    match global.output {
        OutputFormat::Json | OutputFormat::Yaml => print_list(global.output, &entries),
        OutputFormat::Table | OutputFormat::Wide => {
            let wide = global.output == OutputFormat::Wide;
            let mut first = true;
            for protocol in protocols {
                let rows: Vec<&RouteEntry> = entries
                    .iter()
                    .filter(|entry| entry.router.protocol == protocol)
                    .collect();
                if rows.is_empty() && args.protocol.is_none() {
                    continue;
                }
                if !first {
                    println!();
                }
                first = false;
                print!(
                    "{}",
                    protocol_table(protocol, &rows, wide, global.no_headers)
                );
            }
            if first {
                println!("No routers found.");
            }
            if !wide && entries.iter().any(|e| e.controllers.len() < set_size(&set)) {
                eprintln!(
                    "Warning: the controllers do not all serve the same routers; -o wide shows which serves what"
                );
            }
            Ok(())
        }
    }
}

/// One router as the controllers serve it.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RouteEntry {
    #[serde(flatten)]
    pub router: RouterRow,
    /// The controllers serving exactly this router, by name.
    pub controllers: Vec<String>,
}

fn set_size(set: &ControllerSet) -> usize {
    set.controllers.iter().filter(|c| c.error.is_none()).count()
}

/// Controllers that could not be read, and those a config generation behind or ahead.
pub(crate) fn controller_warnings(set: &ControllerSet) -> Vec<String> {
    let mut warnings: Vec<String> = set
        .controllers
        .iter()
        .filter_map(|c| {
            c.error
                .as_ref()
                .map(|e| format!("controller {}: {e}", c.name))
        })
        .collect();
    let odd = set.out_of_step();
    if let Some(common) = set
        .controllers
        .iter()
        .find(|c| c.error.is_none() && !odd.contains(&c.name.as_str()))
        .map(|c| c.generation)
    {
        for controller in set
            .controllers
            .iter()
            .filter(|c| odd.contains(&c.name.as_str()))
        {
            warnings.push(format!(
                "controller {} serves config generation {}, the others {common}",
                controller.name, controller.generation
            ));
        }
    }
    warnings
}

/// Rows that agree (everything but the counters) across controllers become one, with the
/// counters summed; rows that differ stay apart, each with the controllers serving it.
pub fn merge_routers(set: &ControllerSet) -> Vec<RouteEntry> {
    let mut entries: Vec<RouteEntry> = Vec::new();
    for controller in set.controllers.iter().filter(|c| c.error.is_none()) {
        for router in &controller.routers {
            let same = |entry: &&mut RouteEntry| {
                let row = &entry.router;
                RouterRow {
                    requests: row.requests,
                    server_errors: row.server_errors,
                    ..router.clone()
                } == *row
            };
            match entries.iter_mut().find(same) {
                Some(entry) => {
                    entry.router.requests += router.requests;
                    entry.router.server_errors += router.server_errors;
                    entry.controllers.push(controller.name.clone());
                }
                None => entries.push(RouteEntry {
                    router: router.clone(),
                    controllers: vec![controller.name.clone()],
                }),
            }
        }
    }
    entries.sort_by(|a, b| {
        (a.router.protocol, &a.router.name, &a.controllers).cmp(&(
            b.router.protocol,
            &b.router.name,
            &b.controllers,
        ))
    });
    entries
}

fn protocol_table(
    protocol: Protocol,
    rows: &[&RouteEntry],
    wide: bool,
    no_headers: bool,
) -> String {
    let mut headers = vec![
        "ENTRYPOINTS",
        "NAME",
        "RULE",
        "PRIORITY",
        "SERVICE",
        "MIDDLEWARES",
        "TLS",
        "STATE",
        "REQUESTS",
        "ERRORS",
    ];
    if wide {
        headers.push("CONTROLLERS");
    }
    let dash = |text: String| {
        if text.is_empty() {
            "-".to_owned()
        } else {
            text
        }
    };
    let body: Vec<Vec<String>> = rows
        .iter()
        .map(|entry| {
            let r = &entry.router;
            let mut cells = vec![
                dash(r.entry_points.join(",")),
                r.name.clone(),
                dash(r.rule.clone()),
                r.priority.to_string(),
                dash(r.service.clone()),
                dash(r.middlewares.join(",")),
                dash(r.tls.clone()),
                r.state.clone(),
                r.requests.to_string(),
                format!("{:.1}%", r.error_rate() * 100.0),
            ];
            if wide {
                cells.push(entry.controllers.join(","));
            }
            cells
        })
        .collect();
    let mut out = String::new();
    if !no_headers {
        out.push_str(&format!("{} ROUTERS\n", protocol.as_str().to_uppercase()));
    }
    let mut table = Table::new(headers);
    for row in body {
        table.row(row);
    }
    out.push_str(&table.render(no_headers));
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::ControllerView;

    fn router(name: &str, requests: u64, errors: u64) -> RouterRow {
        RouterRow {
            protocol: Protocol::Http,
            name: name.into(),
            entry_points: vec!["web".into()],
            rule: format!("Host(`{name}`)"),
            priority: 12,
            service: "app".into(),
            middlewares: vec![],
            tls: String::new(),
            state: "enabled".into(),
            problems: vec![],
            requests,
            server_errors: errors,
        }
    }

    fn controller(name: &str, generation: u64, routers: Vec<RouterRow>) -> ControllerView {
        ControllerView {
            name: name.into(),
            generation,
            routers,
            ..ControllerView::default()
        }
    }

    #[test]
    fn agreeing_routers_merge_with_summed_counters_and_differences_stay_apart() {
        let mut changed = router("b", 1, 0);
        changed.rule = "Host(`other`)".into();
        let set = ControllerSet {
            controllers: vec![
                controller("mesh-0", 7, vec![router("a", 10, 1), router("b", 5, 0)]),
                controller("mesh-1", 7, vec![router("a", 30, 3), changed]),
            ],
            lease_holder: None,
        };
        let entries = merge_routers(&set);
        let summary: Vec<(&str, u64, Vec<&str>)> = entries
            .iter()
            .map(|e| {
                (
                    e.router.name.as_str(),
                    e.router.requests,
                    e.controllers.iter().map(String::as_str).collect(),
                )
            })
            .collect();
        assert_eq!(
            summary,
            [
                ("a", 40, vec!["mesh-0", "mesh-1"]),
                ("b", 5, vec!["mesh-0"]),
                ("b", 1, vec!["mesh-1"]),
            ]
        );
        assert!((entries[0].router.error_rate() - 0.1).abs() < 1e-9);
    }

    #[test]
    fn a_controller_a_generation_behind_and_one_unreachable_are_warned_about() {
        let mut down = controller("mesh-2", 0, vec![]);
        down.error = Some("connection refused".into());
        let set = ControllerSet {
            controllers: vec![
                controller("mesh-0", 7, vec![]),
                controller("mesh-1", 6, vec![]),
                controller("mesh-3", 7, vec![]),
                down,
            ],
            lease_holder: None,
        };
        assert_eq!(
            controller_warnings(&set),
            [
                "controller mesh-2: connection refused",
                "controller mesh-1 serves config generation 6, the others 7",
            ]
        );
    }

    #[test]
    fn the_table_has_the_columns_and_a_rate_in_percent() {
        let entry = RouteEntry {
            router: router("a", 8, 2),
            controllers: vec!["mesh-0".into()],
        };
        let text = protocol_table(Protocol::Http, &[&entry], false, false);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], "HTTP ROUTERS");
        assert!(lines[1].starts_with("ENTRYPOINTS   NAME   RULE"), "{text}");
        assert!(lines[2].ends_with("8          25.0%"), "{text}");
    }
}
