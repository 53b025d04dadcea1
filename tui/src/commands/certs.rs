//! `kubectl mesh certs`: the certificates the controllers serve, soonest expiry first.
//!
//! Expired certificates and those expiring within [`EXPIRY_WARNING_DAYS`] are flagged in
//! the DAYS LEFT column, and certificates a controller cannot read are listed with their
//! error. The command reports; it exits 0 whatever the certificates' state.

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::admin::fetch_controllers;
use crate::cli::{CertsArgs, GlobalArgs, OutputFormat};
use crate::error::CliResult;
use crate::model::{CertRow, ControllerSet};

use super::routes::controller_warnings;
use crate::output::{Table, print_list};

/// Fewer days left than this and a certificate is flagged.
pub const EXPIRY_WARNING_DAYS: i64 = 14;

pub async fn run(global: &GlobalArgs, _args: &CertsArgs) -> CliResult {
    let set = fetch_controllers(global, None).await?;
    for warning in controller_warnings(&set) {
        eprintln!("Warning: {warning}");
    }
    let certificates = merge_certificates(&set);
    let now = Utc::now();
    match global.output {
        OutputFormat::Json | OutputFormat::Yaml => {
            print_list(global.output, &entries(&certificates, now))
        }
        OutputFormat::Table | OutputFormat::Wide => {
            if certificates.is_empty() {
                println!("No certificates found.");
            } else {
                print!(
                    "{}",
                    certificates_table(&certificates, now, global.no_headers)
                );
            }
            for cert in &certificates {
                if let Some(error) = &cert.error {
                    eprintln!(
                        "Warning: certificate {} ({}): {error}",
                        cert.subject, cert.source
                    );
                }
            }
            Ok(())
        }
    }
}

/// A certificate with its days left, for `-o json|yaml`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct CertEntry<'a> {
    #[serde(flatten)]
    certificate: &'a CertRow,
    days_left: Option<i64>,
}

fn entries(certificates: &[CertRow], now: DateTime<Utc>) -> Vec<CertEntry<'_>> {
    certificates
        .iter()
        .map(|certificate| CertEntry {
            certificate,
            days_left: certificate.days_left(now),
        })
        .collect()
}

/// Each certificate once (replicas serve the same ones), routers joined, soonest expiry
/// first; unreadable ones (no expiry) last.
pub fn merge_certificates(set: &ControllerSet) -> Vec<CertRow> {
    let mut merged: Vec<CertRow> = Vec::new();
    for controller in set.controllers.iter().filter(|c| c.error.is_none()) {
        for cert in &controller.certificates {
            let same = |known: &&mut CertRow| {
                if cert.fingerprint_sha256.is_empty() {
                    known.fingerprint_sha256.is_empty()
                        && known.source == cert.source
                        && known.subject == cert.subject
                } else {
                    known.fingerprint_sha256 == cert.fingerprint_sha256
                        && known.source == cert.source
                }
            };
            match merged.iter_mut().find(same) {
                Some(known) => {
                    for router in &cert.routers {
                        if !known.routers.contains(router) {
                            known.routers.push(router.clone());
                        }
                    }
                }
                None => merged.push(cert.clone()),
            }
        }
    }
    for cert in &mut merged {
        cert.routers.sort();
    }
    merged.sort_by(|a, b| {
        (a.not_after.is_none(), a.not_after, &a.subject, &a.source).cmp(&(
            b.not_after.is_none(),
            b.not_after,
            &b.subject,
            &b.source,
        ))
    });
    merged
}

/// `42`, `10 (expiring)`, `-3 (expired)`, or `-` when unknown.
pub fn days_left_cell(cert: &CertRow, now: DateTime<Utc>) -> String {
    match (cert.days_left(now), cert.not_after) {
        (Some(_), Some(not_after)) if not_after <= now => {
            format!("{} (expired)", cert.days_left(now).unwrap_or_default())
        }
        (Some(days), _) if days < EXPIRY_WARNING_DAYS => format!("{days} (expiring)"),
        (Some(days), _) => days.to_string(),
        _ => "-".to_owned(),
    }
}

fn certificates_table(certificates: &[CertRow], now: DateTime<Utc>, no_headers: bool) -> String {
    let headers = [
        "SUBJECT",
        "SANS",
        "NOT AFTER",
        "DAYS LEFT",
        "ISSUER",
        "SOURCE",
        "ROUTERS",
    ];
    let dash = |text: String| {
        if text.is_empty() {
            "-".to_owned()
        } else {
            text
        }
    };
    let rows: Vec<Vec<String>> = certificates
        .iter()
        .map(|cert| {
            vec![
                dash(cert.subject.clone()),
                dash(cert.sans.join(",")),
                cert.not_after
                    .map_or("-".to_owned(), |t| t.format("%Y-%m-%d").to_string()),
                if cert.error.is_some() && cert.not_after.is_none() {
                    "unreadable".to_owned()
                } else {
                    days_left_cell(cert, now)
                },
                dash(cert.issuer.clone()),
                dash(cert.source.clone()),
                dash(cert.routers.join(",")),
            ]
        })
        .collect();
    let mut table = Table::new(headers);
    for row in rows {
        table.row(row);
    }
    table.render(no_headers)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::ControllerView;
    use chrono::TimeZone;

    fn cert(subject: &str, fingerprint: &str, not_after: Option<DateTime<Utc>>) -> CertRow {
        CertRow {
            subject: subject.into(),
            source: format!("Secret default/{subject}"),
            fingerprint_sha256: fingerprint.into(),
            not_after,
            ..CertRow::default()
        }
    }

    fn at(day: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2030, 1, day, 0, 0, 0).unwrap()
    }

    #[test]
    fn replicas_merge_and_the_soonest_expiry_comes_first() {
        let mut a0 = cert("a", "AA", Some(at(20)));
        a0.routers = vec!["web".into()];
        let mut a1 = a0.clone();
        a1.routers = vec!["api".into(), "web".into()];
        let set = ControllerSet {
            controllers: vec![
                ControllerView {
                    name: "mesh-0".into(),
                    certificates: vec![a0, cert("broken", "", None), cert("b", "BB", Some(at(3)))],
                    ..ControllerView::default()
                },
                ControllerView {
                    name: "mesh-1".into(),
                    certificates: vec![a1],
                    ..ControllerView::default()
                },
            ],
            lease_holder: None,
        };
        let merged = merge_certificates(&set);
        let subjects: Vec<&str> = merged.iter().map(|c| c.subject.as_str()).collect();
        assert_eq!(subjects, ["b", "a", "broken"]);
        assert_eq!(merged[1].routers, ["api", "web"]);
    }

    #[test]
    fn expired_and_soon_expiring_certificates_are_flagged() {
        let now = at(10);
        assert_eq!(
            days_left_cell(&cert("x", "", Some(at(5))), now),
            "-5 (expired)"
        );
        assert_eq!(
            days_left_cell(&cert("x", "", Some(at(20))), now),
            "10 (expiring)"
        );
        assert_eq!(days_left_cell(&cert("x", "", Some(at(30))), now), "20");
        assert_eq!(days_left_cell(&cert("x", "", None), now), "-");
    }
}
