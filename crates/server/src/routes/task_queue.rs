//! `/flowgate/task_queue`: Flowgate's distributed task queue (not part of Prefect's API). A flow
//! enqueues a task call; task workers in any number of processes claim calls by task key under
//! a lease they renew, and report each outcome; the flow long-polls for it. A worker that dies
//! loses its lease and the call goes to another worker; one lost too often is Crashed.

use std::time::{Duration, Instant};

use tokio::sync::Notify;

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use flowgate_core::task_queue::QueueStatus;
use flowgate_wire::task_queue::{
    HeartbeatAnswer, QueuedTask, TaskClaim, TaskEnqueue, TaskFinish, TaskHeartbeat, TaskRead,
};

use super::{invalid, parse_id};
use crate::app::AppState;
use crate::convert::task_queue::{queued_in, queued_out};
use crate::convert::{plain_text, plain_texts};
use crate::error::{ApiError, ApiResult, Body};
use crate::openapi::{ApiRoutes, doc};
use crate::services::Shutdown;

/// Longest long-poll.
const MAX_WAIT: f64 = 60.0;

pub fn routes() -> ApiRoutes {
    ApiRoutes::new("Task queue (Flowgate)")
        .post(
            "/flowgate/task_queue/",
            enqueue,
            doc("Queue a task call for task workers").status(201, "queued"),
        )
        .post(
            "/flowgate/task_queue/claim",
            claim,
            doc("Claim queued calls of some task keys under a lease, waiting up to wait_seconds"),
        )
        .post(
            "/flowgate/task_queue/heartbeat",
            heartbeat,
            doc("Renew a worker's leases; answers the calls it still holds"),
        )
        .get(
            "/flowgate/task_queue/{id}",
            read,
            doc("Read a queued call; with wait_seconds, wait until it is done"),
        )
        .post(
            "/flowgate/task_queue/{id}/finish",
            finish,
            doc("Report a claimed call's result or error").status(204, "recorded"),
        )
}

async fn enqueue(
    State(app): State<AppState>,
    Body(body): Body<TaskEnqueue>,
) -> ApiResult<StatusCode> {
    if body.task_key.is_empty() {
        return Err(ApiError::Invalid("task_key must not be empty".into()));
    }
    invalid(plain_text("task_key", &body.task_key))?;
    app.store.enqueue_task(&queued_in(body), app.now()).await?;
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

/// Waits until `check` yields something, `wait` seconds pass, or the server shuts down
/// (`None` for the last two); wakes on queue changes, and at least every second (other server
/// replicas' changes are not signalled).
async fn long_poll<T, Fut>(
    queue: &Notify,
    mut shutdown: Shutdown,
    wait: f64,
    mut check: impl FnMut() -> Fut,
) -> ApiResult<Option<T>>
where
    Fut: std::future::Future<Output = ApiResult<Option<T>>>,
{
    let deadline = Instant::now() + Duration::from_secs_f64(wait);
    loop {
        let changed = queue.notified();
        if let Some(found) = check().await? {
            return Ok(Some(found));
        }
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() || shutdown.is_requested() {
            return Ok(None);
        }
        tokio::select! {
            _ = tokio::time::timeout(left.min(Duration::from_secs(1)), changed) => {}
            () = shutdown.requested() => return Ok(None),
        }
    }
}

async fn claim(
    State(app): State<AppState>,
    Body(body): Body<TaskClaim>,
) -> ApiResult<Json<Vec<QueuedTask>>> {
    if body.worker.is_empty() {
        return Err(ApiError::Invalid(
            "worker must name the claiming worker".into(),
        ));
    }
    invalid(plain_text("worker", &body.worker))?;
    for key in &body.task_keys {
        invalid(plain_text("task_keys", key))?;
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
    let claimed = long_poll(&app.queue, app.shutdown.clone(), wait, || {
        let (store, clock, body) = (app.store.clone(), app.clock.clone(), &body);
        async move {
            let now = clock.now();
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
    Ok(Json(claimed.into_iter().map(queued_out).collect()))
}

async fn heartbeat(
    State(app): State<AppState>,
    Body(body): Body<TaskHeartbeat>,
) -> ApiResult<Json<HeartbeatAnswer>> {
    let lease = bounded("lease_seconds", body.lease_seconds, 1.0, 3600.0)?;
    let now = app.now();
    let held = app
        .store
        .renew_leases(&body.ids, &body.worker, now.plus_seconds(lease), now)
        .await?;
    Ok(Json(HeartbeatAnswer { held }))
}

async fn finish(
    State(app): State<AppState>,
    Path(id): Path<String>,
    Body(body): Body<TaskFinish>,
) -> ApiResult<StatusCode> {
    let id = parse_id(&id, "queued task")?;
    invalid(plain_texts([
        ("worker", Some(body.worker.as_str())),
        ("error", body.error.as_deref()),
    ]))?;
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
            app.now(),
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

/// Reads a queued task; with `wait_seconds`, waits until it is done (or the wait ends).
async fn read(
    State(app): State<AppState>,
    Path(id): Path<String>,
    Query(q): Query<TaskRead>,
) -> ApiResult<Json<QueuedTask>> {
    let id = parse_id(&id, "queued task")?;
    let wait = bounded("wait_seconds", q.wait_seconds, 0.0, MAX_WAIT)?;
    let done = long_poll(&app.queue, app.shutdown.clone(), wait, || {
        let store = app.store.clone();
        async move {
            let task = store.read_queued_task(id).await?;
            Ok((task.status == QueueStatus::Done).then_some(task))
        }
    })
    .await?;
    let task = match done {
        Some(t) => t,
        None => app.store.read_queued_task(id).await?,
    };
    Ok(Json(queued_out(task)))
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::services::Services;

    #[tokio::test]
    async fn a_long_poll_ends_when_the_server_shuts_down() {
        let services = Services::default();
        let queue = Arc::new(Notify::new());
        let poll = tokio::spawn({
            let (queue, shutdown) = (queue.clone(), services.shutdown_signal());
            async move { long_poll(&queue, shutdown, MAX_WAIT, || async { Ok(None::<()>) }).await }
        });
        services.request_shutdown();
        let answer = tokio::time::timeout(Duration::from_secs(30), poll)
            .await
            .expect("the poll ends at shutdown, long before its 60 s wait");
        assert!(matches!(answer.unwrap(), Ok(None)));
    }
}
