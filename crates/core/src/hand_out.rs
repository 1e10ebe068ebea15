//! The hand-out decision: which due runs a polling worker gets.
//!
//! The rules, all applied to one snapshot the store takes in the same transaction that claims the
//! runs:
//! - a paused pool hands out nothing; paused queues and paused deployments hand out nothing;
//! - runs go out in queue priority order (1 first), earliest scheduled first within a priority (so
//!   a run that waited for a slot keeps its place), then by id;
//! - never past the pool's, a queue's or a deployment's concurrency limit, counting the runs that
//!   hold a slot now (Pending, Running, Cancelling, and runs handed out but not yet started). A
//!   limit lowered below what is active hands out nothing until enough finish (Prefect #19404);
//! - a deployment whose limit is full is skipped, never blocking the runs behind it (Prefect
//!   #19403): its runs wait (`ENQUEUE`) or are cancelled (`CANCEL_NEW`);
//! - at most `max_runs` runs per call (the worker's own capacity).

use std::collections::HashMap;

use uuid::Uuid;

use crate::deployment::CollisionStrategy;
use crate::time::Micros;

/// A concurrency limit and what currently holds its slots.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Slots {
    /// The limit; `None` is unlimited.
    pub limit: Option<u32>,
    /// Runs holding a slot now.
    pub active: u32,
}

impl Slots {
    /// Slots left (`None`: unlimited). Zero when the limit was lowered below `active`.
    pub fn free(self) -> Option<u32> {
        self.limit.map(|l| l.saturating_sub(self.active))
    }

    fn has_room(self, taken: u32) -> bool {
        self.free().is_none_or(|free| taken < free)
    }
}

/// A queue of the polled pool.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct QueueSnapshot {
    /// The queue.
    pub id: Uuid,
    /// Its priority (1 is highest).
    pub priority: u32,
    /// A paused queue hands out nothing.
    pub paused: bool,
    /// Its flow-run concurrency limit.
    pub slots: Slots,
}

/// A deployment with runs among the due ones. Deployments not listed have no limit and are not
/// paused.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct DeploymentSnapshot {
    /// The deployment.
    pub id: Uuid,
    /// A paused deployment's runs are not handed out.
    pub paused: bool,
    /// Its concurrency limit.
    pub slots: Slots,
    /// What happens to a run when the limit is full.
    pub collision: CollisionStrategy,
}

/// A run waiting in one of the pool's queues, due before the worker's horizon.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct DueRun {
    /// The flow run.
    pub id: Uuid,
    /// Its queue.
    pub queue_id: Uuid,
    /// Its deployment, if it has one.
    pub deployment_id: Option<Uuid>,
    /// When it is due (its original scheduled time: waiting does not lose its place).
    pub scheduled_time: Micros,
}

/// Everything the decision needs.
#[derive(Clone, Copy, Debug)]
pub struct HandOutRequest<'a> {
    /// The pool is paused.
    pub pool_paused: bool,
    /// The pool's concurrency limit.
    pub pool_slots: Slots,
    /// The queues the worker polls (runs of other queues are not candidates).
    pub queues: &'a [QueueSnapshot],
    /// Deployments with limits or pauses.
    pub deployments: &'a [DeploymentSnapshot],
    /// Candidate runs, in any order.
    pub due: &'a [DueRun],
    /// The most runs to hand out in this call.
    pub max_runs: usize,
}

/// A run cancelled because its deployment's limit was full and its strategy is `CANCEL_NEW`.
#[derive(Clone, Debug, PartialEq)]
pub struct Cancellation {
    /// The run.
    pub run_id: Uuid,
    /// The message for its Cancelled state.
    pub reason: String,
}

/// The decision: runs to hand to the worker, in order, and runs to cancel.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct HandOut {
    /// Runs for the worker, highest priority and earliest first.
    pub runs: Vec<Uuid>,
    /// Runs to move to Cancelled.
    pub cancel: Vec<Cancellation>,
}

/// Decides which due runs go to the polling worker.
pub fn hand_out(req: HandOutRequest<'_>) -> HandOut {
    let mut out = HandOut::default();
    if req.pool_paused || req.max_runs == 0 {
        return out;
    }
    let queues: HashMap<Uuid, &QueueSnapshot> = req.queues.iter().map(|q| (q.id, q)).collect();
    let deployments: HashMap<Uuid, &DeploymentSnapshot> =
        req.deployments.iter().map(|d| (d.id, d)).collect();

    let mut order: Vec<(&DueRun, &QueueSnapshot)> = req
        .due
        .iter()
        .filter_map(|run| queues.get(&run.queue_id).map(|q| (run, *q)))
        .collect();
    order.sort_by_key(|(run, q)| (q.priority, run.scheduled_time, run.id));

    let mut pool_taken = 0u32;
    let mut queue_taken: HashMap<Uuid, u32> = HashMap::new();
    let mut deployment_taken: HashMap<Uuid, u32> = HashMap::new();
    for (run, queue) in order {
        if out.runs.len() >= req.max_runs || !req.pool_slots.has_room(pool_taken) {
            break;
        }
        let in_queue = queue_taken.entry(queue.id).or_default();
        if queue.paused || !queue.slots.has_room(*in_queue) {
            continue;
        }
        if let Some(dep) = run.deployment_id.and_then(|d| deployments.get(&d)) {
            let in_dep = deployment_taken.entry(dep.id).or_default();
            if dep.paused {
                continue;
            }
            if !dep.slots.has_room(*in_dep) {
                if dep.collision == CollisionStrategy::CancelNew {
                    out.cancel.push(Cancellation {
                        run_id: run.id,
                        reason: format!(
                            "Deployment concurrency limit of {} reached; the deployment's collision strategy CANCEL_NEW cancels new runs.",
                            dep.slots.limit.unwrap_or(0)
                        ),
                    });
                }
                continue;
            }
            *in_dep += 1;
        }
        *in_queue += 1;
        pool_taken += 1;
        out.runs.push(run.id);
    }
    out
}

#[cfg(test)]
#[path = "hand_out_tests.rs"]
mod tests;
