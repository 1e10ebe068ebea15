//! The slot channel: one websocket per engine to `/v2/concurrency_limits/leases/connect`,
//! carrying every thread's acquisitions, releases and lease renewals. One task owns the
//! connection: it writes every call queued since its last write in one frame, and hands each
//! answer to the caller waiting for it by the call's id. Callers need no runtime of their own
//! (a blocking thread waits on its answer directly), so a call costs two wake-ups on this side
//! instead of an HTTP request's several.
//!
//! The channel is opened on first use. While it cannot be opened (an older server, a proxy
//! that does not pass websockets, a server restarting) or after it dropped, [`SlotChannel::call`]
//! answers `None` and the caller makes the HTTP request instead, which waits for a restarting
//! server as patiently as every request does; the channel is tried again after a back-off.
//! A call in flight when the connection drops is answered `None` too: the server takes a
//! waiting acquisition out of the line when the connection drops (and gives back slots
//! granted at that moment), so asking again over HTTP takes nothing twice. A connection on
//! which a call goes unanswered well past its wait is taken for dead and dropped the same way.

use std::collections::HashMap;
use std::time::Duration;

use flowgate_wire::concurrency_limits::MinimalLimit;
use flowgate_wire::slot_channel::{MAX_CALLS, SlotAnswer, SlotCall, SlotCalls, SlotFrame};
use futures_util::{SinkExt, StreamExt};
use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::Message;

use crate::error::ApiError;
use crate::sinks::{self, Ws};

/// How long opening the channel may take before the call goes over HTTP.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// The first wait before the channel is tried again after it could not be opened or dropped;
/// each further failure doubles it, up to [`MOST_BACKOFF`].
const FIRST_BACKOFF: Duration = Duration::from_millis(250);
const MOST_BACKOFF: Duration = Duration::from_secs(30);

/// How long past its wait at the server a call may go unanswered before the connection is
/// taken for dead (as an HTTP request's timeout would end it: a server gone without closing
/// it, a proxy holding it open); checked every [`DEADLINE_CHECK`].
const ANSWER_SLACK: Duration = Duration::from_secs(10);
const DEADLINE_CHECK: Duration = Duration::from_secs(1);

struct Queued {
    call: SlotCall,
    answer: oneshot::Sender<SlotAnswer>,
}

/// One engine's slot channel; calls may come from any thread.
pub(crate) struct SlotChannel {
    calls: mpsc::UnboundedSender<Queued>,
}

impl SlotChannel {
    /// Starts the channel's task on `handle` for the API at `api_url` (it connects on the
    /// first call).
    pub fn start(handle: &tokio::runtime::Handle, api_url: &str) -> SlotChannel {
        let (calls, queued) = mpsc::unbounded_channel();
        let url = format!(
            "{}/v2/concurrency_limits/leases/connect",
            api_url.replacen("http", "ws", 1)
        );
        handle.spawn(run(queued, url));
        SlotChannel { calls }
    }

    /// Makes `call` (its id is replaced by the channel's) and waits for its answer; `None`
    /// when the channel is down or dropped before answering, or the server answered 503
    /// (shutting down: the call was not made): make the HTTP request instead, which waits for
    /// a restarting server.
    pub async fn call(&self, call: SlotCall) -> Option<SlotAnswer> {
        let (answer, answered) = oneshot::channel();
        self.calls.send(Queued { call, answer }).ok()?;
        answered
            .await
            .ok()
            .filter(|a| !matches!(a, SlotAnswer::Failed { status: 503, .. }))
    }
}

/// The channel's task: opens the connection when calls come, serves it until it drops, and
/// for a back-off after a failed attempt or a drop answers calls `None` at once (dropping
/// their senders). The back-off doubles while connections fail or drop soon after opening
/// (a proxy closing websockets), and starts again after one lived [`MOST_BACKOFF`].
async fn run(mut queued: mpsc::UnboundedReceiver<Queued>, url: String) {
    let mut backoff = FIRST_BACKOFF;
    let mut retry_at: Option<Instant> = None;
    let mut batch = Vec::new();
    while queued.recv_many(&mut batch, MAX_CALLS).await > 0 {
        if retry_at.is_some_and(|at| Instant::now() < at) {
            batch.clear();
            continue;
        }
        let why = match tokio::time::timeout(CONNECT_TIMEOUT, sinks::connect(&url)).await {
            Ok(Ok(ws)) => {
                let opened = Instant::now();
                let why = serve(ws, &mut queued, std::mem::take(&mut batch)).await;
                if opened.elapsed() >= MOST_BACKOFF {
                    backoff = FIRST_BACKOFF;
                }
                format!("the slot channel closed ({why})")
            }
            Ok(Err(e)) => format!("the slot channel did not open ({e})"),
            Err(_) => "the slot channel did not open in time".to_owned(),
        };
        tracing::debug!(target: "flowgate", "{why}; calls go over HTTP for {backoff:?}");
        retry_at = Some(Instant::now() + backoff);
        backoff = (backoff * 2).min(MOST_BACKOFF);
        batch.clear();
    }
}

