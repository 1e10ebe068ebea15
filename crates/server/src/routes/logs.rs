//! `/logs`.

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::post;
use axum::{Json, Router};
use flowgate_wire::filters::{LogFilterRequest, LogSort};
use flowgate_wire::logs::{Log, LogCreate};

use super::{filter_body, invalid};
use crate::app::{AppState, now};
use crate::convert::filters::{logs, page};
use crate::convert::logs::{log_in, log_out};
use crate::error::{ApiError, ApiResult, Body, OptionalBody};

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
    Body(lines): Body<Vec<LogCreate>>,
) -> ApiResult<StatusCode> {
    if lines.len() > MAX_LOGS {
        return Err(ApiError::Invalid(format!(
            "{} log lines in one request; send at most {MAX_LOGS}",
            lines.len()
        )));
    }
    let now = now();
    let entries: Vec<_> = lines.into_iter().map(|l| log_in(l, now)).collect();
    app.ingest
        .submit_logs(entries)
        .await
        .map_err(|e| ApiError::Unavailable(e.to_string()))?;
    Ok(StatusCode::CREATED)
}

async fn filter(
    State(app): State<AppState>,
    OptionalBody(body): OptionalBody,
) -> ApiResult<Json<Vec<Log>>> {
    let req: LogFilterRequest = filter_body(&body)?;
    let f = invalid(logs(req.logs))?;
    let page = invalid(page(req.limit, req.offset))?;
    let newest_first = req.sort == Some(LogSort::TimestampDesc);
    let found = app.store.filter_logs(&f, newest_first, page).await?;
    Ok(Json(found.into_iter().map(log_out).collect()))
}
