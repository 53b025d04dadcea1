//! What the apiserver checks, done offline: structural-schema rules for the CRDs, and
//! validation of objects against a CRD schema (unknown fields as with kubectl's strict field
//! validation, types, enums, patterns, bounds, required fields and Mesh's CEL rules).

use serde_json::Value;

/// Problems that would make the apiserver reject the CRD (empty = acceptable).
pub fn structural_problems(schema: &Value) -> Vec<String> {
    let mut problems = Vec::new();
    check_node(schema, "openAPIV3Schema", false, &mut problems);
    problems
}

fn check_node(node: &Value, path: &str, in_junctor: bool, problems: &mut Vec<String>) {
    let Some(map) = node.as_object() else {
        problems.push(format!("{path}: schema is not an object"));
        return;
    };
    for forbidden in ["$ref", "$schema", "definitions", "$defs", "nullable"] {
        if map.contains_key(forbidden) {
            problems.push(format!("{path}: has `{forbidden}`"));
        }
    }
    let int_or_string = map.get("x-kubernetes-int-or-string") == Some(&Value::Bool(true));
    let preserve = map.get("x-kubernetes-preserve-unknown-fields") == Some(&Value::Bool(true));

    if in_junctor {
        for key in [
            "type",
            "description",
            "default",
            "additionalProperties",
            "properties",
            "items",
        ] {
            if map.contains_key(key) {
                problems.push(format!("{path}: `{key}` inside anyOf/allOf/oneOf/not"));
            }
        }
    } else if !map.contains_key("type") && !int_or_string && !preserve {
        problems.push(format!("{path}: no `type`"));
    }

    if int_or_string {
        let canonical = serde_json::json!([{ "type": "integer" }, { "type": "string" }]);
        if map.contains_key("type") {
            problems.push(format!("{path}: int-or-string with a `type`"));
        }
        if map.get("anyOf").is_some_and(|any_of| *any_of != canonical) {
            problems.push(format!(
                "{path}: int-or-string anyOf must be [integer, string]"
            ));
        }
    } else {
        for junctor in ["anyOf", "allOf", "oneOf"] {
            for (index, branch) in map
                .get(junctor)
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .enumerate()
            {
                check_node(
                    branch,
                    &format!("{path}.{junctor}[{index}]"),
                    true,
                    problems,
                );
            }
        }
    }
    if map.contains_key("properties") && map.contains_key("additionalProperties") {
        problems.push(format!("{path}: both properties and additionalProperties"));
    }
    if let Some(default) = map.get("default")
        && !int_or_string
        && !matches_type(default, map.get("type").and_then(Value::as_str))
    {
        problems.push(format!("{path}: default {default} does not match the type"));
    }
    if map.get("x-kubernetes-list-type").and_then(Value::as_str) == Some("map") {
        let required: Vec<&str> = map
            .get("items")
            .and_then(|items| items.get("required"))
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .collect();
        for key in map
            .get("x-kubernetes-list-map-keys")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            if !key.as_str().is_some_and(|key| required.contains(&key)) {
                problems.push(format!(
                    "{path}: list-map key {key} is not required in items"
                ));
            }
        }
    }
    for rule in map
        .get("x-kubernetes-validations")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let text = rule.get("rule").and_then(Value::as_str).unwrap_or_default();
        for field in cel_self_fields(text) {
            if map
                .get("properties")
                .and_then(|properties| properties.get(&field))
                .is_none()
            {
                problems.push(format!(
                    "{path}: CEL rule {text:?} uses self.{field}, which is not a property"
                ));
            }
        }
    }

    if let Some(properties) = map.get("properties").and_then(Value::as_object) {
        for (name, child) in properties {
            check_node(child, &format!("{path}.{name}"), false, problems);
        }
    }
    if let Some(items) = map.get("items") {
        check_node(items, &format!("{path}[]"), false, problems);
    }
    if let Some(additional) = map
        .get("additionalProperties")
        .filter(|value| value.is_object())
    {
        check_node(additional, &format!("{path}{{}}"), false, problems);
    }
}

/// The `x` of every `self.x` in a CEL expression.
pub fn cel_self_fields(rule: &str) -> Vec<String> {
    let mut fields = Vec::new();
    let mut rest = rule;
    while let Some(position) = rest.find("self.") {
        let after = &rest[position + "self.".len()..];
        let field: String = after
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect();
        if !field.is_empty() {
            fields.push(field);
        }
        rest = after;
    }
    fields
}

fn matches_type(value: &Value, type_: Option<&str>) -> bool {
    match type_ {
        Some("string") => value.is_string(),
        Some("integer") => value.is_i64() || value.is_u64(),
        Some("number") => value.is_number(),
        Some("boolean") => value.is_boolean(),
        Some("array") => value.is_array(),
        Some("object") => value.is_object(),
        _ => true,
    }
}

