//! `/deployments`: create (upsert by flow and name), read, filter, update, pause, delete, runs
//! (`create_flow_run`, parameters checked against the deployment's schema) and the hand-out to
//! serving processes (`/deployments/get_scheduled_flow_runs`).

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use flowgate_core::deployment::merge_parameters;
use flowgate_core::{State as RunState, StateType};
use flowgate_store::model::{DeploymentUpdate, NewFlowRun};
use flowgate_wire::deployments as wire;
use flowgate_wire::flow_runs::FlowRun;
use serde_json::{Map, Value};
use uuid::Uuid;

use super::{created_status, invalid, parse_id};
use crate::app::AppState;
use crate::convert::deployments::{deployment_out, deployment_update, new_deployment};
use crate::convert::filters::{deployments, page};
use crate::convert::flow_runs::flow_run_out;
use crate::convert::object_or_empty;
use crate::convert::states::state_in;
use crate::error::{ApiError, ApiResult, Body};
use crate::extract::FilterBody;
use crate::openapi::{ApiRoutes, doc};

pub fn routes() -> ApiRoutes {
    ApiRoutes::new("Deployments")
        .post(
            "/deployments/",
            create,
            doc("Create a deployment, or replace the one of this flow and name")
                .status(201, "the new deployment")
                .status(200, "the replaced deployment"),
        )
        .post(
            "/deployments/filter",
            filter,
            doc("List deployments matching a filter"),
        )
        .post(
            "/deployments/count",
            count,
            doc("Count deployments matching a filter"),
        )
        .post(
            "/deployments/get_scheduled_flow_runs",
            served_runs,
            doc("Hand due runs of served deployments to their process (flow.serve())"),
        )
        .get(
            "/deployments/name/{flow}/{name}",
            read_by_name,
            doc("Read a deployment by its flow's name and its own"),
        )
        .get("/deployments/{id}", read, doc("Read a deployment"))
        .patch(
            "/deployments/{id}",
            update,
            doc("Change a deployment (pause, parameters, limit, schedules, ...)")
                .status(204, "changed"),
        )
        .delete(
            "/deployments/{id}",
            delete,
            doc("Delete a deployment and its runs that have not started").status(204, "deleted"),
        )
        .post(
            "/deployments/{id}/create_flow_run",
            create_flow_run,
            doc("Create a run of a deployment, its parameters checked against its schema")
                .status(201, "the new run"),
        )
        .post(
            "/deployments/{id}/pause_deployment",
            pause,
            doc("Pause a deployment").status(204, "paused"),
        )
        .post(
            "/deployments/{id}/resume_deployment",
            resume,
            doc("Resume a deployment").status(204, "resumed"),
        )
}

async fn create(
    State(app): State<AppState>,
    Body(body): Body<wire::DeploymentCreate>,
) -> ApiResult<(StatusCode, Json<wire::Deployment>)> {
    let now = app.now();
    let new = invalid(new_deployment(body, now))?;
    let (deployment, created) = app.store.upsert_deployment(new, now).await?;
    app.scheduler.notify_one();
    Ok((created_status(created), Json(deployment_out(deployment))))
}

async fn read(
    State(app): State<AppState>,
    Path(id): Path<String>,
) -> ApiResult<Json<wire::Deployment>> {
    let id = parse_id(&id, "deployment")?;
    Ok(Json(deployment_out(
        app.store.read_deployment(id, app.now()).await?,
    )))
}

async fn read_by_name(
    State(app): State<AppState>,
    Path((flow, name)): Path<(String, String)>,
) -> ApiResult<Json<wire::Deployment>> {
    let found = app
        .store
        .read_deployment_by_name(&flow, &name, app.now())
        .await?;
    Ok(Json(deployment_out(found)))
}

async fn update(
    State(app): State<AppState>,
    Path(id): Path<String>,
    Body(body): Body<wire::DeploymentUpdate>,
) -> ApiResult<StatusCode> {
    let now = app.now();
    let update = invalid(deployment_update(body, now))?;
    apply(&app, &id, update).await
}

async fn pause(State(app): State<AppState>, Path(id): Path<String>) -> ApiResult<StatusCode> {
    let update = DeploymentUpdate {
        paused: Some(true),
        ..Default::default()
    };
    apply(&app, &id, update).await
}

async fn resume(State(app): State<AppState>, Path(id): Path<String>) -> ApiResult<StatusCode> {
    let update = DeploymentUpdate {
        paused: Some(false),
        ..Default::default()
    };
    apply(&app, &id, update).await
}

async fn apply(app: &AppState, id: &str, update: DeploymentUpdate) -> ApiResult<StatusCode> {
    let id = parse_id(id, "deployment")?;
    app.store.update_deployment(id, update, app.now()).await?;
    app.scheduler.notify_one();
    app.work.notify_waiters();
    Ok(StatusCode::NO_CONTENT)
}

