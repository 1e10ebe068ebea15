//! `/flow_runs/{id}/input` and `/flow_runs/{id}/resume`: what a paused run waits for, and
//! resuming it. Prefect's client stores the input's JSON Schema and description under keys named
//! in the paused state's `run_input_keyset`; a resume's `run_input` is checked against that
//! schema here, then stored under the keyset's response key as the run moves to Running.

use std::time::Duration;

use axum::Json;
use axum::extract::{Extension, Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use flowgate_core::orchestration::Decision;
use flowgate_core::pause::{ResumePlan, ResumeRefusal, plan_resume};
use flowgate_store::StoreError;
use flowgate_store::model::{FlowRunInput, Resume};
use flowgate_wire::inputs::{
    FlowRunInput as InputOut, FlowRunInputCreate, FlowRunInputFilter, ResumeRequest,
};
use flowgate_wire::states::OrchestrationResult;
use serde_json::Value;
use uuid::Uuid;

use super::{invalid, parse_id};
use crate::app::AppState;
use crate::auth::Caller;
use crate::convert::inputs::input_out;
use crate::convert::plain_texts;
use crate::convert::states::orchestration;
use crate::error::{ApiError, ApiResult, Body, OptionalBody};
use crate::extract::FilterBody;
use crate::openapi::{ApiRoutes, doc};
use crate::run_input::{MAX_INPUT_BYTES, validate};

pub fn routes() -> ApiRoutes {
    ApiRoutes::new("Flow run inputs")
        .post(
            "/flow_runs/{id}/input",
            create,
            doc("Store a value under a key for a flow run (e.g. a pause's input schema)")
                .status(201, "stored"),
        )
        .post(
            "/flow_runs/{id}/input/filter",
            filter,
            doc("List a flow run's stored inputs by key prefix"),
        )
        .get(
            "/flow_runs/{id}/input/{key}",
            read,
            doc("Read a flow run's stored input value")
                .json::<Value>(200, "the stored value, as the JSON it was stored as"),
        )
        .delete(
            "/flow_runs/{id}/input/{key}",
            delete,
            doc("Delete a flow run's stored input").status(204, "deleted"),
        )
        .post(
            "/flow_runs/{id}/resume",
            resume,
            doc("Resume a paused flow run, with the input it waits for")
                .describe(
                    "The input is checked against the JSON Schema the paused flow stored; \
                     exactly one resume wins.",
                )
                .status(201, "resumed: the run is Running")
                .status(
                    200,
                    "rejected: the input does not fit (the run stays Paused)",
                ),
        )
}

async fn create(
    State(app): State<AppState>,
    Path(id): Path<String>,
    Body(body): Body<FlowRunInputCreate>,
) -> ApiResult<StatusCode> {
    let flow_run_id = parse_id(&id, "flow run")?;
    let key_ok = !body.key.is_empty()
        && body.key.len() <= 255
        && body
            .key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if !key_ok {
        return Err(ApiError::Invalid(format!(
            "input key {:?} must be 1-255 characters of letters, digits, '-', '_' or '.'",
            body.key
        )));
    }
    if body.value.len() > MAX_INPUT_BYTES {
        return Err(ApiError::TooLarge(format!(
            "input value is {} bytes; at most {MAX_INPUT_BYTES}",
            body.value.len()
        )));
    }
    invalid(plain_texts([
        ("value", Some(body.value.as_str())),
        ("sender", body.sender.as_deref()),
    ]))?;
    // Read back as the response body of `GET …/input/{key}`, so it must be JSON.
    if let Err(e) = serde_json::from_str::<serde::de::IgnoredAny>(&body.value) {
        return Err(ApiError::Invalid(format!(
            "input value must be JSON text, as it is read back as JSON (a string goes with its \
             quotes): {e}"
        )));
    }
    let input = FlowRunInput {
        id: Uuid::now_v7(),
        created: app.now(),
        flow_run_id,
        key: body.key,
        value: body.value,
        sender: body.sender,
    };
    app.store.create_flow_run_input(&input).await?;
    Ok(StatusCode::CREATED)
}

/// The stored value as the response body (it is JSON text), as Prefect's client reads it.
async fn read(
    State(app): State<AppState>,
    Path((id, key)): Path<(String, String)>,
) -> ApiResult<Response> {
    let input = app
        .store
        .read_flow_run_input(parse_id(&id, "flow run")?, &key)
        .await?;
    Ok(([(header::CONTENT_TYPE, "application/json")], input.value).into_response())
}

async fn delete(
    State(app): State<AppState>,
    Path((id, key)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    app.store
        .delete_flow_run_input(parse_id(&id, "flow run")?, &key)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn filter(
    State(app): State<AppState>,
    Path(id): Path<String>,
    FilterBody(req): FilterBody<FlowRunInputFilter>,
) -> ApiResult<Json<Vec<InputOut>>> {
    let flow_run_id = parse_id(&id, "flow run")?;
    let limit = req.limit.unwrap_or(1);
    if !(1..=1000).contains(&limit) {
        return Err(ApiError::Invalid(format!(
            "limit must be between 1 and 1000, got {limit}"
        )));
    }
    let exclude = req.exclude_keys.unwrap_or_default();
    let prefix = req.prefix.unwrap_or_default();
    let inputs = app
        .store
        .filter_flow_run_inputs(flow_run_id, &prefix, &exclude, limit as u32)
        .await?;
    Ok(Json(inputs.into_iter().map(input_out).collect()))
}

/// Checks a resume's input against the JSON Schema the paused flow stored under `schema_key`:
/// `Ok(Err(reason))` when the input must be refused, also when the schema is missing or
/// unreadable (an input that cannot be checked is not accepted).
async fn check_input(
    app: &AppState,
    run: Uuid,
    schema_key: &str,
    input: &Value,
) -> ApiResult<Result<(), String>> {
    let Some(stored) = read_schema(app, run, schema_key).await? else {
        return Ok(Err(format!(
            "the paused flow has not stored its input schema (key {schema_key:?}) within \
             {SCHEMA_GRACE:?} of this resume, so the input cannot be checked; try again later"
        )));
    };
    let schema: Value = match serde_json::from_str(&stored.value) {
        Ok(schema) => schema,
        Err(e) => {
            return Ok(Err(format!(
                "the paused flow stored an input schema that is not JSON ({e}), so the input \
                 cannot be checked; cancel the run"
            )));
        }
    };
    Ok(validate(&schema, input))
}

/// How long a resume waits for the schema of a run that has just paused: a client stores it
/// right after its pause is accepted, so a resume sent at that moment (a person quick on the
/// form, a program resuming as soon as it sees the pause) is checked rather than refused.
const SCHEMA_GRACE: Duration = Duration::from_secs(2);
/// How often the schema is looked for meanwhile.
const SCHEMA_POLL: Duration = Duration::from_millis(25);

/// The stored input schema, waiting up to [`SCHEMA_GRACE`] for it to be stored.
async fn read_schema(app: &AppState, run: Uuid, key: &str) -> ApiResult<Option<FlowRunInput>> {
    let give_up = tokio::time::Instant::now() + SCHEMA_GRACE;
    loop {
        match app.store.read_flow_run_input(run, key).await {
            Ok(stored) => return Ok(Some(stored)),
            Err(StoreError::NotFound { .. }) if tokio::time::Instant::now() < give_up => {
                tokio::time::sleep(SCHEMA_POLL).await;
            }
            Err(StoreError::NotFound { .. }) => return Ok(None),
            Err(e) => return Err(e.into()),
        }
    }
}

/// Rejects a resume, keeping the run paused (Prefect answers 200 with `REJECT`).
fn reject(
    state: Option<&flowgate_core::State>,
    reason: String,
) -> (StatusCode, Json<OrchestrationResult>) {
    (
        StatusCode::OK,
        Json(orchestration(&Decision::Reject { reason }, state)),
    )
}

async fn resume(
    State(app): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    OptionalBody(body): OptionalBody<ResumeRequest>,
) -> ApiResult<(StatusCode, Json<OrchestrationResult>)> {
    let id = parse_id(&id, "flow run")?;
    invalid(plain_texts([("resumed_by", body.resumed_by.as_deref())]))?;
    let run = app.store.read_flow_run(id).await?;
    let state = run.state.as_ref();
    let plan = match plan_resume(state, body.run_input.is_some()) {
        Ok(plan) => plan,
        Err(ResumeRefusal::NotPaused(why)) => {
            return Err(ApiError::Conflict(format!(
                "flow run {id} cannot be resumed: {why}"
            )));
        }
        Err(ResumeRefusal::Rejected(reason)) => return Ok(reject(state, reason)),
    };
    let input = match (plan, body.run_input) {
        (ResumePlan::WithInput(keys), Some(run_input)) => {
            let text = run_input.to_string();
            if text.len() > MAX_INPUT_BYTES {
                return Err(ApiError::TooLarge(format!(
                    "run_input is {} bytes; at most {MAX_INPUT_BYTES}",
                    text.len()
                )));
            }
            if let Err(reason) = check_input(&app, id, &keys.schema, &run_input).await? {
                return Ok(reject(state, reason));
            }
            Some((keys.response, text))
        }
        _ => None,
    };
    let paused = state.map(|s| s.id).unwrap_or_default();
    let (resumed, events) = app
        .store
        .resume_flow_run(
            id,
            Resume {
                paused,
                input,
                // Who resumed it: the caller's key name when keys are required, else what the
                // caller says.
                resumed_by: match caller.name() {
                    Some(name) => Some(name.to_owned()),
                    None => body.resumed_by.map(|who| who.chars().take(200).collect()),
                },
            },
            app.now(),
        )
        .await?;
    app.publish(events);
    let result = orchestration(&Decision::Accept, resumed.state.as_ref());
    Ok((StatusCode::CREATED, Json(result)))
}
