//! `/concurrency_limits`: Prefect's v1 tag limits, a view onto the limits named `tag:<tag>`
//! (create, read by id or tag, list, reset, delete) and the v1 client's way of taking and giving
//! back a task run's slot. Prefect 3's own task engine takes tag slots through
//! `/v2/concurrency_limits/increment-with-lease` with the names `tag:<tag>` and a task-run
//! holder; both paths meet in the same limits.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use flowgate_core::concurrency::book::{LeaseTerms, SlotOp, SlotOutcome};
use flowgate_core::concurrency::settings::check_name;
use flowgate_core::concurrency::{Holder, HolderKind, LeaseDuration, LimitSettings, Mode, tags};
use flowgate_store::StoreError;
use flowgate_store::model::{ConcurrencyLimit, LimitKey, LimitKind, LimitUpdate, NewLimit};
use flowgate_wire::concurrency_limits::{
    LimitPage, MinimalLimit, TagLimit, TagLimitCreate, TagReset, TagSlots,
};
use uuid::Uuid;

use super::concurrency_limits::{DEFAULT_WAIT, acquire, page_of, read_names, refused};
use super::parse_id;
use crate::app::AppState;
use crate::convert::concurrency_limits::{minimal_tag, tag_limit};
use crate::error::{ApiError, ApiResult, Body};
use crate::extract::FilterBody;
use crate::openapi::{ApiRoutes, doc};

pub fn routes() -> ApiRoutes {
    ApiRoutes::new("Tag concurrency limits")
        .post(
            "/concurrency_limits/",
            create,
            doc("Limit the task runs carrying a tag (changes the limit if the tag has one)")
                .status(201, "the new tag limit")
                .status(200, "the tag's limit, changed"),
        )
        .post("/concurrency_limits/filter", filter, doc("List tag limits"))
        .post(
            "/concurrency_limits/increment",
            increment,
            doc("A task run takes a slot of each of its tags' limits").error(
                423,
                "a tag's slots are taken: ask again after `Retry-After` seconds",
            ),
        )
        .post(
            "/concurrency_limits/decrement",
            decrement,
            doc("A task run gives back its tags' slots"),
        )
        .get(
            "/concurrency_limits/tag/{tag}",
            read_by_tag,
            doc("Read a tag's limit and the task runs holding its slots"),
        )
        .delete(
            "/concurrency_limits/tag/{tag}",
            delete_by_tag,
            doc("Delete a tag's limit"),
        )
        .post(
            "/concurrency_limits/tag/{tag}/reset",
            reset,
            doc("Release every slot of a tag, then give one to each task run in slot_override"),
        )
        .get(
            "/concurrency_limits/{id}",
            read_by_id,
            doc("Read a tag limit by id"),
        )
        .delete(
            "/concurrency_limits/{id}",
            delete_by_id,
            doc("Delete a tag limit by id"),
        )
}

/// Creates the tag's limit, or changes its size when it exists (200 then, as Prefect).
async fn create(
    State(app): State<AppState>,
    Body(body): Body<TagLimitCreate>,
) -> ApiResult<(StatusCode, Json<TagLimit>)> {
    let name = tag_name(&body.tag)?;
    let settings = LimitSettings::new(body.concurrency_limit, 0.0, true).map_err(refused)?;
    let key = LimitKey::Name(name.clone());
    let (status, limit) = match app.store.read_limit(&key).await {
        Ok(_) => {
            let update = LimitUpdate {
                limit: Some(settings.limit),
                ..Default::default()
            };
            let limit = app.store.update_limit(&key, &update, app.now()).await?;
            app.slots.wake(vec![name]);
            (StatusCode::OK, limit)
        }
        Err(StoreError::NotFound { .. }) => {
            let new = NewLimit {
                name,
                settings,
                slot_decay_per_second: 0.0,
                active_slots: 0,
                denied_slots: 0,
            };
            (
                StatusCode::CREATED,
                app.store.create_limit(&new, app.now()).await?,
            )
        }
        Err(e) => return Err(e.into()),
    };
    Ok((status, Json(tag_view(&app, &limit).await?)))
}

async fn read_by_tag(
    State(app): State<AppState>,
    Path(tag): Path<String>,
) -> ApiResult<Json<TagLimit>> {
    let limit = read_tag(&app, &tag).await?;
    Ok(Json(tag_view(&app, &limit).await?))
}

async fn read_by_id(
    State(app): State<AppState>,
    Path(id): Path<String>,
) -> ApiResult<Json<TagLimit>> {
    let limit = read_id(&app, &id).await?;
    Ok(Json(tag_view(&app, &limit).await?))
}

async fn filter(
    State(app): State<AppState>,
    FilterBody(body): FilterBody<LimitPage>,
) -> ApiResult<Json<Vec<TagLimit>>> {
    let limits = app
        .store
        .read_limits(LimitKind::Tag, page_of(&body)?)
        .await?;
    let mut out = Vec::with_capacity(limits.len());
    for l in &limits {
        out.push(tag_view(&app, l).await?);
    }
    Ok(Json(out))
}

