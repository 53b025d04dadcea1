//! The Prometheus text exposition of the counters.
use std::collections::BTreeMap;
use std::fmt::Write;

use super::{CountersSnapshot, LATENCY_BUCKETS};

/// Renders router and service counters plus the configuration generation.
pub fn render_prometheus(
    routers: &BTreeMap<String, CountersSnapshot>,
    services: &BTreeMap<String, CountersSnapshot>,
    generation: u64,
) -> String {
    let mut out = String::with_capacity(256 + (routers.len() + services.len()) * 1024);
    let _ = writeln!(
        out,
        "# HELP mesh_config_generation Generation of the configuration being served."
    );
    let _ = writeln!(out, "# TYPE mesh_config_generation gauge");
    let _ = writeln!(out, "mesh_config_generation {generation}");
    family(&mut out, "router", routers);
    family(&mut out, "service", services);
    out
}

fn family(out: &mut String, kind: &str, items: &BTreeMap<String, CountersSnapshot>) {
    let _ = writeln!(
        out,
        "# HELP mesh_{kind}_requests_total Requests answered, by status class."
    );
    let _ = writeln!(out, "# TYPE mesh_{kind}_requests_total counter");
    for (name, snap) in items {
        let name = escape(name);
        for (class, count) in [
            ("1xx", snap.status_1xx),
            ("2xx", snap.status_2xx),
            ("3xx", snap.status_3xx),
            ("4xx", snap.status_4xx),
            ("5xx", snap.status_5xx),
        ] {
            let _ = writeln!(
                out,
                "mesh_{kind}_requests_total{{{kind}=\"{name}\",code=\"{class}\"}} {count}"
            );
        }
    }
    let _ = writeln!(
        out,
        "# HELP mesh_{kind}_requests_in_flight Requests being served."
    );
    let _ = writeln!(out, "# TYPE mesh_{kind}_requests_in_flight gauge");
    for (name, snap) in items {
        let _ = writeln!(
            out,
            "mesh_{kind}_requests_in_flight{{{kind}=\"{}\"}} {}",
            escape(name),
            snap.in_flight
        );
    }
    let _ = writeln!(
        out,
        "# HELP mesh_{kind}_request_duration_seconds Time to response headers."
    );
    let _ = writeln!(out, "# TYPE mesh_{kind}_request_duration_seconds histogram");
    for (name, snap) in items {
        let name = escape(name);
        let mut cumulative = 0;
        for (i, count) in snap.latency_buckets.iter().enumerate() {
            cumulative += count;
            let le = LATENCY_BUCKETS
                .get(i)
                .map_or_else(|| "+Inf".to_owned(), |b| b.to_string());
            let _ = writeln!(
                out,
                "mesh_{kind}_request_duration_seconds_bucket{{{kind}=\"{name}\",le=\"{le}\"}} {cumulative}"
            );
        }
        let _ = writeln!(
            out,
            "mesh_{kind}_request_duration_seconds_sum{{{kind}=\"{name}\"}} {}",
            snap.latency_sum_seconds
        );
        let _ = writeln!(
            out,
            "mesh_{kind}_request_duration_seconds_count{{{kind}=\"{name}\"}} {cumulative}"
        );
    }
}

/// Label values escape backslash, quote and newline.
fn escape(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::super::{CounterRegistry, RequestTimer};
    use super::*;

    #[test]
    fn renders_counters_histogram_and_escapes_labels() {
        let registry = CounterRegistry::default();
        let router = registry.router("a\"b");
        RequestTimer::start(Some(&*router), None).finish(200);
        RequestTimer::start(Some(&*router), None).finish(404);
        let text = render_prometheus(&registry.router_snapshots(), &BTreeMap::new(), 7);
        assert!(text.contains("mesh_config_generation 7\n"), "{text}");
        assert!(
            text.contains("mesh_router_requests_total{router=\"a\\\"b\",code=\"2xx\"} 1\n"),
            "{text}"
        );
        assert!(
            text.contains("mesh_router_requests_total{router=\"a\\\"b\",code=\"4xx\"} 1\n"),
            "{text}"
        );
        assert!(
            text.contains(
                "mesh_router_request_duration_seconds_bucket{router=\"a\\\"b\",le=\"+Inf\"} 2\n"
            ),
            "{text}"
        );
        assert!(text.contains("mesh_router_request_duration_seconds_count{router=\"a\\\"b\"} 2\n"));
    }
}