async fn delete(State(app): State<AppState>, Path(id): Path<String>) -> ApiResult<StatusCode> {
    app.store
        .delete_deployment(parse_id(&id, "deployment")?)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn filter(
    State(app): State<AppState>,
    FilterBody(req): FilterBody<wire::DeploymentFilterRequest>,
) -> ApiResult<Json<Vec<wire::Deployment>>> {
    let page = invalid(page(req.limit, req.offset))?;
    let f = invalid(deployments(req))?;
    let found = app.store.filter_deployments(&f, page, app.now()).await?;
    Ok(Json(found.into_iter().map(deployment_out).collect()))
}

async fn count(
    State(app): State<AppState>,
    FilterBody(req): FilterBody<wire::DeploymentFilterRequest>,
) -> ApiResult<Json<i64>> {
    Ok(Json(
        app.store
            .count_deployments(&invalid(deployments(req))?)
            .await?,
    ))
}

async fn create_flow_run(
    State(app): State<AppState>,
    Path(id): Path<String>,
    Body(body): Body<wire::DeploymentFlowRunCreate>,
) -> ApiResult<(StatusCode, Json<FlowRun>)> {
    let id = parse_id(&id, "deployment")?;
    let run = run_deployment(&app, id, body).await?;
    Ok((StatusCode::CREATED, Json(flow_run_out(run, app.now()))))
}

/// Creates a run of deployment `id`: the given parameters over the deployment's (checked
/// against its schema when it enforces one), in the given state (Scheduled now by default),
/// queued for its workers. `POST /deployments/{id}/create_flow_run` and the automations'
/// `run-deployment` action both come here.
pub(crate) async fn run_deployment(
    app: &AppState,
    id: Uuid,
    body: wire::DeploymentFlowRunCreate,
) -> ApiResult<flowgate_store::model::FlowRun> {
    let now = app.now();
    let deployment = app.store.read_deployment(id, now).await?;
    let defaults = deployment
        .parameters
        .as_object()
        .cloned()
        .unwrap_or_default();
    let given = match body.parameters {
        Some(Value::Object(m)) => m,
        None | Some(Value::Null) => Map::new(),
        Some(_) => return Err(ApiError::Invalid("parameters: give a JSON object".into())),
    };
    let parameters = Value::Object(merge_parameters(&defaults, &given));
    if deployment.enforce_parameter_schema {
        check_parameters(&deployment.parameter_openapi_schema, &parameters)?;
    }
    let state = match body.state {
        Some(s) => invalid(state_in(s, now))?,
        None => {
            let mut s = RunState::new(Uuid::now_v7(), StateType::Scheduled, now);
            s.details
                .insert("scheduled_time".into(), now.to_string().into());
            s
        }
    };
    let run = NewFlowRun {
        flow_id: deployment.flow_id,
        name: body.name.filter(|n| !n.is_empty()),
        parameters,
        idempotency_key: body.idempotency_key,
        context: object_or_empty(body.context.unwrap_or_default()),
        empirical_policy: object_or_empty(body.empirical_policy.unwrap_or_default()),
        tags: body.tags.unwrap_or_default(),
        labels: object_or_empty(body.labels.unwrap_or_default()),
        parent_task_run_id: body.parent_task_run_id,
        job_variables: object_or_empty(body.job_variables.unwrap_or_default()),
        state: Some(state),
        ..Default::default()
    };
    let run = app
        .store
        .create_deployment_flow_run(id, run, body.work_queue_name.as_deref(), now)
        .await?;
    app.work.notify_waiters();
    Ok(run)
}

/// A 422 naming each parameter that fails the deployment's schema.
fn check_parameters(schema: &Value, parameters: &Value) -> ApiResult<()> {
    if schema.as_object().is_none_or(|s| s.is_empty()) {
        return Ok(());
    }
    crate::run_input::validate(schema, parameters)
        .map_err(|e| ApiError::Invalid(format!("Error creating flow run: {e}")))
}

async fn served_runs(
    State(app): State<AppState>,
    Body(body): Body<wire::DeploymentScheduledRuns>,
) -> ApiResult<Json<Vec<FlowRun>>> {
    let now = app.now();
    let limit = usize::try_from(body.limit.unwrap_or(100))
        .map_err(|_| ApiError::Invalid("limit: give 0 or more, or leave it out".into()))?;
    let before = body.scheduled_before.unwrap_or(now);
    let (runs, events) = app
        .store
        .served_scheduled_flow_runs(&body.deployment_ids, before, limit, now)
        .await?;
    app.publish(events);
    super::work_pools::handed_out_counter(&app).add(runs.len() as u64);
    Ok(Json(
        runs.into_iter().map(|r| flow_run_out(r, now)).collect(),
    ))
}
