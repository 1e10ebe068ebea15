//! `/flowgate/task_queue`: Flowgate's distributed task queue (not part of Prefect's API). A flow
//! enqueues a task call; task workers in any number of processes claim calls by task key under
//! a lease they renew, and report each outcome; the flow long-polls for it. A worker that dies
//! loses its lease and the call goes to another worker; one lost too often is Crashed.

use std::time::{Duration, Instant};

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use flowgate_core::Micros;
use flowgate_store::model::QueuedTask;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use uuid::Uuid;

use super::parse_id;
use crate::app::{AppState, now};
use crate::error::{ApiError, ApiResult, Body};

/// Longest long-poll.
const MAX_WAIT: f64 = 60.0;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/flowgate/task_queue/", post(enqueue))
        .route("/flowgate/task_queue", post(enqueue))
        .route("/flowgate/task_queue/claim", post(claim))
        .route("/flowgate/task_queue/heartbeat", post(heartbeat))
        .route("/flowgate/task_queue/{id}", get(read))
        .route("/flowgate/task_queue/{id}/finish", post(finish))
}

#[derive(Deserialize)]
struct EnqueueIn {
    id: Uuid,
    task_key: String,
    flow_run_id: Option<Uuid>,
    #[serde(default)]
    parameters: Value,
}

#[derive(Serialize)]
struct QueuedOut {
    id: Uuid,
    task_key: String,
    flow_run_id: Option<Uuid>,
    parameters: Value,
    status: String,
    worker: Option<String>,
    lease_until: Option<Micros>,
    attempts: i64,
    result: Option<Value>,
    error: Option<String>,
}

impl From<QueuedTask> for QueuedOut {
    fn from(t: QueuedTask) -> Self {
        QueuedOut {
            id: t.id,
            task_key: t.task_key,
            flow_run_id: t.flow_run_id,
            parameters: t.parameters,
            status: t.status,
            worker: t.worker,
            lease_until: t.lease_until,
            attempts: t.attempts,
            result: t.result,
            error: t.error,
        }
    }
}

async fn enqueue(
    State(app): State<AppState>,
    Body(body): Body<EnqueueIn>,
) -> ApiResult<StatusCode> {
    if body.task_key.is_empty() {
        return Err(ApiError::Invalid("task_key must not be empty".into()));
    }
    let task = QueuedTask {
        id: body.id,
        task_key: body.task_key,
        flow_run_id: body.flow_run_id,
        parameters: if body.parameters.is_null() {
            json!({})
        } else {
            body.parameters
        },
        status: "queued".into(),
        worker: None,
        lease_until: None,
        attempts: 0,
        result: None,
        error: None,
    };
    app.store.enqueue_task(&task, now()).await?;
    app.queue.notify_waiters();
    Ok(StatusCode::CREATED)
}

fn bounded(name: &str, v: f64, lo: f64, hi: f64) -> ApiResult<f64> {
    if v.is_finite() && (lo..=hi).contains(&v) {
        Ok(v)
    } else {
        Err(ApiError::Invalid(format!(
            "{name} must be between {lo} and {hi}, got {v}"
        )))
    }
}

#[derive(Deserialize)]
struct ClaimIn {
    task_keys: Vec<String>,
    worker: String,
    #[serde(default = "one")]
    limit: u32,
    #[serde(default = "thirty")]
    lease_seconds: f64,
    #[serde(default)]
    wait_seconds: f64,
    #[serde(default = "three")]
    max_attempts: i64,
}

fn one() -> u32 {
    1
}
fn thirty() -> f64 {
    30.0
}
fn three() -> i64 {
    3
}

/// Waits until `check` yields something or `wait` passes; wakes on queue changes, and at least
/// every second (other server replicas' changes are not signalled).
async fn long_poll<T, Fut>(
    app: &AppState,
    wait: f64,
    mut check: impl FnMut() -> Fut,
) -> ApiResult<Option<T>>
where
    Fut: std::future::Future<Output = ApiResult<Option<T>>>,
{
    let deadline = Instant::now() + Duration::from_secs_f64(wait);
    loop {
        let changed = app.queue.notified();
        if let Some(found) = check().await? {
            return Ok(Some(found));
        }
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Ok(None);
        }
        let _ = tokio::time::timeout(left.min(Duration::from_secs(1)), changed).await;
    }
}