/// Serves one connection: sends `first` and every later batch of calls, routes answers, and
/// returns why it ended. Calls still unanswered then are dropped (their callers go to HTTP).
async fn serve(
    mut ws: Ws,
    queued: &mut mpsc::UnboundedReceiver<Queued>,
    first: Vec<Queued>,
) -> String {
    // Each unanswered call: by when its answer is due, and who waits for it.
    let mut waiting: HashMap<u64, (Instant, oneshot::Sender<SlotAnswer>)> = HashMap::new();
    let mut next_id = 0u64;
    let mut batch = first;
    let mut check = tokio::time::interval(DEADLINE_CHECK);
    loop {
        if !batch.is_empty() {
            let mut calls = Vec::with_capacity(batch.len());
            let now = Instant::now();
            for Queued { mut call, answer } in batch.drain(..) {
                next_id += 1;
                set_id(&mut call, next_id);
                waiting.insert(next_id, (now + due_in(&call), answer));
                calls.push(call);
            }
            let frame = match serde_json::to_string(&SlotCalls { calls }) {
                Ok(frame) => frame,
                Err(e) => return format!("a frame could not be written: {e}"),
            };
            if let Err(e) = ws.send(Message::text(frame)).await {
                return e.to_string();
            }
        }
        tokio::select! {
            n = queued.recv_many(&mut batch, MAX_CALLS) => {
                if n == 0 {
                    let _ = ws.close(None).await;
                    return "the engine stopped".to_owned();
                }
            }
            msg = ws.next() => {
                let text = match msg {
                    Some(Ok(Message::Text(t))) => t,
                    Some(Ok(Message::Close(_))) | None => return "closed by the server".to_owned(),
                    Some(Err(e)) => return e.to_string(),
                    Some(Ok(_)) => continue,
                };
                match serde_json::from_str::<SlotFrame>(&text) {
                    Ok(SlotFrame::Answers { answers }) => {
                        for a in answers {
                            if let Some((_, caller)) = waiting.remove(&a.id()) {
                                let _ = caller.send(a);
                            }
                        }
                    }
                    Ok(SlotFrame::Error { detail }) => {
                        tracing::warn!(target: "flowgate", "the server refused a slot-channel frame: {detail}");
                        return detail;
                    }
                    Err(e) => return format!("an unreadable frame from the server: {e}"),
                }
            }
            at = check.tick() => {
                if waiting.values().any(|(due, _)| *due <= at) {
                    return "a call went unanswered past its wait; the connection is taken for dead".to_owned();
                }
            }
        }
    }
}

/// How long after it is sent a call's answer is due: its wait at the server, and some slack.
fn due_in(call: &SlotCall) -> Duration {
    let wait = match call {
        SlotCall::Acquire { request, .. } => request
            .wait_seconds
            .and_then(|s| Duration::try_from_secs_f64(s).ok())
            .unwrap_or_default(),
        SlotCall::Release { .. } | SlotCall::Renew { .. } => Duration::ZERO,
    };
    wait + ANSWER_SLACK
}

/// A grant's lease id and limits, or the refusal its HTTP route would have answered `what`.
pub(crate) fn granted(
    answer: SlotAnswer,
    what: &str,
) -> Result<(Option<uuid::Uuid>, Vec<MinimalLimit>), ApiError> {
    match answer {
        SlotAnswer::Granted {
            lease_id, limits, ..
        } => Ok((lease_id, limits)),
        other => Err(refusal(other, what)),
    }
}

/// A release or renewal done, or the refusal its HTTP route would have answered `what`.
pub(crate) fn done(answer: SlotAnswer, what: &str) -> Result<(), ApiError> {
    match answer {
        SlotAnswer::Done { .. } => Ok(()),
        other => Err(refusal(other, what)),
    }
}

fn refusal(answer: SlotAnswer, what: &str) -> ApiError {
    match answer {
        SlotAnswer::Failed { status, detail, .. } => ApiError::Refused {
            what: what.to_owned(),
            status,
            detail,
        },
        other => ApiError::Malformed {
            what: what.to_owned(),
            detail: format!("the slot channel answered {other:?}"),
        },
    }
}

fn set_id(call: &mut SlotCall, new: u64) {
    match call {
        SlotCall::Acquire { id, .. }
        | SlotCall::Release { id, .. }
        | SlotCall::Renew { id, .. } => {
            *id = new;
        }
    }
}