/// Validation errors of `object` (a whole custom object) against the CRD's schema.
pub fn object_problems(object: &Value, schema: &Value) -> Vec<String> {
    let mut problems = Vec::new();
    let mut trimmed = object.clone();
    // The apiserver validates apiVersion, kind and metadata itself.
    if let Some(map) = trimmed.as_object_mut() {
        for key in ["apiVersion", "kind", "metadata"] {
            map.remove(key);
        }
    }
    validate(&trimmed, schema, "", &mut problems);
    problems
}

fn validate(value: &Value, schema: &Value, path: &str, problems: &mut Vec<String>) {
    let here = if path.is_empty() { "<root>" } else { path };
    if schema.get("x-kubernetes-int-or-string") == Some(&Value::Bool(true)) {
        match value {
            Value::Number(number) if number.is_i64() || number.is_u64() => {}
            Value::String(text) => check_pattern(text, schema, here, problems),
            other => problems.push(format!(
                "{here}: {other} is neither an integer nor a string"
            )),
        }
        return;
    }
    let type_ = schema.get("type").and_then(Value::as_str);
    if !matches_type(value, type_) {
        problems.push(format!(
            "{here}: {value} is not of type {}",
            type_.unwrap_or("?")
        ));
        return;
    }
    if let Some(allowed) = schema.get("enum").and_then(Value::as_array)
        && !allowed.contains(value)
    {
        problems.push(format!("{here}: {value} is not one of {allowed:?}"));
    }
    if let (Some(minimum), Some(number)) = (
        schema.get("minimum").and_then(Value::as_f64),
        value.as_f64(),
    ) && number < minimum
    {
        problems.push(format!("{here}: {number} is below the minimum {minimum}"));
    }
    if let (Some(maximum), Some(number)) = (
        schema.get("maximum").and_then(Value::as_f64),
        value.as_f64(),
    ) && number > maximum
    {
        problems.push(format!("{here}: {number} is above the maximum {maximum}"));
    }
    match value {
        Value::String(text) => check_pattern(text, schema, here, problems),
        Value::Array(items) => {
            if let Some(max) = schema.get("maxItems").and_then(Value::as_u64)
                && items.len() as u64 > max
            {
                problems.push(format!("{here}: more than {max} items"));
            }
            if let Some(item_schema) = schema.get("items") {
                for (index, item) in items.iter().enumerate() {
                    validate(item, item_schema, &format!("{path}[{index}]"), problems);
                }
            }
        }
        Value::Object(map) => {
            for required in schema
                .get("required")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                if let Some(required) = required.as_str()
                    && !map.contains_key(required)
                {
                    problems.push(format!("{here}: missing required field {required}"));
                }
            }
            let preserve =
                schema.get("x-kubernetes-preserve-unknown-fields") == Some(&Value::Bool(true));
            for (key, child) in map {
                let child_path = if path.is_empty() {
                    key.clone()
                } else {
                    format!("{path}.{key}")
                };
                if let Some(child_schema) = schema
                    .get("properties")
                    .and_then(|properties| properties.get(key))
                {
                    validate(child, child_schema, &child_path, problems);
                } else if let Some(additional) = schema
                    .get("additionalProperties")
                    .filter(|value| value.is_object())
                {
                    validate(child, additional, &child_path, problems);
                } else if !preserve {
                    problems.push(format!("{child_path}: unknown field"));
                }
            }
            for rule in schema
                .get("x-kubernetes-validations")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                let text = rule.get("rule").and_then(Value::as_str).unwrap_or_default();
                match evaluate_rule(text, map) {
                    Some(true) => {}
                    Some(false) => problems.push(format!("{here}: violates CEL rule {text:?}")),
                    None => problems.push(format!(
                        "{here}: no offline evaluator for CEL rule {text:?}"
                    )),
                }
            }
        }
        _ => {}
    }
}

fn check_pattern(text: &str, schema: &Value, here: &str, problems: &mut Vec<String>) {
    if let Some(pattern) = schema.get("pattern").and_then(Value::as_str) {
        let regex = regex::Regex::new(pattern).expect("schema patterns are valid regexes");
        if !regex.is_match(text) {
            problems.push(format!("{here}: {text:?} does not match {pattern}"));
        }
    }
}

/// The CEL rules Mesh's CRDs carry, evaluated by hand; `None` for a rule this file does not
/// know (a new rule needs an evaluator here, so examples keep being checked).
pub fn evaluate_rule(rule: &str, object: &serde_json::Map<String, Value>) -> Option<bool> {
    match rule {
        "!has(self.prefix) || self.prefix.startsWith('/')" => Some(
            object
                .get("prefix")
                .and_then(Value::as_str)
                .is_none_or(|prefix| prefix.starts_with('/')),
        ),
        "!(has(self.secret) && has(self.configMap))" => {
            Some(!(object.contains_key("secret") && object.contains_key("configMap")))
        }
        _ => None,
    }
}
