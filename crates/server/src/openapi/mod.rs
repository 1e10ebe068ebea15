//! The API's OpenAPI 3.1 document, built from the routes themselves so it cannot drift.
//!
//! A route is added through [`ApiRoutes`] (`.get(path, handler, doc("…"))`, `.post`, `.delete`,
//! `.patch`, `.put`, `.websocket`): there is no other way into the API router. What the
//! handler's signature says is read from its types ([`describe`]): a `Body<T>` or
//! `FilterBody<T>` argument is the request body's schema, `Query<T>` the query parameters,
//! `Json<T>` in the answer the response's schema, `ApiResult` the error answers; the schemas are
//! the `flowgate-wire` types' own (schemars reads the same serde attributes serde does). What a
//! signature cannot say, [`Doc`] says: a one-line summary, and which statuses a handler that
//! picks its status at run time answers with. A handler whose answer says nothing
//! (`Response`) must describe it with [`Doc::json`] or [`Doc::text`]; registering one that
//! does not panics when the router is built, which every test does.
//!
//! The document is generated on first request of `GET /api/openapi.json`.

mod describe;
mod document;

use std::sync::{Arc, OnceLock};

use axum::Router;
use axum::body::Bytes;
use axum::handler::Handler;
use axum::http::{Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{self, MethodRouter};
use schemars::{JsonSchema, Schema, SchemaGenerator};

pub use describe::{AnswerKind, Describe, DocInput, DocOutput};

use crate::app::AppState;

/// Makes a schema for `T`, as a `$ref` to `#/components/schemas/…` where it has a name.
type SchemaFn = fn(&mut SchemaGenerator) -> Schema;

fn schema_of<T: JsonSchema>(generator: &mut SchemaGenerator) -> Schema {
    generator.subschema_for::<T>()
}

/// What the signature of a route's handler cannot say about it.
#[derive(Clone, Debug)]
pub struct Doc {
    summary: &'static str,
    description: Option<&'static str>,
    statuses: Vec<(u16, &'static str)>,
    custom: Vec<CustomResponse>,
    errors: Vec<(u16, &'static str)>,
    frames: Option<(SchemaFn, SchemaFn)>,
}

/// An answer a handler builds itself (it returns a `Response`).
#[derive(Clone, Debug)]
struct CustomResponse {
    status: u16,
    media: &'static str,
    schema: Option<SchemaFn>,
    meaning: &'static str,
}

/// Starts a route's documentation with its summary: one line, what it does.
pub fn doc(summary: &'static str) -> Doc {
    Doc {
        summary,
        description: None,
        statuses: Vec::new(),
        custom: Vec::new(),
        errors: Vec::new(),
        frames: None,
    }
}

impl Doc {
    /// More about the route: when to use it, what it guarantees (markdown).
    pub fn describe(mut self, text: &'static str) -> Doc {
        self.description = Some(text);
        self
    }

    /// A success status the handler answers with; needed when it picks the status at run time
    /// (`(StatusCode, Json<T>)`, `StatusCode`). The body is the handler's (none for 204).
    pub fn status(mut self, status: u16, meaning: &'static str) -> Doc {
        self.statuses.push((status, meaning));
        self
    }

    /// A JSON answer of type `T` built by a handler that returns a plain `Response`.
    pub fn json<T: JsonSchema>(mut self, status: u16, meaning: &'static str) -> Doc {
        self.custom.push(CustomResponse {
            status,
            media: "application/json",
            schema: Some(schema_of::<T>),
            meaning,
        });
        self
    }

    /// A websocket's frames: what the client sends (`S`) and what the server sends (`R`),
    /// documented as `x-websocket-frames` with their schemas.
    pub fn frames<S: JsonSchema, R: JsonSchema>(mut self) -> Doc {
        self.frames = Some((schema_of::<S>, schema_of::<R>));
        self
    }

    /// An error status particular to this route (e.g. 423 while slots are taken), beyond the
    /// ones every handler's types already document.
    pub fn error(mut self, status: u16, meaning: &'static str) -> Doc {
        self.errors.push((status, meaning));
        self
    }
}

/// One documented route and method.
#[derive(Clone)]
struct Route {
    method: Method,
    path: String,
    tag: &'static str,
    doc: Doc,
    describe: fn(&mut describe::Operation, &mut SchemaGenerator),
    answer: AnswerKind,
    websocket: bool,
}

/// The API router and the documentation of every route in it; see the module documentation.
pub struct ApiRoutes {
    tag: &'static str,
    router: Router<AppState>,
    routes: Vec<Route>,
}

impl ApiRoutes {
    /// Routes whose documentation is grouped under `tag` (e.g. "Flow runs").
    pub fn new(tag: &'static str) -> ApiRoutes {
        ApiRoutes {
            tag,
            router: Router::new(),
            routes: Vec::new(),
        }
    }

    /// Adds `GET path`.
    pub fn get<H, T, D>(self, path: &str, handler: H, doc: Doc) -> ApiRoutes
    where
        H: Handler<T, AppState> + Describe<D>,
        T: 'static,
    {
        let route = self.route::<H, D>(Method::GET, path, doc, false);
        self.add(route, routing::get(handler))
    }

    /// Adds `POST path`.
    pub fn post<H, T, D>(self, path: &str, handler: H, doc: Doc) -> ApiRoutes
    where
        H: Handler<T, AppState> + Describe<D>,
        T: 'static,
    {
        let route = self.route::<H, D>(Method::POST, path, doc, false);
        self.add(route, routing::post(handler))
    }

    /// Adds `DELETE path`.
    pub fn delete<H, T, D>(self, path: &str, handler: H, doc: Doc) -> ApiRoutes
    where
        H: Handler<T, AppState> + Describe<D>,
        T: 'static,
    {
        let route = self.route::<H, D>(Method::DELETE, path, doc, false);
        self.add(route, routing::delete(handler))
    }

    /// Adds `PATCH path`.
    pub fn patch<H, T, D>(self, path: &str, handler: H, doc: Doc) -> ApiRoutes
    where
        H: Handler<T, AppState> + Describe<D>,
        T: 'static,
    {
        let route = self.route::<H, D>(Method::PATCH, path, doc, false);
        self.add(route, routing::patch(handler))
    }

    /// Adds `PUT path`.
    pub fn put<H, T, D>(self, path: &str, handler: H, doc: Doc) -> ApiRoutes
    where
        H: Handler<T, AppState> + Describe<D>,
        T: 'static,
    {
        let route = self.route::<H, D>(Method::PUT, path, doc, false);
        self.add(route, routing::put(handler))
    }

    /// Adds a websocket at `path` (documented as the `GET` that upgrades; any method reaches
    /// the handler, whose upgrade extractor refuses what is not a websocket handshake).
    pub fn websocket<H, T, D>(self, path: &str, handler: H, doc: Doc) -> ApiRoutes
    where
        H: Handler<T, AppState> + Describe<D>,
        T: 'static,
    {
        let route = self.route::<H, D>(Method::GET, path, doc, true);
        self.add(route, routing::any(handler))
    }

    /// The documentation of `H` at `method path`.
    fn route<H: Describe<D>, D>(
        &self,
        method: Method,
        path: &str,
        doc: Doc,
        websocket: bool,
    ) -> Route {
        Route {
            method,
            path: path.to_owned(),
            tag: self.tag,
            doc,
            describe: H::describe,
            answer: H::ANSWER,
            websocket,
        }
    }

    /// Adds every route of `other` (keeping its tag).
    pub fn merge(mut self, other: ApiRoutes) -> ApiRoutes {
        self.router = self.router.merge(other.router);
        self.routes.extend(other.routes);
        self
    }

    /// Adds `route`, served by `handler`. A path ending in `/` answers without it too
    /// (Prefect's client uses both); each spelling is documented, so each is fuzzed.
    fn add(mut self, route: Route, handler: MethodRouter<AppState>) -> ApiRoutes {
        document::check(&route);
        if route.path.len() > 1
            && let Some(bare) = route.path.strip_suffix('/')
        {
            self.router = self.router.route(bare, handler.clone());
            self.routes.push(Route {
                path: bare.to_owned(),
                ..route.clone()
            });
        }
        self.router = self.router.route(&route.path, handler);
        self.routes.push(route);
        self
    }

    /// The router, with `GET /openapi.json` serving the document of every route (itself too).
    pub fn into_router(self) -> Router<AppState> {
        let spec: Arc<OnceLock<Spec>> = Arc::default();
        let serving = spec.clone();
        let this = self.get(
            "/openapi.json",
            move || openapi_json(serving.clone()),
            doc("This API's OpenAPI 3.1 document")
                .describe("Generated from the server's own routes and wire types.")
                .json::<serde_json::Value>(200, "the document"),
        );
        let _ = spec.set(Spec {
            routes: this.routes,
            json: OnceLock::new(),
        });
        this.router
    }
}

/// The routes and, once asked for, their document.
struct Spec {
    routes: Vec<Route>,
    json: OnceLock<Bytes>,
}

async fn openapi_json(spec: Arc<OnceLock<Spec>>) -> Response {
    let Some(spec) = spec.get() else {
        return StatusCode::SERVICE_UNAVAILABLE.into_response();
    };
    let body = spec
        .json
        .get_or_init(|| document::build(&spec.routes).to_string().into())
        .clone();
    ([(header::CONTENT_TYPE, "application/json")], body).into_response()
}

#[cfg(test)]
mod tests;
