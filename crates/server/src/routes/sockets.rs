//! What every websocket shares: Prefect's handshake (subprotocol `prefect`, a first
//! `{"type": "auth"}` frame answered with `{"type": "auth_success"}`, its token checked when the
//! server requires keys and the upgrade request carried none), frames as JSON text, and close
//! frames whose reasons fit the protocol's limit.

use std::time::Duration;

use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade, close_code};
use axum::response::Response;
use flowgate_wire::events::{AuthAnswer, AuthFrame, FrameType};
use serde::Serialize;

use crate::app::AppState;
use crate::auth::{self, Caller};
use crate::metrics::GaugeGuard;

/// Largest websocket frame accepted.
pub const MAX_FRAME: usize = 4 * 1024 * 1024;
/// How long a new connection may take to authenticate or subscribe.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// Bytes a close frame's reason may hold (125 for the frame, less the 2-byte code).
pub const MAX_CLOSE_REASON: usize = 123;

/// Accepts a websocket upgrade as every Flowgate socket does (the `prefect` subprotocol,
/// frames up to [`MAX_FRAME`]) and serves the connection with `serve`.
pub fn upgrade<S, F>(ws: WebSocketUpgrade, serve: S) -> Response
where
    S: FnOnce(WebSocket) -> F + Send + 'static,
    F: Future<Output = ()> + Send + 'static,
{
    ws.protocols(["prefect"])
        .max_message_size(MAX_FRAME)
        .on_upgrade(serve)
}

/// Sends one frame as JSON text.
pub async fn send_json(socket: &mut WebSocket, frame: &impl Serialize) -> Result<(), axum::Error> {
    let text = serde_json::to_string(frame).map_err(axum::Error::new)?;
    socket.send(Message::Text(text.into())).await
}

/// `reason` cut to at most [`MAX_CLOSE_REASON`] bytes, at a character boundary.
pub fn close_reason(reason: &str) -> &str {
    let mut end = reason.len().min(MAX_CLOSE_REASON);
    while !reason.is_char_boundary(end) {
        end -= 1;
    }
    &reason[..end]
}

/// Closes the socket with `code` and a reason that fits a close frame.
pub async fn close(socket: &mut WebSocket, code: u16, reason: &str) {
    let frame = CloseFrame {
        code,
        reason: close_reason(reason).into(),
    };
    let _ = socket.send(Message::Close(Some(frame))).await;
}

/// Reads the next text frame (binary frames are taken as UTF-8 text).
pub async fn next_text(socket: &mut WebSocket) -> Option<Result<String, String>> {
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

/// Expects `{"type": "auth", "token": …}` first. A caller the handshake's headers did not
/// prove must prove itself with the token (a key, or `NAME:KEY`); otherwise the token is not
/// read.
async fn authenticate(socket: &mut WebSocket, app: &AppState, caller: &Caller) -> bool {
    let first = tokio::time::timeout(HANDSHAKE_TIMEOUT, next_text(socket)).await;
    let Ok(Some(Ok(text))) = first else {
        close(socket, close_code::POLICY, "expected an auth frame first").await;
        return false;
    };
    let frame = serde_json::from_str::<AuthFrame>(&text)
        .ok()
        .filter(|f| f.kind == FrameType::Auth);
    let Some(frame) = frame else {
        refuse(
            socket,
            "send {\"type\": \"auth\", \"token\": …} first",
            "expected an auth frame first",
        )
        .await;
        return false;
    };
    if matches!(caller, Caller::Unproven) {
        let proven = frame
            .token
            .as_deref()
            .and_then(|token| app.api_keys.identify_token(token));
        if proven.is_none() {
            let reason = match frame.token {
                Some(_) => auth::INVALID,
                None => auth::MISSING,
            };
            refuse(socket, reason, "invalid token").await;
            return false;
        }
    }
    let success = AuthAnswer {
        kind: FrameType::AuthSuccess,
        reason: None,
    };
    send_json(socket, &success).await.is_ok()
}

/// Answers the auth frame with a failure saying `why`, and closes with `close_reason`.
async fn refuse(socket: &mut WebSocket, why: &str, close_reason: &str) {
    let failure = AuthAnswer {
        kind: FrameType::AuthFailure,
        reason: Some(why.to_owned()),
    };
    let _ = send_json(socket, &failure).await;
    close(socket, close_code::POLICY, close_reason).await;
}

/// Counts the connection at `route` as open (`flowgate_websocket_connections`) until the
/// returned guard drops.
pub fn count_open(app: &AppState, route: &str) -> GaugeGuard {
    app.metrics
        .gauge(
            "flowgate_websocket_connections",
            "Websocket connections open now, by route",
            &[("route", route)],
        )
        .track()
}

/// [`authenticate`], given up when the server shuts down meanwhile.
pub async fn authenticated(socket: &mut WebSocket, app: &AppState, caller: &Caller) -> bool {
    let mut shutdown = app.shutdown.clone();
    tokio::select! {
        ok = authenticate(socket, app, caller) => ok,
        () = shutdown.requested() => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn close_reasons_fit_a_control_frame() {
        assert_eq!(close_reason("short"), "short");
        let long = "é".repeat(100);
        let cut = close_reason(&long);
        assert!(cut.len() <= MAX_CLOSE_REASON && cut.len() >= MAX_CLOSE_REASON - 1);
        assert!(long.starts_with(cut));
    }
}
