//! The Events about one object (core/v1, which also shows those written through
//! events.k8s.io by the operator's recorder), oldest first like `kubectl describe`.

use chrono::{DateTime, Utc};
use k8s_openapi::api::core::v1::Event;
use kube::api::{Api, ListParams};

use super::connect::Cluster;
use super::errors::{Operation, api_error};
use super::resources::to_chrono;
use crate::error::CliResult;
use crate::model::{EventRow, Resource};

/// Events whose involved object is `resource`, newest last.
pub(crate) async fn events_for(cluster: &Cluster, resource: &Resource) -> CliResult<Vec<EventRow>> {
    let mut selector = format!(
        "involvedObject.kind={},involvedObject.name={}",
        resource.kind, resource.name
    );
    if let Some(uid) = resource.object["metadata"]["uid"].as_str() {
        selector.push_str(&format!(",involvedObject.uid={uid}"));
    }
    let api: Api<Event> = Api::namespaced(cluster.client.clone(), &resource.namespace);
    let list = api
        .list(&ListParams::default().fields(&selector))
        .await
        .map_err(|error| {
            api_error(
                cluster,
                &Operation::new("list", "events", Some(&resource.namespace)),
                error,
            )
        })?;
    let mut rows: Vec<EventRow> = list.items.iter().map(event_row).collect();
    sort_oldest_first(&mut rows);
    Ok(rows)
}

fn sort_oldest_first(rows: &mut [EventRow]) {
    rows.sort_by_key(|row| row.last_seen.unwrap_or(DateTime::<Utc>::MIN_UTC));
}

fn event_row(event: &Event) -> EventRow {
    let series = event.series.as_ref();
    let last_seen = series
        .and_then(|s| s.last_observed_time.as_ref())
        .and_then(|t| to_chrono(&k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(t.0)))
        .or_else(|| event.last_timestamp.as_ref().and_then(to_chrono))
        .or_else(|| {
            event
                .event_time
                .as_ref()
                .and_then(|t| to_chrono(&k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(t.0)))
        })
        .or_else(|| {
            event
                .metadata
                .creation_timestamp
                .as_ref()
                .and_then(to_chrono)
        });
    let count = series
        .and_then(|s| s.count)
        .or(event.count)
        .unwrap_or(1)
        .max(1);
    EventRow {
        type_: event.type_.clone().unwrap_or_else(|| "Normal".into()),
        reason: event.reason.clone().unwrap_or_default(),
        message: event.message.clone().unwrap_or_default(),
        count,
        last_seen,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_sort_oldest_first_and_undated_ones_lead() {
        let row = |reason: &str, seconds: Option<i64>| EventRow {
            type_: "Warning".into(),
            reason: reason.into(),
            message: String::new(),
            count: 1,
            last_seen: seconds.and_then(|s| DateTime::from_timestamp(s, 0)),
        };
        let mut rows = vec![
            row("late", Some(200)),
            row("undated", None),
            row("early", Some(100)),
        ];
        sort_oldest_first(&mut rows);
        let reasons: Vec<_> = rows.iter().map(|r| r.reason.as_str()).collect();
        assert_eq!(reasons, ["undated", "early", "late"]);
    }

    #[test]
    fn a_series_counts_and_dates_the_event() {
        let event: Event = serde_json::from_value(serde_json::json!({
            "metadata": {"name": "e", "namespace": "n"},
            "involvedObject": {"kind": "IngressRoute", "name": "web"},
            "type": "Warning", "reason": "BackendNotFound", "message": "gone",
            "eventTime": "2026-01-01T00:00:00.000000Z",
            "series": {"count": 4, "lastObservedTime": "2026-01-01T00:10:00.000000Z"}
        }))
        .unwrap();
        let row = event_row(&event);
        assert_eq!(row.count, 4);
        assert_eq!(
            row.last_seen.map(|t| t.to_rfc3339()),
            Some("2026-01-01T00:10:00+00:00".into())
        );
    }
}
