//! Health, version and the client's start-up probes.

use axum::Json;
use serde_json::{Value, json};

use crate::error::ApiError;
use crate::openapi::{ApiRoutes, doc};

/// The Prefect server version reported to clients (the client requires major version 3).
pub const PREFECT_COMPAT_VERSION: &str = "3.9.1";

pub fn routes() -> ApiRoutes {
    ApiRoutes::new("Server")
        .get(
            "/health",
            || async { Json(true) },
            doc("Whether the server is up (always true when it answers)"),
        )
        .get(
            "/ready",
            || async { Json(json!({"message": "OK"})) },
            doc("Whether the server is ready for requests"),
        )
        .get(
            "/hello",
            || async { Json("👋") },
            doc("A greeting, for connectivity checks"),
        )
        .get(
            "/admin/version",
            || async { Json(PREFECT_COMPAT_VERSION) },
            doc("The Prefect server version this API is compatible with"),
        )
        .get(
            "/admin/storage",
            || async { Json(json!({"default_result_storage_block_id": null})) },
            doc("Where results are stored by default (nowhere: results stay with the client)"),
        )
        .get(
            "/admin/settings",
            settings,
            doc("The server's name and version"),
        )
        .get(
            "/csrf-token",
            csrf_token,
            doc("A CSRF token (CSRF protection is off: always 422)")
                .error(422, "CSRF protection is disabled"),
        )
}

async fn settings() -> Json<Value> {
    Json(json!({"server": {"name": "flowgate", "version": env!("CARGO_PKG_VERSION")}}))
}

async fn csrf_token() -> ApiError {
    ApiError::Invalid("CSRF protection is disabled.".to_owned())
}
