//! `/v2/concurrency_limits/leases/connect`: the slot channel, Flowgate's websocket for slot
//! traffic (the SDK's acquisitions, releases and lease renewals over one connection instead
//! of an HTTP request each). Each call of a frame goes to the slot engine as its HTTP route's
//! request would, all of them at once; answers go back as soon as the engine decides them,
//! those decided together in one frame. A frame that cannot be read is answered with an error
//! frame and the connection closes.
//!
//! The calls are futures owned by the connection: when it drops, a call still waiting for
//! slots leaves the line and a grant made at that moment is given back, exactly as for a
//! dropped HTTP request (the engine sees its answer's receiver gone); a grant decided but not
//! yet sent is given back. Leases already sent stay held until released or expired, as a dead
//! process's do.

use axum::extract::ws::{WebSocket, WebSocketUpgrade, close_code};
use axum::extract::{Extension, State};
use axum::response::Response;
use flowgate_wire::slot_channel::{MAX_CALLS, SlotAnswer, SlotCall, SlotCalls, SlotFrame};
use futures_util::FutureExt;
use futures_util::StreamExt;
use futures_util::stream::FuturesUnordered;
use uuid::Uuid;

use super::concurrency_limits::{release_lease, renew_lease, take_slots};
use super::sockets::{authenticated, close, count_open, next_text, send_json, upgrade};
use crate::app::AppState;
use crate::auth::Caller;
use crate::error::ApiResult;
use crate::openapi::{ApiRoutes, doc};

pub fn routes() -> ApiRoutes {
    ApiRoutes::new("Concurrency limits").websocket(
        "/v2/concurrency_limits/leases/connect",
        connect,
        doc("Websocket: take, renew and give back slots over one connection (Flowgate)")
            .describe(
                "Subprotocol `prefect`. Send `{\"type\": \"auth\", \"token\": null}`, then \
                 `{\"calls\": [...]}` frames of `acquire`, `release` and `renew` calls, each \
                 with an id of your choosing; each call is answered by id in an `answers` \
                 frame as soon as it is decided, with the status and detail its HTTP route \
                 would give. An acquisition waiting when the connection drops leaves the line.",
            )
            .frames::<SlotCalls, SlotFrame>(),
    )
}

async fn connect(
    ws: WebSocketUpgrade,
    State(app): State<AppState>,
    Extension(caller): Extension<Caller>,
) -> Response {
    upgrade(ws, move |socket| channel(socket, app, caller))
}

async fn channel(mut socket: WebSocket, app: AppState, caller: Caller) {
    let _open = count_open(&app, "/api/v2/concurrency_limits/leases/connect");
    if !authenticated(&mut socket, &app, &caller).await {
        return;
    }
    let mut calls = FuturesUnordered::new();
    let mut shutdown = app.shutdown.clone();
    let mut undelivered = loop {
        tokio::select! {
            text = next_text(&mut socket) => {
                let Some(text) = text else { break Vec::new() };
                match text.and_then(|t| read_calls(&t)) {
                    Ok(read) => calls.extend(read.into_iter().map(|c| answer(app.clone(), c))),
                    Err(detail) => {
                        tracing::info!(%detail, "closing a slot channel on a bad frame");
                        let error = SlotFrame::Error { detail: detail.clone() };
                        let _ = send_json(&mut socket, &error).await;
                        close(&mut socket, close_code::POLICY, &detail).await;
                        break Vec::new();
                    }
                }
            }
            Some(first) = calls.next(), if !calls.is_empty() => {
                // Answers decided in the same engine batch are ready together: one frame.
                let mut answers = vec![first];
                while let Some(Some(next)) = calls.next().now_or_never() {
                    answers.push(next);
                }
                let leases: Vec<Uuid> = answers.iter().filter_map(lease_held).collect();
                if send_json(&mut socket, &SlotFrame::Answers { answers }).await.is_err() {
                    break leases;
                }
            }
            () = shutdown.requested() => {
                close(&mut socket, close_code::AWAY, "server shutting down").await;
                break Vec::new();
            }
        }
    };
    // Calls decided but not sent: their leases are given back. The others are dropped with
    // the connection, and their waiters leave the line.
    while let Some(Some(answer)) = calls.next().now_or_never() {
        undelivered.extend(lease_held(&answer));
    }
    for lease in undelivered {
        let app = app.clone();
        tokio::spawn(async move { release_lease(&app, lease).await });
    }
}

/// The lease an answer grants, when it holds slots.
fn lease_held(answer: &SlotAnswer) -> Option<Uuid> {
    match answer {
        SlotAnswer::Granted {
            lease_id: Some(lease),
            limits,
            ..
        } if !limits.is_empty() => Some(*lease),
        _ => None,
    }
}

/// The calls of one frame, or what is wrong with it.
fn read_calls(text: &str) -> Result<Vec<SlotCall>, String> {
    let frame = serde_json::from_str::<SlotCalls>(text).map_err(|e| {
        format!("not a slot-channel frame ({{\"calls\": [...]}} of acquire, release and renew calls): {e}")
    })?;
    if frame.calls.len() > MAX_CALLS {
        return Err(format!(
            "a frame may carry at most {MAX_CALLS} calls, got {}",
            frame.calls.len()
        ));
    }
    Ok(frame.calls)
}

/// Makes one call as its HTTP route would, and answers it.
async fn answer(app: AppState, call: SlotCall) -> SlotAnswer {
    match call {
        SlotCall::Acquire { id, request } => match take_slots(&app, &request).await {
            Ok((limits, lease_id)) => SlotAnswer::Granted {
                id,
                lease_id,
                limits,
            },
            Err(e) => settled(id, Err(e)),
        },
        SlotCall::Release { id, lease_id } => settled(id, release_lease(&app, lease_id).await),
        SlotCall::Renew {
            id,
            lease_id,
            lease_duration,
        } => settled(id, renew_lease(&app, lease_id, lease_duration).await),
    }
}

/// `Done`, or the failure with the status and detail its HTTP route would answer.
fn settled(id: u64, result: ApiResult<()>) -> SlotAnswer {
    match result {
        Ok(()) => SlotAnswer::Done { id },
        Err(e) => {
            let (status, detail, retry_after) = e.answer();
            SlotAnswer::Failed {
                id,
                status: status.as_u16(),
                detail,
                retry_after_seconds: retry_after.map(|d| d.as_secs_f64()),
            }
        }
    }
}
