//! `/events/in`: clients stream events (and, from Flowgate's SDK, log lines) one per frame. A
//! frame that cannot be taken is refused with an error frame naming what is wrong, and the
//! connection goes on. A ping is answered only after every record received before it is
//! stored: the client treats the pong as the acknowledgement of what it sent, and resends what
//! was not acknowledged after a reconnect.

use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade, close_code};
use axum::extract::{Extension, State};
use axum::response::Response;
use flowgate_core::{Event, Micros};
use flowgate_store::model::LogEntry;
use flowgate_wire::events::{ErrorFrame, Event as EventWire, FrameType, LogFrame};
use tokio::sync::mpsc;

use super::sockets::{authenticated, close, count_open, send_json, upgrade};
use crate::app::AppState;
use crate::auth::Caller;
use crate::convert::events::event_in;
use crate::convert::logs::log_in;
use crate::ingest::Refusal;

/// Upgrades to the ingest websocket.
pub async fn events_in(
    ws: WebSocketUpgrade,
    State(app): State<AppState>,
    Extension(caller): Extension<Caller>,
) -> Response {
    upgrade(ws, move |socket| ingest_socket(socket, app, caller))
}

/// What a client may send on `/events/in` after authenticating.
pub(crate) enum Report {
    /// An event (what the `prefect` client sends).
    Event(Event),
    /// A run log line, `{"type": "log", "log": {...}}` (what Flowgate's SDK sends, so that one
    /// flush confirms a run's events and logs together).
    Log(LogEntry),
}

/// Reads a frame received at `now`: an event, else a log frame.
pub(crate) fn parse_report(text: &str, now: Micros) -> Result<Report, String> {
    match serde_json::from_str::<EventWire>(text) {
        Ok(event) => event_in(event, now).map(Report::Event),
        Err(not_event) => match serde_json::from_str::<LogFrame>(text) {
            Ok(frame) if frame.kind == FrameType::Log => log_in(frame.log, now).map(Report::Log),
            _ => Err(format!("frame is not a valid event: {not_event}")),
        },
    }
}

/// The error frame telling a sender a record it sent was refused.
fn refused(r: &Refusal) -> ErrorFrame {
    ErrorFrame::new(format!("{} {} was not stored: {}", r.what, r.id, r.reason))
}

async fn ingest_socket(mut socket: WebSocket, app: AppState, caller: Caller) {
    let _open = count_open(&app, "/api/events/in");
    if !authenticated(&mut socket, &app, &caller).await {
        return;
    }
    let (refusals, mut refused_here) = mpsc::unbounded_channel::<Refusal>();
    let mut shutdown = app.shutdown.clone();
    loop {
        let msg = tokio::select! {
            m = socket.recv() => m,
            Some(r) = refused_here.recv() => {
                if send_json(&mut socket, &refused(&r)).await.is_err() {
                    return;
                }
                continue;
            }
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
                    close(&mut socket, close_code::AGAIN, &e.to_string()).await;
                    return;
                }
                // Report what the flushed batches refused before the pong acknowledges them.
                while let Ok(r) = refused_here.try_recv() {
                    if send_json(&mut socket, &refused(&r)).await.is_err() {
                        return;
                    }
                }
                continue;
            }
            Some(Ok(Message::Pong(_))) => continue,
            Some(Ok(Message::Text(t))) => t.to_string(),
            Some(Ok(Message::Binary(b))) => String::from_utf8_lossy(&b).into_owned(),
        };
        match parse_report(&text, app.now()) {
            Ok(report) => {
                let queued = match report {
                    Report::Event(event) => app.ingest.submit(event, Some(&refusals)).await,
                    Report::Log(log) => app.ingest.submit_logs(vec![log], Some(&refusals)).await,
                };
                if queued.is_err() {
                    close(&mut socket, close_code::AWAY, "server shutting down").await;
                    return;
                }
            }
            Err(detail) => {
                tracing::warn!(%detail, "refused an event frame");
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
