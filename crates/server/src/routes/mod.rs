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
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;
use uuid::Uuid;

use crate::error::{ApiError, ApiResult};

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

/// Reads a filter body (absent: no filter) into its wire type, refusing unknown fields.
fn filter_body<T: DeserializeOwned + Serialize>(body: &Value) -> ApiResult<T> {
    crate::convert::filters::read("body", body).map_err(ApiError::Invalid)
}

/// A conversion's complaint as a 422.
fn invalid<T>(result: Result<T, String>) -> ApiResult<T> {
    result.map_err(ApiError::Invalid)
}
