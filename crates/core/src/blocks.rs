//! Blocks: typed, named configuration documents (a `Secret`, credentials, a notification
//! target). A block *type* (by slug) has *schemas* (JSON Schemas, found by checksum), and a
//! block *document* is data for one schema. This module holds the rules that need no store:
//! Prefect's schema checksum (the client looks a schema up by the checksum it computed, so
//! the server must compute the same one), and keeping a schema's `secret_fields` out of what
//! is shown.

use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

/// What a secret value is shown as (Prefect's obfuscation: the same for every value).
pub const OBFUSCATED: &str = "********";

/// The block types Prefect's server registers as its own (the system blocks and the
/// notification blocks automations use): protected, so never deleted or changed by clients.
pub const SYSTEM_BLOCK_TYPES: &[&str] = &[
    "secret",
    "json",
    "string",
    "date-time",
    "webhook",
    "custom-webhook",
    "slack-webhook",
    "microsoft-teams-webhook",
    "pager-duty-webhook",
    "twilio-sms",
    "opsgenie-webhook",
    "mattermost-webhook",
    "discord-webhook",
    "sendgrid-email",
];

/// Whether the block type `slug` is one of Prefect's own ([`SYSTEM_BLOCK_TYPES`]).
pub fn is_system_block_type(slug: &str) -> bool {
    SYSTEM_BLOCK_TYPES.contains(&slug)
}

/// Refuses a block type slug or document name Prefect refuses: empty, or with anything but
/// lowercase letters, digits and dashes (both appear in URLs). `what` names it.
pub fn check_slug(what: &str, value: &str) -> Result<(), String> {
    if value.is_empty() {
        return Err(format!("a {what} must not be empty"));
    }
    match value
        .chars()
        .find(|c| !matches!(c, 'a'..='z' | '0'..='9' | '-'))
    {
        Some(bad) => Err(format!(
            "{what} {value:?} contains {bad:?}: a {what} must only contain lowercase \
             letters, numbers, and dashes"
        )),
        None => Ok(()),
    }
}

/// Prefect's checksum of a block schema's `fields`: `sha256:` and the hex digest of the
/// fields (without any `secret_fields` key, with only the `definitions` that are referenced
/// and are not blocks themselves) written as Python's `json.dumps(((fields,), {}),
/// sort_keys=True)` writes them.
pub fn schema_checksum(fields: &Value) -> String {
    let mut fields = without_key(fields, "secret_fields");
    if let Some(obj) = fields.as_object_mut() {
        let kept = obj
            .get("definitions")
            .and_then(Value::as_object)
            .filter(|d| !d.is_empty())
            .map(|defs| non_block_definitions(&Value::Object(obj.clone()), defs));
        match kept {
            Some(kept) if !kept.is_empty() => {
                obj.insert("definitions".into(), Value::Object(kept));
            }
            Some(_) => {
                obj.remove("definitions");
            }
            None => {}
        }
    }
    let mut text = String::from("[[");
    python_json(&fields, &mut text);
    text.push_str("], {}]");
    let digest = Sha256::digest(text.as_bytes());
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    format!("sha256:{hex}")
}

/// `v` without `key` in any object, at any depth.
fn without_key(v: &Value, key: &str) -> Value {
    match v {
        Value::Object(o) => Value::Object(
            o.iter()
                .filter(|(k, _)| *k != key)
                .map(|(k, v)| (k.clone(), without_key(v, key)))
                .collect(),
        ),
        other => other.clone(),
    }
}

/// The definitions `object` refers to (`$ref: "#/definitions/Name"`), transitively, leaving
/// out those that are blocks (they have a `block_type_slug`) and empty ones.
fn non_block_definitions(object: &Value, definitions: &Map<String, Value>) -> Map<String, Value> {
    let mut kept = Map::new();
    let mut refs = Vec::new();
    collect_refs(object, &mut refs);
    while let Some(r) = refs.pop() {
        let name = r.trim_start_matches("#/definitions/");
        let Some(def) = definitions.get(name) else {
            continue;
        };
        // An empty definition counts as absent (Prefect tests its truthiness).
        let present = def.as_object().is_some_and(|d| !d.is_empty());
        let block = def.get("block_type_slug").is_some_and(|s| !s.is_null());
        if present && !block && !kept.contains_key(name) {
            kept.insert(name.to_owned(), def.clone());
            collect_refs(def, &mut refs);
        }
    }
    kept
}

fn collect_refs(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::Object(o) => {
            if let Some(Value::String(r)) = o.get("$ref") {
                out.push(r.clone());
            }
            o.values().for_each(|v| collect_refs(v, out));
        }
        Value::Array(items) => items.iter().for_each(|v| collect_refs(v, out)),
        _ => {}
    }
}

/// Writes `v` as Python's `json.dumps(v, sort_keys=True)` does: `", "` and `": "` between
/// items, keys in code-point order, everything outside ASCII escaped as `\uXXXX`.
fn python_json(v: &Value, out: &mut String) {
    match v {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => out.push_str(&n.to_string()),
        Value::String(s) => python_string(s, out),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                python_json(item, out);
            }
            out.push(']');
        }
        Value::Object(o) => {
            let mut keys: Vec<&String> = o.keys().collect();
            keys.sort();
            out.push('{');
            for (i, k) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                python_string(k, out);
                out.push_str(": ");
                python_json(&o[k], out);
            }
            out.push('}');
        }
    }
}

fn python_string(s: &str, out: &mut String) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            ' '..='~' => out.push(c),
            _ => {
                let mut units = [0u16; 2];
                for unit in c.encode_utf16(&mut units) {
                    out.push_str(&format!("\\u{unit:04x}"));
                }
            }
        }
    }
    out.push('"');
}

