//! `/events`: emitting events over HTTP, querying them, and the two websockets (`/events/in`
//! in `events_in.rs`, `/events/out` in `events_out.rs`).

use axum::Json;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use flowgate_store::model::{EventFilter, EventPosition, Page};
use flowgate_wire::events::{Event as EventWire, EventPage, EventPageQuery};
use flowgate_wire::filters::EventFilterRequest;
use tokio::sync::mpsc;

use super::event_pages::{PageToken, next_page_url};
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
            doc("List events matching a filter, with the total and a link to the next page"),
        )
        .get(
            "/events/filter/next",
            filter_next,
            doc("The next page of an event listing (follow `next_page`)").describe(
                "Pages hold the first page's order and page size; events received after the \
                 first page are not added to later ones. A token lasts an hour.",
            ),
        )
        .post(
            "/events/count-by/{countable}",
            super::event_counts::count_by,
            doc("Count events by day, time bucket, event name or resource").describe(
                "`countable` is `day`, `time` (buckets of `time_interval` `time_unit`s over \
                 `filter.occurred`, empty ones included, at most 1,000), `event` or `resource` \
                 (the largest groups first, at most 1,000).",
            ),
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
    headers: HeaderMap,
    FilterBody(req): FilterBody<EventFilterRequest>,
) -> ApiResult<Json<EventPage>> {
    let mut f = invalid(filters::events("body.filter", req.filter.clone()))?;
    let page = invalid(page(req.limit, req.offset))?;
    let now = app.now();
    f.received_until = Some(now);
    let total = app.store.count_events(&f).await?;
    let first = Listing {
        filter: req.filter,
        limit: page.limit,
        total,
        received_until: now,
    };
    first.page(&app, &headers, f, page.offset).await
}

/// Follows a `next_page` link.
async fn filter_next(
    State(app): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<EventPageQuery>,
) -> ApiResult<Json<EventPage>> {
    let token = PageToken::decode(&q.page_token, app.now())?;
    let mut f = invalid(filters::events("page-token.filter", token.filter.clone()))?;
    let limit = invalid(page(Some(token.limit), None))?.limit;
    f.received_until = Some(token.received_until);
    f.after = Some(token.after());
    let listing = Listing {
        filter: token.filter,
        limit,
        total: token.total,
        received_until: token.received_until,
    };
    listing.page(&app, &headers, f, 0).await
}

/// What stays the same from one page of a listing to the next.
struct Listing {
    filter: Option<flowgate_wire::filters::EventFilter>,
    limit: u32,
    total: i64,
    received_until: flowgate_core::Micros,
}

impl Listing {
    /// One page of `f` (already anchored and positioned), linked to the next when more follow.
    async fn page(
        self,
        app: &AppState,
        headers: &HeaderMap,
        f: EventFilter,
        offset: u32,
    ) -> ApiResult<Json<EventPage>> {
        // One row more than the page says whether another page follows.
        let probe = Page {
            limit: self.limit.saturating_add(1),
            offset,
        };
        let mut events = app.store.filter_events(&f, probe).await?;
        let more = events.len() > self.limit as usize;
        events.truncate(self.limit as usize);
        let next_page = match events.last() {
            Some(last) if more => {
                let EventPosition { occurred, id } = EventPosition::of(last);
                let token = PageToken {
                    filter: self.filter,
                    limit: i64::from(self.limit),
                    total: self.total,
                    received_until: self.received_until,
                    after_occurred: occurred,
                    after_id: id,
                    issued: app.now(),
                };
                Some(next_page_url(headers, &token))
            }
            _ => None,
        };
        Ok(Json(EventPage {
            events: events.iter().map(event_out).collect(),
            total: self.total,
            next_page,
        }))
    }
}
