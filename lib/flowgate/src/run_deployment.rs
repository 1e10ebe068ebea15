//! Running a deployment from code: `run_deployment("flow/deployment", parameters)` creates a
//! run of it (checked by the server against the deployment's parameter schema, waiting in its
//! work queue for a worker or a serving program), and either returns the run at once
//! ([`RunDeployment::create`]) or waits for its end ([`RunDeployment::wait`]), blocking or
//! `.await`ed.
//!
//! ```no_run
//! use serde_json::json;
//!
//! # fn main() -> Result<(), flowgate::RunDeploymentError> {
//! let run = flowgate::run_deployment("nightly-etl/nightly", json!({"day": "friday"})).wait()?;
//! println!("{} ended {}", run.name, run.state_name);
//! # Ok(())
//! # }
//! ```

use std::sync::Arc;
use std::time::Duration;

use flowgate_wire::deployments::{Deployment, DeploymentFlowRunCreate};
use flowgate_wire::flow_runs::FlowRun as WireFlowRun;
use serde::Serialize;
use serde_json::Value;
use uuid::Uuid;

use crate::context;
use crate::engine::Engine;
use crate::error::ApiError;
use crate::flow::{ParentLink, parent_task_run};
use crate::records::FlowRun;

/// Why a deployment's run could not be created or waited for.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum RunDeploymentError {
    /// The request was wrong before it was sent: a name not of the form `flow/deployment`, or
    /// parameters that are not a JSON object.
    #[error("{0}")]
    Invalid(String),
    /// The server could not be reached, or refused: an unknown deployment (404), parameters
    /// its schema refuses (422, naming each field).
    #[error(transparent)]
    Api(#[from] ApiError),
    /// The run did not end within the wait's timeout; it goes on.
    #[error("flow run {} did not end within {} s (it is {})", run.name, after.as_secs_f64(), run.state_name)]
    TimedOut {
        /// The run as last read.
        run: Box<FlowRun>,
        /// The timeout.
        after: Duration,
    },
}

/// A run of a deployment to create: `run_deployment(name, parameters)`, then options, then
/// [`RunDeployment::create`] or [`RunDeployment::wait`] (or their `_async` twins).
#[must_use = "nothing happens until `.create()` or `.wait()`"]
pub struct RunDeployment {
    name: String,
    parameters: Result<Value, String>,
    tags: Vec<String>,
    run_name: Option<String>,
    work_queue: Option<String>,
    timeout: Option<Duration>,
    idempotency_key: String,
}

/// A run of the deployment `name` (`flow/deployment`) with `parameters` (any value serialising
/// to a JSON object, e.g. `json!({...})`, a map, or a struct) over its defaults.
pub fn run_deployment(name: impl Into<String>, parameters: impl Serialize) -> RunDeployment {
    RunDeployment {
        name: name.into(),
        parameters: serde_json::to_value(parameters).map_err(|e| e.to_string()),
        tags: Vec::new(),
        run_name: None,
        work_queue: None,
        timeout: None,
        idempotency_key: Uuid::new_v4().to_string(),
    }
}

impl RunDeployment {
    /// Tags the run gets besides the deployment's.
    pub fn tags<T: Into<String>>(mut self, tags: impl IntoIterator<Item = T>) -> Self {
        self.tags.extend(tags.into_iter().map(Into::into));
        self
    }

    /// The run's name (a generated one otherwise).
    pub fn run_name(mut self, name: impl Into<String>) -> Self {
        self.run_name = Some(name.into());
        self
    }

    /// A queue of the deployment's pool to wait in instead of its own.
    pub fn work_queue(mut self, queue: impl Into<String>) -> Self {
        self.work_queue = Some(queue.into());
        self
    }

    /// How long [`RunDeployment::wait`] waits at most (for ever otherwise).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// Makes creating the run idempotent across program restarts: a second request with the
    /// same key returns the first run (each `run_deployment` has a key of its own otherwise,
    /// which already makes the request safe to resend).
    pub fn idempotency_key(mut self, key: impl Into<String>) -> Self {
        self.idempotency_key = key.into();
        self
    }

    /// Creates the run and returns it (Scheduled), without waiting.
    pub fn create(self) -> Result<FlowRun, RunDeploymentError> {
        let (engine, parent) = here()?;
        engine.block_on(self.create_with(engine.clone(), parent))
    }

