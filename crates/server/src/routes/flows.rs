//! `/flows`.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use flowgate_store::model::FlowSort;
use flowgate_wire::filters::{self as wire, FlowCountRequest, FlowFilterRequest};
use flowgate_wire::flows::{Flow, FlowCreate};
use serde_json::Value;

use super::{created_status, invalid, parse_id};
use crate::app::AppState;
use crate::convert::filters::{flows, page};
use crate::convert::flows::flow_out;
use crate::convert::plain_text;
use crate::error::{ApiError, ApiResult, Body};
use crate::extract::FilterBody;
use crate::openapi::{ApiRoutes, doc};

pub fn routes() -> ApiRoutes {
    ApiRoutes::new("Flows")
        .post(
            "/flows/",
            create,
            doc("Create a flow, or read the one with this name")
                .status(201, "the new flow")
                .status(200, "the flow that already had this name"),
        )
        .get("/flows/{id}", read, doc("Read a flow"))
        .delete(
            "/flows/{id}",
            delete,
            doc("Delete a flow and its runs").status(204, "deleted"),
        )
        .get(
            "/flows/name/{name}",
            read_by_name,
            doc("Read a flow by name"),
        )
        .post("/flows/filter", filter, doc("List flows matching a filter"))
        .post("/flows/count", count, doc("Count flows matching a filter"))
}

async fn create(
    State(app): State<AppState>,
    Body(body): Body<FlowCreate>,
) -> ApiResult<(StatusCode, Json<Flow>)> {
    let name = body.name.trim();
    if name.is_empty() {
        return Err(ApiError::Invalid("flow name must not be empty".into()));
    }
    invalid(plain_text("name", name))?;
    let labels = body.labels.unwrap_or(Value::Null);
    let (flow, created) = app
        .store
        .create_flow(name, &body.tags, &labels, app.now())
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
    FilterBody(req): FilterBody<FlowFilterRequest>,
) -> ApiResult<Json<Vec<Flow>>> {
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
    FilterBody(req): FilterBody<FlowCountRequest>,
) -> ApiResult<Json<i64>> {
    let f = invalid(flows(req.flows))?;
    Ok(Json(app.store.count_flows(&f).await?))
}
