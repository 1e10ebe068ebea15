//! What a handler's types say about its route: each extractor ([`DocInput`]) and answer type
//! ([`DocOutput`]) adds its part to an [`Operation`], and [`Describe`] walks a handler's
//! arguments and answer. A handler with an argument or answer type that has no impl here does
//! not compile into [`super::ApiRoutes`]: add one beside these (a line or two) and its route is
//! documented like the others.

use std::collections::BTreeSet;

use axum::Json;
use axum::extract::ws::WebSocketUpgrade;
use axum::extract::{Extension, OriginalUri, Path, Query, State};
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::Response;
use schemars::{JsonSchema, Schema, SchemaGenerator};
use serde_json::{Value, json};

use crate::error::{ApiError, Body, OptionalBody};
use crate::extract::FilterBody;

/// How a handler's success status is known.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AnswerKind {
    /// Always this status (`Json<T>` answers 200).
    Fixed(u16),
    /// Chosen at run time (`(StatusCode, Json<T>)`, `StatusCode`): `Doc::status` lists them.
    Chosen,
    /// Built by the handler (`Response`): `Doc::json` or `Doc::text` describes it.
    Opaque,
    /// The handler only ever fails (`ApiError`): `Doc::error` says how.
    Never,
}

/// The success body a handler's answer type declares.
#[derive(Default)]
pub enum Answer {
    /// Nothing declared (opaque answers are described by the route's `Doc`).
    #[default]
    Undeclared,
    /// A JSON body of this schema.
    Json(Schema),
    /// No body (a bare status).
    Empty,
}

/// What a handler's types say about its route.
#[derive(Default)]
pub struct Operation {
    /// Query parameters (OpenAPI parameter objects).
    pub query: Vec<Value>,
    /// The request body's schema, and whether it is required.
    pub body: Option<(Schema, bool)>,
    /// The success body.
    pub answer: Answer,
    /// Error statuses the extractors and the answer type can produce.
    pub errors: BTreeSet<u16>,
}

/// An extractor's part of a route's documentation.
pub trait DocInput {
    /// Adds what this argument says.
    fn describe(op: &mut Operation, generator: &mut SchemaGenerator);
}

/// An answer type's part of a route's documentation.
pub trait DocOutput {
    /// How the success status is known.
    const ANSWER: AnswerKind;
    /// Adds what this answer says.
    fn describe(op: &mut Operation, generator: &mut SchemaGenerator);
}

/// A handler whose arguments and answer are all documented; `Args` is its argument list.
pub trait Describe<Args> {
    /// How the handler's success status is known.
    const ANSWER: AnswerKind;
    /// Adds what the handler's types say.
    fn describe(op: &mut Operation, generator: &mut SchemaGenerator);
}

macro_rules! describe_handler {
    ($($arg:ident),*) => {
        impl<F, Fut, $($arg,)*> Describe<($($arg,)*)> for F
        where
            F: FnOnce($($arg),*) -> Fut,
            Fut: Future,
            Fut::Output: DocOutput,
            $($arg: DocInput,)*
        {
            const ANSWER: AnswerKind = <Fut::Output as DocOutput>::ANSWER;

            #[allow(unused_variables)]
            fn describe(op: &mut Operation, generator: &mut SchemaGenerator) {
                $($arg::describe(op, generator);)*
                <Fut::Output as DocOutput>::describe(op, generator);
            }
        }
    };
}

describe_handler!();
describe_handler!(A1);
describe_handler!(A1, A2);
describe_handler!(A1, A2, A3);
describe_handler!(A1, A2, A3, A4);
describe_handler!(A1, A2, A3, A4, A5);
describe_handler!(A1, A2, A3, A4, A5, A6);

/// Extractors that add nothing to the documentation: state, the request's own parts, and path
/// parameters (documented from the route's template).
macro_rules! undocumented_input {
    ($($t:ty),* $(,)?) => {
        $(impl DocInput for $t {
            fn describe(_: &mut Operation, _: &mut SchemaGenerator) {}
        })*
    };
}

