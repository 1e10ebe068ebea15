//! `/task_runs`. The `prefect` client reports task runs through events; these routes read them,
//! and create the one kind of task run the client does create over REST: a subflow's parent.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use flowgate_core::orchestration::Decision;
use flowgate_wire::filters::{TaskRunCountRequest, TaskRunFilterRequest};
use flowgate_wire::states::{OrchestrationResult, SetState};
use flowgate_wire::task_runs::{TaskRun, TaskRunCreate};

use super::{invalid, parse_id};
use crate::app::AppState;
use crate::convert::filters::{page, task_run_sort, task_runs};
use crate::convert::states::{orchestration, state_in};
use crate::convert::task_runs::{task_run_in, task_run_out};
use crate::error::{ApiResult, Body};
use crate::extract::FilterBody;
use crate::openapi::{ApiRoutes, doc};

pub fn routes() -> ApiRoutes {
    ApiRoutes::new("Task runs")
        .post(
            "/task_runs/",
            create,
            doc("Create or update a task run (a subflow's parent task run)")
                .status(201, "the task run as stored"),
        )
        .get("/task_runs/{id}", read, doc("Read a task run"))
        .post(
            "/task_runs/filter",
            filter,
            doc("List task runs matching a filter"),
        )
        .post(
            "/task_runs/count",
            count,
            doc("Count task runs matching a filter"),
        )
        .post(
            "/task_runs/{id}/set_state",
            set_state,
            doc("Record a task run's state (task runs are orchestrated by the client)")
                .status(201, "accepted"),
        )
}

async fn create(
    State(app): State<AppState>,
    Body(body): Body<TaskRunCreate>,
) -> ApiResult<(StatusCode, Json<TaskRun>)> {
    let now = app.now();
    let (stored, event) = app
        .store
        .upsert_task_run(&invalid(task_run_in(body, now))?, now)
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
    FilterBody(req): FilterBody<TaskRunFilterRequest>,
) -> ApiResult<Json<Vec<TaskRun>>> {
    let f = invalid(task_runs(
        req.flows,
        req.flow_runs,
        req.task_runs,
        req.deployments,
    ))?;
    let page = invalid(page(req.limit, req.offset))?;
    let runs = app
        .store
        .filter_task_runs(&f, task_run_sort(req.sort), page)
        .await?;
    Ok(Json(runs.into_iter().map(task_run_out).collect()))
}

async fn count(
    State(app): State<AppState>,
    FilterBody(req): FilterBody<TaskRunCountRequest>,
) -> ApiResult<Json<i64>> {
    let f = invalid(task_runs(
        req.flows,
        req.flow_runs,
        req.task_runs,
        req.deployments,
    ))?;
    Ok(Json(app.store.count_task_runs(&f).await?))
}

/// Task runs are orchestrated by the client; the server records the state it reports.
async fn set_state(
    State(app): State<AppState>,
    Path(id): Path<String>,
    Body(body): Body<SetState>,
) -> ApiResult<(StatusCode, Json<OrchestrationResult>)> {
    let id = parse_id(&id, "task run")?;
    let now = app.now();
    let (stored, event) = app
        .store
        .set_task_run_state(id, invalid(state_in(body.state, now))?, now)
        .await?;
    app.publish([event]);
    let result = orchestration(&Decision::Accept, Some(&stored.record.state));
    Ok((StatusCode::CREATED, Json(result)))
}
