//! `/automations/…`: create, read, replace, enable or disable, delete, list and count
//! automations, the ones related to or owned by a resource (`flow.deploy()` deletes a
//! deployment's own automations before creating them again).

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use flowgate_core::automations::{Engine, EngineSettings};
use flowgate_store::StoreError;
use flowgate_store::model::{AutomationFilter, AutomationSort, AutomationSpec, WorkPoolFilter};
use flowgate_wire::automations as wire;

use super::parse_id;
use crate::app::AppState;
use crate::convert::automations::{
    assign_ids, automation_out, automation_spec, explain, related_resources, stored_trigger,
    trigger,
};
use crate::convert::filters::page;
use crate::error::{ApiError, ApiResult, Body};
use crate::extract::FilterBody;
use crate::openapi::{ApiRoutes, doc};

pub fn routes() -> ApiRoutes {
    ApiRoutes::new("Automations")
        .post(
            "/automations/",
            create,
            doc("Create an automation: a trigger and the actions it runs")
                .describe("Triggers: `event` (reactive or proactive), `compound`, `sequence` and `metric` (which Prefect's open-source server refuses). Each bad field is named in the 422, as is an action whose selected deployment, work pool, work queue or automation does not exist.")
                .status(201, "the new automation, every trigger with its id"),
        )
        .post(
            "/automations/filter",
            filter,
            doc("List automations (by name unless `sort` says otherwise)"),
        )
        .post("/automations/count", count, doc("Count automations"))
        .get("/automations/{id}", read, doc("Read an automation"))
        .put(
            "/automations/{id}",
            replace,
            doc("Replace an automation's definition (its trigger starts afresh)")
                .status(204, "replaced"),
        )
        .patch(
            "/automations/{id}",
            patch,
            doc("Enable or disable an automation").status(204, "changed"),
        )
        .delete(
            "/automations/{id}",
            delete,
            doc("Delete an automation").status(204, "deleted"),
        )
        .get(
            "/automations/{id}/state",
            state,
            doc("Why an automation did or did not fire (Flowgate)")
                .describe("Its trigger's state as of the engine's last checkpoint (events counted in each window and bucket, which parts of a compound or sequence matched, a metric's current value, each with a sentence), and its latest firings with their actions' outcomes."),
        )
        .get(
            "/automations/related-to/{resource_id}",
            related_to,
            doc("Automations owned by a resource or whose actions refer to it")
                .describe("`resource_id` is a resource id such as `prefect.deployment.<uuid>`."),
        )
        .delete(
            "/automations/owned-by/{resource_id}",
            delete_owned,
            doc("Delete the automations a resource owns (`owner_resource`)")
                .status(202, "deleted (none is not an error)"),
        )
}

/// Reads and checks a definition: the trigger tree (ids assigned afresh) and the actions'
/// targets.
async fn checked(
    app: &AppState,
    mut body: wire::AutomationCreate,
) -> ApiResult<(AutomationSpec, Vec<String>)> {
    if body.name.trim().is_empty() {
        return Err(ApiError::Invalid(
            "name: an automation needs a name (this one is empty or blank); give it one".into(),
        ));
    }
    assign_ids(&mut body.trigger);
    trigger(&body.trigger).map_err(|e| ApiError::Invalid(explain(&e)))?;
    let lists = [
        ("actions", &body.actions),
        ("actions_on_trigger", &body.actions_on_trigger),
        ("actions_on_resolve", &body.actions_on_resolve),
    ];
    for (list, actions) in lists {
        for (i, action) in actions.iter().enumerate() {
            check_target(app, action)
                .await
                .map_err(|e| ApiError::Invalid(format!("{list}[{i}].{e}")))?;
        }
    }
    let spec = automation_spec(&body).map_err(ApiError::Invalid)?;
    Ok((spec, related_resources(&body)))
}

