//! Checking a resume's input against the JSON Schema the paused flow stored, with a message
//! naming each failing field.

use serde_json::Value;

/// Largest resume input accepted, as JSON text.
pub const MAX_INPUT_BYTES: usize = 1024 * 1024;

/// `Ok` when `input` satisfies `schema`; otherwise one sentence per failure, naming the field.
pub fn validate(schema: &Value, input: &Value) -> Result<(), String> {
    let validator = jsonschema::validator_for(schema)
        .map_err(|e| format!("the paused flow stored an invalid input schema: {e}"))?;
    let failures: Vec<String> = validator
        .iter_errors(input)
        .map(|e| {
            let path = e
                .instance_path()
                .as_str()
                .trim_start_matches('/')
                .replace('/', ".");
            if path.is_empty() {
                format!("Validation failed for the input. Failure reason: {e}")
            } else {
                format!("Validation failed for field '{path}'. Failure reason: {e}")
            }
        })
        .collect();
    if failures.is_empty() {
        Ok(())
    } else {
        Err(failures.join("; "))
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn shirt_schema() -> Value {
        json!({"type": "object", "additionalProperties": false, "required": ["size", "color"],
               "properties": {"size": {"enum": ["small", "medium", "large", "xlarge"], "type": "string"},
                              "color": {"enum": ["red", "green", "black"], "type": "string"},
                              "count": {"type": "integer", "minimum": 1}}})
    }

    #[test]
    fn names_each_failing_field() {
        let err = validate(
            &shirt_schema(),
            &json!({"size": "huge", "color": "red", "count": 0}),
        )
        .unwrap_err();
        assert!(
            err.contains("field 'size'") && err.contains("huge"),
            "{err}"
        );
        assert!(err.contains("field 'count'"), "{err}");
        assert!(!err.contains("field 'color'"), "{err}");
    }

    #[test]
    fn reports_missing_and_unknown_fields() {
        let err = validate(&shirt_schema(), &json!({"size": "small", "shade": "x"})).unwrap_err();
        assert!(err.contains("color") && err.contains("shade"), "{err}");
        assert!(validate(&shirt_schema(), &json!({"size": "small", "color": "red"})).is_ok());
    }
}
