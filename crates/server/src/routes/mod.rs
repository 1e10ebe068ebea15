//! HTTP routes, one module per resource, mounted under `/api`.

mod admin;
mod artifacts;
mod automations;
mod block_references;
mod blocks;
mod concurrency_limits;
pub(crate) mod deployments;
mod event_counts;
mod event_pages;
mod events;
pub(crate) mod events_in;
mod events_out;
mod flow_run_input;
mod flow_runs;
mod flows;
mod logs;
mod slot_channel;
mod sockets;
mod tag_limits;
mod task_queue;
mod task_runs;
mod variables;
mod work_pools;
mod work_queues;
mod worker_channel;

use axum::Router;

use crate::app::AppState;
use crate::openapi::ApiRoutes;

/// Every API route, documented (`GET /api/openapi.json`); each error answer is JSON with a
/// `detail`. A capability's module returns its [`ApiRoutes`] and is merged here.
pub fn api() -> Router<AppState> {
    api_routes()
        .into_router()
        .layer(axum::middleware::map_response(crate::error::json_errors))
}

/// Every capability's routes.
pub fn api_routes() -> ApiRoutes {
    ApiRoutes::new("Server")
        .merge(admin::routes())
        .merge(flows::routes())
        .merge(flow_runs::routes())
        .merge(flow_run_input::routes())
        .merge(task_runs::routes())
        .merge(task_queue::routes())
        .merge(logs::routes())
        .merge(concurrency_limits::routes())
        .merge(slot_channel::routes())
        .merge(tag_limits::routes())
        .merge(events::routes())
        .merge(work_pools::routes())
        .merge(work_queues::routes())
        .merge(worker_channel::routes())
        .merge(deployments::routes())
        .merge(variables::routes())
        .merge(artifacts::routes())
        .merge(blocks::routes())
        .merge(automations::routes())
}

use axum::http::StatusCode;
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

/// A conversion's complaint as a 422.
fn invalid<T>(result: Result<T, String>) -> ApiResult<T> {
    result.map_err(ApiError::Invalid)
}
