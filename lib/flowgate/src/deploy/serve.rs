//! Serving: the program itself runs its deployments' runs, as Prefect's `flow.serve()` does.
//! It applies them, then asks the server for their due runs
//! (`/deployments/get_scheduled_flow_runs`, which claims each run for this process) and runs
//! each on a thread of its own, at most `limit` at once, as that very run.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use flowgate_wire::Micros;
use flowgate_wire::deployments::DeploymentScheduledRuns;
use flowgate_wire::flow_runs::FlowRun;

use super::builder::{DeployError, Deployment};
use super::params::FlowParameters;
use super::run::Deployments;
use crate::engine::Engine;

/// How often a serving program asks for due runs, unless told otherwise.
const POLL: Duration = Duration::from_secs(1);

/// How a program serves its deployments: at most `limit` runs at once, asking every `poll`.
#[derive(Clone, Copy, Debug)]
pub(crate) struct ServeOptions {
    pub limit: usize,
    pub poll: Duration,
}

impl Default for ServeOptions {
    fn default() -> Self {
        ServeOptions {
            limit: 8,
            poll: POLL,
        }
    }
}

impl Deployments {
    /// At most `runs` of the served runs at once (8 by default).
    pub fn limit(mut self, runs: usize) -> Deployments {
        self.serve.limit = runs.max(1);
        self
    }

    /// How often serving asks the server for due runs (every second by default).
    pub fn poll_interval(mut self, every: Duration) -> Deployments {
        self.serve.poll = every.max(Duration::from_millis(10));
        self
    }

    /// Applies the deployments and runs their runs in this process until the program ends:
    /// runs asked for (`run_deployment`, the CLI, the UI) and those their schedules create.
    /// Returns only when applying them fails. Only runs of deployments without a work pool are
    /// handed to a serving program: a deployment given a pool is run by that pool's workers.
    pub fn serve(self) -> Result<(), DeployError> {
        let engine = Engine::current()?;
        crate::block::block_on(Arc::new(self).serve_with(engine))
    }

    /// [`Deployments::serve`] for async code: serving stops when the future is dropped (runs
    /// in progress go on to their end).
    pub async fn serve_async(self) -> Result<(), DeployError> {
        let engine = Engine::current()?;
        Arc::new(self).serve_with(engine).await
    }

    async fn serve_with(self: Arc<Self>, engine: Arc<Engine>) -> Result<(), DeployError> {
        let applied = self.apply_with(engine.clone()).await?;
        let names: Vec<String> = applied.iter().map(|d| d.full_name()).collect();
        tracing::info!(target: "flowgate", "Serving {}", names.join(", "));
        let ids: Vec<_> = applied.iter().map(|d| d.id).collect();
        let running = Arc::new(AtomicUsize::new(0));
        let ServeOptions { limit, poll } = self.serve;
        loop {
            let free = limit.saturating_sub(running.load(Ordering::SeqCst));
            let due = match free {
                0 => Vec::new(),
                free => match due_runs(&engine, &ids, free).await {
                    Ok(due) => due,
                    Err(e) => {
                        tracing::warn!(target: "flowgate", "serving: {e}; asking again");
                        Vec::new()
                    }
                },
            };
            for run in due {
                let slot = Slot::take(&running);
                let (set, engine) = (self.clone(), engine.clone());
                std::thread::spawn(move || {
                    let _slot = slot;
                    match set.run_handed_out(&engine, run.id) {
                        Ok(()) | Err(crate::FlowError::Suspended) => {}
                        Err(e) => {
                            tracing::warn!(target: "flowgate", "served run {}: {e}", run.name)
                        }
                    }
                });
            }
            engine.sleep(poll).await;
        }
    }
}

/// One of the `limit` runs at once, given back when the run's thread ends (however it ends).
struct Slot(Arc<AtomicUsize>);

impl Slot {
    fn take(running: &Arc<AtomicUsize>) -> Slot {
        running.fetch_add(1, Ordering::SeqCst);
        Slot(running.clone())
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Up to `limit` due runs of the deployments `ids`, claimed for this process.
async fn due_runs(
    engine: &Arc<Engine>,
    ids: &[uuid::Uuid],
    limit: usize,
) -> Result<Vec<FlowRun>, crate::ApiError> {
    let body = DeploymentScheduledRuns {
        deployment_ids: ids.to_vec(),
        scheduled_before: Some(Micros::from_timestamp(jiff::Timestamp::now())),
        limit: Some(i64::try_from(limit).unwrap_or(i64::MAX)),
    };
    let api = engine.api.clone();
    engine
        .run(async move {
            api.post(
                "the served deployments' due runs",
                "/deployments/get_scheduled_flow_runs",
                &body,
            )
            .await
        })
        .await
}

impl<A: FlowParameters> Deployment<A> {
    /// Applies this deployment and runs its runs in this process (see [`Deployments::serve`]).
    pub fn serve(self) -> Result<(), DeployError> {
        Deployments::new().with(self).serve()
    }
}
