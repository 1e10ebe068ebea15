//! `/events/out`: a client subscribes with a filter frame and is sent the matching events,
//! stored ones first (from `occurred.since` to `occurred.until`), then live ones (whatever
//! `until` said), until it or the server closes.

use std::collections::HashSet;

use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade, close_code};
use axum::extract::{Extension, State};
use axum::response::Response;
use flowgate_store::model::{EventFilter, Page, TimeRange};
use flowgate_wire::events::{ErrorFrame, EventFrame, FrameType, SubscribeFrame};
use serde_json::Value;
use tokio::sync::broadcast::error::RecvError;

use super::sockets::{
    HANDSHAKE_TIMEOUT, authenticated, close, count_open, next_text, send_json, upgrade,
};
use crate::app::AppState;
use crate::auth::Caller;
use crate::convert::events::event_out;
use crate::convert::filters;

/// Events replayed to a new subscriber at most.
const BACKFILL: u32 = 1000;

/// Upgrades to the subscription websocket.
pub async fn events_out(
    ws: WebSocketUpgrade,
    State(app): State<AppState>,
    Extension(caller): Extension<Caller>,
) -> Response {
    upgrade(ws, move |socket| subscribe_socket(socket, app, caller))
}

/// The frame streaming `event` to a subscriber.
fn event_frame(event: &flowgate_core::Event) -> EventFrame {
    EventFrame {
        kind: FrameType::Event,
        event: event_out(event),
    }
}

/// Streams events matching the client's filter: first stored ones, then live ones.
async fn subscribe_socket(mut socket: WebSocket, app: AppState, caller: Caller) {
    let _open = count_open(&app, "/api/events/out");
    if !authenticated(&mut socket, &app, &caller).await {
        return;
    }
    let filter = match tokio::time::timeout(HANDSHAKE_TIMEOUT, next_text(&mut socket)).await {
        Ok(Some(Ok(text))) => parse_subscription(&text),
        _ => Err("expected a {\"type\": \"filter\", \"filter\": {...}} frame".to_owned()),
    };
    let filter = match filter {
        Ok(f) => f,
        Err(detail) => {
            let _ = send_json(&mut socket, &ErrorFrame::new(detail)).await;
            close(&mut socket, close_code::POLICY, "bad filter").await;
            return;
        }
    };
    let mut live = app.bus.subscribe();
    let mut sent = HashSet::new();
    if filter.occurred.after.is_some() {
        let backfill = EventFilter {
            newest_first: false,
            ..filter.clone()
        };
        let page = Page {
            limit: BACKFILL,
            offset: 0,
        };
        match app.store.filter_events(&backfill, page).await {
            Ok(events) => {
                for e in &events {
                    sent.insert(e.id);
                    if send_json(&mut socket, &event_frame(e)).await.is_err() {
                        return;
                    }
                }
            }
            Err(e) => tracing::warn!(error = %e, "event backfill failed"),
        }
    }
    // `occurred.until` bounds the backfill only: the `prefect` client sets it to the moment it
    // built the filter, and its observers (a flow run's suspension, a worker's cancellations)
    // wait for events that come later.
    let live_filter = EventFilter {
        occurred: TimeRange {
            before: None,
            ..filter.occurred
        },
        ..filter.clone()
    };
    let mut shutdown = app.shutdown.clone();
    loop {
        tokio::select! {
            received = live.recv() => match received {
                Ok(e) => {
                    if sent.remove(&e.id) || !live_filter.matches(&e) {
                        continue;
                    }
                    if send_json(&mut socket, &event_frame(&e)).await.is_err() {
                        return;
                    }
                }
                Err(RecvError::Lagged(n)) => tracing::warn!(skipped = n, "slow event subscriber skipped events"),
                Err(RecvError::Closed) => return,
            },
            incoming = socket.recv() => match incoming {
                None | Some(Err(_)) | Some(Ok(Message::Close(_))) => return,
                _ => {}
            },
            () = shutdown.requested() => {
                close(&mut socket, close_code::AWAY, "server shutting down").await;
                return;
            }
        }
    }
}

/// Reads a `{"type": "filter", "filter": {...}}` frame.
fn parse_subscription(text: &str) -> Result<EventFilter, String> {
    let v: Value =
        serde_json::from_str(text).map_err(|e| format!("filter frame is not JSON: {e}"))?;
    let frame: SubscribeFrame = filters::read("frame", &v)?;
    if frame.kind != FrameType::Filter {
        return Err("expected {\"type\": \"filter\", \"filter\": {...}}".to_owned());
    }
    filters::events("frame.filter", Some(frame.filter))
}
