//! `/flow_runs` and `/flow_run_states`.

use axum::Json;
use axum::extract::{Extension, Path, Query, State};
use axum::http::StatusCode;
use flowgate_core::StateType;
use flowgate_core::history::History;
use flowgate_store::model::Page;
use flowgate_wire::filters::{
    FlowRunCountRequest, FlowRunFilterRequest, FlowRunHistoryRequest, FlowRunPaginateRequest,
};
use flowgate_wire::flow_runs::{
    FlowRun, FlowRunCreate, FlowRunGraph, FlowRunPage, FlowRunUpdate, HistoryInterval,
};
use flowgate_wire::states::{OrchestrationResult, SetState, SetStateStatus, State as StateOut};
use schemars::JsonSchema;
use serde::Deserialize;

use super::{created_status, invalid, parse_id};
use crate::app::AppState;
use crate::auth::Caller;
use crate::convert::filters::{flow_run_sort, flow_runs, page};
use crate::convert::flow_runs::{flow_run_graph, flow_run_out, history_interval, new_flow_run};
use crate::convert::states::{orchestration, state_in, state_out};
use crate::error::{ApiError, ApiResult, Body};
use crate::extract::FilterBody;
use crate::openapi::{ApiRoutes, doc};

/// The state detail naming the API key that cancelled a run (a Flowgate extension, set only
/// when the server requires keys).
const CANCELLED_BY: &str = "cancelled_by";

pub fn routes() -> ApiRoutes {
    ApiRoutes::new("Flow runs")
        .post(
            "/flow_runs/",
            create,
            doc("Create a flow run")
                .status(201, "the new run")
                .status(200, "the run this idempotency key created before"),
        )
        .get("/flow_runs/{id}", read, doc("Read a flow run"))
        .get(
            "/flow_runs/{id}/graph-v2",
            graph,
            doc("A flow run's task runs and subflow runs as a graph (a timeline's nodes)"),
        )
        .delete(
            "/flow_runs/{id}",
            delete,
            doc("Delete a flow run").status(204, "deleted"),
        )
        .patch(
            "/flow_runs/{id}",
            update,
            doc("Record what a worker reports about a run (process id, version, policy)")
                .status(204, "recorded"),
        )
        .patch(
            "/flow_runs/{id}/labels",
            update_labels,
            doc("Set labels on a flow run, over the ones it has").status(204, "recorded"),
        )
        .post(
            "/flow_runs/filter",
            filter,
            doc("List flow runs matching a filter"),
        )
        .post(
            "/flow_runs/count",
            count,
            doc("Count flow runs matching a filter"),
        )
        .post(
            "/flow_runs/history",
            history,
            doc("Flow runs counted by state in intervals of their expected start (a dashboard's chart)"),
        )
        .post(
            "/flow_runs/paginate",
            paginate,
            doc("One page of the flow runs matching a filter, with the total"),
        )
        .post(
            "/flow_runs/{id}/set_state",
            set_state,
            doc("Propose a state for a flow run; the orchestration rules decide")
                .status(201, "accepted: the proposed state is the run's state")
                .status(
                    200,
                    "rejected, told to wait, or aborted (see status and details)",
                ),
        )
        .get(
            "/flow_run_states/",
            states,
            doc("A flow run's state history"),
        )
}

async fn create(
    State(app): State<AppState>,
    Body(body): Body<FlowRunCreate>,
) -> ApiResult<(StatusCode, Json<FlowRun>)> {
    let now = app.now();
    let (run, created, event) = app
        .store
        .create_flow_run(invalid(new_flow_run(body, now))?, now)
        .await?;
    app.publish(event);
    Ok((created_status(created), Json(flow_run_out(run, now))))
}

/// Most nodes one graph holds (Prefect's default limit).
const MAX_GRAPH_NODES: u32 = 10_000;

async fn graph(
    State(app): State<AppState>,
    Path(id): Path<String>,
) -> ApiResult<Json<FlowRunGraph>> {
    let run = app.store.read_flow_run(parse_id(&id, "flow run")?).await?;
    let nodes = app.store.flow_run_graph(run.id, MAX_GRAPH_NODES).await?;
    Ok(Json(flow_run_graph(&run, nodes)))
}

async fn read(State(app): State<AppState>, Path(id): Path<String>) -> ApiResult<Json<FlowRun>> {
    let run = app.store.read_flow_run(parse_id(&id, "flow run")?).await?;
    Ok(Json(flow_run_out(run, app.now())))
}

