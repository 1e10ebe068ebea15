//! The HTTP calls the SDK makes, with bounded retries on transport errors.

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

/// The answer to a proposed flow-run state.
pub(crate) struct Orchestrated {
    /// The run's state after the proposal.
    pub state: Value,
    /// The server's reason, when it aborted the proposal (e.g. the run already ended).
    pub aborted: Option<String>,
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
        uuid_field(&flow, "id")
    }

    /// Proposes a state for a flow run, waiting out `WAIT` answers.
    pub async fn set_flow_run_state(
        &self,
        id: Uuid,
        state: Value,
    ) -> Result<Orchestrated, ApiError> {
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
            match out["status"].as_str() {
                Some("WAIT") => {
                    let delay = out["details"]["delay_seconds"]
                        .as_f64()
                        .unwrap_or(1.0)
                        .clamp(0.0, 3600.0);
                    tokio::time::sleep(Duration::from_secs_f64(delay)).await;
                }
                Some("ABORT") => {
                    return Ok(Orchestrated {
                        state: out["state"].clone(),
                        aborted: Some(reason),
                    });
                }
                _ => {
                    return Ok(Orchestrated {
                        state: out["state"].clone(),
                        aborted: None,
                    });
                }
            }
        }
    }
}

impl Orchestrated {
    /// The new state, or the abort as an error saying what was proposed.
    pub fn accepted(self, what: &str) -> Result<Value, ApiError> {
        match self.aborted {
            None => Ok(self.state),
            Some(detail) => Err(ApiError::Refused {
                what: what.to_owned(),
                status: 200,
                detail,
            }),
        }
    }
}

/// Reads a uuid field of a JSON answer.
pub(crate) fn uuid_field(v: &Value, key: &str) -> Result<Uuid, ApiError> {
    v[key]
        .as_str()
        .and_then(|s| Uuid::parse_str(s).ok())
        .ok_or_else(|| ApiError::Refused {
            what: format!("reading {key}"),
            status: 200,
            detail: format!("the answer has no valid {key}: {v}"),
        })
}

fn root_cause(e: &(dyn std::error::Error + 'static)) -> String {
    let mut cause = e;
    while let Some(next) = cause.source() {
        cause = next;
    }
    cause.to_string()
}
