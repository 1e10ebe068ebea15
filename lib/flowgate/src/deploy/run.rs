//! A program's deployments as one set ([`Deployments`]): applied together, and the place where a
//! run handed to this program (by a worker that started it, or by serving) finds its flow, has
//! its parameters read back into the flow's typed arguments, and runs as that very run.

use std::future::Future;
use std::pin::Pin;
use std::process::ExitCode;
use std::sync::Arc;

use flowgate_wire::StateType;
use flowgate_wire::deployments::Deployment as WireDeployment;
use flowgate_wire::flow_runs::FlowRun as WireFlowRun;
use flowgate_wire::flows::Flow;
use flowgate_wire::states::StateCreate;
use serde_json::{Map, Value};
use uuid::Uuid;

use super::builder::{DeployError, Deployed, Deployment};
use super::params::FlowParameters;
use crate::engine::Engine;
use crate::error::{ApiError, FlowError};
use crate::flow::{WORKER_RUN_ENV, adopting};

type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// A deployment whose argument types are known only to itself.
pub(crate) trait AnyDeployment: Send + Sync {
    fn flow(&self) -> &'static str;
    fn name(&self) -> &str;
    fn apply_with(&self, engine: Arc<Engine>) -> BoxFuture<'_, Result<Deployed, DeployError>>;
    /// Runs the flow with `parameters` read into its arguments, blocking until it ends.
    fn call(&self, parameters: &Map<String, Value>) -> Result<(), FlowError>;
}

impl<A: FlowParameters> AnyDeployment for Deployment<A> {
    fn flow(&self) -> &'static str {
        self.meta.name
    }

    fn name(&self) -> &str {
        &self.name
    }

    fn apply_with(&self, engine: Arc<Engine>) -> BoxFuture<'_, Result<Deployed, DeployError>> {
        Box::pin(Deployment::apply_with(self, engine))
    }

    fn call(&self, parameters: &Map<String, Value>) -> Result<(), FlowError> {
        let args = A::from_json(self.names, parameters).map_err(FlowError::Invalid)?;
        (self.entry)(args)
    }
}

/// A program's deployments: applied together ([`Deployments::apply`]), served by the program
/// itself ([`Deployments::serve`]), and, in a process a worker started for one of their runs,
/// the code that runs it ([`Deployments::run_worker_run`]). [`Deployments::main`] does the
/// right one of deploying and running, so one `main` serves both.
#[derive(Default)]
pub struct Deployments {
    pub(crate) all: Vec<Box<dyn AnyDeployment>>,
    pub(crate) serve: super::serve::ServeOptions,
}

impl Deployments {
    /// No deployments yet.
    pub fn new() -> Deployments {
        Deployments::default()
    }

    /// Adds a deployment (its flow's arguments must be readable from JSON and have a schema).
    pub fn with<A: FlowParameters>(mut self, deployment: Deployment<A>) -> Deployments {
        self.all.push(Box::new(deployment));
        self
    }

    /// Creates or updates every deployment.
    pub fn apply(&self) -> Result<Vec<Deployed>, DeployError> {
        let engine = Engine::current()?;
        crate::block::block_on(self.apply_with(engine))
    }

    /// [`Deployments::apply`] for async code.
    pub async fn apply_async(&self) -> Result<Vec<Deployed>, DeployError> {
        let engine = Engine::current()?;
        self.apply_with(engine).await
    }

    pub(crate) async fn apply_with(
        &self,
        engine: Arc<Engine>,
    ) -> Result<Vec<Deployed>, DeployError> {
        let mut applied = Vec::with_capacity(self.all.len());
        for d in &self.all {
            applied.push(d.apply_with(engine.clone()).await?);
        }
        Ok(applied)
    }

