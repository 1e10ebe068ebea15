//! The one place errors become HTTP responses: every failure is a status and a JSON `detail`.

use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::extract::{FromRequest, OriginalUri, Request};
use axum::http::{Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use flowgate_store::StoreError;
use serde::de::DeserializeOwned;
use serde_json::json;

/// An API failure.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// The request is well-formed JSON but not valid for the operation (422).
    #[error("{0}")]
    Invalid(String),
    /// The request body is not JSON, or too large (400, 413, 415).
    #[error("{1}")]
    BadRequest(StatusCode, String),
    /// The addressed record does not exist (404).
    #[error("{0}")]
    NotFound(String),
    /// The request conflicts with the current state (409).
    #[error("{0}")]
    Conflict(String),
    /// Something failed inside the server (500); details are logged, not returned.
    #[error("internal error: {0}")]
    Internal(String),
    /// The server is shutting down or the database is unavailable (503).
    #[error("{0}")]
    Unavailable(String),
    /// What was asked for is taken for now (423, concurrency slots): ask again after the
    /// duration, sent as `Retry-After` in seconds (fractional, as Prefect's client reads it).
    #[error("{0}")]
    Locked(String, std::time::Duration),
}

/// Shorthand for handler results.
pub type ApiResult<T> = Result<T, ApiError>;

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound { .. } => ApiError::NotFound(e.to_string()),
            StoreError::Conflict(m) => ApiError::Conflict(m),
            StoreError::Invalid(m) => ApiError::Invalid(m),
            StoreError::Unavailable(cause) => {
                tracing::warn!(%cause, "the database is unavailable");
                ApiError::Unavailable("the database is busy or unavailable; retry shortly".into())
            }
            other => ApiError::Internal(other.to_string()),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, detail) = match &self {
            ApiError::Invalid(m) => (StatusCode::UNPROCESSABLE_ENTITY, m.clone()),
            ApiError::BadRequest(s, m) => (*s, m.clone()),
            ApiError::NotFound(m) => (StatusCode::NOT_FOUND, m.clone()),
            ApiError::Conflict(m) => (StatusCode::CONFLICT, m.clone()),
            ApiError::Unavailable(m) => (StatusCode::SERVICE_UNAVAILABLE, m.clone()),
            ApiError::Locked(m, _) => (StatusCode::LOCKED, m.clone()),
            ApiError::Internal(m) => {
                tracing::error!(error = %m, "request failed");
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "internal server error; see the server log".to_owned(),
                )
            }
        };
        let mut response = (status, Json(json!({ "detail": detail }))).into_response();
        if let ApiError::Locked(_, retry_after) = &self
            && let Ok(seconds) = format!("{:.3}", retry_after.as_secs_f64()).parse()
        {
            response.headers_mut().insert(header::RETRY_AFTER, seconds);
        }
        response
    }
}

/// A JSON body whose rejections are [`ApiError`]s with a useful `detail`.
pub struct Body<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for Body<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        match Json::<T>::from_request(req, state).await {
            Ok(Json(v)) => Ok(Body(v)),
            Err(rejection) => Err(rejection_error(rejection)),
        }
    }
}

fn rejection_error(r: JsonRejection) -> ApiError {
    match r {
        JsonRejection::JsonDataError(e) => ApiError::Invalid(format!(
            "request body does not match the expected shape: {}",
            std::error::Error::source(&e)
                .map(ToString::to_string)
                .unwrap_or_else(|| e.body_text())
        )),
        JsonRejection::JsonSyntaxError(e) => ApiError::BadRequest(
            StatusCode::BAD_REQUEST,
            format!(
                "request body is not valid JSON: {}",
                std::error::Error::source(&e)
                    .map(ToString::to_string)
                    .unwrap_or_else(|| e.body_text())
            ),
        ),
        JsonRejection::MissingJsonContentType(_) => ApiError::BadRequest(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "send the body as JSON with Content-Type: application/json".into(),
        ),
        JsonRejection::BytesRejection(e) => ApiError::BadRequest(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!(
                "request body could not be read (too large or interrupted): {}",
                e.body_text()
            ),
        ),
        other => ApiError::BadRequest(other.status(), other.body_text()),
    }
}

/// A JSON body that may be absent (read as `{}`): filter endpoints accept an empty body as "no
/// filter". A body that is not JSON is a 400; one that does not fit `T` a 422.
pub struct OptionalBody<T = serde_json::Value>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for OptionalBody<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let bytes = axum::body::Bytes::from_request(req, state)
            .await
            .map_err(|e| {
                ApiError::BadRequest(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    format!(
                        "request body could not be read (too large or interrupted): {}",
                        e.body_text()
                    ),
                )
            })?;
        let value = if bytes.iter().all(u8::is_ascii_whitespace) {
            serde_json::Value::Object(Default::default())
        } else {
            serde_json::from_slice(&bytes).map_err(|e| {
                ApiError::BadRequest(
                    StatusCode::BAD_REQUEST,
                    format!("request body is not valid JSON: {e}"),
                )
            })?
        };
        serde_json::from_value(value)
            .map(OptionalBody)
            .map_err(|e| ApiError::Invalid(format!("request body: {e}")))
    }
}

/// Error bodies axum's own rejections may carry at most (they are one line).
const MAX_REJECTION_TEXT: usize = 64 * 1024;

/// Gives the error answers produced outside the handlers (an unsupported method, a path or
/// query that does not parse, a plain request to a websocket route) the JSON `detail` body every
/// handler error has; JSON and successful answers pass through untouched.
pub async fn json_errors(
    method: Method,
    OriginalUri(uri): OriginalUri,
    response: Response,
) -> Response {
    let status = response.status();
    let is_json = response
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/json"));
    if is_json || !(status.is_client_error() || status.is_server_error()) {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    let text = axum::body::to_bytes(body, MAX_REJECTION_TEXT)
        .await
        .map(|b| String::from_utf8_lossy(&b).trim().to_owned())
        .unwrap_or_default();
    let problem = match text.as_str() {
        "" => status.canonical_reason().unwrap_or("request failed"),
        text => text,
    };
    let detail = format!("{method} {uri}: {problem}");
    parts.headers.remove(header::CONTENT_TYPE);
    parts.headers.remove(header::CONTENT_LENGTH);
    (parts, Json(json!({ "detail": detail }))).into_response()
}
