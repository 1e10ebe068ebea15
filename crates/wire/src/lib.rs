//! Flowgate's wire format: every request and response body of the HTTP API and every websocket
//! frame, as plain serde types the server, the CLI and the Rust SDK share, so the compiler checks
//! each route's three ends. Field names and defaults follow what Prefect 3's client
//! (`prefect==3.9.1`, API 0.8.4) sends and reads; Flowgate's own extensions (the task queue, log
//! frames, `resumed_by`, the slot channel) are marked where they are defined.
//!
//! These are wire shapes, not domain types: the server converts them to and from
//! `flowgate-core` and `flowgate-store` values at its edge. The crate depends on serde and
//! schemars only (and on `flowgate-core` for the scalar types every shape uses: [`Micros`]
//! timestamps and [`StateType`]): each type derives `JsonSchema` beside serde's traits, and
//! the server publishes those schemas as its OpenAPI document, so the document is these types.
//!
//! One module per capability: a new capability adds its module here, and its routes' bodies
//! live in it.

pub mod artifacts;
pub mod auth;
pub mod automations;
pub mod blocks;
pub mod concurrency_limits;
pub mod deployments;
pub mod events;
pub mod filters;
pub mod flow_runs;
pub mod flows;
pub mod inputs;
pub mod logs;
pub mod slot_channel;
pub mod states;
pub mod task_queue;
pub mod task_runs;
pub mod variables;
pub mod work_pools;
pub mod worker_channel;

pub use flowgate_core::{Micros, StateType};
use schemars::JsonSchema;
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Value;

/// Every error answer's body: `{"detail": "what is wrong and what to do"}`.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq)]
pub struct ErrorBody {
    /// One or more sentences for a person.
    pub detail: String,
}

/// `name` as one segment of a URL path: every byte but letters, digits and `-._~`
/// percent-encoded, so a name with `/`, spaces or `?` addresses the record it names (the CLI
/// and the SDK address pools, deployments and limits by name).
pub fn segment(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for b in name.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Reads a JSON value that is present, `null` included (`Some(Value::Null)`); with
/// `#[serde(default)]` an absent field stays `None`. A PATCH body sets a value to `null` so.
pub fn present_value<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Value>, D::Error> {
    Value::deserialize(d).map(Some)
}

#[cfg(test)]
mod tests {
    #[test]
    fn segments_are_percent_encoded() {
        assert_eq!(super::segment("a b/c?d-é"), "a%20b%2Fc%3Fd-%C3%A9");
    }
}