/// The dotted paths a schema's `fields` mark secret (`secret_fields`; `*` stands for every
/// key at its level).
pub fn secret_fields(fields: &Value) -> Vec<Vec<String>> {
    let mut paths: Vec<Vec<String>> = fields
        .get("secret_fields")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .map(|p| p.split('.').map(str::to_owned).collect())
        .collect();
    paths.dedup();
    paths
}

/// `data` with every non-null value at a secret path shown as [`OBFUSCATED`] (a whole
/// object or list at the path included: nothing under a secret field is shown).
pub fn obfuscate(mut data: Value, secret_fields: &[Vec<String>]) -> Value {
    for_each_secret(&mut data, secret_fields, |v| {
        *v = Value::String(OBFUSCATED.to_owned());
    });
    data
}

/// Calls `f` on every non-null value of `data` at a secret path: how the store seals secrets
/// before writing a document and opens them after reading it.
pub fn for_each_secret(
    data: &mut Value,
    secret_fields: &[Vec<String>],
    mut f: impl FnMut(&mut Value),
) {
    for path in secret_fields {
        visit(data, path, &mut |v| {
            if !v.is_null() {
                f(v);
            }
        });
    }
}

/// `update` with every secret value that came back as [`OBFUSCATED`] replaced by the
/// `current` one: a client that read a document without its secrets and writes it back
/// keeps them.
pub fn keep_secrets(mut update: Value, current: &Value, secret_fields: &[Vec<String>]) -> Value {
    for path in secret_fields {
        restore(&mut update, current, path);
    }
    update
}

/// The data a document update leaves: `given` with secrets that came back obfuscated kept
/// from `current`, and, when `merge`, laid over `current` key by key (Prefect's
/// `merge_existing_data`, the default) instead of replacing it.
pub fn updated_data(current: &Value, given: Value, merge: bool, fields: &Value) -> Value {
    let given = keep_secrets(given, current, &secret_fields(fields));
    match (merge, current, given) {
        (true, Value::Object(current), Value::Object(given)) => {
            let mut merged = current.clone();
            merged.extend(given);
            Value::Object(merged)
        }
        (_, _, given) => given,
    }
}

fn restore(update: &mut Value, current: &Value, path: &[String]) {
    let Some((head, rest)) = path.split_first() else {
        if update.as_str() == Some(OBFUSCATED) && !current.is_null() {
            *update = current.clone();
        }
        return;
    };
    let Value::Object(children) = update else {
        return;
    };
    for (key, child) in children.iter_mut() {
        if head == "*" || head == key {
            restore(child, current.get(key).unwrap_or(&Value::Null), rest);
        }
    }
}

/// Calls `f` on every value of `data` at `path` (`*` matching every key).
fn visit(data: &mut Value, path: &[String], f: &mut impl FnMut(&mut Value)) {
    let Some((head, rest)) = path.split_first() else {
        f(data);
        return;
    };
    let Value::Object(children) = data else {
        return;
    };
    for (key, child) in children.iter_mut() {
        if head == "*" || head == key {
            visit(child, rest, f);
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn json_is_written_as_python_writes_it() {
        let mut out = String::new();
        python_json(
            &json!({"b": [1, 2.5, null, true], "a": "é\"\n😀"}),
            &mut out,
        );
        assert_eq!(
            out,
            r#"{"a": "\u00e9\"\n\ud83d\ude00", "b": [1, 2.5, null, true]}"#
        );
    }

    #[test]
    fn the_checksum_is_prefects() {
        // prefect 3.9.1: `Secret._calculate_schema_checksum()` for its own schema.
        let secret = json!({"block_schema_references": {}, "block_type_slug": "secret",
            "description": "A block that represents a secret value. The value stored in this block will be obfuscated when this block is viewed or edited in the UI.",
            "properties": {"value": {"anyOf": [{"format": "password", "type": "string", "writeOnly": true},
                {"title": "string", "type": "string"}, {"$ref": "#/definitions/JsonValue", "title": "JSON"}],
                "description": "A value that should be kept secret.",
                "examples": ["sk-1234567890", {"password": "s3cr3t", "username": "johndoe"}],
                "format": "password", "title": "Value", "writeOnly": true, "position": 0}},
            "required": ["value"], "secret_fields": ["value", "value"], "title": "Secret",
            "type": "object", "definitions": {"JsonValue": {}, "Unused": {"type": "string"}}});
        assert_eq!(
            schema_checksum(&secret),
            "sha256:c078ed9c1e813e224c0b353d7ad4564a11d51d3198d9ac0686478165a1911c78"
        );
    }

    #[test]
    fn secrets_are_hidden_and_kept_when_written_back() {
        let fields = json!({"secret_fields": ["token", "auth.*", "value"]});
        let paths = secret_fields(&fields);
        let data = json!({"token": "t0p", "auth": {"user": "u", "pass": "p"}, "value": {"k": 1},
                          "plain": "shown"});
        let shown = obfuscate(data.clone(), &paths);
        assert_eq!(
            shown,
            json!({"token": OBFUSCATED, "auth": {"user": OBFUSCATED, "pass": OBFUSCATED},
                   "value": OBFUSCATED, "plain": "shown"})
        );
        let mut written_back = shown.clone();
        written_back["plain"] = json!("changed");
        written_back["token"] = json!("new");
        let kept = keep_secrets(written_back, &data, &paths);
        assert_eq!(
            kept,
            json!({"token": "new", "auth": {"user": "u", "pass": "p"}, "value": {"k": 1},
                   "plain": "changed"})
        );
        assert_eq!(
            obfuscate(json!({"token": null}), &paths),
            json!({"token": null})
        );
    }
}
