//! `/events`: ingest over HTTP and websocket (`/events/in`), query, and live subscription
//! (`/events/out`). The websockets speak Prefect's protocol: subprotocol `prefect`, a first
//! `{"type": "auth"}` frame answered with `{"type": "auth_success"}`, then one event per frame.

use std::collections::HashSet;
use std::time::Duration;

use axum::Json;
use axum::extract::State;
use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade, close_code};
use axum::http::StatusCode;
use axum::response::Response;
use flowgate_store::model::{EventFilter, Page};
use flowgate_wire::events::{
    AuthAnswer, AuthFrame, ErrorFrame, Event as EventWire, EventFrame, EventPage, FrameType,
    LogFrame, SubscribeFrame,
};
use flowgate_wire::filters::EventFilterRequest;
use serde::Serialize;
use serde_json::Value;
use tokio::sync::broadcast::error::RecvError;

use super::invalid;
use crate::app::{AppState, now};
use crate::convert::events::{event_in, event_out};
use crate::convert::filters::{self, page};
use crate::convert::logs::log_in;
use crate::error::{ApiError, ApiResult, Body};
use crate::extract::FilterBody;
use crate::openapi::{ApiRoutes, doc};

/// Largest websocket frame accepted.
const MAX_FRAME: usize = 4 * 1024 * 1024;
/// How long a new connection may take to authenticate.
const AUTH_TIMEOUT: Duration = Duration::from_secs(10);
/// Events replayed to a new subscriber at most.
const BACKFILL: u32 = 1000;

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

