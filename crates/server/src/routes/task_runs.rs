//! `/task_runs`. The `prefect` client reports task runs through events; these routes read them,
//! and create the one kind of task run the client does create over REST: a subflow's parent.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use flowgate_core::orchestration::Decision;

use super::{parse_id, read_body};
use crate::app::{AppState, now};
use crate::error::{ApiResult, Body, OptionalBody};
use crate::wire::filters::{page, task_run_sort, task_runs_body};
use crate::wire::state::{OrchestrationResult, SetStateIn};
use crate::wire::task_runs::{TaskRunCreate, TaskRunOut};

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
) -> ApiResult<(StatusCode, Json<TaskRunOut>)> {
    let now = now();
    let (stored, event) = app
        .store
        .upsert_task_run(&body.into_record(now), now)
        .await?;
    app.publish([event]);
    Ok((StatusCode::CREATED, Json(stored.into())))
}

async fn read(State(app): State<AppState>, Path(id): Path<String>) -> ApiResult<Json<TaskRunOut>> {
    Ok(Json(
        app.store
            .read_task_run(parse_id(&id, "task run")?)
            .await?
            .into(),
    ))
}

async fn filter(
    State(app): State<AppState>,
    OptionalBody(body): OptionalBody,
) -> ApiResult<Json<Vec<TaskRunOut>>> {
    let (f, sort, page) = read_body(&body, |r| {
        Ok((
            task_runs_body(r)?,
            task_run_sort(r.string("sort")?)?,
            page(r)?,
        ))
    })?;
    let runs = app.store.filter_task_runs(&f, sort, page).await?;
    Ok(Json(runs.into_iter().map(TaskRunOut::from).collect()))
}

async fn count(
    State(app): State<AppState>,
    OptionalBody(body): OptionalBody,
) -> ApiResult<Json<i64>> {
    let f = read_body(&body, task_runs_body)?;
    Ok(Json(app.store.count_task_runs(&f).await?))
}

/// Task runs are orchestrated by the client; the server records the state it reports.
async fn set_state(
    State(app): State<AppState>,
    Path(id): Path<String>,
    Body(body): Body<SetStateIn>,
) -> ApiResult<(StatusCode, Json<OrchestrationResult>)> {
    let id = parse_id(&id, "task run")?;
    let now = now();
    let mut record = app.store.read_task_run(id).await?.record;
    record.enter(body.state.into_state(now));
    let (stored, event) = app.store.upsert_task_run(&record, now).await?;
    app.publish([event]);
    let result = OrchestrationResult::new(&Decision::Accept, Some(&stored.record.state));
    Ok((StatusCode::CREATED, Json(result)))
}
