//! Shared handler state and the router.

use std::sync::Arc;

use axum::Router;
use axum::extract::{DefaultBodyLimit, OriginalUri, Request};
use axum::http::{HeaderValue, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use flowgate_core::{Event, Micros};
use flowgate_store::DynStore;
use futures_util::StreamExt;
use tokio::sync::broadcast;

use crate::auth::ApiKeys;
use crate::clock::Clock;
use crate::error::ApiError;
use crate::ingest::Ingest;
use crate::metrics::Metrics;
use crate::routes;
use crate::services::{ServiceHealth, Shutdown};

/// Largest request body accepted.
pub const MAX_BODY: usize = 16 * 1024 * 1024;
/// Largest refused body still read to its end before the 413 (larger ones close the
/// connection instead).
const MAX_DRAIN: u64 = 4 * MAX_BODY as u64;

/// What every handler can reach.
#[derive(Clone)]
pub struct AppState {
    /// The database.
    pub store: DynStore,
    /// The event pipeline.
    pub ingest: Ingest,
    /// Live events, for subscribers.
    pub bus: broadcast::Sender<Arc<Event>>,
    /// Tells long-lived connections to close.
    pub shutdown: Shutdown,
    /// Wakes long-polls of the task queue when it changes.
    pub queue: Arc<tokio::sync::Notify>,
    /// Serves, queues and wakes concurrency-slot requests.
    pub slots: crate::concurrency::SlotEngine,
    /// Where handlers and services read "now" (a manual clock in tests).
    pub clock: Clock,
    /// Wakes workers' long polls when runs may have become available (a run put in a queue, a
    /// slot freed, a pool or queue resumed).
    pub work: Arc<tokio::sync::Notify>,
    /// Wakes the scheduler when a deployment or its schedules change.
    pub scheduler: Arc<tokio::sync::Notify>,
    /// The keys callers must present (none: authentication is off).
    pub api_keys: ApiKeys,
    /// Tells the trigger engine to read the automations again (one was created, changed or
    /// deleted).
    pub automations: Arc<tokio::sync::Notify>,
    /// What `/metrics` reports; capabilities register their counters here.
    pub metrics: Metrics,
    /// Which background services are running.
    pub services: ServiceHealth,
}

impl AppState {
    /// The current time on the server's clock.
    pub fn now(&self) -> Micros {
        self.clock.now()
    }

    /// Publishes events the store already committed (e.g. flow-run state events).
    pub fn publish(&self, events: impl IntoIterator<Item = Event>) {
        if self.bus.receiver_count() > 0 {
            for e in events {
                let _ = self.bus.send(Arc::new(e));
            }
        }
    }
}

/// The full router: the API under `/api` and `/metrics` (behind the API keys, when there are
/// any), the UI's files under `/ui`, its pages elsewhere.
pub fn router(state: AppState) -> Router {
    let api = routes::api()
        .route_layer(axum::middleware::from_fn_with_state(
            state.metrics.clone(),
            crate::metrics::track,
        ))
        .fallback(unknown_route);
    let guarded = Router::new()
        .nest("/api", api)
        .route("/metrics", axum::routing::get(crate::metrics::scrape))
        .layer(axum::middleware::from_fn_with_state(
            state.api_keys.clone(),
            crate::auth::authenticate,
        ));
    Router::new()
        .merge(guarded)
        .merge(crate::ui::routes())
        .fallback(page_or_unknown)
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .layer(axum::middleware::from_fn(refuse_oversized))
        .layer(axum::middleware::from_fn(crate::error::catch_panics))
        .with_state(state)
}

/// Answers a body declared larger than [`MAX_BODY`] with a 413 before any handler runs. The
/// body is read to its end first (up to [`MAX_DRAIN`]), so a client still sending it reads the
/// answer rather than a broken connection, and may send its next request on the same one.
async fn refuse_oversized(request: Request, next: Next) -> Response {
    let declared = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    let Some(size) = declared.filter(|n| *n > MAX_BODY as u64) else {
        return next.run(request).await;
    };
    let refusal = ApiError::TooLarge(format!(
        "request body of {size} bytes is too large; send at most {MAX_BODY} bytes"
    ));
    if size > MAX_DRAIN {
        let mut response = refusal.into_response();
        response
            .headers_mut()
            .insert(header::CONNECTION, HeaderValue::from_static("close"));
        return response;
    }
    let mut body = request.into_body().into_data_stream();
    while let Some(Ok(_)) = body.next().await {}
    refusal.into_response()
}

/// Outside `/api`, a browser asking for a page gets the UI (it routes itself); anything else is
/// an unknown route.
async fn page_or_unknown(
    uri: OriginalUri,
    method: axum::http::Method,
    headers: axum::http::HeaderMap,
) -> axum::response::Response {
    if crate::ui::wants_page(&method, uri.path(), &headers) {
        crate::ui::page(&headers)
    } else {
        unknown_route(uri, method).await.into_response()
    }
}

async fn unknown_route(OriginalUri(uri): OriginalUri, method: axum::http::Method) -> ApiError {
    tracing::info!(%method, %uri, "no such route");
    ApiError::NotFound(format!("{method} {uri} is not a Flowgate API route"))
}