/// Refuses an action whose selected target is missing or does not exist (a message starting
/// with the field).
async fn check_target(app: &AppState, action: &wire::Action) -> Result<(), String> {
    use wire::Action as A;
    let now = app.now();
    let (field, source, id) = match action {
        A::RunDeployment(r) => ("deployment_id", r.source, r.deployment_id),
        A::PauseDeployment(t) | A::ResumeDeployment(t) => {
            ("deployment_id", t.source, t.deployment_id)
        }
        A::PauseWorkPool(t) | A::ResumeWorkPool(t) => ("work_pool_id", t.source, t.work_pool_id),
        A::PauseWorkQueue(t) | A::ResumeWorkQueue(t) => {
            ("work_queue_id", t.source, t.work_queue_id)
        }
        A::PauseAutomation(t) | A::ResumeAutomation(t) => {
            ("automation_id", t.source, t.automation_id)
        }
        _ => return Ok(()),
    };
    if source == wire::Source::Inferred {
        return Ok(());
    }
    let Some(id) = id else {
        return Err(format!(
            "{field}: required when source is \"selected\" (or set source to \"inferred\" to act on the triggering event's resource)"
        ));
    };
    let found = match field {
        "deployment_id" => exists(app.store.read_deployment(id, now).await),
        "work_queue_id" => exists(app.store.read_work_queue(id, now).await),
        "automation_id" => exists(app.store.read_automation(id).await),
        _ => {
            let filter = WorkPoolFilter {
                ids: Some(vec![id]),
                ..Default::default()
            };
            (app.store
                .filter_work_pools(&filter, Default::default(), now)
                .await)
                .map(|pools| !pools.is_empty())
        }
    };
    match found {
        Ok(true) => Ok(()),
        Ok(false) => Err(format!(
            "{field}: there is no {} {id}",
            &field[..field.len() - 3].replace('_', " ")
        )),
        Err(e) => Err(format!("{field}: could not be checked ({e})")),
    }
}

/// Whether a read found its record (`NotFound` is `false`).
fn exists<T>(read: Result<T, StoreError>) -> Result<bool, StoreError> {
    match read {
        Ok(_) => Ok(true),
        Err(StoreError::NotFound { .. }) => Ok(false),
        Err(e) => Err(e),
    }
}

async fn create(
    State(app): State<AppState>,
    Body(body): Body<wire::AutomationCreate>,
) -> ApiResult<(StatusCode, Json<wire::Automation>)> {
    let owner = body.owner_resource.clone();
    if let Some(owner) = &owner {
        crate::convert::plain_text("owner_resource", owner).map_err(ApiError::Invalid)?;
    }
    let (spec, related) = checked(&app, body).await?;
    let created = app
        .store
        .create_automation(&spec, &related, owner.as_deref(), app.now())
        .await?;
    app.automations.notify_one();
    Ok((StatusCode::CREATED, Json(automation_out(&created)?)))
}

async fn read(
    State(app): State<AppState>,
    Path(id): Path<String>,
) -> ApiResult<Json<wire::Automation>> {
    let id = parse_id(&id, "automation")?;
    Ok(Json(automation_out(&app.store.read_automation(id).await?)?))
}

async fn replace(
    State(app): State<AppState>,
    Path(id): Path<String>,
    Body(body): Body<wire::AutomationCreate>,
) -> ApiResult<StatusCode> {
    let id = parse_id(&id, "automation")?;
    let (spec, related) = checked(&app, body).await?;
    app.store
        .replace_automation(id, &spec, &related, app.now())
        .await?;
    app.automations.notify_one();
    Ok(StatusCode::NO_CONTENT)
}

async fn patch(
    State(app): State<AppState>,
    Path(id): Path<String>,
    Body(body): Body<wire::AutomationPatch>,
) -> ApiResult<StatusCode> {
    let id = parse_id(&id, "automation")?;
    app.store
        .set_automation_enabled(id, body.enabled, app.now())
        .await?;
    app.automations.notify_one();
    Ok(StatusCode::NO_CONTENT)
}

