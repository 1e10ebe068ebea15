//! `/logs`.

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::post;
use axum::{Json, Router};

use super::read_body;
use crate::app::{AppState, now};
use crate::error::{ApiError, ApiResult, Body, OptionalBody};
use crate::wire::filters::{logs_body, page};
use crate::wire::logs::{LogCreate, LogOut};

/// Log lines per request at most.
const MAX_LOGS: usize = 10_000;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/logs/", post(create))
        .route("/logs", post(create))
        .route("/logs/filter", post(filter))
}

async fn create(
    State(app): State<AppState>,
    Body(logs): Body<Vec<LogCreate>>,
) -> ApiResult<StatusCode> {
    if logs.len() > MAX_LOGS {
        return Err(ApiError::Invalid(format!(
            "{} log lines in one request; send at most {MAX_LOGS}",
            logs.len()
        )));
    }
    let now = now();
    let entries: Vec<_> = logs.into_iter().map(|l| l.into_entry(now)).collect();
    app.ingest
        .submit_logs(entries)
        .await
        .map_err(|e| ApiError::Unavailable(e.to_string()))?;
    Ok(StatusCode::CREATED)
}

async fn filter(
    State(app): State<AppState>,
    OptionalBody(body): OptionalBody,
) -> ApiResult<Json<Vec<LogOut>>> {
    let ((f, newest_first), page) = read_body(&body, |r| Ok((logs_body(r)?, page(r)?)))?;
    let logs = app.store.filter_logs(&f, newest_first, page).await?;
    Ok(Json(logs.into_iter().map(LogOut::from).collect()))
}