    /// [`RunDeployment::create`] for async code.
    pub async fn create_async(self) -> Result<FlowRun, RunDeploymentError> {
        let (engine, parent) = here()?;
        engine.run(self.create_with(engine.clone(), parent)).await
    }

    /// Creates the run and waits until it ends (Completed, Failed, Cancelled, Crashed); a
    /// paused run is waited for too.
    pub fn wait(self) -> Result<FlowRun, RunDeploymentError> {
        let (engine, parent) = here()?;
        engine.block_on(self.wait_with(engine.clone(), parent))
    }

    /// [`RunDeployment::wait`] for async code.
    pub async fn wait_async(self) -> Result<FlowRun, RunDeploymentError> {
        let (engine, parent) = here()?;
        engine.run(self.wait_with(engine.clone(), parent)).await
    }

    async fn wait_with(
        self,
        engine: Arc<Engine>,
        parent: Option<ParentLink>,
    ) -> Result<FlowRun, RunDeploymentError> {
        let timeout = self.timeout;
        let run = self.create_with(engine.clone(), parent).await?;
        let deadline = timeout.map(|t| tokio::time::Instant::now() + t);
        let mut delay = Duration::from_millis(100);
        loop {
            let now: WireFlowRun = engine
                .api
                .get("the deployment's run", &format!("/flow_runs/{}", run.id))
                .await?;
            let now = FlowRun::named(now, &run.flow);
            if now.state.is_terminal() {
                return Ok(now);
            }
            if let (Some(deadline), Some(after)) = (deadline, timeout)
                && tokio::time::Instant::now() + delay > deadline
            {
                return Err(RunDeploymentError::TimedOut {
                    run: Box::new(now),
                    after,
                });
            }
            tokio::time::sleep(delay).await;
            delay = (delay * 2).min(Duration::from_secs(2));
        }
    }

    async fn create_with(
        self,
        engine: Arc<Engine>,
        parent: Option<ParentLink>,
    ) -> Result<FlowRun, RunDeploymentError> {
        let Some((flow, deployment)) = self.name.split_once('/') else {
            return Err(RunDeploymentError::Invalid(format!(
                "deployment {:?}: name it as `flow/deployment` (e.g. `nightly-etl/nightly`)",
                self.name
            )));
        };
        let parameters = match self.parameters {
            Ok(Value::Object(m)) => Value::Object(m),
            Ok(Value::Null) => Value::Object(Default::default()),
            Ok(other) => {
                return Err(RunDeploymentError::Invalid(format!(
                    "the parameters of a run of {} must be a JSON object (name: value), not {other}",
                    self.name
                )));
            }
            Err(e) => {
                return Err(RunDeploymentError::Invalid(format!(
                    "the parameters of a run of {} cannot be serialised: {e}",
                    self.name
                )));
            }
        };
        let path = format!(
            "/deployments/name/{}/{}",
            flowgate_wire::segment(flow),
            flowgate_wire::segment(deployment)
        );
        let found: Deployment = engine.api.get("the deployment", &path).await?;
        let parent_task_run_id = match parent {
            Some(link) => Some(parent_task_run(&engine, link, &self.name).await?),
            None => None,
        };
        let body = DeploymentFlowRunCreate {
            parent_task_run_id,
            parameters: Some(parameters),
            tags: (!self.tags.is_empty()).then_some(self.tags),
            name: self.run_name,
            work_queue_name: self.work_queue,
            idempotency_key: Some(self.idempotency_key),
            ..Default::default()
        };
        let path = format!("/deployments/{}/create_flow_run", found.id);
        let run: WireFlowRun = engine
            .api
            .post("a run of the deployment", &path, &body)
            .await?;
        Ok(FlowRun::named(run, flow))
    }
}

/// The engine to use and, inside a flow, the link that makes the deployment's run a child of
/// the current flow run (a task run in it stands for the child and follows its state).
fn here() -> Result<(Arc<Engine>, Option<ParentLink>), ApiError> {
    Ok(match context::current() {
        Some(f) => {
            let key = f.flow.next_key("__flowgate_run_deployment");
            let link = (f.flow.id, f.flow.name.clone(), key);
            (f.flow.engine.clone(), Some(link))
        }
        None => (Engine::current()?, None),
    })
}
