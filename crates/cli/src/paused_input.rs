//! What a paused run waits for: the JSON Schema and description it stored (read through the
//! keys its Paused state names), shown to people as one row per field (its name, whether it is
//! required, its type and allowed values, its rules, its default).

use flowgate_core::StateType;
use flowgate_wire::flow_runs::FlowRun;
use flowgate_wire::states::RunInputKeyset;
use serde_json::{Map, Value};

use crate::client::Client;
use crate::table;

/// The input a paused run waits for.
pub struct PausedInput {
    /// Markdown shown above the form.
    pub description: Option<String>,
    /// The input's JSON Schema; `None` when it could not be read.
    pub schema: Option<Value>,
}

/// What `run` waits for, when it is paused for input.
pub async fn read(client: &Client, run: &FlowRun) -> Option<PausedInput> {
    if run.state_type != Some(StateType::Paused) {
        return None;
    }
    let details = &run.state.as_ref()?.state_details;
    let keys: RunInputKeyset =
        serde_json::from_value(details.get("run_input_keyset")?.clone()).ok()?;
    let fetch = |key: String| async move {
        client
            .get::<Value>(&format!("/flow_runs/{}/input/{key}", run.id))
            .await
            .ok()
    };
    let description = match keys.description {
        Some(k) => fetch(k).await.and_then(|d| d.as_str().map(str::to_owned)),
        None => None,
    };
    Some(PausedInput {
        description,
        schema: fetch(keys.schema).await,
    })
}

/// The human view: the description, then a table of the fields.
pub fn render(input: &PausedInput) -> String {
    let mut out = String::new();
    if let Some(d) = &input.description {
        for line in d.lines() {
            out.push_str(&format!("    {line}\n"));
        }
    }
    let Some(schema) = &input.schema else {
        out.push_str("    (its input schema could not be read)\n");
        return out;
    };
    let rows: Vec<Vec<String>> = fields(schema)
        .into_iter()
        .map(|f| {
            vec![
                f.name,
                if f.required { "yes" } else { "no" }.to_owned(),
                f.kind,
                f.rules,
                f.default.unwrap_or_default(),
            ]
        })
        .collect();
    let header = ["FIELD", "REQUIRED", "TYPE", "RULES", "DEFAULT"];
    for line in table::render(&header, &rows).lines() {
        out.push_str(&format!("    {line}\n"));
    }
    out
}

/// One field of the input.
#[derive(Debug, PartialEq)]
pub struct Field {
    pub name: String,
    pub required: bool,
    /// `string`, `integer`, `one of: a, b`, …
    pub kind: String,
    /// `1 to 10`, `at most 20 characters`, …
    pub rules: String,
    /// The default (or the value the form is prefilled with), as JSON.
    pub default: Option<String>,
}

/// Follows a local `$ref` (`#/$defs/Size`) to the schema it names.
fn resolve<'a>(root: &'a Value, schema: &'a Value) -> &'a Value {
    match schema["$ref"].as_str().and_then(|r| r.strip_prefix("#/")) {
        Some(path) => {
            let target = path.split('/').fold(root, |node, part| &node[part]);
            if target.is_object() { target } else { schema }
        }
        None => schema,
    }
}

/// The schema of one property, through `$ref`s and `allOf: [{$ref}]` / `anyOf: [X, null]`
/// wrappers; and whether `null` is allowed.
fn property<'a>(root: &'a Value, schema: &'a Value) -> (&'a Value, bool) {
    let schema = resolve(root, schema);
    for key in ["allOf", "anyOf", "oneOf"] {
        if let Some(options) = schema[key].as_array() {
            let nullable = options.iter().any(|o| o["type"] == "null");
            let real: Vec<&Value> = options.iter().filter(|o| o["type"] != "null").collect();
            if let [only] = real.as_slice() {
                return (resolve(root, only), nullable);
            }
        }
    }
    let nullable = schema["type"]
        .as_array()
        .is_some_and(|t| t.iter().any(|t| t == "null"));
    (schema, nullable)
}

