//! `/work_queues`: Prefect's pool-less view of work queues, which `prefect work-queue ls /
//! inspect / preview` read: every pool's queues by filter, a queue by id or by name, its
//! health, and a look at its due runs (nothing claimed: only a worker's poll of its pool hands
//! runs out).

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use flowgate_core::StateType;
use flowgate_core::work_queue::{DEFAULT_AGENT_POOL, HealthPolicy, pool_less_by_name};
use flowgate_store::StoreError;
use flowgate_store::model::{FlowRunFilter, FlowRunSort, Page, TimeRange, WorkQueueFilter};
use flowgate_wire::flow_runs::FlowRun;
use flowgate_wire::work_pools as wire;

use super::work_pools::update_queue_with;
use super::{invalid, parse_id};
use crate::app::AppState;
use crate::convert::filters::{page, work_queues};
use crate::convert::flow_runs::flow_run_out;
use crate::convert::work_pools::work_queue_out;
use crate::error::{ApiError, ApiResult, Body, OptionalBody};
use crate::extract::FilterBody;
use crate::openapi::{ApiRoutes, doc};

/// Runs a look at a queue returns when the caller does not say.
const DEFAULT_PREVIEW_LIMIT: u32 = 10;

pub fn routes() -> ApiRoutes {
    ApiRoutes::new("Work queues")
        .post(
            "/work_queues/filter",
            filter,
            doc("List the queues of every pool matching a filter, by pool name, then priority"),
        )
        .get(
            "/work_queues/name/{name}",
            read_by_name,
            doc("Read the queue of this name in the default work pool `default-agent-pool`, as Prefect does (when that pool does not exist, the first pool's by name)"),
        )
        .get("/work_queues/{id}", read, doc("Read a queue by id"))
        .patch(
            "/work_queues/{id}",
            update,
            doc("Change a queue by id").status(204, "changed"),
        )
        .delete(
            "/work_queues/{id}",
            delete,
            doc("Delete a queue by id").status(204, "deleted"),
        )
        .get(
            "/work_queues/{id}/status",
            status,
            doc("A queue's health: polled lately, and how many of its runs are late"),
        )
        .post(
            "/work_queues/{id}/get_runs",
            get_runs,
            doc("The queue's runs due by a time, earliest first; nothing is claimed"),
        )
}

async fn filter(
    State(app): State<AppState>,
    FilterBody(req): FilterBody<wire::WorkQueueFilterRequest>,
) -> ApiResult<Json<Vec<wire::WorkQueue>>> {
    let page = invalid(page(req.limit, req.offset))?;
    let filter = invalid(work_queues(req.work_queues))?;
    let queues = app
        .store
        .filter_work_queues(None, &filter, page, app.now())
        .await?;
    Ok(Json(queues.into_iter().map(work_queue_out).collect()))
}

/// Prefect's pool-less read by name: the queue of the default work pool
/// (`default-agent-pool`) when that pool exists, else the first pool's (by name) that has one
/// (`core::work_queue::pool_less_by_name`).
async fn read_by_name(
    State(app): State<AppState>,
    Path(name): Path<String>,
) -> ApiResult<Json<wire::WorkQueue>> {
    let filter = WorkQueueFilter {
        names: Some(vec![name.clone()]),
        ..Default::default()
    };
    let mut found = app
        .store
        .filter_work_queues(None, &filter, Page::default(), app.now())
        .await?;
    let default_exists = match app
        .store
        .read_work_pool(DEFAULT_AGENT_POOL, app.now())
        .await
    {
        Ok(_) => true,
        Err(StoreError::NotFound { .. }) => false,
        Err(e) => return Err(e.into()),
    };
    let pools: Vec<_> = found.iter().map(|q| q.work_pool_name.as_str()).collect();
    match pool_less_by_name(&name, &pools, default_exists) {
        Ok(at) => Ok(Json(work_queue_out(found.swap_remove(at)))),
        Err(missing) => Err(ApiError::NotFound(missing)),
    }
}

async fn read(
    State(app): State<AppState>,
    Path(id): Path<String>,
) -> ApiResult<Json<wire::WorkQueue>> {
    let id = parse_id(&id, "work queue")?;
    Ok(Json(work_queue_out(
        app.store.read_work_queue(id, app.now()).await?,
    )))
}

async fn update(
    State(app): State<AppState>,
    Path(id): Path<String>,
    Body(body): Body<wire::WorkQueueUpdate>,
) -> ApiResult<StatusCode> {
    update_queue_with(&app, parse_id(&id, "work queue")?, body).await
}

async fn delete(State(app): State<AppState>, Path(id): Path<String>) -> ApiResult<StatusCode> {
    app.store
        .delete_work_queue(parse_id(&id, "work queue")?)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Runs put in queue `id` (one of `state_names`, when given).
fn runs_in(id: uuid::Uuid, state_names: Option<Vec<String>>) -> FlowRunFilter {
    FlowRunFilter {
        work_queue: Some(WorkQueueFilter {
            ids: Some(vec![id]),
            ..Default::default()
        }),
        state_names,
        ..Default::default()
    }
}

async fn status(
    State(app): State<AppState>,
    Path(id): Path<String>,
) -> ApiResult<Json<wire::WorkQueueStatusDetail>> {
    let id = parse_id(&id, "work queue")?;
    let now = app.now();
    let queue = app.store.read_work_queue(id, now).await?;
    let late = app
        .store
        .count_flow_runs(&runs_in(id, Some(vec!["Late".to_owned()])))
        .await?;
    let late = u64::try_from(late).unwrap_or(0);
    let policy = HealthPolicy::DEFAULT;
    Ok(Json(wire::WorkQueueStatusDetail {
        healthy: policy.is_healthy(late, queue.last_polled, now),
        late_runs_count: late as i64,
        last_polled: queue.last_polled,
        health_check_policy: wire::WorkQueueHealthPolicy {
            maximum_late_runs: Some(policy.maximum_late_runs as i64),
            maximum_seconds_since_last_polled: Some(
                policy.maximum_seconds_since_last_polled as i64,
            ),
        },
    }))
}

async fn get_runs(
    State(app): State<AppState>,
    Path(id): Path<String>,
    OptionalBody(body): OptionalBody<wire::WorkQueueRuns>,
) -> ApiResult<Json<Vec<FlowRun>>> {
    let id = parse_id(&id, "work queue")?;
    let now = app.now();
    app.store.read_work_queue(id, now).await?;
    let limit = match body.limit {
        None => DEFAULT_PREVIEW_LIMIT,
        Some(l) => invalid(page(Some(l), None))?.limit,
    };
    let filter = FlowRunFilter {
        state_types: Some(vec![StateType::Scheduled]),
        expected_start_time: TimeRange {
            after: None,
            before: Some(body.scheduled_before.unwrap_or(now)),
        },
        ..runs_in(id, None)
    };
    let page = Page { limit, offset: 0 };
    let runs = app
        .store
        .filter_flow_runs(&filter, FlowRunSort::ExpectedStartTimeAsc, page)
        .await?;
    Ok(Json(
        runs.into_iter().map(|r| flow_run_out(r, now)).collect(),
    ))
}