async fn claim(
    State(app): State<AppState>,
    Body(body): Body<ClaimIn>,
) -> ApiResult<Json<Vec<QueuedOut>>> {
    if body.worker.is_empty() {
        return Err(ApiError::Invalid(
            "worker must name the claiming worker".into(),
        ));
    }
    if body.limit == 0 || body.limit > 100 {
        return Err(ApiError::Invalid(format!(
            "limit must be between 1 and 100, got {}",
            body.limit
        )));
    }
    let lease = bounded("lease_seconds", body.lease_seconds, 1.0, 3600.0)?;
    let wait = bounded("wait_seconds", body.wait_seconds, 0.0, MAX_WAIT)?;
    if body.max_attempts < 1 {
        return Err(ApiError::Invalid("max_attempts must be at least 1".into()));
    }
    let claimed = long_poll(&app, wait, || {
        let (store, body) = (app.store.clone(), &body);
        async move {
            let now = now();
            let got = store
                .claim_tasks(
                    &body.task_keys,
                    &body.worker,
                    body.limit,
                    now.plus_seconds(lease),
                    body.max_attempts,
                    now,
                )
                .await?;
            Ok((!got.is_empty()).then_some(got))
        }
    })
    .await?
    .unwrap_or_default();
    Ok(Json(claimed.into_iter().map(QueuedOut::from).collect()))
}

#[derive(Deserialize)]
struct HeartbeatIn {
    worker: String,
    ids: Vec<Uuid>,
    #[serde(default = "thirty")]
    lease_seconds: f64,
}

async fn heartbeat(
    State(app): State<AppState>,
    Body(body): Body<HeartbeatIn>,
) -> ApiResult<Json<Value>> {
    let lease = bounded("lease_seconds", body.lease_seconds, 1.0, 3600.0)?;
    let now = now();
    let held = app
        .store
        .renew_leases(&body.ids, &body.worker, now.plus_seconds(lease), now)
        .await?;
    Ok(Json(json!({"held": held})))
}

#[derive(Deserialize)]
struct FinishIn {
    worker: String,
    result: Option<Value>,
    error: Option<String>,
}

async fn finish(
    State(app): State<AppState>,
    Path(id): Path<String>,
    Body(body): Body<FinishIn>,
) -> ApiResult<StatusCode> {
    let id = parse_id(&id, "queued task")?;
    if body.result.is_some() == body.error.is_some() {
        return Err(ApiError::Invalid(
            "send exactly one of result and error".into(),
        ));
    }
    let finished = app
        .store
        .finish_task(
            id,
            &body.worker,
            body.result.as_ref(),
            body.error.as_deref(),
            now(),
        )
        .await?;
    if !finished {
        return Err(ApiError::Conflict(format!(
            "worker {} does not hold task {id} (its lease expired, or another worker finished it)",
            body.worker
        )));
    }
    app.queue.notify_waiters();
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize)]
struct ReadQuery {
    #[serde(default)]
    wait_seconds: f64,
}

/// Reads a queued task; with `wait_seconds`, waits until it is done (or the wait ends).
async fn read(
    State(app): State<AppState>,
    Path(id): Path<String>,
    Query(q): Query<ReadQuery>,
) -> ApiResult<Json<QueuedOut>> {
    let id = parse_id(&id, "queued task")?;
    let wait = bounded("wait_seconds", q.wait_seconds, 0.0, MAX_WAIT)?;
    let done = long_poll(&app, wait, || {
        let store = app.store.clone();
        async move {
            let task = store.read_queued_task(id).await?;
            Ok((task.status == "done").then_some(task))
        }
    })
    .await?;
    let task = match done {
        Some(t) => t,
        None => app.store.read_queued_task(id).await?,
    };
    Ok(Json(task.into()))
}
