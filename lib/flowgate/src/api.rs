//! The HTTP calls the SDK makes, with bounded retries on transport errors. Retrying is safe:
//! runs are created with an idempotency key (flow runs) or a client-chosen id (task runs), and
//! every proposed state carries a transition id the server recognises when it sees it twice.

use std::time::Duration;

use serde_json::{Value, json};
use uuid::Uuid;

use crate::error::ApiError;

/// Transport attempts before a call is reported unreachable.
const ATTEMPTS: u32 = 4;

/// An async client for the Flowgate API.
#[derive(Clone)]
pub(crate) struct Api {
    base: String,
    http: reqwest::Client,
}

/// The server's answer to a proposed flow-run state, after `WAIT`s were waited out.
pub(crate) enum Answer {
    /// The proposal (or, for a repeated proposal, its first delivery) was committed.
    Accepted(Value),
    /// `REJECT`: the run keeps its state or moved to another (e.g. `AwaitingRetry`).
    Rejected {
        /// The run's state now.
        state: Value,
        /// The server's reason.
        reason: String,
    },
    /// `ABORT`: the transition is impossible (e.g. the run already ended).
    Aborted {
        /// The run's state now.
        state: Value,
        /// The server's reason.
        reason: String,
    },
}

impl Answer {
    /// The run's state after the answer.
    pub fn state(&self) -> &Value {
        match self {
            Answer::Accepted(state)
            | Answer::Rejected { state, .. }
            | Answer::Aborted { state, .. } => state,
        }
    }

    /// The run's state type after the answer (`""` when the answer has none).
    pub fn state_type(&self) -> &str {
        self.state()["type"].as_str().unwrap_or_default()
    }

    /// Whether the run is being or was cancelled.
    pub fn cancelled(&self) -> bool {
        matches!(self.state_type(), "CANCELLING" | "CANCELLED")
    }

    /// The new state, or what refused it as an error naming the proposal.
    pub fn accepted(self, what: &str) -> Result<Value, ApiError> {
        match self {
            Answer::Accepted(state) => Ok(state),
            Answer::Rejected { state, reason } | Answer::Aborted { state, reason } => {
                Err(ApiError::Rejected {
                    what: what.to_owned(),
                    state: state["name"].as_str().unwrap_or("unknown").to_owned(),
                    reason,
                })
            }
        }
    }
}

impl Api {
    /// A client for `base` (e.g. `http://127.0.0.1:4200/api`).
    pub fn new(base: &str) -> Api {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .pool_max_idle_per_host(16)
            .build()
            .unwrap_or_default();
        Api {
            base: base.trim_end_matches('/').to_owned(),
            http,
        }
    }

    /// The API base URL.
    pub fn base(&self) -> &str {
        &self.base
    }

    /// `POST path` with `body`, retrying transport errors; returns the JSON answer.
    pub async fn post(&self, what: &str, path: &str, body: &Value) -> Result<Value, ApiError> {
        let url = format!("{}{path}", self.base);
        self.send(what, || self.http.post(&url).json(body)).await
    }

    /// `GET path`, retrying transport errors; returns the JSON answer.
    pub async fn get(&self, what: &str, path: &str) -> Result<Value, ApiError> {
        let url = format!("{}{path}", self.base);
        self.send(what, || self.http.get(&url)).await
    }

    async fn send(
        &self,
        what: &str,
        request: impl Fn() -> reqwest::RequestBuilder,
    ) -> Result<Value, ApiError> {
        let mut delay = Duration::from_millis(100);
        let mut attempt = 1;
        loop {
            match request().send().await {
                Ok(resp) => {
                    let status = resp.status();
                    let body: Value = resp.json().await.unwrap_or(Value::Null);
                    if status.is_success() {
                        return Ok(body);
                    }
                    return Err(ApiError::Refused {
                        what: what.to_owned(),
                        status: status.as_u16(),
                        detail: body["detail"]
                            .as_str()
                            .map(str::to_owned)
                            .unwrap_or_else(|| body.to_string()),
                    });
                }
                Err(_) if attempt < ATTEMPTS => {
                    tokio::time::sleep(delay).await;
                    delay *= 3;
                    attempt += 1;
                }
                Err(e) => {
                    return Err(ApiError::Unreachable {
                        url: self.base.clone(),
                        cause: root_cause(&e),
                    });
                }
            }
        }
    }

    /// Creates (or finds) a flow by name.
    pub async fn ensure_flow(&self, name: &str) -> Result<Uuid, ApiError> {
        let flow = self
            .post("creating a flow", "/flows/", &json!({"name": name}))
            .await?;
        uuid_field(&flow, "id", "creating a flow")
    }

    /// Proposes a state for a flow run, waiting out `WAIT` answers. The proposal carries a
    /// transition id, so a proposal the server already committed (its answer was lost and the
    /// request resent) is recognised as accepted.
    pub async fn set_flow_run_state(&self, id: Uuid, mut state: Value) -> Result<Answer, ApiError> {
        let transition = Uuid::new_v4().to_string();
        state["state_details"]["transition_id"] = json!(transition);
        let body = json!({"state": state});
        loop {
            let out = self
                .post(
                    "a flow-run state",
                    &format!("/flow_runs/{id}/set_state"),
                    &body,
                )
                .await?;
            let reason = out["details"]["reason"]
                .as_str()
                .unwrap_or_default()
                .to_owned();
            let state = out["state"].clone();
            return Ok(match out["status"].as_str() {
                Some("ACCEPT") => Answer::Accepted(state),
                Some("WAIT") => {
                    let delay = out["details"]["delay_seconds"]
                        .as_f64()
                        .unwrap_or(1.0)
                        .clamp(0.0, 3600.0);
                    tokio::time::sleep(Duration::from_secs_f64(delay)).await;
                    continue;
                }
                Some("REJECT") if state["state_details"]["transition_id"] == transition => {
                    Answer::Accepted(state)
                }
                Some("REJECT") => Answer::Rejected { state, reason },
                Some("ABORT") => Answer::Aborted { state, reason },
                other => {
                    return Err(ApiError::Malformed {
                        what: "a flow-run state".to_owned(),
                        detail: format!("unknown orchestration status {other:?}"),
                    });
                }
            });
        }
    }
}

/// Reads a uuid field of a JSON answer to `what`.
pub(crate) fn uuid_field(v: &Value, key: &str, what: &str) -> Result<Uuid, ApiError> {
    v[key]
        .as_str()
        .and_then(|s| Uuid::parse_str(s).ok())
        .ok_or_else(|| ApiError::Malformed {
            what: what.to_owned(),
            detail: format!("it has no valid {key}: {v}"),
        })
}

fn root_cause(e: &(dyn std::error::Error + 'static)) -> String {
    let mut cause = e;
    while let Some(next) = cause.source() {
        cause = next;
    }
    cause.to_string()
}