/// Releases every slot of the tag, then gives one to each task run in `slot_override`.
async fn reset(
    State(app): State<AppState>,
    Path(tag): Path<String>,
    FilterBody(reset): FilterBody<TagReset>,
) -> ApiResult<Json<serde_json::Value>> {
    let limit = read_tag(&app, &tag).await?;
    let runs = reset.slot_override.unwrap_or_default();
    app.store
        .reset_limit(&LimitKey::Id(limit.id), &runs, app.now())
        .await?;
    app.slots.wake(vec![limit.name]);
    Ok(Json(serde_json::Value::Null))
}

async fn delete_by_tag(
    State(app): State<AppState>,
    Path(tag): Path<String>,
) -> ApiResult<Json<serde_json::Value>> {
    let limit = read_tag(&app, &tag).await?;
    remove(&app, &limit).await
}

async fn delete_by_id(
    State(app): State<AppState>,
    Path(id): Path<String>,
) -> ApiResult<Json<serde_json::Value>> {
    let limit = read_id(&app, &id).await?;
    remove(&app, &limit).await
}

async fn remove(app: &AppState, limit: &ConcurrencyLimit) -> ApiResult<Json<serde_json::Value>> {
    app.store.delete_limit(&LimitKey::Id(limit.id)).await?;
    app.slots.wake(vec![limit.name.clone()]);
    Ok(Json(serde_json::Value::Null))
}

/// A task run takes one slot of each tag's limit, held until it gives them back with
/// `/decrement` or finishes (the lease reaper frees the slots of finished runs).
async fn increment(
    State(app): State<AppState>,
    Body(body): Body<TagSlots>,
) -> ApiResult<Json<Vec<MinimalLimit>>> {
    let names = tag_names(&body.names)?;
    let op = SlotOp::Acquire {
        names,
        slots: 1,
        mode: Mode::Concurrency,
        lease: Some(LeaseTerms {
            id: Uuid::now_v7(),
            duration: LeaseDuration::until_released(),
            holder: Some(Holder {
                kind: HolderKind::TaskRun,
                id: body.task_run_id,
            }),
        }),
    };
    let (limits, _) = acquire(&app, op, 1, DEFAULT_WAIT).await?;
    Ok(Json(limits.into_iter().map(minimal_tag).collect()))
}

async fn decrement(
    State(app): State<AppState>,
    Body(body): Body<TagSlots>,
) -> ApiResult<Json<Vec<MinimalLimit>>> {
    let op = SlotOp::ReleaseHeldBy {
        holder: body.task_run_id,
        names: tag_names(&body.names)?,
    };
    match app.slots.run(op).await? {
        SlotOutcome::Decremented(limits) => Ok(Json(limits.into_iter().map(minimal_tag).collect())),
        other => Err(ApiError::Internal(format!("decrement answered {other:?}"))),
    }
}

fn tag_name(tag: &str) -> ApiResult<String> {
    let name = tags::limit_name(tag);
    check_name(&name).map_err(refused)?;
    if tag.is_empty() {
        return Err(ApiError::Invalid("tag must not be empty".into()));
    }
    Ok(name)
}

fn tag_names(tags_given: &[String]) -> ApiResult<Vec<String>> {
    if tags_given.is_empty() {
        return Err(ApiError::Invalid("names must list at least one tag".into()));
    }
    read_names(
        &tags_given
            .iter()
            .map(|t| tag_name(t))
            .collect::<ApiResult<Vec<_>>>()?,
    )
}

async fn read_tag(app: &AppState, tag: &str) -> ApiResult<ConcurrencyLimit> {
    match app.store.read_limit(&LimitKey::Name(tag_name(tag)?)).await {
        Err(StoreError::NotFound { .. }) => Err(ApiError::NotFound(format!(
            "no concurrency limit on tag {tag:?}; create one with POST /api/concurrency_limits/"
        ))),
        other => Ok(other?),
    }
}

async fn read_id(app: &AppState, id: &str) -> ApiResult<ConcurrencyLimit> {
    let id = parse_id(id, "concurrency limit")?;
    let limit = app.store.read_limit(&LimitKey::Id(id)).await?;
    if tags::tag_of(&limit.name).is_none() {
        return Err(ApiError::NotFound(format!(
            "concurrency limit {id} is a global limit, not a tag limit; read it at /api/v2/concurrency_limits/{id}"
        )));
    }
    Ok(limit)
}

async fn tag_view(app: &AppState, limit: &ConcurrencyLimit) -> ApiResult<TagLimit> {
    let leases = app.store.leases_of_limit(limit.id, app.now()).await?;
    Ok(tag_limit(limit, &leases))
}