undocumented_input!(HeaderMap, Method, Uri, OriginalUri);

impl<S> DocInput for State<S> {
    fn describe(_: &mut Operation, _: &mut SchemaGenerator) {}
}

impl<T> DocInput for Extension<T> {
    fn describe(_: &mut Operation, _: &mut SchemaGenerator) {}
}

impl<T> DocInput for Path<T> {
    fn describe(op: &mut Operation, _: &mut SchemaGenerator) {
        op.errors.insert(400);
    }
}

impl<T: JsonSchema> DocInput for Query<T> {
    fn describe(op: &mut Operation, generator: &mut SchemaGenerator) {
        let schema = T::json_schema(generator);
        let required: Vec<&str> = schema
            .get("required")
            .and_then(Value::as_array)
            .map(|r| r.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        if let Some(props) = schema.get("properties").and_then(Value::as_object) {
            for (name, prop) in props {
                let mut param = json!({
                    "name": name,
                    "in": "query",
                    "required": required.contains(&name.as_str()),
                    "schema": prop,
                });
                if let Some(text) = prop.get("description") {
                    param["description"] = text.clone();
                }
                op.query.push(param);
            }
        }
        op.errors.extend([400, 422]);
    }
}

impl<T: JsonSchema> DocInput for Body<T> {
    fn describe(op: &mut Operation, generator: &mut SchemaGenerator) {
        op.body = Some((generator.subschema_for::<T>(), true));
        op.errors.extend([400, 413, 415, 422]);
    }
}

impl<T: JsonSchema> DocInput for OptionalBody<T> {
    fn describe(op: &mut Operation, generator: &mut SchemaGenerator) {
        op.body = Some((generator.subschema_for::<T>(), false));
        op.errors.extend([400, 413, 422]);
    }
}

impl<T: JsonSchema> DocInput for FilterBody<T> {
    fn describe(op: &mut Operation, generator: &mut SchemaGenerator) {
        op.body = Some((generator.subschema_for::<T>(), false));
        op.errors.extend([400, 413, 422]);
    }
}

impl DocInput for WebSocketUpgrade {
    fn describe(op: &mut Operation, _: &mut SchemaGenerator) {
        // Not a handshake: 400 (missing upgrade headers), 405 (not GET), 426 (not upgradable).
        op.errors.extend([400, 405, 426]);
    }
}

impl<T: JsonSchema> DocOutput for Json<T> {
    const ANSWER: AnswerKind = AnswerKind::Fixed(200);
    fn describe(op: &mut Operation, generator: &mut SchemaGenerator) {
        op.answer = Answer::Json(generator.subschema_for::<T>());
    }
}

impl<T: JsonSchema> DocOutput for (StatusCode, Json<T>) {
    const ANSWER: AnswerKind = AnswerKind::Chosen;
    fn describe(op: &mut Operation, generator: &mut SchemaGenerator) {
        op.answer = Answer::Json(generator.subschema_for::<T>());
    }
}

impl DocOutput for StatusCode {
    const ANSWER: AnswerKind = AnswerKind::Chosen;
    fn describe(op: &mut Operation, _: &mut SchemaGenerator) {
        op.answer = Answer::Empty;
    }
}

impl DocOutput for Response {
    const ANSWER: AnswerKind = AnswerKind::Opaque;
    fn describe(_: &mut Operation, _: &mut SchemaGenerator) {}
}

impl DocOutput for ApiError {
    const ANSWER: AnswerKind = AnswerKind::Never;
    fn describe(_: &mut Operation, _: &mut SchemaGenerator) {}
}

/// A handler's failures: a missing record, a conflict, invalid input, an unavailable database.
impl<T: DocOutput> DocOutput for Result<T, ApiError> {
    const ANSWER: AnswerKind = T::ANSWER;
    fn describe(op: &mut Operation, generator: &mut SchemaGenerator) {
        T::describe(op, generator);
        op.errors.extend([404, 409, 422, 503]);
    }
}
