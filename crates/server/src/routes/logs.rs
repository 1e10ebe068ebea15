//! `/logs`.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use flowgate_wire::filters::{LogFilterRequest, LogSort};
use flowgate_wire::logs::{Log, LogCreate};

use super::invalid;
use crate::app::{AppState, now};
use crate::convert::filters::{logs, page};
use crate::convert::logs::{log_in, log_out};
use crate::error::{ApiError, ApiResult, Body};
use crate::extract::FilterBody;
use crate::openapi::{ApiRoutes, doc};

/// Log lines per request at most.
const MAX_LOGS: usize = 10_000;

pub fn routes() -> ApiRoutes {
    ApiRoutes::new("Logs")
        .post(
            "/logs/",
            create,
            doc("Store run log lines").status(201, "stored"),
        )
        .post(
            "/logs/filter",
            filter,
            doc("List log lines matching a filter"),
        )
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
    FilterBody(req): FilterBody<LogFilterRequest>,
) -> ApiResult<Json<Vec<Log>>> {
    let f = invalid(logs(req.logs))?;
    let page = invalid(page(req.limit, req.offset))?;
    let newest_first = req.sort == Some(LogSort::TimestampDesc);
    let found = app.store.filter_logs(&f, newest_first, page).await?;
    Ok(Json(found.into_iter().map(log_out).collect()))
}
