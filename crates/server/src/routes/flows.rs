//! `/flows`.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::Value;

use super::{created_status, parse_id, read_body};
use crate::app::{AppState, now};
use crate::error::{ApiError, ApiResult, Body, OptionalBody};
use crate::wire::filters::{flow_filter, page};
use crate::wire::flows::{FlowCreate, FlowOut};

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
) -> ApiResult<(StatusCode, Json<FlowOut>)> {
    let name = body.name.trim();
    if name.is_empty() {
        return Err(ApiError::Invalid("flow name must not be empty".into()));
    }
    let labels = body.labels.unwrap_or(Value::Null);
    let (flow, created) = app
        .store
        .create_flow(name, &body.tags, &labels, now())
        .await?;
    Ok((created_status(created), Json(flow.into())))
}

async fn read(State(app): State<AppState>, Path(id): Path<String>) -> ApiResult<Json<FlowOut>> {
    let id = parse_id(&id, "flow")?;
    Ok(Json(app.store.read_flow(id).await?.into()))
}

async fn read_by_name(
    State(app): State<AppState>,
    Path(name): Path<String>,
) -> ApiResult<Json<FlowOut>> {
    Ok(Json(app.store.read_flow_by_name(&name).await?.into()))
}

async fn delete(State(app): State<AppState>, Path(id): Path<String>) -> ApiResult<StatusCode> {
    app.store.delete_flow(parse_id(&id, "flow")?).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn filter(
    State(app): State<AppState>,
    OptionalBody(body): OptionalBody,
) -> ApiResult<Json<Vec<FlowOut>>> {
    let (f, page) = read_body(&body, |r| {
        let f = flow_filter(r.child("flows")?)?.unwrap_or_default();
        r.string("sort")?;
        Ok((f, page(r)?))
    })?;
    let flows = app.store.filter_flows(&f, page).await?;
    Ok(Json(flows.into_iter().map(FlowOut::from).collect()))
}

async fn count(
    State(app): State<AppState>,
    OptionalBody(body): OptionalBody,
) -> ApiResult<Json<i64>> {
    let f = read_body(&body, |r| {
        Ok(flow_filter(r.child("flows")?)?.unwrap_or_default())
    })?;
    Ok(Json(app.store.count_flows(&f).await?))
}