fn kind(schema: &Value) -> String {
    if let Some(values) = schema["enum"].as_array() {
        let values: Vec<String> = values
            .iter()
            .map(|v| v.as_str().map_or_else(|| v.to_string(), str::to_owned))
            .collect();
        return format!("one of: {}", values.join(", "));
    }
    if let Some(value) = schema.get("const") {
        return format!("exactly {value}");
    }
    match &schema["type"] {
        Value::String(t) => t.clone(),
        Value::Array(types) => types
            .iter()
            .filter(|t| *t != "null")
            .filter_map(Value::as_str)
            .collect::<Vec<_>>()
            .join(" or "),
        _ => "any JSON".to_owned(),
    }
}

fn rules(schema: &Value) -> String {
    let n = |k: &str| {
        schema
            .get(k)
            .filter(|v| v.is_number())
            .map(Value::to_string)
    };
    let mut rules = Vec::new();
    match (n("minimum"), n("maximum")) {
        (Some(lo), Some(hi)) => rules.push(format!("{lo} to {hi}")),
        (Some(lo), None) => rules.push(format!("at least {lo}")),
        (None, Some(hi)) => rules.push(format!("at most {hi}")),
        (None, None) => {}
    }
    if let Some(lo) = n("exclusiveMinimum") {
        rules.push(format!("more than {lo}"));
    }
    if let Some(hi) = n("exclusiveMaximum") {
        rules.push(format!("less than {hi}"));
    }
    match (n("minLength"), n("maxLength")) {
        (Some(lo), Some(hi)) => rules.push(format!("{lo} to {hi} characters")),
        (Some(lo), None) => rules.push(format!("at least {lo} characters")),
        (None, Some(hi)) => rules.push(format!("at most {hi} characters")),
        (None, None) => {}
    }
    if let Some(p) = schema["pattern"].as_str() {
        rules.push(format!("matches /{p}/"));
    }
    // Integer formats (`uint32`, `int64`) say how Rust stores the number, nothing a person
    // must know; string formats (`date-time`, `email`) are rules.
    if let Some(f) = schema["format"].as_str()
        && schema["type"] == "string"
    {
        rules.push(format!("format {f}"));
    }
    rules.join(", ")
}

/// The fields of an object schema: the required ones first, each group by name.
pub fn fields(root: &Value) -> Vec<Field> {
    let empty = Map::new();
    let properties = root["properties"].as_object().unwrap_or(&empty);
    let required: Vec<&str> = root["required"]
        .as_array()
        .map(|r| r.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let mut fields: Vec<Field> = properties
        .iter()
        .map(|(name, schema)| {
            let (resolved, nullable) = property(root, schema);
            let default = schema
                .get("default")
                .or_else(|| resolved.get("default"))
                .map(Value::to_string);
            Field {
                name: name.clone(),
                required: required.contains(&name.as_str()) && !nullable,
                kind: kind(resolved),
                rules: rules(resolved),
                default,
            }
        })
        .collect();
    fields.sort_by(|a, b| (!a.required, &a.name).cmp(&(!b.required, &b.name)));
    fields
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn a_shirt_orders_fields_are_read_through_refs() {
        let schema = json!({
            "type": "object",
            "properties": {
                "size": {"$ref": "#/$defs/Size", "default": "medium"},
                "count": {"type": "integer", "minimum": 1, "maximum": 10, "default": 1},
                "note": {"type": ["string", "null"], "maxLength": 20},
                "gift": {"type": "boolean"}
            },
            "required": ["size", "note"],
            "$defs": {"Size": {"type": "string", "enum": ["small", "medium", "large"]}}
        });
        let f = fields(&schema);
        fn row(f: &Field) -> (&str, bool, &str, &str, Option<&str>) {
            (
                f.name.as_str(),
                f.required,
                f.kind.as_str(),
                f.rules.as_str(),
                f.default.as_deref(),
            )
        }
        assert_eq!(
            f.iter().map(row).collect::<Vec<_>>(),
            [
                (
                    "size",
                    true,
                    "one of: small, medium, large",
                    "",
                    Some("\"medium\"")
                ),
                ("count", false, "integer", "1 to 10", Some("1")),
                ("gift", false, "boolean", "", None),
                ("note", false, "string", "at most 20 characters", None),
            ]
        );
    }
}
