//! `/artifacts`: what runs report for people (markdown, tables, links, progress, images),
//! each version of a key kept, and the latest of each key (Prefect's collections).

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use flowgate_store::model::ArtifactSort;
use flowgate_wire::artifacts::{
    self as wire, Artifact, ArtifactCollection, ArtifactCollectionCountRequest,
    ArtifactCollectionFilterRequest, ArtifactCountRequest, ArtifactCreate, ArtifactFilterRequest,
    ArtifactUpdate,
};

use super::{invalid, parse_id};
use crate::app::AppState;
use crate::convert::artifacts::{artifact_out, artifact_update, collection_out, new_artifact};
use crate::convert::filters::{artifacts, latest_artifacts, page};
use crate::error::{ApiResult, Body};
use crate::extract::FilterBody;
use crate::openapi::{ApiRoutes, doc};

pub fn routes() -> ApiRoutes {
    ApiRoutes::new("Artifacts")
        .post(
            "/artifacts/",
            create,
            doc("Create an artifact (a new version, when its key has others)")
                .status(201, "the new artifact"),
        )
        .post(
            "/artifacts/filter",
            filter,
            doc("List artifacts matching a filter"),
        )
        .post(
            "/artifacts/count",
            count,
            doc("Count artifacts matching a filter"),
        )
        .post(
            "/artifacts/latest/filter",
            filter_latest,
            doc("List the latest artifact of each key matching a filter"),
        )
        .post(
            "/artifacts/latest/count",
            count_latest,
            doc("Count the keys whose latest artifact matches a filter"),
        )
        .get(
            "/artifacts/{key}/latest",
            read_latest,
            doc("Read the latest artifact with a key"),
        )
        .get("/artifacts/{id}", read, doc("Read an artifact"))
        .patch(
            "/artifacts/{id}",
            update,
            doc("Change an artifact's data, description or metadata").status(204, "changed"),
        )
        .delete(
            "/artifacts/{id}",
            delete,
            doc("Delete an artifact (the version before it becomes its key's latest)")
                .status(204, "deleted"),
        )
}

async fn create(
    State(app): State<AppState>,
    Body(body): Body<ArtifactCreate>,
) -> ApiResult<(StatusCode, Json<Artifact>)> {
    let new = invalid(new_artifact(body))?;
    let artifact = app.store.create_artifact(&new, app.now()).await?;
    Ok((StatusCode::CREATED, Json(artifact_out(artifact))))
}

async fn read(State(app): State<AppState>, Path(id): Path<String>) -> ApiResult<Json<Artifact>> {
    let artifact = app.store.read_artifact(parse_id(&id, "artifact")?).await?;
    Ok(Json(artifact_out(artifact)))
}

async fn read_latest(
    State(app): State<AppState>,
    Path(key): Path<String>,
) -> ApiResult<Json<Artifact>> {
    Ok(Json(artifact_out(
        app.store.read_latest_artifact(&key).await?,
    )))
}

async fn update(
    State(app): State<AppState>,
    Path(id): Path<String>,
    Body(body): Body<ArtifactUpdate>,
) -> ApiResult<StatusCode> {
    let id = parse_id(&id, "artifact")?;
    let update = invalid(artifact_update(body))?;
    app.store.update_artifact(id, &update, app.now()).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn delete(State(app): State<AppState>, Path(id): Path<String>) -> ApiResult<StatusCode> {
    app.store
        .delete_artifact(parse_id(&id, "artifact")?)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

fn sort(sort: Option<wire::ArtifactSort>) -> ArtifactSort {
    match sort {
        None | Some(wire::ArtifactSort::IdDesc) => ArtifactSort::IdDesc,
        Some(wire::ArtifactSort::CreatedDesc) => ArtifactSort::CreatedDesc,
        Some(wire::ArtifactSort::UpdatedDesc) => ArtifactSort::UpdatedDesc,
        Some(wire::ArtifactSort::KeyAsc) => ArtifactSort::KeyAsc,
        Some(wire::ArtifactSort::KeyDesc) => ArtifactSort::KeyDesc,
    }
}

async fn filter(
    State(app): State<AppState>,
    FilterBody(req): FilterBody<ArtifactFilterRequest>,
) -> ApiResult<Json<Vec<Artifact>>> {
    let f = invalid(artifacts(req.artifacts))?;
    let page = invalid(page(req.limit, req.offset))?;
    let found = app.store.filter_artifacts(&f, sort(req.sort), page).await?;
    Ok(Json(found.into_iter().map(artifact_out).collect()))
}

async fn count(
    State(app): State<AppState>,
    FilterBody(req): FilterBody<ArtifactCountRequest>,
) -> ApiResult<Json<i64>> {
    let f = invalid(artifacts(req.artifacts))?;
    Ok(Json(app.store.count_artifacts(&f).await?))
}

async fn filter_latest(
    State(app): State<AppState>,
    FilterBody(req): FilterBody<ArtifactCollectionFilterRequest>,
) -> ApiResult<Json<Vec<ArtifactCollection>>> {
    let f = invalid(latest_artifacts(req.artifacts))?;
    let page = invalid(page(req.limit, req.offset))?;
    let found = app.store.filter_artifacts(&f, sort(req.sort), page).await?;
    Ok(Json(found.into_iter().filter_map(collection_out).collect()))
}

async fn count_latest(
    State(app): State<AppState>,
    FilterBody(req): FilterBody<ArtifactCollectionCountRequest>,
) -> ApiResult<Json<i64>> {
    let f = invalid(latest_artifacts(req.artifacts))?;
    Ok(Json(app.store.count_artifacts(&f).await?))
}
