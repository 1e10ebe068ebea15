//! `/variables`: named JSON values, addressed by id or by name (`Variable.set` / `Variable.get`
//! read by name, then create or update).

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use flowgate_store::model::{VariableKey, VariableSort};
use flowgate_wire::variables::{
    self as wire, Variable, VariableCountRequest, VariableCreate, VariableFilterRequest,
    VariableUpdate,
};

use super::{invalid, parse_id};
use crate::app::AppState;
use crate::convert::filters::{page, variables};
use crate::convert::variables::{new_variable, variable_out, variable_update};
use crate::error::{ApiResult, Body};
use crate::extract::FilterBody;
use crate::openapi::{ApiRoutes, doc};

pub fn routes() -> ApiRoutes {
    ApiRoutes::new("Variables")
        .post(
            "/variables/",
            create,
            doc("Create a variable")
                .status(201, "the new variable")
                .describe("A name another variable has is a 409."),
        )
        .post(
            "/variables/filter",
            filter,
            doc("List variables matching a filter"),
        )
        .post(
            "/variables/count",
            count,
            doc("Count variables matching a filter"),
        )
        .get("/variables/{id}", read, doc("Read a variable"))
        .patch(
            "/variables/{id}",
            update,
            doc("Change a variable").status(204, "changed"),
        )
        .delete(
            "/variables/{id}",
            delete,
            doc("Delete a variable").status(204, "deleted"),
        )
        .get(
            "/variables/name/{name}",
            read_by_name,
            doc("Read a variable by name"),
        )
        .patch(
            "/variables/name/{name}",
            update_by_name,
            doc("Change a variable found by name").status(204, "changed"),
        )
        .delete(
            "/variables/name/{name}",
            delete_by_name,
            doc("Delete a variable found by name").status(204, "deleted"),
        )
}

async fn create(
    State(app): State<AppState>,
    Body(body): Body<VariableCreate>,
) -> ApiResult<(StatusCode, Json<Variable>)> {
    let new = invalid(new_variable(body))?;
    let variable = app.store.create_variable(&new, app.now()).await?;
    Ok((StatusCode::CREATED, Json(variable_out(variable))))
}

fn by_id(id: &str) -> ApiResult<VariableKey> {
    parse_id(id, "variable").map(VariableKey::Id)
}

async fn read(State(app): State<AppState>, Path(id): Path<String>) -> ApiResult<Json<Variable>> {
    let variable = app.store.read_variable(&by_id(&id)?).await?;
    Ok(Json(variable_out(variable)))
}

async fn read_by_name(
    State(app): State<AppState>,
    Path(name): Path<String>,
) -> ApiResult<Json<Variable>> {
    let variable = app.store.read_variable(&VariableKey::Name(name)).await?;
    Ok(Json(variable_out(variable)))
}

async fn update(
    State(app): State<AppState>,
    Path(id): Path<String>,
    Body(body): Body<VariableUpdate>,
) -> ApiResult<StatusCode> {
    change(&app, by_id(&id)?, body).await
}

async fn update_by_name(
    State(app): State<AppState>,
    Path(name): Path<String>,
    Body(body): Body<VariableUpdate>,
) -> ApiResult<StatusCode> {
    change(&app, VariableKey::Name(name), body).await
}

async fn change(app: &AppState, key: VariableKey, body: VariableUpdate) -> ApiResult<StatusCode> {
    let update = invalid(variable_update(body))?;
    app.store.update_variable(&key, &update, app.now()).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn delete(State(app): State<AppState>, Path(id): Path<String>) -> ApiResult<StatusCode> {
    app.store.delete_variable(&by_id(&id)?).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn delete_by_name(
    State(app): State<AppState>,
    Path(name): Path<String>,
) -> ApiResult<StatusCode> {
    app.store.delete_variable(&VariableKey::Name(name)).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn filter(
    State(app): State<AppState>,
    FilterBody(req): FilterBody<VariableFilterRequest>,
) -> ApiResult<Json<Vec<Variable>>> {
    let f = invalid(variables(req.variables))?;
    let page = invalid(page(req.limit, req.offset))?;
    let sort = match req.sort {
        None | Some(wire::VariableSort::NameAsc) => VariableSort::NameAsc,
        Some(wire::VariableSort::NameDesc) => VariableSort::NameDesc,
        Some(wire::VariableSort::CreatedDesc) => VariableSort::CreatedDesc,
        Some(wire::VariableSort::UpdatedDesc) => VariableSort::UpdatedDesc,
    };
    let found = app.store.filter_variables(&f, sort, page).await?;
    Ok(Json(found.into_iter().map(variable_out).collect()))
}

async fn count(
    State(app): State<AppState>,
    FilterBody(req): FilterBody<VariableCountRequest>,
) -> ApiResult<Json<i64>> {
    let f = invalid(variables(req.variables))?;
    Ok(Json(app.store.count_variables(&f).await?))
}
