//! `/flows`.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use flowgate_store::model::FlowSort;
use flowgate_wire::filters::{self as wire, FlowCountRequest, FlowFilterRequest};
use flowgate_wire::flows::{Flow, FlowCreate};
use serde_json::Value;

use super::{created_status, filter_body, invalid, parse_id};
use crate::app::{AppState, now};
use crate::convert::filters::{flows, page};
use crate::convert::flows::flow_out;
use crate::error::{ApiError, ApiResult, Body, OptionalBody};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/flows/", post(create))
        .route("/flows", post(create))
        .route("/flows/{id}", get(read).delete(delete))
        .route("/flows/name/{name}", get(read_by_name))
        .route("/flows/filter", post(filter))
        .route("/flows/count", post(count))
}

async fn create(
    State(app): State<AppState>,
    Body(body): Body<FlowCreate>,
) -> ApiResult<(StatusCode, Json<Flow>)> {
    let name = body.name.trim();
    if name.is_empty() {
        return Err(ApiError::Invalid("flow name must not be empty".into()));
    }
    let labels = body.labels.unwrap_or(Value::Null);
    let (flow, created) = app
        .store
        .create_flow(name, &body.tags, &labels, now())
        .await?;
    Ok((created_status(created), Json(flow_out(flow))))
}

async fn read(State(app): State<AppState>, Path(id): Path<String>) -> ApiResult<Json<Flow>> {
    let id = parse_id(&id, "flow")?;
    Ok(Json(flow_out(app.store.read_flow(id).await?)))
}

async fn read_by_name(
    State(app): State<AppState>,
    Path(name): Path<String>,
) -> ApiResult<Json<Flow>> {
    Ok(Json(flow_out(app.store.read_flow_by_name(&name).await?)))
}

async fn delete(State(app): State<AppState>, Path(id): Path<String>) -> ApiResult<StatusCode> {
    app.store.delete_flow(parse_id(&id, "flow")?).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn filter(
    State(app): State<AppState>,
    OptionalBody(body): OptionalBody,
) -> ApiResult<Json<Vec<Flow>>> {
    let req: FlowFilterRequest = filter_body(&body)?;
    let f = invalid(flows(req.flows))?;
    let page = invalid(page(req.limit, req.offset))?;
    let sort = match req.sort {
        None | Some(wire::FlowSort::NameAsc) => FlowSort::NameAsc,
        Some(wire::FlowSort::NameDesc) => FlowSort::NameDesc,
        Some(wire::FlowSort::CreatedDesc) => FlowSort::CreatedDesc,
        Some(wire::FlowSort::UpdatedDesc) => FlowSort::UpdatedDesc,
    };
    let found = app.store.filter_flows(&f, sort, page).await?;
    Ok(Json(found.into_iter().map(flow_out).collect()))
}

async fn count(
    State(app): State<AppState>,
    OptionalBody(body): OptionalBody,
) -> ApiResult<Json<i64>> {
    let req: FlowCountRequest = filter_body(&body)?;
    let f = invalid(flows(req.flows))?;
    Ok(Json(app.store.count_flows(&f).await?))
}
