//! Column codecs every capability shares: a state kept as key columns plus a JSON body, and
//! JSON text for lists and objects. Each capability module reads and writes its own rows.

use flowgate_core::{State, StateType};
use serde_json::{Value, json};

use crate::sql::Row;
use crate::store::{Result, StoreError};

/// The JSON kept in a `state_body` / `body` column: everything of a state but its key columns.
pub fn state_body(s: &State) -> String {
    json!({"message": s.message, "data": s.data, "state_details": s.details}).to_string()
}

/// Rebuilds a state from its key columns (prefixed `prefix`) and body column.
pub fn state_from(row: &Row, prefix: &str, body_col: &str) -> Result<State> {
    let ty: String = row.get(&format!("{prefix}type"))?;
    let body = row.json(body_col)?;
    Ok(State {
        id: row.uuid(&format!("{prefix}id"))?,
        state_type: StateType::parse(&ty)
            .ok_or_else(|| StoreError::Corrupt(format!("state type {ty:?}")))?,
        name: row.get(&format!("{prefix}name"))?,
        timestamp: row.micros(&format!("{prefix}timestamp"))?,
        message: body
            .get("message")
            .and_then(Value::as_str)
            .map(str::to_owned),
        data: body.get("data").filter(|d| !d.is_null()).cloned(),
        details: body
            .get("state_details")
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default(),
    })
}

/// JSON text of a list of strings.
pub fn string_list(items: &[String]) -> String {
    serde_json::to_string(items).unwrap_or_else(|_| "[]".to_owned())
}

/// JSON text of a value, `{}` for null.
pub fn object_text(v: &Value) -> String {
    if v.is_null() {
        "{}".to_owned()
    } else {
        v.to_string()
    }
}
