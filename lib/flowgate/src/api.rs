//! The HTTP calls the SDK makes, in the shared wire types (`flowgate-wire`), retrying transport
//! errors as long as [`Patience`] says (about a second for a server never reached, a minute for
//! one that answered before and is restarting). Retrying is safe: runs are created with an idempotency key (flow runs)
//! or a client-chosen id (task runs), and every proposed state carries a transition id the
//! server recognises when it sees it twice.

use std::sync::Arc;
use std::time::{Duration, Instant};

use flowgate_wire::ErrorBody;
use flowgate_wire::StateType;
use flowgate_wire::flows::{Flow, FlowCreate};
use flowgate_wire::states::{
    OrchestrationDetails, OrchestrationResult, SetState, SetStateStatus, State, StateCreate,
};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;
use uuid::Uuid;

use crate::error::ApiError;
use crate::patience::Patience;

/// An async client for the Flowgate API.
#[derive(Clone)]
pub(crate) struct Api {
    base: String,
    http: reqwest::Client,
    patience: Arc<Patience>,
}

/// The server's answer to a proposed flow-run state, after `WAIT`s were waited out.
pub(crate) enum Answer {
    /// The proposal (or, for a repeated proposal, its first delivery) was committed.
    Accepted(Option<State>),
    /// `REJECT`: the run keeps its state or moved to another (e.g. `AwaitingRetry`).
    Rejected {
        /// The run's state now.
        state: Option<State>,
        /// The server's reason.
        reason: String,
    },
    /// `ABORT`: the transition is impossible (e.g. the run already ended).
    Aborted {
        /// The run's state now.
        state: Option<State>,
        /// The server's reason.
        reason: String,
    },
}

impl Answer {
    /// The run's state after the answer.
    pub fn state(&self) -> Option<&State> {
        match self {
            Answer::Accepted(state)
            | Answer::Rejected { state, .. }
            | Answer::Aborted { state, .. } => state.as_ref(),
        }
    }

    /// The run's state type after the answer.
    pub fn state_type(&self) -> Option<StateType> {
        self.state().map(|s| s.state_type)
    }

    /// Whether the run is being or was cancelled.
    pub fn cancelled(&self) -> bool {
        matches!(
            self.state_type(),
            Some(StateType::Cancelling | StateType::Cancelled)
        )
    }

    /// The new state, or what refused it as an error naming the proposal.
    pub fn accepted(self, what: &str) -> Result<Option<State>, ApiError> {
        match self {
            Answer::Accepted(state) => Ok(state),
            Answer::Rejected { state, reason } | Answer::Aborted { state, reason } => {
                Err(ApiError::Rejected {
                    what: what.to_owned(),
                    state: state.map_or_else(|| "unknown".to_owned(), |s| s.name),
                    reason,
                })
            }
        }
    }
}

/// `Authorization` for the API key in the environment (`FLOWGATE_API_KEY`, else
/// `PREFECT_API_KEY`), marked sensitive so it is never printed.
fn auth_headers() -> reqwest::header::HeaderMap {
    let mut headers = reqwest::header::HeaderMap::new();
    if let Some(mut value) = flowgate_wire::auth::api_key_from_env().and_then(|key| {
        reqwest::header::HeaderValue::from_str(&flowgate_wire::auth::bearer(&key)).ok()
    }) {
        value.set_sensitive(true);
        headers.insert(reqwest::header::AUTHORIZATION, value);
    }
    headers
}

impl Api {
    /// A client for `base` (e.g. `http://127.0.0.1:4200/api`), retrying as `patience` says.
    pub fn new(base: &str, patience: Arc<Patience>) -> Api {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .pool_max_idle_per_host(16)
            .default_headers(auth_headers())
            .build()
            .unwrap_or_default();
        Api {
            base: base.trim_end_matches('/').to_owned(),
            http,
            patience,
        }
    }

    /// The API base URL.
    pub fn base(&self) -> &str {
        &self.base
    }

    /// `POST path` with `body`, retrying transport errors; the answer read as `T`.
    pub async fn post<T: DeserializeOwned>(
        &self,
        what: &str,
        path: &str,
        body: &impl Serialize,
    ) -> Result<T, ApiError> {
        let url = format!("{}{path}", self.base);
        self.send(what, || self.http.post(&url).json(body)).await
    }

