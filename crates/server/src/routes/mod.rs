//! HTTP routes, one module per resource, mounted under `/api`.

mod admin;
mod events;
mod flow_run_input;
mod flow_runs;
mod flows;
mod logs;
mod task_queue;
mod task_runs;

use axum::Router;

use crate::app::AppState;

/// Every API route; each error answer is JSON with a `detail`.
pub fn api() -> Router<AppState> {
    Router::new()
        .merge(admin::routes())
        .merge(flows::routes())
        .merge(flow_runs::routes())
        .merge(flow_run_input::routes())
        .merge(task_runs::routes())
        .merge(task_queue::routes())
        .merge(logs::routes())
        .merge(events::routes())
        .layer(axum::middleware::map_response(crate::error::json_errors))
}

use axum::http::StatusCode;
use serde_json::Value;
use uuid::Uuid;

use crate::error::{ApiError, ApiResult};
use crate::wire::filters::Reader;

/// Parses a path id, naming what it should have been.
fn parse_id(raw: &str, kind: &str) -> ApiResult<Uuid> {
    Uuid::parse_str(raw)
        .map_err(|_| ApiError::Invalid(format!("{raw:?} is not a valid {kind} id (a UUID)")))
}

/// 201 for a new record, 200 for an existing one returned again.
fn created_status(created: bool) -> StatusCode {
    if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    }
}

/// Reads a filter body with `read`, then requires every other key to be known.
fn read_body<T>(
    body: &Value,
    read: impl FnOnce(&mut Reader<'_>) -> Result<T, String>,
) -> ApiResult<T> {
    let mut reader = Reader::new("body", Some(body)).map_err(ApiError::Invalid)?;
    let out = read(&mut reader).map_err(ApiError::Invalid)?;
    reader.finish().map_err(ApiError::Invalid)?;
    Ok(out)
}
