//! `/work_pools`, their `queues` and `workers`, and the hand-out
//! (`/work_pools/{name}/get_scheduled_flow_runs`, long-polled with Flowgate's `wait_seconds`).

use std::time::Duration;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use flowgate_core::pools::WorkerStatus;
use flowgate_store::model::{Page, Poll};
use flowgate_wire::work_pools as wire;

use super::invalid;
use crate::app::AppState;
use crate::convert::filters::{MAX_LIMIT, page, work_pools, work_queues};
use crate::convert::work_pools::{
    handed_out, new_work_pool, new_work_queue, work_pool_out, work_pool_update, work_queue_out,
    work_queue_update, worker_out,
};
use crate::error::{ApiError, ApiResult, Body};
use crate::extract::FilterBody;
use crate::openapi::{ApiRoutes, doc};

/// Runs handed out per poll when the worker does not say.
const DEFAULT_POLL_LIMIT: usize = 100;
/// Longest long poll a worker may ask for.
const MAX_WAIT_SECONDS: f64 = 30.0;
/// How long a handed-out run stays claimed for its worker past its due time.
pub const CLAIM_SECONDS: f64 = 30.0;

pub fn routes() -> ApiRoutes {
    ApiRoutes::new("Work pools")
        .post(
            "/work_pools/",
            create_pool,
            doc("Create a work pool with its queue default").status(201, "the new pool"),
        )
        .post(
            "/work_pools/filter",
            filter_pools,
            doc("List work pools matching a filter"),
        )
        .post(
            "/work_pools/count",
            count_pools,
            doc("Count work pools matching a filter"),
        )
        .get(
            "/work_pools/{name}",
            read_pool,
            doc("Read a work pool by name"),
        )
        .patch(
            "/work_pools/{name}",
            update_pool,
            doc("Change a work pool (pause, limit, description, job template)")
                .status(204, "changed"),
        )
        .delete(
            "/work_pools/{name}",
            delete_pool,
            doc("Delete a work pool with its queues and workers").status(204, "deleted"),
        )
        .post(
            "/work_pools/{name}/queues/",
            create_queue,
            doc("Create a queue in a pool; other queues shift to make room for its priority")
                .status(201, "the new queue"),
        )
        .post(
            "/work_pools/{name}/queues/filter",
            filter_queues,
            doc("List a pool's queues by priority"),
        )
        .get(
            "/work_pools/{name}/queues/{queue}",
            read_queue,
            doc("Read a queue by pool and name"),
        )
        .patch(
            "/work_pools/{name}/queues/{queue}",
            update_queue,
            doc("Change a queue (name, description, limit, priority, pause)")
                .status(204, "changed"),
        )
        .delete(
            "/work_pools/{name}/queues/{queue}",
            delete_queue,
            doc("Delete a queue (not a pool's default queue)").status(204, "deleted"),
        )
        .post(
            "/work_pools/{name}/workers/heartbeat",
            heartbeat,
            doc("Record a worker's heartbeat").status(204, "recorded"),
        )
        .post(
            "/work_pools/{name}/workers/filter",
            filter_workers,
            doc("List a pool's workers, most recently heard from first"),
        )
        .delete(
            "/work_pools/{name}/workers/{worker}",
            delete_worker,
            doc("Forget a worker").status(204, "deleted"),
        )
        .post(
            "/work_pools/{name}/get_scheduled_flow_runs",
            get_scheduled_flow_runs,
            doc("Hand due runs to a polling worker, by queue priority and within every limit")
                .describe(
                    "Each run is claimed for the worker that names itself (`worker_name`, or the \
                     `X-Prefect-Worker-Name` header Prefect's workers send): it is not handed out \
                     again unless the worker never starts it. A caller that names no worker only \
                     looks (`prefect work-pool preview`). Flowgate's `wait_seconds` makes this a \
                     long poll.",
                ),
        )
}

async fn create_pool(
    State(app): State<AppState>,
    Body(body): Body<wire::WorkPoolCreate>,
) -> ApiResult<(StatusCode, Json<wire::WorkPool>)> {
    let new = invalid(new_work_pool(body))?;
    let pool = app.store.create_work_pool(new, app.now()).await?;
    Ok((StatusCode::CREATED, Json(work_pool_out(pool))))
}

async fn read_pool(
    State(app): State<AppState>,
    Path(name): Path<String>,
) -> ApiResult<Json<wire::WorkPool>> {
    Ok(Json(work_pool_out(
        app.store.read_work_pool(&name, app.now()).await?,
    )))
}

