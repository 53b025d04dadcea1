//! `kubectl mesh lint -f PATH`: the operator's own translation, offline. Each finding is
//! printed as `LEVEL REASON Kind ns/name: message` (istioctl analyze style), errors first;
//! exit 1 when there is an error, 0 with warnings only.

use mesh_operator::lint::{Finding, Level, default_proxy_settings, lint};
use mesh_operator::options::ProviderOptions;

use crate::cli::{GlobalArgs, LintArgs, OutputFormat};
use crate::error::{CliError, CliResult};

pub fn run(global: &GlobalArgs, args: &LintArgs) -> CliResult {
    if let Some(missing) = args.paths.iter().find(|path| !path.exists()) {
        return Err(CliError::usage(format!(
            "the path \"{}\" does not exist",
            missing.display()
        )));
    }
    let options = ProviderOptions {
        allow_cross_namespace: args.allow_cross_namespace,
        allow_external_name_services: args.allow_external_name_services,
        allow_empty_services: args.allow_empty_services,
        ..ProviderOptions::default()
    };
    let report = lint(&args.paths, &options, default_proxy_settings());
    let findings = report.findings();
    match global.output {
        OutputFormat::Json | OutputFormat::Yaml => {
            crate::output::print_list(global.output, &findings)?
        }
        OutputFormat::Table | OutputFormat::Wide => {
            for finding in &findings {
                println!("{}", finding.line());
            }
            println!("{}", summary(&findings, report.objects));
        }
    }
    if findings.iter().any(|f| f.level == Level::Error) {
        Err(CliError::findings())
    } else {
        Ok(())
    }
}

/// `✔ No problems found in 12 objects`, or `3 errors, 1 warning in 12 objects`.
fn summary(findings: &[Finding], objects: usize) -> String {
    let objects = plural(objects, "object");
    let errors = findings.iter().filter(|f| f.level == Level::Error).count();
    let warnings = findings.len() - errors;
    match (errors, warnings) {
        (0, 0) => format!("✔ No problems found in {objects}"),
        (0, w) => format!("{} in {objects}", plural(w, "warning")),
        (e, 0) => format!("{} in {objects}", plural(e, "error")),
        (e, w) => format!(
            "{}, {} in {objects}",
            plural(e, "error"),
            plural(w, "warning")
        ),
    }
}

fn plural(count: usize, word: &str) -> String {
    if count == 1 {
        format!("1 {word}")
    } else {
        format!("{count} {word}s")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn finding(level: Level) -> Finding {
        Finding {
            level,
            reason: "R".into(),
            kind: "IngressRoute".into(),
            namespace: "default".into(),
            name: "web".into(),
            message: "m".into(),
        }
    }

    #[test]
    fn the_summary_counts_errors_and_warnings() {
        assert_eq!(summary(&[], 12), "✔ No problems found in 12 objects");
        assert_eq!(
            summary(
                &[
                    finding(Level::Error),
                    finding(Level::Error),
                    finding(Level::Error),
                    finding(Level::Warning)
                ],
                12
            ),
            "3 errors, 1 warning in 12 objects"
        );
        assert_eq!(
            summary(&[finding(Level::Warning)], 1),
            "1 warning in 1 object"
        );
    }
}
