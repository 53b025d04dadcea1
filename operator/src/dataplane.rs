//! The proxy behind the pipeline's [`DataPlane`] trait: starting its listeners, applying
//! configurations, serving the status board on `/api/status`.

use std::sync::Arc;

use anyhow::Context as _;
use mesh_proxy::config::{Config, StaticConfig};
use mesh_proxy::runtime::ApplyReport;
use mesh_proxy::{Proxy, RunningProxy};

use crate::pipeline::DataPlane;
use crate::status::StatusBoard;
use crate::status::{ProxyVerdict, RouterFinding};

/// The proxy as the pipeline sees it.
pub struct ProxyPlane {
    proxy: Proxy,
}

impl DataPlane for ProxyPlane {
    fn apply(&self, config: Config) -> ProxyVerdict {
        verdict_of(&self.proxy.apply(config))
    }
}

/// What the operator needs from an apply report: the generation, and every router the
/// proxy refused or warned about.
pub fn verdict_of(report: &ApplyReport) -> ProxyVerdict {
    let findings = report
        .routers
        .iter()
        .filter_map(|(name, router)| {
            let (refused, problems) = if router.errors.is_empty() {
                (false, &router.warnings)
            } else {
                (true, &router.errors)
            };
            let first = problems.first()?;
            let message = problems
                .iter()
                .map(|problem| problem.message.as_str())
                .collect::<Vec<_>>()
                .join("; ");
            let finding = RouterFinding {
                refused,
                reason: first.reason.to_owned(),
                message,
            };
            Some((name.clone(), finding))
        })
        .collect();
    ProxyVerdict {
        generation: report.generation,
        findings,
    }
}

/// Starts the proxy's entry points and admin API; `/api/status` serves `board`.
pub async fn start(
    static_config: StaticConfig,
    board: StatusBoard,
) -> anyhow::Result<(Arc<dyn DataPlane>, RunningProxy)> {
    let proxy = Proxy::new(static_config);
    proxy.set_status_source(Arc::new(move || board.to_json()));
    let running = proxy.start().await.context("cannot open the listeners")?;
    Ok((Arc::new(ProxyPlane { proxy }), running))
}

#[cfg(test)]
mod tests {
    use super::*;
    use mesh_proxy::runtime::{ObjectReport, Problem};

    #[test]
    fn refused_routers_carry_their_first_reason_and_every_message() {
        let mut report = ApplyReport {
            generation: 9,
            ..ApplyReport::default()
        };
        report
            .routers
            .insert("ok".into(), ObjectReport::from_problems(vec![], vec![]));
        report.routers.insert(
            "bad".into(),
            ObjectReport::from_problems(
                vec![
                    Problem::new("MiddlewareNotFound", "middleware `auth` does not exist"),
                    Problem::new("UnknownEntryPoint", "entry point `x` does not exist"),
                ],
                vec![],
            ),
        );
        report.routers.insert(
            "warned".into(),
            ObjectReport::from_problems(vec![], vec![Problem::new("UnknownEntryPoint", "x")]),
        );
        let verdict = verdict_of(&report);
        assert_eq!(verdict.generation, 9);
        assert_eq!(verdict.findings.len(), 2, "clean routers are not findings");
        assert_eq!(verdict.refused(), 1);
        let bad = &verdict.findings["bad"];
        assert!(bad.refused);
        assert_eq!(bad.reason, "MiddlewareNotFound");
        assert_eq!(
            bad.message,
            "middleware `auth` does not exist; entry point `x` does not exist"
        );
        let warned = &verdict.findings["warned"];
        assert!(!warned.refused);
        assert_eq!(warned.reason, "UnknownEntryPoint");
    }

    use mesh_proxy::config::EntryPoint;

    /// One entry point and the admin API, both on free loopback ports.
    fn settings(entry_point: &str) -> StaticConfig {
        StaticConfig {
            entry_points: [EntryPoint::parse_named(entry_point).unwrap()]
                .into_iter()
                .collect(),
            admin_address: Some("127.0.0.1:0".parse().unwrap()),
            ..StaticConfig::default()
        }
    }

    #[tokio::test]
    async fn serves_the_status_board_and_applies_configs() {
        let board = StatusBoard::new();
        let (plane, running) = start(settings("web=127.0.0.1:0"), board).await.unwrap();
        assert!(running.entry_point("web").is_some());
        let first = plane.apply(Config::default());
        let second = plane.apply(Config::default());
        assert_eq!(second.generation, first.generation + 1);
        running.shutdown();
    }

    #[tokio::test]
    async fn a_taken_port_is_a_clear_error() {
        let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let address = taken.local_addr().unwrap();
        let error = start(settings(&format!("web={address}")), StatusBoard::new())
            .await
            .err()
            .expect("the port is taken");
        let text = format!("{error:#}");
        assert!(text.contains("cannot open the listeners"), "{text}");
        assert!(text.contains(&address.to_string()), "{text}");
    }
}