async fn update(
    State(app): State<AppState>,
    Path(id): Path<String>,
    Body(body): Body<FlowRunUpdate>,
) -> ApiResult<StatusCode> {
    let update = flowgate_store::model::FlowRunUpdate {
        flow_version: body.flow_version,
        empirical_policy: body.empirical_policy.filter(serde_json::Value::is_object),
        infrastructure_pid: body.infrastructure_pid,
        job_variables: body.job_variables.filter(serde_json::Value::is_object),
        labels: None,
    };
    app.store
        .update_flow_run(parse_id(&id, "flow run")?, update, app.now())
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn update_labels(
    State(app): State<AppState>,
    Path(id): Path<String>,
    Body(labels): Body<serde_json::Map<String, serde_json::Value>>,
) -> ApiResult<StatusCode> {
    let update = flowgate_store::model::FlowRunUpdate {
        labels: Some(labels),
        ..Default::default()
    };
    app.store
        .update_flow_run(parse_id(&id, "flow run")?, update, app.now())
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn delete(State(app): State<AppState>, Path(id): Path<String>) -> ApiResult<StatusCode> {
    app.store
        .delete_flow_run(parse_id(&id, "flow run")?)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn filter(
    State(app): State<AppState>,
    FilterBody(req): FilterBody<FlowRunFilterRequest>,
) -> ApiResult<Json<Vec<FlowRun>>> {
    let f = invalid(flow_runs(&req))?;
    let page = invalid(page(req.limit, req.offset))?;
    let now = app.now();
    let runs = app
        .store
        .filter_flow_runs(&f, flow_run_sort(req.sort), page)
        .await?;
    Ok(Json(
        runs.into_iter().map(|r| flow_run_out(r, now)).collect(),
    ))
}

async fn count(
    State(app): State<AppState>,
    FilterBody(req): FilterBody<FlowRunCountRequest>,
) -> ApiResult<Json<i64>> {
    let f = invalid(flow_runs(&req))?;
    Ok(Json(app.store.count_flow_runs(&f).await?))
}

async fn history(
    State(app): State<AppState>,
    FilterBody(req): FilterBody<FlowRunHistoryRequest>,
) -> ApiResult<Json<Vec<HistoryInterval>>> {
    let f = invalid(flow_runs(&req))?;
    let window = History::new(
        req.history_start,
        req.history_end,
        req.history_interval_seconds,
    )
    .map_err(|e| ApiError::Invalid(e.to_string()))?;
    let counts = app.store.flow_run_history(&f, &window, app.now()).await?;
    Ok(Json(
        window
            .intervals(counts)
            .into_iter()
            .map(history_interval)
            .collect(),
    ))
}

async fn paginate(
    State(app): State<AppState>,
    FilterBody(req): FilterBody<FlowRunPaginateRequest>,
) -> ApiResult<Json<FlowRunPage>> {
    let f = invalid(flow_runs(&req))?;
    let limit = invalid(page(req.limit, None))?.limit;
    let page_no = req.page.unwrap_or(1);
    if page_no < 1 {
        return Err(ApiError::Invalid(format!(
            "page must be 1 or more, got {page_no}"
        )));
    }
    let offset = (page_no - 1).saturating_mul(i64::from(limit));
    let page = Page {
        limit,
        offset: u32::try_from(offset)
            .map_err(|_| ApiError::Invalid(format!("page {page_no} is out of range")))?,
    };
    let total = app.store.count_flow_runs(&f).await?;
    let now = app.now();
    let runs = app
        .store
        .filter_flow_runs(&f, flow_run_sort(req.sort), page)
        .await?;
    let pages = if limit == 0 {
        0
    } else {
        (total + i64::from(limit) - 1) / i64::from(limit)
    };
    Ok(Json(FlowRunPage {
        results: runs.into_iter().map(|r| flow_run_out(r, now)).collect(),
        count: total,
        limit,
        pages,
        page: page_no,
    }))
}

async fn set_state(
    State(app): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    Body(body): Body<SetState>,
) -> ApiResult<(StatusCode, Json<OrchestrationResult>)> {
    let id = parse_id(&id, "flow run")?;
    let now = app.now();
    let mut proposed = invalid(state_in(body.state, now))?;
    if let Some(name) = caller.name()
        && matches!(
            proposed.state_type,
            StateType::Cancelling | StateType::Cancelled
        )
    {
        // Who cancelled it, in the state's details (clients ignore fields they do not know).
        proposed
            .details
            .insert(CANCELLED_BY.to_owned(), name.into());
    }
    let (outcome, event) = app
        .store
        .set_flow_run_state(id, proposed, body.force, now)
        .await?;
    app.publish(event);
    // A run that ended or stepped back frees a slot: workers waiting for work look again.
    app.work.notify_waiters();
    let result = orchestration(&outcome.decision, outcome.state.as_ref());
    let status = if result.status == SetStateStatus::Accept {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(result)))
}

#[derive(Deserialize, JsonSchema)]
struct StatesQuery {
    /// The flow run whose states to list (required).
    flow_run_id: Option<String>,
}

async fn states(
    State(app): State<AppState>,
    Query(q): Query<StatesQuery>,
) -> ApiResult<Json<Vec<StateOut>>> {
    let raw = q
        .flow_run_id
        .ok_or_else(|| ApiError::Invalid("query parameter flow_run_id is required".into()))?;
    let states = app
        .store
        .flow_run_states(parse_id(&raw, "flow run")?)
        .await?;
    Ok(Json(states.iter().map(state_out).collect()))
}
