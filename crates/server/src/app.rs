//! Shared handler state and the router.

use std::sync::Arc;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::extract::OriginalUri;
use axum::http::StatusCode;
use flowgate_core::{Event, Micros};
use flowgate_store::DynStore;
use tokio::sync::broadcast;

use crate::error::ApiError;
use crate::ingest::Ingest;
use crate::routes;
use crate::services::Shutdown;

/// Largest request body accepted.
pub const MAX_BODY: usize = 16 * 1024 * 1024;

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
}

impl AppState {
    /// Publishes events the store already committed (e.g. flow-run state events).
    pub fn publish(&self, events: impl IntoIterator<Item = Event>) {
        if self.bus.receiver_count() > 0 {
            for e in events {
                let _ = self.bus.send(Arc::new(e));
            }
        }
    }
}

/// The server's clock.
pub fn now() -> Micros {
    Micros::from_timestamp(jiff::Timestamp::now())
}

/// The full router: the API under `/api`, the UI's files under `/ui`, its pages elsewhere.
pub fn router(state: AppState) -> Router {
    let api = routes::api().fallback(unknown_route);
    Router::new()
        .nest("/api", api)
        .merge(crate::ui::routes())
        .fallback(page_or_unknown)
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .with_state(state)
}

/// Outside `/api`, a browser asking for a page gets the UI (it routes itself); anything else is
/// an unknown route.
async fn page_or_unknown(
    uri: OriginalUri,
    method: axum::http::Method,
    headers: axum::http::HeaderMap,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    if crate::ui::wants_page(&method, uri.path(), &headers) {
        crate::ui::page(&headers)
    } else {
        unknown_route(uri, method).await.into_response()
    }
}

async fn unknown_route(OriginalUri(uri): OriginalUri, method: axum::http::Method) -> ApiError {
    tracing::info!(%method, %uri, "no such route");
    ApiError::BadRequest(
        StatusCode::NOT_FOUND,
        format!("{method} {uri} is not a Flowgate API route"),
    )
}
