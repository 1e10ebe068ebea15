//! Variables: named, mutable JSON values that flows share. The rules Prefect applies to them,
//! as checks that turn bad input into a sentence: a name of lowercase letters, digits, dashes
//! and underscores (it appears in URLs), and a value whose compact JSON fits the size limit.

use serde_json::Value;

/// Longest accepted variable name, in characters (Prefect's `MAX_VARIABLE_NAME_LENGTH`).
pub const MAX_NAME_LENGTH: usize = 255;

/// Longest accepted value, as the bytes of its compact JSON text (Prefect's
/// `MAX_VARIABLE_VALUE_LENGTH`; `null` always fits).
pub const MAX_VALUE_BYTES: usize = 5000;

/// Refuses a name Prefect refuses: empty, longer than [`MAX_NAME_LENGTH`], or with a character
/// other than `a-z`, `0-9`, `-` and `_`.
pub fn check_name(name: &str) -> Result<(), String> {
    if name.is_empty() {
        return Err("a variable name must not be empty".to_owned());
    }
    let length = name.chars().count();
    if length > MAX_NAME_LENGTH {
        return Err(format!(
            "a variable name may be at most {MAX_NAME_LENGTH} characters long, got {length}"
        ));
    }
    if let Some(bad) = name
        .chars()
        .find(|c| !matches!(c, 'a'..='z' | '0'..='9' | '-' | '_'))
    {
        return Err(format!(
            "variable name {name:?} contains {bad:?}: a variable name must only contain \
             lowercase letters, numbers, and dashes or underscores"
        ));
    }
    Ok(())
}

/// Refuses a value whose compact JSON text is longer than [`MAX_VALUE_BYTES`].
pub fn check_value(value: &Value) -> Result<(), String> {
    if value.is_null() {
        return Ok(());
    }
    let bytes = value.to_string().len();
    if bytes > MAX_VALUE_BYTES {
        return Err(format!(
            "a variable's value must be less than {MAX_VALUE_BYTES} characters as JSON, got \
             {bytes}; keep large data in a block or an artifact and store its name here"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn names_are_lowercase_slugs_of_bounded_length() {
        assert!(check_name("my_var-2").is_ok());
        assert!(check_name(&"a".repeat(MAX_NAME_LENGTH)).is_ok());
        assert!(check_name(&"a".repeat(MAX_NAME_LENGTH + 1)).is_err());
        assert!(check_name("").is_err());
        let err = check_name("My Var").unwrap_err();
        assert!(err.contains("'M'") && err.contains("lowercase"), "{err}");
        assert!(check_name("a/b").is_err());
        assert!(check_name("é").is_err());
    }

    #[test]
    fn values_are_bounded_by_their_compact_json() {
        // `"…"` adds two bytes of quotes to the string's own.
        assert!(check_value(&json!("x".repeat(MAX_VALUE_BYTES - 2))).is_ok());
        let err = check_value(&json!("x".repeat(MAX_VALUE_BYTES - 1))).unwrap_err();
        assert!(err.contains("5000"), "{err}");
        assert!(check_value(&Value::Null).is_ok());
        assert!(check_value(&json!({"a": [1, 2, {"b": true}]})).is_ok());
    }
}
