//! Hand-written schema fragments for what schemars cannot express on its own:
//! duration-ish int-or-string fields, free-form objects and the conditions list-map.
//!
//! Every function here is used through `#[schemars(schema_with = "...")]`.

use schemars::{Schema, SchemaGenerator, json_schema};

/// Go duration strings (`10s`, `1m30s`, `500ms`) or a bare integer meaning seconds.
pub const DURATION_PATTERN: &str = "^([0-9]+(ns|us|µs|ms|s|m|h)?)+$";

/// An int-or-string field restricted to durations (the pattern only applies to strings).
pub fn duration(_: &mut SchemaGenerator) -> Schema {
    json_schema!({
        "anyOf": [{ "type": "integer" }, { "type": "string" }],
        "pattern": DURATION_PATTERN,
        "x-kubernetes-int-or-string": true,
    })
}

/// An int-or-string field without further restriction (service ports: number or name).
pub fn int_or_string(_: &mut SchemaGenerator) -> Schema {
    json_schema!({
        "anyOf": [{ "type": "integer" }, { "type": "string" }],
        "x-kubernetes-int-or-string": true,
    })
}

/// A map of plugin name to free-form plugin configuration.
pub fn plugin_map(_: &mut SchemaGenerator) -> Schema {
    json_schema!({
        "type": "object",
        "additionalProperties": {
            "type": "object",
            "x-kubernetes-preserve-unknown-fields": true,
        },
    })
}

/// `status.conditions`: metav1.Condition items, merged per `type` by the apiserver
/// (server-side apply and strategic merge treat the list as a map).
pub fn conditions(generator: &mut SchemaGenerator) -> Schema {
    let mut schema = generator.subschema_for::<Vec<k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition>>();
    schema.insert("x-kubernetes-list-type".into(), "map".into());
    schema.insert("x-kubernetes-list-map-keys".into(), serde_json::json!(["type"]));
    schema.insert("maxItems".into(), 8.into());
    schema
}

/// `status.routes`: one entry per route of an IngressRoute*, keyed by its index.
pub fn routes(generator: &mut SchemaGenerator) -> Schema {
    let mut schema = generator.subschema_for::<Vec<crate::status::RouteStatus>>();
    schema.insert("x-kubernetes-list-type".into(), "map".into());
    schema.insert("x-kubernetes-list-map-keys".into(), serde_json::json!(["index"]));
    schema.insert("maxItems".into(), crate::status::MAX_ROUTE_STATUSES.into());
    schema
}
