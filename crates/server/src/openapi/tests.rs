//! The document covers every route, and every reference in it resolves.

use serde_json::Value;

use super::document;

fn spec() -> Value {
    let api = crate::routes::api_routes();
    document::build(&api.routes)
}

/// Every `$ref` in `v`.
fn refs<'a>(v: &'a Value, out: &mut Vec<&'a str>) {
    match v {
        Value::Object(m) => {
            if let Some(Value::String(r)) = m.get("$ref") {
                out.push(r);
            }
            m.values().for_each(|x| refs(x, out));
        }
        Value::Array(a) => a.iter().for_each(|x| refs(x, out)),
        _ => {}
    }
}

#[test]
fn every_reference_resolves_to_a_component() {
    let spec = spec();
    let mut found = Vec::new();
    refs(&spec, &mut found);
    assert!(found.len() > 20, "few references: {found:?}");
    for r in found {
        let name = r
            .strip_prefix("#/components/schemas/")
            .unwrap_or_else(|| panic!("{r} does not point into components.schemas"));
        assert!(
            spec["components"]["schemas"].get(name).is_some(),
            "{r} is not defined"
        );
    }
}

#[test]
fn every_operation_has_a_success_answer_and_documented_errors() {
    let spec = spec();
    let paths = spec["paths"].as_object().unwrap();
    for (path, item) in paths {
        for (method, op) in item.as_object().unwrap() {
            let statuses: Vec<&String> = op["responses"].as_object().unwrap().keys().collect();
            let never_succeeds = path == "/csrf-token";
            assert!(
                never_succeeds || statuses.iter().any(|s| s.starts_with('2') || *s == "101"),
                "{method} {path} documents no success: {statuses:?}"
            );
            assert!(
                statuses.iter().any(|s| *s == "401"),
                "{method} {path} does not document 401"
            );
            assert!(!statuses.iter().any(|s| s.starts_with('5') && *s != "503"));
        }
    }
}

#[test]
fn request_and_response_bodies_are_the_wire_types() {
    let spec = spec();
    let create = &spec["paths"]["/flow_runs/"]["post"];
    assert_eq!(
        create["requestBody"]["content"]["application/json"]["schema"]["$ref"],
        "#/components/schemas/FlowRunCreate"
    );
    assert_eq!(create["requestBody"]["required"], true);
    assert_eq!(
        create["responses"]["201"]["content"]["application/json"]["schema"]["$ref"],
        "#/components/schemas/FlowRun"
    );
    let filter = &spec["paths"]["/flow_runs/filter"]["post"];
    assert_eq!(filter["requestBody"]["required"], false);
    let states = &spec["paths"]["/flow_run_states"]["get"];
    assert_eq!(states["parameters"][0]["name"], "flow_run_id");
    let read = &spec["paths"]["/flow_runs/{id}"]["get"];
    assert_eq!(read["parameters"][0]["schema"]["format"], "uuid");
    let run = &spec["components"]["schemas"]["FlowRun"];
    assert_eq!(
        run["properties"]["state_type"]["anyOf"][0]["$ref"],
        "#/components/schemas/StateType"
    );
}

#[test]
fn a_route_whose_status_is_unsaid_is_refused() {
    let unsaid = std::panic::catch_unwind(|| {
        super::ApiRoutes::new("Test").post(
            "/x",
            || async { axum::http::StatusCode::NO_CONTENT },
            super::doc("Do x"),
        )
    });
    assert!(unsaid.is_err());
}
