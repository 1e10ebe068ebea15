//! The background sender of task-run events and run log lines: one websocket to
//! `/api/events/in`, frames written in batches, and a flush that waits until the server has
//! stored everything sent before it (the server answers a ping only after that). Log lines
//! travel as `{"type": "log", "log": {...}}` frames, so one flush confirms both.

use std::sync::Arc;
use std::time::Instant;

use flowgate_wire::events::{AuthAnswer, AuthFrame, ErrorFrame, FrameType};
use futures_util::{SinkExt, StreamExt};
use tokio::net::TcpStream;
use tokio::sync::{mpsc, oneshot};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use crate::patience::Patience;

/// Unacknowledged events that trigger a ping on their own.
const ACK_EVERY: usize = 4096;

/// A websocket to the server.
pub(crate) type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

enum EventMsg {
    Event(String),
    Flush(oneshot::Sender<Result<(), String>>),
}

/// Sends events; cheap to clone.
#[derive(Clone)]
pub(crate) struct EventSink {
    tx: mpsc::UnboundedSender<EventMsg>,
}

impl EventSink {
    /// Starts the sender on `handle`, for the API at `api_url`, reconnecting as `patience`
    /// says.
    pub fn start(
        handle: &tokio::runtime::Handle,
        api_url: &str,
        patience: Arc<Patience>,
    ) -> EventSink {
        let (tx, rx) = mpsc::unbounded_channel();
        let ws_url = format!("{}/events/in", api_url.replacen("http", "ws", 1));
        handle.spawn(run_events(rx, ws_url, patience));
        EventSink { tx }
    }

    /// Queues one event (JSON text).
    pub fn send(&self, event: String) {
        let _ = self.tx.send(EventMsg::Event(event));
    }

    /// Waits until every event queued before this call is stored by the server.
    pub async fn flush(&self) -> Result<(), String> {
        let (done, wait) = oneshot::channel();
        self.tx
            .send(EventMsg::Flush(done))
            .map_err(|_| "the event sender has stopped".to_owned())?;
        wait.await
            .map_err(|_| "the event sender has stopped".to_owned())?
    }
}

/// Events sent but not yet acknowledged, resent after a reconnect.
struct Outbox {
    unacked: Vec<String>,
    sent: usize,
    conn: Option<Ws>,
    url: String,
    patience: Arc<Patience>,
}

async fn run_events(
    mut rx: mpsc::UnboundedReceiver<EventMsg>,
    url: String,
    patience: Arc<Patience>,
) {
    let mut out = Outbox {
        unacked: Vec::new(),
        sent: 0,
        conn: None,
        url,
        patience,
    };
    let mut msgs = Vec::with_capacity(1024);
    while rx.recv_many(&mut msgs, 1024).await > 0 {
        let mut waiters = Vec::new();
        for m in msgs.drain(..) {
            match m {
                EventMsg::Event(e) => out.unacked.push(e),
                EventMsg::Flush(w) => waiters.push(w),
            }
        }
        let ack = !waiters.is_empty() || out.unacked.len() >= ACK_EVERY;
        let result = out.deliver(ack).await;
        for w in waiters {
            let _ = w.send(result.clone());
        }
    }
    if let Some(mut ws) = out.conn.take() {
        let _ = ws.close(None).await;
    }
}

impl Outbox {
    /// Sends what is unsent and, with `ack`, waits for the server to confirm all of it.
    async fn deliver(&mut self, ack: bool) -> Result<(), String> {
        let started = Instant::now();
        let mut attempt = 1;
        loop {
            let Err(e) = self.try_deliver(ack).await else {
                return Ok(());
            };
            self.conn = None;
            self.sent = 0;
            let wait = match &e {
                Failure::Unreached(_) => self.patience.retry_after(attempt, started.elapsed()),
                Failure::Refused(_) => None,
            };
            match wait {
                Some(wait) => tokio::time::sleep(wait).await,
                None => {
                    return Err(format!(
                        "events could not be delivered to {}: {e}",
                        self.url
                    ));
                }
            }
            attempt += 1;
        }
    }