async fn create(
    State(app): State<AppState>,
    Body(events): Body<Vec<EventWire>>,
) -> ApiResult<StatusCode> {
    let now = now();
    let events = events
        .into_iter()
        .map(|e| event_in(e, now))
        .collect::<Result<Vec<_>, _>>()
        .map_err(ApiError::Invalid)?;
    for e in events {
        app.ingest
            .submit(e)
            .await
            .map_err(|e| ApiError::Unavailable(e.to_string()))?;
    }
    app.ingest
        .flush()
        .await
        .map_err(|e| ApiError::Unavailable(e.to_string()))?;
    Ok(StatusCode::NO_CONTENT)
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

async fn events_in(ws: WebSocketUpgrade, State(app): State<AppState>) -> Response {
    ws.protocols(["prefect"])
        .max_message_size(MAX_FRAME)
        .on_upgrade(move |socket| ingest_socket(socket, app))
}

async fn events_out(ws: WebSocketUpgrade, State(app): State<AppState>) -> Response {
    ws.protocols(["prefect"])
        .max_message_size(MAX_FRAME)
        .on_upgrade(move |socket| subscribe_socket(socket, app))
}

/// Sends one frame as JSON text.
async fn send_json(socket: &mut WebSocket, frame: &impl Serialize) -> Result<(), axum::Error> {
    let text = serde_json::to_string(frame).map_err(axum::Error::new)?;
    socket.send(Message::Text(text.into())).await
}

/// The frame streaming `event` to a subscriber.
fn event_frame(event: &flowgate_core::Event) -> EventFrame {
    EventFrame {
        kind: FrameType::Event,
        event: event_out(event),
    }
}

async fn close(socket: &mut WebSocket, code: u16, reason: &str) {
    let frame = CloseFrame {
        code,
        reason: reason.into(),
    };
    let _ = socket.send(Message::Close(Some(frame))).await;
}

/// Reads the next text frame (binary frames are taken as UTF-8 text).
async fn next_text(socket: &mut WebSocket) -> Option<Result<String, String>> {
    loop {
        return match socket.recv().await? {
            Ok(Message::Text(t)) => Some(Ok(t.to_string())),
            Ok(Message::Binary(b)) => Some(
                String::from_utf8(b.to_vec())
                    .map_err(|_| "binary frame is not UTF-8 text".to_owned()),
            ),
            Ok(Message::Close(_)) | Err(_) => None,
            Ok(Message::Ping(_) | Message::Pong(_)) => continue,
        };
    }
}

/// Expects `{"type": "auth", "token": …}` first. Tokens are not checked: Flowgate's API is
/// unauthenticated, like a local Prefect server.
async fn authenticate(socket: &mut WebSocket) -> bool {
    let first = tokio::time::timeout(AUTH_TIMEOUT, next_text(socket)).await;
    let Ok(Some(Ok(text))) = first else {
        close(socket, close_code::POLICY, "expected an auth frame first").await;
        return false;
    };
    let is_auth = serde_json::from_str::<AuthFrame>(&text)
        .ok()
        .is_some_and(|f| f.kind == FrameType::Auth);
    if !is_auth {
        let failure = AuthAnswer {
            kind: FrameType::AuthFailure,
            reason: Some("send {\"type\": \"auth\", \"token\": null} first".to_owned()),
        };
        let _ = send_json(socket, &failure).await;
        close(socket, close_code::POLICY, "expected an auth frame first").await;
        return false;
    }
    let success = AuthAnswer {
        kind: FrameType::AuthSuccess,
        reason: None,
    };
    send_json(socket, &success).await.is_ok()
}

/// [`authenticate`], given up when the server shuts down meanwhile.
async fn authenticated(socket: &mut WebSocket, app: &AppState) -> bool {
    let mut shutdown = app.shutdown.clone();
    tokio::select! {
        ok = authenticate(socket) => ok,
        () = shutdown.requested() => false,
    }
}

/// Takes events one per frame. A bad frame is reported back and skipped. A ping is answered
/// only after every event received before it is stored: the client treats the pong as the
/// acknowledgement of what it sent, and resends what was not acknowledged after a reconnect.
async fn ingest_socket(mut socket: WebSocket, app: AppState) {
    if !authenticated(&mut socket, &app).await {
        return;
    }
    let mut shutdown = app.shutdown.clone();
    loop {
        let msg = tokio::select! {
            m = socket.recv() => m,
            () = shutdown.requested() => {
                let _ = app.ingest.flush().await;
                close(&mut socket, close_code::AWAY, "server shutting down").await;
                return;
            }
        };
        let text = match msg {
            None | Some(Err(_)) | Some(Ok(Message::Close(_))) => return,
            Some(Ok(Message::Ping(_))) => {
                if let Err(e) = app.ingest.flush().await {
                    close(&mut socket, close_code::ERROR, &e.to_string()).await;
                    return;
                }
                continue;
            }
            Some(Ok(Message::Pong(_))) => continue,
            Some(Ok(Message::Text(t))) => t.to_string(),
            Some(Ok(Message::Binary(b))) => String::from_utf8_lossy(&b).into_owned(),
        };
        match parse_report(&text) {
            Ok(report) => {
                let queued = match report {
                    Report::Event(event) => app.ingest.submit(event).await,
                    Report::Log(log) => app.ingest.submit_log(log).await,
                };
                if queued.is_err() {
                    close(&mut socket, close_code::AWAY, "server shutting down").await;
                    return;
                }
            }
            Err(detail) => {
                tracing::warn!(%detail, "skipped a bad event frame");
                if send_json(&mut socket, &ErrorFrame::new(detail))
                    .await
                    .is_err()
                {
                    return;
                }
            }
        }
    }
}

/// What a client may send on `/events/in` after authenticating.
enum Report {
    /// An event (what the `prefect` client sends).
    Event(flowgate_core::Event),
    /// A run log line, `{"type": "log", "log": {...}}` (what Flowgate's SDK sends, so that one
    /// flush confirms a run's events and logs together).
    Log(flowgate_store::model::LogEntry),
}

/// Reads a frame: an event, else a log frame.
fn parse_report(text: &str) -> Result<Report, String> {
    match serde_json::from_str::<EventWire>(text) {
        Ok(event) => event_in(event, now()).map(Report::Event),
        Err(not_event) => match serde_json::from_str::<LogFrame>(text) {
            Ok(frame) if frame.kind == FrameType::Log => Ok(Report::Log(log_in(frame.log, now()))),
            _ => Err(format!("frame is not a valid event: {not_event}")),
        },
    }
}

/// Streams events matching the client's filter: first stored ones, then live ones.
async fn subscribe_socket(mut socket: WebSocket, app: AppState) {
    if !authenticated(&mut socket, &app).await {
        return;
    }
    let filter = match tokio::time::timeout(AUTH_TIMEOUT, next_text(&mut socket)).await {
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
    let mut shutdown = app.shutdown.clone();
    loop {
        tokio::select! {
            received = live.recv() => match received {
                Ok(e) => {
                    if sent.remove(&e.id) || !filter.matches(&e) {
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
