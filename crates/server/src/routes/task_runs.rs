//! `/task_runs`. The `prefect` client reports task runs through events; these routes read them,
//! and create the one kind of task run the client does create over REST: a subflow's parent.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use flowgate_core::orchestration::Decision;
use flowgate_wire::filters::{TaskRunCountRequest, TaskRunFilterRequest};
use flowgate_wire::states::{OrchestrationResult, SetState};
use flowgate_wire::task_runs::{TaskRun, TaskRunCreate};

use super::{filter_body, invalid, parse_id};
use crate::app::{AppState, now};
use crate::convert::filters::{page, task_run_sort, task_runs};
use crate::convert::states::{orchestration, state_in};
use crate::convert::task_runs::{task_run_in, task_run_out};
use crate::error::{ApiResult, Body, OptionalBody};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/task_runs/", post(create))
        .route("/task_runs", post(create))
        .route("/task_runs/{id}", get(read))
        .route("/task_runs/filter", post(filter))
        .route("/task_runs/count", post(count))
        .route("/task_runs/{id}/set_state", post(set_state))
}

async fn create(
    State(app): State<AppState>,
    Body(body): Body<TaskRunCreate>,
) -> ApiResult<(StatusCode, Json<TaskRun>)> {
    let now = now();
    let (stored, event) = app
        .store
        .upsert_task_run(&task_run_in(body, now), now)
        .await?;
    app.publish([event]);
    Ok((StatusCode::CREATED, Json(task_run_out(stored))))
}

async fn read(State(app): State<AppState>, Path(id): Path<String>) -> ApiResult<Json<TaskRun>> {
    let run = app.store.read_task_run(parse_id(&id, "task run")?).await?;
    Ok(Json(task_run_out(run)))
}

async fn filter(
    State(app): State<AppState>,
    OptionalBody(body): OptionalBody,
) -> ApiResult<Json<Vec<TaskRun>>> {
    let req: TaskRunFilterRequest = filter_body(&body)?;
    let f = invalid(task_runs(req.flows, req.flow_runs, req.task_runs))?;
    let page = invalid(page(req.limit, req.offset))?;
    let runs = app
        .store
        .filter_task_runs(&f, task_run_sort(req.sort), page)
        .await?;
    Ok(Json(runs.into_iter().map(task_run_out).collect()))
}

async fn count(
    State(app): State<AppState>,
    OptionalBody(body): OptionalBody,
) -> ApiResult<Json<i64>> {
    let req: TaskRunCountRequest = filter_body(&body)?;
    let f = invalid(task_runs(req.flows, req.flow_runs, req.task_runs))?;
    Ok(Json(app.store.count_task_runs(&f).await?))
}

/// Task runs are orchestrated by the client; the server records the state it reports.
async fn set_state(
    State(app): State<AppState>,
    Path(id): Path<String>,
    Body(body): Body<SetState>,
) -> ApiResult<(StatusCode, Json<OrchestrationResult>)> {
    let id = parse_id(&id, "task run")?;
    let now = now();
    let (stored, event) = app
        .store
        .set_task_run_state(id, state_in(body.state, now), now)
        .await?;
    app.publish([event]);
    let result = orchestration(&Decision::Accept, Some(&stored.record.state));
    Ok((StatusCode::CREATED, Json(result)))
}