async fn update_pool(
    State(app): State<AppState>,
    Path(name): Path<String>,
    Body(body): Body<wire::WorkPoolUpdate>,
) -> ApiResult<StatusCode> {
    let update = invalid(work_pool_update(body))?;
    app.store.update_work_pool(&name, update, app.now()).await?;
    app.work.notify_waiters();
    Ok(StatusCode::NO_CONTENT)
}

async fn delete_pool(
    State(app): State<AppState>,
    Path(name): Path<String>,
) -> ApiResult<StatusCode> {
    app.store.delete_work_pool(&name).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn filter_pools(
    State(app): State<AppState>,
    FilterBody(req): FilterBody<wire::WorkPoolFilterRequest>,
) -> ApiResult<Json<Vec<wire::WorkPool>>> {
    let page = invalid(page(req.limit, req.offset))?;
    let pools = app
        .store
        .filter_work_pools(&invalid(work_pools(req.work_pools))?, page, app.now())
        .await?;
    Ok(Json(pools.into_iter().map(work_pool_out).collect()))
}

async fn count_pools(
    State(app): State<AppState>,
    FilterBody(req): FilterBody<wire::WorkPoolFilterRequest>,
) -> ApiResult<Json<i64>> {
    Ok(Json(
        app.store
            .count_work_pools(&invalid(work_pools(req.work_pools))?)
            .await?,
    ))
}

async fn create_queue(
    State(app): State<AppState>,
    Path(pool): Path<String>,
    Body(body): Body<wire::WorkQueueCreate>,
) -> ApiResult<(StatusCode, Json<wire::WorkQueue>)> {
    let new = invalid(new_work_queue(body))?;
    let queue = app.store.create_work_queue(&pool, new, app.now()).await?;
    Ok((StatusCode::CREATED, Json(work_queue_out(queue))))
}

async fn filter_queues(
    State(app): State<AppState>,
    Path(pool): Path<String>,
    FilterBody(req): FilterBody<wire::WorkQueueFilterRequest>,
) -> ApiResult<Json<Vec<wire::WorkQueue>>> {
    let page = invalid(page(req.limit, req.offset))?;
    let filter = invalid(work_queues(req.work_queues))?;
    let queues = app
        .store
        .filter_work_queues(Some(&pool), &filter, page, app.now())
        .await?;
    Ok(Json(queues.into_iter().map(work_queue_out).collect()))
}

async fn read_queue(
    State(app): State<AppState>,
    Path((pool, queue)): Path<(String, String)>,
) -> ApiResult<Json<wire::WorkQueue>> {
    let found = app
        .store
        .read_work_queue_by_name(&pool, &queue, app.now())
        .await?;
    Ok(Json(work_queue_out(found)))
}

async fn update_queue(
    State(app): State<AppState>,
    Path((pool, queue)): Path<(String, String)>,
    Body(body): Body<wire::WorkQueueUpdate>,
) -> ApiResult<StatusCode> {
    let id = app
        .store
        .read_work_queue_by_name(&pool, &queue, app.now())
        .await?
        .id;
    update_queue_with(&app, id, body).await
}

async fn delete_queue(
    State(app): State<AppState>,
    Path((pool, queue)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    let id = app
        .store
        .read_work_queue_by_name(&pool, &queue, app.now())
        .await?
        .id;
    app.store.delete_work_queue(id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Applies a queue change and wakes waiting workers (a resumed queue or a raised limit may
/// free runs).
pub(super) async fn update_queue_with(
    app: &AppState,
    id: uuid::Uuid,
    body: wire::WorkQueueUpdate,
) -> ApiResult<StatusCode> {
    let update = invalid(work_queue_update(body))?;
    app.store.update_work_queue(id, update, app.now()).await?;
    app.work.notify_waiters();
    Ok(StatusCode::NO_CONTENT)
}

async fn heartbeat(
    State(app): State<AppState>,
    Path(pool): Path<String>,
    Body(body): Body<wire::WorkerHeartbeat>,
) -> ApiResult<StatusCode> {
    if body.name.trim().is_empty() {
        return Err(ApiError::Invalid("name: a worker needs a name".into()));
    }
    app.store
        .worker_heartbeat(
            &pool,
            &body.name,
            body.heartbeat_interval_seconds,
            app.now(),
        )
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn filter_workers(
    State(app): State<AppState>,
    Path(pool): Path<String>,
    FilterBody(req): FilterBody<wire::WorkerFilterRequest>,
) -> ApiResult<Json<Vec<wire::Worker>>> {
    let statuses = match req.workers.and_then(|w| w.status).and_then(|s| s.any_) {
        None => None,
        Some(names) => Some(
            names
                .iter()
                .map(|n| {
                    WorkerStatus::parse(n).ok_or_else(|| {
                        ApiError::Invalid(format!(
                            "workers.status.any_: {n:?} is not a worker status; use ONLINE or OFFLINE"
                        ))
                    })
                })
                .collect::<ApiResult<Vec<_>>>()?,
        ),
    };
    let page = invalid(page(req.limit, req.offset))?;
    let workers = app
        .store
        .filter_workers(
            &pool,
            Page {
                limit: MAX_LIMIT,
                offset: 0,
            },
            app.now(),
        )
        .await?;
    let matching = workers
        .into_iter()
        .filter(|w| statuses.as_ref().is_none_or(|s| s.contains(&w.status)))
        .skip(page.offset as usize)
        .take(page.limit as usize)
        .map(worker_out)
        .collect();
    Ok(Json(matching))
}

async fn delete_worker(
    State(app): State<AppState>,
    Path((pool, worker)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    app.store.delete_worker(&pool, &worker).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The header the `prefect` client's workers name themselves in.
const WORKER_NAME_HEADER: &str = "x-prefect-worker-name";

/// Due runs for a worker, claimed for it: a worker names itself (Flowgate's `worker_name`, or
/// the header Prefect's workers send). A caller that does not (`prefect work-pool preview`)
/// only looks: it sees the same runs and claims none.
async fn get_scheduled_flow_runs(
    State(app): State<AppState>,
    Path(pool): Path<String>,
    headers: HeaderMap,
    FilterBody(req): FilterBody<wire::GetScheduledFlowRuns>,
) -> ApiResult<Json<Vec<wire::WorkerFlowRun>>> {
    let worker = req.worker_name.clone().or_else(|| {
        let named = headers.get(WORKER_NAME_HEADER)?.to_str().ok()?;
        Some(named.to_owned())
    });
    let limit = match req.limit {
        None => DEFAULT_POLL_LIMIT,
        Some(l) if l >= 0 => l as usize,
        Some(l) => {
            return Err(ApiError::Invalid(format!(
                "limit: {l} is negative; give 0 or more, or leave it out"
            )));
        }
    };
    let wait = req.wait_seconds.unwrap_or(0.0).clamp(0.0, MAX_WAIT_SECONDS);
    let deadline = tokio::time::Instant::now() + Duration::from_secs_f64(wait);
    let mut shutdown = app.shutdown.clone();
    loop {
        // Register for a wake-up before looking, so work that arrives meanwhile is not missed.
        let woken = app.work.notified();
        let now = app.now();
        let poll = Poll {
            pool: pool.clone(),
            queue_names: req.work_queue_names.clone().unwrap_or_default(),
            scheduled_before: Some(req.scheduled_before.unwrap_or(now)),
            scheduled_after: req.scheduled_after,
            limit,
            worker: worker.clone(),
            lease_seconds: CLAIM_SECONDS,
        };
        let (runs, events) = app.store.get_scheduled_flow_runs(&poll, now).await?;
        app.publish(events);
        if !runs.is_empty() || tokio::time::Instant::now() >= deadline {
            handed_out_counter(&app).add(runs.len() as u64);
            return Ok(Json(
                runs.into_iter()
                    .map(|h| handed_out(h, &pool, now))
                    .collect(),
            ));
        }
        // Runs already in line become due without a wake-up: look again within a second.
        let next = deadline.min(tokio::time::Instant::now() + Duration::from_secs(1));
        tokio::select! {
            _ = woken => {}
            _ = tokio::time::sleep_until(next) => {}
            _ = shutdown.requested() => return Ok(Json(Vec::new())),
        }
    }
}

/// `flowgate_flow_runs_handed_out_total`: runs given to polling workers and serving processes.
pub(super) fn handed_out_counter(app: &AppState) -> crate::metrics::Counter {
    app.metrics.counter(
        "flowgate_flow_runs_handed_out_total",
        "Flow runs handed to workers and serving processes that polled for them",
        &[],
    )
}
