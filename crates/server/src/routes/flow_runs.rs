//! `/flow_runs` and `/flow_run_states`.

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};

use super::{created_status, parse_id, read_body};
use crate::app::{AppState, now};
use crate::error::{ApiError, ApiResult, Body, OptionalBody};
use crate::wire::filters::{flow_run_sort, flow_runs_body, page};
use crate::wire::flow_runs::{FlowRunCreate, FlowRunOut};
use crate::wire::state::{OrchestrationResult, SetStateIn, StateOut};

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
) -> ApiResult<(StatusCode, Json<FlowRunOut>)> {
    let now = now();
    let (run, created, event) = app.store.create_flow_run(body.into_new(now), now).await?;
    app.publish(event);
    Ok((created_status(created), Json(FlowRunOut::new(run, now))))
}

async fn read(State(app): State<AppState>, Path(id): Path<String>) -> ApiResult<Json<FlowRunOut>> {
    let run = app.store.read_flow_run(parse_id(&id, "flow run")?).await?;
    Ok(Json(FlowRunOut::new(run, now())))
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
) -> ApiResult<Json<Vec<FlowRunOut>>> {
    let (f, sort, page) = read_body(&body, |r| {
        Ok((
            flow_runs_body(r)?,
            flow_run_sort(r.string("sort")?)?,
            page(r)?,
        ))
    })?;
    let now = now();
    let runs = app.store.filter_flow_runs(&f, sort, page).await?;
    Ok(Json(
        runs.into_iter().map(|r| FlowRunOut::new(r, now)).collect(),
    ))
}

async fn count(
    State(app): State<AppState>,
    OptionalBody(body): OptionalBody,
) -> ApiResult<Json<i64>> {
    let f = read_body(&body, flow_runs_body)?;
    Ok(Json(app.store.count_flow_runs(&f).await?))
}

async fn paginate(
    State(app): State<AppState>,
    OptionalBody(body): OptionalBody,
) -> ApiResult<Json<Value>> {
    let (f, sort, page_no, limit) = read_body(&body, |r| {
        let f = flow_runs_body(r)?;
        let sort = flow_run_sort(r.string("sort")?)?;
        let page_no = r.int("page")?.unwrap_or(1);
        let limit = page(r)?.limit;
        if page_no < 1 {
            return Err(format!("page must be 1 or more, got {page_no}"));
        }
        Ok((f, sort, page_no, limit))
    })?;
    let offset = (page_no - 1).saturating_mul(i64::from(limit));
    let page = flowgate_store::model::Page {
        limit,
        offset: u32::try_from(offset)
            .map_err(|_| ApiError::Invalid(format!("page {page_no} is out of range")))?,
    };
    let total = app.store.count_flow_runs(&f).await?;
    let now = now();
    let runs = app.store.filter_flow_runs(&f, sort, page).await?;
    let pages = if limit == 0 {
        0
    } else {
        (total + i64::from(limit) - 1) / i64::from(limit)
    };
    Ok(Json(json!({
        "results": runs.into_iter().map(|r| FlowRunOut::new(r, now)).collect::<Vec<_>>(),
        "count": total, "limit": limit, "pages": pages, "page": page_no,
    })))
}

async fn set_state(
    State(app): State<AppState>,
    Path(id): Path<String>,
    Body(body): Body<SetStateIn>,
) -> ApiResult<(StatusCode, Json<OrchestrationResult>)> {
    let id = parse_id(&id, "flow run")?;
    let now = now();
    let proposed = body.state.into_state(now);
    let (outcome, event) = app
        .store
        .set_flow_run_state(id, proposed, body.force, now)
        .await?;
    app.publish(event);
    let result = OrchestrationResult::new(&outcome.decision, outcome.state.as_ref());
    let status = if result.accepted() {
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
    Ok(Json(states.iter().map(StateOut::from).collect()))
}
