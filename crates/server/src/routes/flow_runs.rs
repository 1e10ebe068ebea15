//! `/flow_runs` and `/flow_run_states`.

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use flowgate_store::model::Page;
use flowgate_wire::filters::{FlowRunCountRequest, FlowRunFilterRequest, FlowRunPaginateRequest};
use flowgate_wire::flow_runs::{FlowRun, FlowRunCreate, FlowRunPage};
use flowgate_wire::states::{OrchestrationResult, SetState, SetStateStatus, State as StateOut};
use serde::Deserialize;

use super::{created_status, filter_body, invalid, parse_id};
use crate::app::{AppState, now};
use crate::convert::filters::{flow_run_sort, flow_runs, page};
use crate::convert::flow_runs::{flow_run_out, new_flow_run};
use crate::convert::states::{orchestration, state_in, state_out};
use crate::error::{ApiError, ApiResult, Body, OptionalBody};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/flow_runs/", post(create))
        .route("/flow_runs", post(create))
        .route("/flow_runs/{id}", get(read).delete(delete))
        .route("/flow_runs/filter", post(filter))
        .route("/flow_runs/count", post(count))
        .route("/flow_runs/paginate", post(paginate))
        .route("/flow_runs/{id}/set_state", post(set_state))
        .route("/flow_run_states/", get(states))
        .route("/flow_run_states", get(states))
}

async fn create(
    State(app): State<AppState>,
    Body(body): Body<FlowRunCreate>,
) -> ApiResult<(StatusCode, Json<FlowRun>)> {
    let now = now();
    let (run, created, event) = app
        .store
        .create_flow_run(new_flow_run(body, now), now)
        .await?;
    app.publish(event);
    Ok((created_status(created), Json(flow_run_out(run, now))))
}

async fn read(State(app): State<AppState>, Path(id): Path<String>) -> ApiResult<Json<FlowRun>> {
    let run = app.store.read_flow_run(parse_id(&id, "flow run")?).await?;
    Ok(Json(flow_run_out(run, now())))
}

async fn delete(State(app): State<AppState>, Path(id): Path<String>) -> ApiResult<StatusCode> {
    app.store
        .delete_flow_run(parse_id(&id, "flow run")?)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn filter(
    State(app): State<AppState>,
    OptionalBody(body): OptionalBody,
) -> ApiResult<Json<Vec<FlowRun>>> {
    let req: FlowRunFilterRequest = filter_body(&body)?;
    let f = invalid(flow_runs(req.flows, req.flow_runs))?;
    let page = invalid(page(req.limit, req.offset))?;
    let now = now();
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
    OptionalBody(body): OptionalBody,
) -> ApiResult<Json<i64>> {
    let req: FlowRunCountRequest = filter_body(&body)?;
    let f = invalid(flow_runs(req.flows, req.flow_runs))?;
    Ok(Json(app.store.count_flow_runs(&f).await?))
}

async fn paginate(
    State(app): State<AppState>,
    OptionalBody(body): OptionalBody,
) -> ApiResult<Json<FlowRunPage>> {
    let req: FlowRunPaginateRequest = filter_body(&body)?;
    let f = invalid(flow_runs(req.flows, req.flow_runs))?;
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
    let now = now();
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
    Path(id): Path<String>,
    Body(body): Body<SetState>,
) -> ApiResult<(StatusCode, Json<OrchestrationResult>)> {
    let id = parse_id(&id, "flow run")?;
    let now = now();
    let proposed = state_in(body.state, now);
    let (outcome, event) = app
        .store
        .set_flow_run_state(id, proposed, body.force, now)
        .await?;
    app.publish(event);
    let result = orchestration(&outcome.decision, outcome.state.as_ref());
    let status = if result.status == SetStateStatus::Accept {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(result)))
}

#[derive(Deserialize)]
struct StatesQuery {
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
