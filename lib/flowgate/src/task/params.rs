//! A call's arguments as recorded: each parameter's JSON (or why it has none) and the task runs
//! whose futures supplied them.

use serde::Serialize;
use serde_json::{Map, Value, json};
use uuid::Uuid;

/// A call's arguments as recorded.
#[derive(Default)]
pub struct Params {
    values: Vec<(&'static str, Result<Value, String>)>,
    upstream: Vec<(&'static str, Uuid)>,
}

impl Params {
    /// No parameters yet.
    pub fn new() -> Params {
        Params::default()
    }

    /// Records parameter `name`.
    pub fn add<T: Serialize>(mut self, name: &'static str, value: &T) -> Params {
        self.values
            .push((name, serde_json::to_value(value).map_err(|e| e.to_string())));
        self
    }

    /// Records that parameter `name` came from task run `from`.
    pub fn upstream(mut self, name: &'static str, from: Option<Uuid>) -> Params {
        if let Some(id) = from {
            self.upstream.push((name, id));
        }
        self
    }

    /// The parameters as a JSON object, or the first one that cannot be serialised (its name
    /// and the serialiser's message).
    pub(crate) fn to_json(&self) -> Result<Value, (String, String)> {
        let mut map = Map::new();
        for (name, v) in &self.values {
            match v {
                Ok(v) => {
                    map.insert((*name).to_owned(), v.clone());
                }
                Err(e) => return Err(((*name).to_owned(), e.clone())),
            }
        }
        Ok(Value::Object(map))
    }

    /// Prefect's `task_inputs`: upstream task runs per parameter.
    pub(crate) fn task_inputs(&self) -> Value {
        let mut map = Map::new();
        for (name, _) in &self.values {
            let refs: Vec<Value> = self
                .upstream
                .iter()
                .filter(|(n, _)| n == name)
                .map(|(_, id)| json!({"input_type": "task_run", "id": id}))
                .collect();
            map.insert((*name).to_owned(), Value::Array(refs));
        }
        Value::Object(map)
    }
}
