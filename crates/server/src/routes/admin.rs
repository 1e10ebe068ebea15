//! Health, version and the client's start-up probes.

use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{Value, json};

use crate::app::AppState;
use crate::error::ApiError;

/// The Prefect server version reported to clients (the client requires major version 3).
pub const PREFECT_COMPAT_VERSION: &str = "3.9.1";

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/health", get(|| async { Json(true) }))
        .route("/ready", get(|| async { Json(json!({"message": "OK"})) }))
        .route("/hello", get(|| async { Json("👋") }))
        .route(
            "/admin/version",
            get(|| async { Json(PREFECT_COMPAT_VERSION) }),
        )
        .route(
            "/admin/storage",
            get(|| async { Json(json!({"default_result_storage_block_id": null})) }),
        )
        .route("/admin/settings", get(settings))
        .route("/csrf-token", get(csrf_token))
}

async fn settings() -> Json<Value> {
    Json(json!({"server": {"name": "flowgate", "version": env!("CARGO_PKG_VERSION")}}))
}

async fn csrf_token() -> ApiError {
    ApiError::BadRequest(
        StatusCode::UNPROCESSABLE_ENTITY,
        "CSRF protection is disabled.".to_owned(),
    )
}
