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
    let mut schema =
        generator.subschema_for::<Vec<k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition>>();
    // The validations metav1.Condition carries in Go (kubebuilder markers), which the
    // generated k8s-openapi schema lacks.
    if let Some(properties) = schema
        .get_mut("items")
        .and_then(|items| items.get_mut("properties"))
        .and_then(|properties| properties.as_object_mut())
    {
        let mut constrain = |field: &str, extra: serde_json::Value| {
            if let (Some(target), serde_json::Value::Object(extra)) = (
                properties.get_mut(field).and_then(|f| f.as_object_mut()),
                extra,
            ) {
                target.extend(extra);
            }
        };
        constrain(
            "status",
            serde_json::json!({ "enum": ["True", "False", "Unknown"] }),
        );
        constrain("type", serde_json::json!({ "maxLength": 316 }));
        constrain(
            "reason",
            serde_json::json!({ "maxLength": 1024, "minLength": 1, "pattern": "^[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?$" }),
        );
        constrain("message", serde_json::json!({ "maxLength": 32768 }));
        constrain("observedGeneration", serde_json::json!({ "minimum": 0 }));
    }
    schema.insert("x-kubernetes-list-type".into(), "map".into());
    schema.insert(
        "x-kubernetes-list-map-keys".into(),
        serde_json::json!(["type"]),
    );
    schema.insert("maxItems".into(), 8.into());
    schema
}

/// `status.routes`: one entry per route of an IngressRoute*, keyed by its index.
pub fn routes(generator: &mut SchemaGenerator) -> Schema {
    let mut schema = generator.subschema_for::<Vec<crate::status::RouteStatus>>();
    schema.insert("x-kubernetes-list-type".into(), "map".into());
    schema.insert(
        "x-kubernetes-list-map-keys".into(),
        serde_json::json!(["index"]),
    );
    schema.insert("maxItems".into(), crate::status::MAX_ROUTE_STATUSES.into());
    schema
}
