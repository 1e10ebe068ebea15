//! The filters of Prefect's deployment model (`deployments`, `work_pools`, `work_queues` /
//! `work_pool_queues`), read like the run filters: `and_` only, lists bounded, each failure
//! naming its field.

use flowgate_store::model::{DeploymentFilter, WorkPoolFilter, WorkQueueFilter};
use flowgate_wire::deployments as dep;
use flowgate_wire::filters as wire;
use flowgate_wire::work_pools as pools;

use super::{Budget, R, and_only, flow_filter};

/// The deployments `f` (at `path`) selects, with `flows` (of the same body) on their flows.
pub(super) fn deployment_filter(
    path: &str,
    f: Option<dep::DeploymentFilter>,
    flows: Option<wire::FlowFilter>,
    pools: Option<pools::WorkPoolFilter>,
    budget: &Budget,
) -> R<Option<DeploymentFilter>> {
    if f.is_none() && flows.is_none() && pools.is_none() {
        return Ok(None);
    }
    let f = f.unwrap_or_default();
    and_only(path, f.operator)?;
    let name = f.name.unwrap_or_default();
    let pool_path = path.replace("deployments", "work_pools");
    let mut work_pool = work_pool_filter(&pool_path, pools, budget)?;
    if let Some(names) = f.work_pool_name.and_then(|n| n.any_) {
        let names = budget.values(&format!("{path}.work_pool_name.any_"), Some(names))?;
        let pool = work_pool.get_or_insert_with(Default::default);
        pool.names = match (pool.names.take(), names) {
            (Some(mut both), Some(names)) => {
                both.retain(|n| names.contains(n));
                Some(both)
            }
            (given, names) => given.or(names),
        };
    }
    let flow = flow_filter(&path.replace("deployments", "flows"), flows, budget)?;
    Ok(Some(DeploymentFilter {
        ids: budget.values(&format!("{path}.id.any_"), f.id.and_then(|i| i.any_))?,
        names: budget.values(&format!("{path}.name.any_"), name.any_)?,
        name_like: name.like_,
        tags_all: budget.patterns(&format!("{path}.tags.all_"), f.tags.and_then(|t| t.all_))?,
        work_queue_names: budget.values(
            &format!("{path}.work_queue_name.any_"),
            f.work_queue_name.and_then(|n| n.any_),
        )?,
        flow_ids: None,
        flow,
        work_pool,
        paused: f.paused.and_then(|p| p.eq_),
    }))
}

/// The pools `f` (at `path`) selects.
pub(super) fn work_pool_filter(
    path: &str,
    f: Option<pools::WorkPoolFilter>,
    budget: &Budget,
) -> R<Option<WorkPoolFilter>> {
    let Some(f) = f else {
        return Ok(None);
    };
    and_only(path, f.operator)?;
    Ok(Some(WorkPoolFilter {
        ids: budget.values(&format!("{path}.id.any_"), f.id.and_then(|i| i.any_))?,
        names: budget.values(&format!("{path}.name.any_"), f.name.and_then(|n| n.any_))?,
        types: budget.values(
            &format!("{path}.type.any_"),
            f.pool_type.and_then(|t| t.any_),
        )?,
    }))
}

/// The queues `f` (at `path`) selects.
pub(super) fn work_queue_filter(
    path: &str,
    f: Option<pools::WorkQueueFilter>,
    budget: &Budget,
) -> R<Option<WorkQueueFilter>> {
    let Some(f) = f else {
        return Ok(None);
    };
    and_only(path, f.operator)?;
    let name = f.name.unwrap_or_default();
    Ok(Some(WorkQueueFilter {
        ids: budget.values(&format!("{path}.id.any_"), f.id.and_then(|i| i.any_))?,
        names: budget.values(&format!("{path}.name.any_"), name.any_)?,
        name_prefixes: budget.patterns(&format!("{path}.name.startswith_"), name.startswith_)?,
        work_pool: None,
    }))
}

/// The deployments a `/deployments/filter` or `/count` body selects.
pub fn deployments(req: dep::DeploymentFilterRequest) -> R<DeploymentFilter> {
    let budget = Budget::new();
    let found = deployment_filter(
        "body.deployments",
        req.deployments,
        req.flows,
        req.work_pools,
        &budget,
    )?;
    Ok(found.unwrap_or_default())
}

/// The pools a `work_pools` filter selects.
pub fn work_pools(f: Option<pools::WorkPoolFilter>) -> R<WorkPoolFilter> {
    let found = work_pool_filter("body.work_pools", f, &Budget::new())?;
    Ok(found.unwrap_or_default())
}

/// The queues a `work_queues` filter selects.
pub fn work_queues(f: Option<pools::WorkQueueFilter>) -> R<WorkQueueFilter> {
    let found = work_queue_filter("body.work_queues", f, &Budget::new())?;
    Ok(found.unwrap_or_default())
}
