//! `/logs`.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use flowgate_wire::filters::{LogFilterRequest, LogSort};
use flowgate_wire::logs::{Log, LogCreate};
use tokio::sync::mpsc;

use super::invalid;
use crate::app::AppState;
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
    let now = app.now();
    let entries = lines
        .into_iter()
        .enumerate()
        .map(|(i, l)| log_in(l, now).map_err(|why| format!("line {i}: {why}")))
        .collect::<Result<Vec<_>, _>>()
        .map_err(ApiError::Invalid)?;
    let (refusals, mut refused) = mpsc::unbounded_channel();
    app.ingest.submit_logs(entries, Some(&refusals)).await?;
    app.ingest.flush().await?;
    let reasons: Vec<String> = std::iter::from_fn(|| refused.try_recv().ok())
        .map(|r| format!("{} {}: {}", r.what, r.id, r.reason))
        .collect();
    if reasons.is_empty() {
        Ok(StatusCode::CREATED)
    } else {
        Err(ApiError::Invalid(format!(
            "not stored (the others were): {}",
            reasons.join("; ")
        )))
    }
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
