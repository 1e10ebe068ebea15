//! `/events`: emitting events over HTTP, querying them, and the two websockets (`/events/in`
//! in `events_in.rs`, `/events/out` in `events_out.rs`).

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use flowgate_wire::events::{Event as EventWire, EventPage};
use flowgate_wire::filters::EventFilterRequest;
use tokio::sync::mpsc;

use super::events_in::events_in;
use super::events_out::events_out;
use super::invalid;
use crate::app::AppState;
use crate::convert::events::{event_in, event_out};
use crate::convert::filters::{self, page};
use crate::error::{ApiError, ApiResult, Body};
use crate::extract::FilterBody;
use crate::openapi::{ApiRoutes, doc};

pub fn routes() -> ApiRoutes {
    ApiRoutes::new("Events")
        .post(
            "/events/",
            create,
            doc("Store events (answered once they are stored)").status(204, "stored"),
        )
        .post(
            "/events/filter",
            filter,
            doc("List events matching a filter, with the total"),
        )
        .websocket(
            "/events/in",
            events_in,
            doc(
                "Websocket: send events (and Flowgate log frames); a ping is answered once \
                 everything sent before it is stored",
            )
            .describe(
                "Subprotocol `prefect`. Send `{\"type\": \"auth\", \"token\": KEY_OR_NULL}` \
                 first, then one event per text frame.",
            ),
        )
        .websocket(
            "/events/out",
            events_out,
            doc("Websocket: receive events matching a filter, stored ones first, then live ones")
                .describe(
                    "Subprotocol `prefect`. Send the auth frame, then \
                     `{\"type\": \"filter\", \"filter\": {...}}`.",
                ),
        )
}

/// Stores events; answers once they are stored. Events the database refuses are named in a 422
/// (the others are stored).
async fn create(
    State(app): State<AppState>,
    Body(events): Body<Vec<EventWire>>,
) -> ApiResult<StatusCode> {
    let now = app.now();
    let events = events
        .into_iter()
        .map(|e| event_in(e, now))
        .collect::<Result<Vec<_>, _>>()
        .map_err(ApiError::Invalid)?;
    let (refusals, mut refused) = mpsc::unbounded_channel();
    for e in events {
        app.ingest.submit(e, Some(&refusals)).await?;
    }
    app.ingest.flush().await?;
    let reasons: Vec<String> = std::iter::from_fn(|| refused.try_recv().ok())
        .map(|r| format!("{} {}: {}", r.what, r.id, r.reason))
        .collect();
    if reasons.is_empty() {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::Invalid(format!(
            "not stored (the others were): {}",
            reasons.join("; ")
        )))
    }
}

async fn filter(
    State(app): State<AppState>,
    FilterBody(req): FilterBody<EventFilterRequest>,
) -> ApiResult<Json<EventPage>> {
    let f = invalid(filters::events("body.filter", req.filter))?;
    let page = invalid(page(req.limit, req.offset))?;
    let total = app.store.count_events(&f).await?;
    let events = app.store.filter_events(&f, page).await?;
    Ok(Json(EventPage {
        events: events.iter().map(event_out).collect(),
        total,
        next_page: None,
    }))
}