    async fn try_deliver(&mut self, ack: bool) -> Result<(), Failure> {
        let lost = |e: &dyn std::fmt::Display| Failure::Unreached(e.to_string());
        if self.conn.is_none() {
            self.conn = Some(connect(&self.url).await?);
            self.patience.reached();
        }
        let ws = self.conn.as_mut().expect("connected above");
        for e in &self.unacked[self.sent..] {
            ws.feed(Message::text(e.clone()))
                .await
                .map_err(|e| lost(&e))?;
        }
        ws.flush().await.map_err(|e| lost(&e))?;
        self.sent = self.unacked.len();
        if ack {
            ws.send(Message::Ping(b"flush".to_vec().into()))
                .await
                .map_err(|e| lost(&e))?;
            loop {
                match ws.next().await {
                    Some(Ok(Message::Pong(_))) => break,
                    Some(Ok(Message::Text(t))) => {
                        let detail = serde_json::from_str::<ErrorFrame>(&t)
                            .map_or_else(|_| t.to_string(), |f| f.detail);
                        tracing::warn!(target: "flowgate", "the server refused an event: {detail}");
                    }
                    Some(Ok(_)) => {}
                    Some(Err(e)) => return Err(lost(&e)),
                    None => return Err(lost(&"connection closed")),
                }
            }
            self.unacked.clear();
            self.sent = 0;
        }
        Ok(())
    }
}

/// Why a websocket could not be opened or used.
#[derive(Debug)]
pub(crate) enum Failure {
    /// The server was not reached, or the connection broke: worth trying again while it
    /// restarts.
    Unreached(String),
    /// The server answered and refused (the handshake or the authentication), or the request
    /// cannot be made: trying again would not help.
    Refused(String),
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Failure::Unreached(m) | Failure::Refused(m) => f.write_str(m),
        }
    }
}

/// Opens a Prefect-protocol websocket (`/events/in` or `/events/out`) and authenticates (with
/// the environment's API key, if any).
pub(crate) async fn connect(url: &str) -> Result<Ws, Failure> {
    use tokio_tungstenite::tungstenite::Error;
    let refused = |e: &dyn std::fmt::Display| Failure::Refused(e.to_string());
    let mut req = url.into_client_request().map_err(|e| refused(&e))?;
    req.headers_mut().insert(
        "Sec-WebSocket-Protocol",
        "prefect".parse().map_err(|_| refused(&"header"))?,
    );
    // The key goes with the handshake, as on every HTTP request; the auth frame carries none.
    if let Some(key) = flowgate_wire::auth::api_key_from_env() {
        let mut value = flowgate_wire::auth::bearer(&key)
            .parse::<tokio_tungstenite::tungstenite::http::HeaderValue>()
            .map_err(|_| refused(&"the API key is not valid header text"))?;
        value.set_sensitive(true);
        req.headers_mut().insert("Authorization", value);
    }
    let (mut ws, _) = tokio_tungstenite::connect_async_with_config(req, None, true)
        .await
        .map_err(|e| match e {
            Error::Http(_) => refused(&e),
            e => Failure::Unreached(e.to_string()),
        })?;
    let auth = serde_json::to_string(&AuthFrame::anonymous()).map_err(|e| refused(&e))?;
    ws.send(Message::text(auth))
        .await
        .map_err(|e| Failure::Unreached(e.to_string()))?;
    let answer = match ws.next().await {
        Some(Ok(Message::Text(t))) => serde_json::from_str::<AuthAnswer>(&t).ok(),
        _ => return Err(Failure::Unreached("the connection closed".to_owned())),
    };
    match answer {
        Some(AuthAnswer {
            kind: FrameType::AuthSuccess,
            ..
        }) => Ok(ws),
        other => Err(Failure::Refused(format!(
            "authentication failed: {other:?}"
        ))),
    }
}
