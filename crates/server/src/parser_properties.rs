//! Property tests of what reads untrusted input: the `/events/in` frame parser, filter bodies
//! and resume input checked against a stored schema. Arbitrary bytes and arbitrary JSON (and
//! JSON shaped almost like the real thing) never panic, and every refusal is a sentence saying
//! where the input is wrong.

use flowgate_core::Micros;
use proptest::prelude::*;
use serde_json::{Map, Value, json};

/// Any JSON value, nested a few levels, with keys drawn partly from the names the parsers know
/// (so objects often look like a frame or a filter with a wrong piece).
fn any_json() -> impl Strategy<Value = Value> {
    let key = prop_oneof![
        Just("id".to_owned()),
        Just("event".to_owned()),
        Just("occurred".to_owned()),
        Just("resource".to_owned()),
        Just("related".to_owned()),
        Just("payload".to_owned()),
        Just("type".to_owned()),
        Just("log".to_owned()),
        Just("flow_runs".to_owned()),
        Just("any_".to_owned()),
        Just("state".to_owned()),
        Just("properties".to_owned()),
        Just("pattern".to_owned()),
        Just("$ref".to_owned()),
        "[a-z_]{0,8}",
    ];
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_map(|f| json!(f)),
        ".{0,12}".prop_map(Value::String),
        Just(json!("2026-11-28T20:00:00Z")),
        Just(json!("0190c2a0-0000-7000-8000-000000000000")),
        Just(json!("(unclosed[")),
    ];
    leaf.prop_recursive(4, 48, 6, move |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::vec((key.clone(), inner), 0..6)
                .prop_map(|pairs| Value::Object(pairs.into_iter().collect::<Map<_, _>>())),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn event_frames_of_any_bytes_are_read_or_refused_with_a_reason(bytes in prop::collection::vec(any::<u8>(), 0..300)) {
        let text = String::from_utf8_lossy(&bytes);
        if let Err(reason) = crate::routes::events_in::parse_report(&text, Micros(0)) {
            prop_assert!(!reason.is_empty());
        }
    }

    #[test]
    fn event_frames_of_any_json_are_read_or_refused_with_a_reason(frame in any_json()) {
        if let Err(reason) = crate::routes::events_in::parse_report(&frame.to_string(), Micros(0)) {
            prop_assert!(!reason.is_empty());
        }
    }

    #[test]
    fn filter_bodies_of_any_json_are_read_or_refused_naming_where(body in any_json()) {
        use flowgate_wire::filters::FlowRunFilterRequest;
        match crate::convert::filters::read::<FlowRunFilterRequest>("body", &body) {
            Ok(req) => {
                // What reads is also turned into the store's filter, or refused in words.
                if let Err(reason) = crate::convert::filters::flow_runs(&req) {
                    prop_assert!(!reason.is_empty());
                }
            }
            Err(reason) => prop_assert!(reason.contains("body"), "{}", reason),
        }
    }

    #[test]
    fn resume_input_against_any_schema_is_accepted_or_refused_in_words(schema in any_json(), input in any_json()) {
        if let Err(reason) = crate::run_input::validate(&schema, &input) {
            prop_assert!(
                reason.contains("Validation failed") || reason.contains("invalid input schema"),
                "{}", reason
            );
        }
    }
}