async fn delete(State(app): State<AppState>, Path(id): Path<String>) -> ApiResult<StatusCode> {
    let id = parse_id(&id, "automation")?;
    app.store.delete_automation(id).await?;
    app.automations.notify_one();
    Ok(StatusCode::NO_CONTENT)
}

async fn filter(
    State(app): State<AppState>,
    FilterBody(req): FilterBody<wire::AutomationFilterRequest>,
) -> ApiResult<Json<Vec<wire::Automation>>> {
    let page = page(req.limit, req.offset).map_err(ApiError::Invalid)?;
    let sort = match req.sort.unwrap_or_default() {
        wire::AutomationSort::CreatedDesc => AutomationSort::CreatedDesc,
        wire::AutomationSort::UpdatedDesc => AutomationSort::UpdatedDesc,
        wire::AutomationSort::NameAsc => AutomationSort::NameAsc,
        wire::AutomationSort::NameDesc => AutomationSort::NameDesc,
    };
    let found = app
        .store
        .filter_automations(&automation_filter(req.automations), sort, page)
        .await?;
    Ok(Json(rendered(&found)?))
}

async fn count(
    State(app): State<AppState>,
    FilterBody(req): FilterBody<wire::AutomationCountRequest>,
) -> ApiResult<Json<i64>> {
    Ok(Json(
        app.store
            .count_automations(&automation_filter(req.automations))
            .await?,
    ))
}

async fn related_to(
    State(app): State<AppState>,
    Path(resource_id): Path<String>,
) -> ApiResult<Json<Vec<wire::Automation>>> {
    let found = app.store.automations_related_to(&resource_id).await?;
    Ok(Json(rendered(&found)?))
}

async fn delete_owned(
    State(app): State<AppState>,
    Path(resource_id): Path<String>,
) -> ApiResult<StatusCode> {
    app.store
        .delete_automations_owned_by(&resource_id, app.now())
        .await?;
    app.automations.notify_one();
    Ok(StatusCode::ACCEPTED)
}

/// Firings listed by `/automations/{id}/state`.
const LISTED_FIRINGS: u32 = 20;

async fn state(
    State(app): State<AppState>,
    Path(id): Path<String>,
) -> ApiResult<Json<wire::AutomationReport>> {
    let id = parse_id(&id, "automation")?;
    let automation = app.store.read_automation(id).await?;
    let trigger_state = match automation.spec.enabled {
        true => {
            let stored = app.store.automation_state(id).await?;
            let tree = trigger(&stored_trigger(&automation)?).map_err(|e| {
                StoreError::Corrupt(format!("automation {id} trigger: {}", explain(&e)))
            })?;
            let now = app.now();
            let mut engine = Engine::new(EngineSettings::default());
            engine.load(id, &tree, stored, now);
            engine
                .explain(id, now)
                .and_then(|report| serde_json::to_value(report).ok())
        }
        false => None,
    };
    let firings = app.store.automation_firings(id, LISTED_FIRINGS).await?;
    Ok(Json(wire::AutomationReport {
        trigger_state,
        firings: firings
            .into_iter()
            .map(|f| wire::AutomationFiring {
                id: f.id,
                state: f.state,
                occurred: f.occurred,
                decided: f.decided,
                triggering_event: f.triggering_event,
                // Outcomes the server wrote as `ActionOutcome`s; null while the actions run.
                actions: serde_json::from_value(f.outcomes).unwrap_or_default(),
            })
            .collect(),
    }))
}

fn automation_filter(f: Option<wire::AutomationFilter>) -> AutomationFilter {
    let f = f.unwrap_or_default();
    AutomationFilter {
        ids: f.id.and_then(|a| a.any_),
        names: f.name.and_then(|a| a.any_),
        created_before: f.created.and_then(|c| c.before_),
    }
}

fn rendered(found: &[flowgate_store::model::Automation]) -> ApiResult<Vec<wire::Automation>> {
    Ok(found
        .iter()
        .map(automation_out)
        .collect::<Result<_, StoreError>>()?)
}
