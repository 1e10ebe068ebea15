//! The OpenAPI 3.1 document of a list of routes: paths, operations, and the wire types' JSON
//! Schemas (draft 2020-12, which OpenAPI 3.1 uses as is) under `components.schemas`.

use std::collections::BTreeSet;

use schemars::SchemaGenerator;
use schemars::generate::SchemaSettings;
use serde_json::{Map, Value, json};

use super::describe::{Answer, AnswerKind, Operation};
use super::{Route, schema_of};

/// Panics (when the router is built, so in every test) if `route`'s documentation leaves its
/// success answer unsaid.
pub(super) fn check(route: &Route) {
    let Route {
        method, path, doc, ..
    } = route;
    let said = route.websocket
        || match route.answer {
            AnswerKind::Fixed(_) => true,
            AnswerKind::Chosen => !doc.statuses.is_empty(),
            AnswerKind::Opaque => !doc.custom.is_empty(),
            AnswerKind::Never => !doc.errors.is_empty(),
        };
    assert!(
        said,
        "{method} {path}: its handler's answer does not say its status; document it with \
         Doc::status (a chosen StatusCode), Doc::json / Doc::text (a Response) or Doc::error"
    );
    assert!(
        !doc.summary.is_empty() && !doc.summary.ends_with('.'),
        "{method} {path}: give a one-line summary without a final period"
    );
}

/// What an error status means, for every route that can answer it.
fn error_meaning(status: u16) -> &'static str {
    match status {
        400 => "the request is malformed: not JSON, or a path or query that does not parse",
        401 => "no valid API key or credentials (the server requires them)",
        404 => "no such record",
        405 => "the method is not allowed here",
        409 => "the request conflicts with the record's current state",
        413 => "the body is too large",
        415 => "the body is not sent as application/json",
        422 => "the request is well-formed but invalid; the detail says which field and why",
        423 => "the resource is busy; retry after the Retry-After header's seconds",
        426 => "this route is a websocket: open it with a websocket handshake",
        503 => "the server is shutting down or its database is busy; retry shortly",
        _ => "the request failed; the detail says why",
    }
}

/// Builds the document.
pub(super) fn build(routes: &[Route]) -> Value {
    let mut generator = SchemaSettings::draft2020_12()
        .with(|s| {
            s.definitions_path = "/components/schemas".into();
            s.meta_schema = None;
        })
        .into_generator();
    let error_body = schema_of::<flowgate_wire::ErrorBody>(&mut generator);
    let mut paths = Map::new();
    let mut tags = Vec::<&str>::new();
    for route in routes {
        if !tags.contains(&route.tag) {
            tags.push(route.tag);
        }
        let op = operation(route, &mut generator, &error_body);
        let item = paths.entry(route.path.clone()).or_insert_with(|| json!({}));
        item[route.method.as_str().to_ascii_lowercase()] = op;
    }
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "Flowgate API",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "Flowgate's HTTP API: a compatible subset of Prefect 3's REST API \
                (client 3.9.1, API 0.8.4) and Flowgate's own extensions. Error answers are \
                `{\"detail\": \"…\"}`. When the server requires authentication, send \
                `Authorization: Bearer <key>` (what the `prefect` client sends for \
                PREFECT_API_KEY) or HTTP basic credentials (PREFECT_API_AUTH_STRING).",
        },
        "servers": [{"url": "/api"}],
        "tags": tags.iter().map(|t| json!({"name": t})).collect::<Vec<_>>(),
        "paths": paths,
        "components": {
            "schemas": generator.take_definitions(true),
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer"},
                "basic": {"type": "http", "scheme": "basic"},
            },
        },
        "security": [{}, {"bearer": []}, {"basic": []}],
    })
}

fn operation(
    route: &Route,
    generator: &mut SchemaGenerator,
    error_body: &impl serde::Serialize,
) -> Value {
    let mut op = Operation::default();
    (route.describe)(&mut op, generator);
    let doc = &route.doc;
    let mut out = json!({
        "operationId": format!("{} {}", route.method, route.path),
        "summary": doc.summary,
        "tags": [route.tag],
    });
    if let Some(text) = doc.description {
        out["description"] = json!(text);
    }
    let mut parameters = path_parameters(&route.path);
    parameters.extend(op.query);
    if !parameters.is_empty() {
        out["parameters"] = json!(parameters);
    }
    if let Some((schema, required)) = &op.body {
        out["requestBody"] = json!({
            "required": required,
            "content": {"application/json": {"schema": schema}},
        });
    }
    let mut responses = Map::new();
    let body = match &op.answer {
        Answer::Json(schema) => Some(json!({"application/json": {"schema": schema}})),
        Answer::Empty | Answer::Undeclared => None,
    };
    let mut success = |status: u16, meaning: &str, content: Option<Value>| {
        let mut r = json!({"description": meaning});
        if let Some(content) = content.filter(|_| status != 204) {
            r["content"] = content;
        }
        responses.insert(status.to_string(), r);
    };
    match (route.answer, doc.statuses.is_empty()) {
        (AnswerKind::Fixed(status), true) => success(status, "success", body.clone()),
        _ => {
            for (status, meaning) in &doc.statuses {
                success(*status, meaning, body.clone());
            }
        }
    }
    for custom in &doc.custom {
        let content = match custom.schema {
            Some(schema) => json!({custom.media: {"schema": schema(generator)}}),
            None => json!({custom.media: {"schema": {"type": "string"}}}),
        };
        success(custom.status, custom.meaning, Some(content));
    }
    if route.websocket {
        success(101, "switching to the websocket protocol", None);
    }
    if let Some((send, receive)) = doc.frames {
        out["x-websocket-frames"] = json!({
            "send": send(generator),
            "receive": receive(generator),
        });
    }
    let mut errors: BTreeSet<u16> = op.errors;
    errors.insert(401);
    for (status, meaning) in &doc.errors {
        errors.remove(status);
        responses.insert(status.to_string(), error_response(meaning, error_body));
    }
    for status in errors {
        responses.insert(
            status.to_string(),
            error_response(error_meaning(status), error_body),
        );
    }
    out["responses"] = Value::Object(responses);
    out
}

fn error_response(meaning: &str, error_body: &impl serde::Serialize) -> Value {
    json!({
        "description": meaning,
        "content": {"application/json": {"schema": error_body}},
    })
}

/// `{name}` segments of `path`: strings, UUIDs where the name is `id` or ends in `_id`.
fn path_parameters(path: &str) -> Vec<Value> {
    path.split('/')
        .filter_map(|seg| seg.strip_prefix('{')?.strip_suffix('}'))
        .map(|name| {
            let name = name.trim_start_matches('*');
            let schema = if name == "id" || name.ends_with("_id") {
                json!({"type": "string", "format": "uuid"})
            } else {
                json!({"type": "string"})
            };
            json!({"name": name, "in": "path", "required": true, "schema": schema})
        })
        .collect()
}