    /// `PUT path` with `body`, retrying transport errors; the answer read as `T` (`()` for a
    /// 204).
    pub async fn put<T: DeserializeOwned>(
        &self,
        what: &str,
        path: &str,
        body: &impl Serialize,
    ) -> Result<T, ApiError> {
        let url = format!("{}{path}", self.base);
        self.send(what, || self.http.put(&url).json(body)).await
    }

    /// `GET path`, retrying transport errors; the answer read as `T`.
    pub async fn get<T: DeserializeOwned>(&self, what: &str, path: &str) -> Result<T, ApiError> {
        let url = format!("{}{path}", self.base);
        self.send(what, || self.http.get(&url)).await
    }

    async fn send<T: DeserializeOwned>(
        &self,
        what: &str,
        request: impl Fn() -> reqwest::RequestBuilder,
    ) -> Result<T, ApiError> {
        let started = Instant::now();
        let mut attempt = 1;
        loop {
            match request().send().await {
                Ok(resp) => {
                    self.patience.reached();
                    let status = resp.status();
                    let body = resp.bytes().await.unwrap_or_default();
                    if status.is_success() {
                        // An empty answer (`201 Created` without a body) reads as `null`.
                        let body: &[u8] = if body.is_empty() { b"null" } else { &body };
                        return serde_json::from_slice(body).map_err(|e| ApiError::Malformed {
                            what: what.to_owned(),
                            detail: e.to_string(),
                        });
                    }
                    let detail = serde_json::from_slice::<ErrorBody>(&body)
                        .map(|b| b.detail)
                        .unwrap_or_else(|_| String::from_utf8_lossy(&body).into_owned());
                    return Err(ApiError::Refused {
                        what: what.to_owned(),
                        status: status.as_u16(),
                        detail,
                    });
                }
                Err(e) => match self.patience.retry_after(attempt, started.elapsed()) {
                    Some(wait) => {
                        tokio::time::sleep(wait).await;
                        attempt += 1;
                    }
                    None => {
                        return Err(ApiError::Unreachable {
                            url: self.base.clone(),
                            cause: root_cause(&e),
                        });
                    }
                },
            }
        }
    }

    /// Creates (or finds) a flow by name.
    pub async fn ensure_flow(&self, name: &str) -> Result<Uuid, ApiError> {
        let create = FlowCreate {
            name: name.to_owned(),
            tags: Vec::new(),
            labels: None,
        };
        let flow: Flow = self.post("creating a flow", "/flows/", &create).await?;
        Ok(flow.id)
    }

    /// Proposes a state for a flow run, waiting out `WAIT` answers. The proposal carries a
    /// transition id, so a proposal the server already committed (its answer was lost and the
    /// request resent) is recognised as accepted.
    pub async fn set_flow_run_state(
        &self,
        id: Uuid,
        mut state: StateCreate,
    ) -> Result<Answer, ApiError> {
        let transition = Value::String(Uuid::new_v4().to_string());
        state
            .state_details
            .get_or_insert_with(Default::default)
            .insert("transition_id".to_owned(), transition.clone());
        let body = SetState {
            state,
            force: false,
        };
        let path = format!("/flow_runs/{id}/set_state");
        loop {
            let out: OrchestrationResult = self.post("a flow-run state", &path, &body).await?;
            let reason = out.reason().unwrap_or_default().to_owned();
            let ours = out
                .state
                .as_ref()
                .is_some_and(|s| s.state_details.get("transition_id") == Some(&transition));
            return Ok(match (out.status, out.details) {
                (SetStateStatus::Accept, _) => Answer::Accepted(out.state),
                (SetStateStatus::Wait, OrchestrationDetails::WaitDetails { delay_seconds, .. }) => {
                    let delay = delay_seconds.clamp(0.0, 3600.0);
                    tokio::time::sleep(Duration::from_secs_f64(delay)).await;
                    continue;
                }
                (SetStateStatus::Wait, _) => {
                    tokio::time::sleep(Duration::from_secs(1)).await;
                    continue;
                }
                (SetStateStatus::Reject, _) if ours => Answer::Accepted(out.state),
                (SetStateStatus::Reject, _) => Answer::Rejected {
                    state: out.state,
                    reason,
                },
                (SetStateStatus::Abort, _) => Answer::Aborted {
                    state: out.state,
                    reason,
                },
            });
        }
    }
}

fn root_cause(e: &(dyn std::error::Error + 'static)) -> String {
    let mut cause = e;
    while let Some(next) = cause.source() {
        cause = next;
    }
    cause.to_string()
}