    /// What a deployed program's `main` does: started by a worker for a run
    /// (`FLOWGATE_FLOW_RUN_ID` set), runs that run and exits 0 when it completed (or
    /// suspended), 1 otherwise; else applies every deployment and says what it deployed.
    pub fn main(self) -> ExitCode {
        if let Some(ran) = self.run_worker_run() {
            return match ran {
                Ok(()) | Err(FlowError::Suspended) => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("{e}");
                    ExitCode::FAILURE
                }
            };
        }
        match self.apply() {
            Ok(applied) => {
                for d in applied {
                    let place = match (&d.work_pool, &d.work_queue) {
                        (Some(p), Some(q)) => format!("work pool {p:?}, queue {q:?}"),
                        (Some(p), None) => format!("work pool {p:?}"),
                        _ => "no work pool (serve it)".to_owned(),
                    };
                    println!("Deployed {} ({}) to {place}", d.full_name(), d.id);
                }
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("{e}");
                ExitCode::FAILURE
            }
        }
    }

    /// When a worker started this process for a run (`FLOWGATE_FLOW_RUN_ID`), runs it: the
    /// deployment it belongs to is found among these, its parameters are read into the flow's
    /// arguments, and the flow reports into that run instead of creating one. `None` when no
    /// worker started this process.
    pub fn run_worker_run(&self) -> Option<Result<(), FlowError>> {
        let id = std::env::var(WORKER_RUN_ENV).ok()?;
        let id = match Uuid::parse_str(id.trim()) {
            Ok(id) => id,
            Err(e) => {
                return Some(Err(FlowError::Invalid(format!(
                    "{WORKER_RUN_ENV}={id:?} is not a flow run id: {e}"
                ))));
            }
        };
        let engine = match Engine::current() {
            Ok(e) => e,
            Err(e) => return Some(Err(FlowError::Infrastructure(e))),
        };
        Some(self.run_handed_out(&engine, id))
    }

    /// Runs the run `id` (handed to this process by a worker or by serving) as the flow of the
    /// deployment it belongs to.
    pub(crate) fn run_handed_out(&self, engine: &Arc<Engine>, id: Uuid) -> Result<(), FlowError> {
        let found = engine.block_on({
            let engine = engine.clone();
            async move { handed_out(&engine, id).await }
        });
        let (run, flow, deployment) = found.map_err(FlowError::Infrastructure)?;
        let Some(d) = self.find(&flow, deployment.as_deref()) else {
            let message = format!(
                "this program has no deployment {flow}/{} (it has {}); the run was handed to \
                 the wrong program",
                deployment.as_deref().unwrap_or("?"),
                self.names().join(", ")
            );
            fail(engine, id, &message);
            return Err(FlowError::Invalid(message));
        };
        let parameters = run.parameters.as_object().cloned().unwrap_or_default();
        let _installed = Engine::install(engine.clone());
        adopting(id, || d.call(&parameters)).inspect_err(|e| {
            // Parameters that cannot be read never reached the flow: the run says why.
            if let FlowError::Invalid(message) = e {
                fail(engine, id, message);
            }
        })
    }

    /// The deployment of `flow` named `deployment`; without a name, the only one of `flow`.
    fn find(&self, flow: &str, deployment: Option<&str>) -> Option<&dyn AnyDeployment> {
        let mut of_flow = self.all.iter().filter(|d| d.flow() == flow);
        match deployment {
            Some(name) => of_flow.find(|d| d.name() == name).map(|d| &**d),
            None => {
                let first = of_flow.next()?;
                of_flow.next().is_none().then_some(&**first)
            }
        }
    }

    fn names(&self) -> Vec<String> {
        self.all
            .iter()
            .map(|d| format!("{}/{}", d.flow(), d.name()))
            .collect()
    }
}

/// The run, its flow's name and its deployment's name.
async fn handed_out(
    engine: &Engine,
    id: Uuid,
) -> Result<(WireFlowRun, String, Option<String>), ApiError> {
    let run: WireFlowRun = engine
        .api
        .get("the flow run to run", &format!("/flow_runs/{id}"))
        .await?;
    let flow: Flow = engine
        .api
        .get("the run's flow", &format!("/flows/{}", run.flow_id))
        .await?;
    let deployment = match run.deployment_id {
        Some(d) => {
            let d: WireDeployment = engine
                .api
                .get("the run's deployment", &format!("/deployments/{d}"))
                .await?;
            Some(d.name)
        }
        None => None,
    };
    Ok((run, flow.name, deployment))
}

/// Ends the run Failed with `message` (best effort: the process's exit code says it too).
fn fail(engine: &Arc<Engine>, id: Uuid, message: &str) {
    let state = StateCreate {
        message: Some(message.to_owned()),
        ..StateCreate::new(StateType::Failed)
    };
    let api = engine.api.clone();
    let _ = engine.block_on(async move { api.set_flow_run_state(id, state).await });
}
