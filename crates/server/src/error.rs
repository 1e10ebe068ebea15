//! The one place errors become HTTP responses: every failure is a status and a JSON `detail`.

use std::panic::AssertUnwindSafe;

use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::extract::{FromRequest, OriginalUri, Request};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use flowgate_store::StoreError;
use flowgate_wire::ErrorBody;
use futures_util::FutureExt;
use serde::de::DeserializeOwned;

use crate::ingest::IngestError;

/// An API failure: one variant per HTTP status, each carrying the `detail` a client reads.
/// Only [`ApiError::Internal`] carries text not meant for the client (it is logged, and the
/// client reads a plain sentence).
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// The request is not well-formed: a body that is not JSON, a query that does not parse
    /// (400).
    #[error("{0}")]
    BadRequest(String),
    /// No valid API key or credentials came with the request, and the server requires them
    /// (401, with `WWW-Authenticate: Bearer`).
    #[error("{0}")]
    Unauthorized(String),
    /// The operation is not allowed on this record, whoever asks (403: a protected block
    /// type).
    #[error("{0}")]
    Forbidden(String),
    /// The addressed record or route does not exist (404).
    #[error("{0}")]
    NotFound(String),
    /// The request conflicts with the current state (409).
    #[error("{0}")]
    Conflict(String),
    /// The body, or a value in it, is larger than the server accepts (413).
    #[error("{0}")]
    TooLarge(String),
    /// The body is not sent as JSON (415).
    #[error("{0}")]
    UnsupportedMediaType(String),
    /// The request is well-formed JSON but not valid for the operation (422).
    #[error("{0}")]
    Invalid(String),
    /// What was asked for is taken for now (423, concurrency slots): ask again after the
    /// duration, sent as `Retry-After` in seconds (fractional, as Prefect's client reads it).
    #[error("{0}")]
    Locked(String, std::time::Duration),
    /// Something failed inside the server (500); the text is logged, not returned.
    #[error("internal error: {0}")]
    Internal(String),
    /// The server is shutting down or the database is unavailable (503); retrying later may
    /// succeed.
    #[error("{0}")]
    Unavailable(String),
}

/// The `detail` of every 500: what happened and where to look, nothing internal.
pub const INTERNAL_DETAIL: &str = "internal server error; see the server log";

/// Shorthand for handler results.
pub type ApiResult<T> = Result<T, ApiError>;

impl ApiError {
    /// The variant for an error status produced outside the handlers (axum's rejections).
    fn for_status(status: StatusCode, detail: String) -> ApiError {
        match status {
            StatusCode::UNAUTHORIZED => ApiError::Unauthorized(detail),
            StatusCode::FORBIDDEN => ApiError::Forbidden(detail),
            StatusCode::NOT_FOUND => ApiError::NotFound(detail),
            StatusCode::CONFLICT => ApiError::Conflict(detail),
            StatusCode::PAYLOAD_TOO_LARGE => ApiError::TooLarge(detail),
            StatusCode::UNSUPPORTED_MEDIA_TYPE => ApiError::UnsupportedMediaType(detail),
            StatusCode::UNPROCESSABLE_ENTITY => ApiError::Invalid(detail),
            StatusCode::SERVICE_UNAVAILABLE => ApiError::Unavailable(detail),
            s if s.is_server_error() => ApiError::Internal(detail),
            _ => ApiError::BadRequest(detail),
        }
    }

    /// The status this error is answered with.
    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ApiError::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden(_) => StatusCode::FORBIDDEN,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::Conflict(_) => StatusCode::CONFLICT,
            ApiError::TooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::Invalid(_) => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::Locked(..) => StatusCode::LOCKED,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
            ApiError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
        }
    }
}

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

impl From<IngestError> for ApiError {
    fn from(e: IngestError) -> Self {
        ApiError::Unavailable(e.to_string())
    }
}

impl ApiError {
    /// What the client is told: the status, the `detail` (a 500's is [`INTERNAL_DETAIL`], its
    /// text logged) and, for a 423, when to ask again. HTTP answers and the slot channel's
    /// failures both say this.
    pub fn answer(self) -> (StatusCode, String, Option<std::time::Duration>) {
        let status = self.status();
        let retry_after = match &self {
            ApiError::Locked(_, after) => Some(*after),
            _ => None,
        };
        let detail = match self {
            ApiError::Internal(m) => {
                tracing::error!(error = %m, "request failed");
                INTERNAL_DETAIL.to_owned()
            }
            ApiError::BadRequest(m)
            | ApiError::Unauthorized(m)
            | ApiError::Forbidden(m)
            | ApiError::NotFound(m)
            | ApiError::Conflict(m)
            | ApiError::TooLarge(m)
            | ApiError::UnsupportedMediaType(m)
            | ApiError::Invalid(m)
            | ApiError::Locked(m, _)
            | ApiError::Unavailable(m) => m,
        };
        (status, detail, retry_after)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, detail, retry_after) = self.answer();
        let mut response = (status, Json(ErrorBody { detail })).into_response();
        if let Some(after) = retry_after
            && let Ok(seconds) = format!("{:.3}", after.as_secs_f64()).parse()
        {
            response.headers_mut().insert(header::RETRY_AFTER, seconds);
        }
        if status == StatusCode::UNAUTHORIZED {
            // Bearer, not Basic: a browser would answer Basic with its own login prompt.
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"flowgate\""),
            );
        }
        response
    }
}

/// Turns a panic in a handler into a plain 500 (its message goes to the log, not the client);
/// the server keeps serving.
pub async fn catch_panics(request: Request, next: Next) -> Response {
    match AssertUnwindSafe(next.run(request)).catch_unwind().await {
        Ok(response) => response,
        Err(panic) => {
            let message = panic
                .downcast_ref::<&str>()
                .map(|s| (*s).to_owned())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "a panic without a message".to_owned());
            ApiError::Internal(format!("a handler panicked: {message}")).into_response()
        }
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
        JsonRejection::JsonSyntaxError(e) => ApiError::BadRequest(format!(
            "request body is not valid JSON: {}",
            std::error::Error::source(&e)
                .map(ToString::to_string)
                .unwrap_or_else(|| e.body_text())
        )),
        JsonRejection::MissingJsonContentType(_) => ApiError::UnsupportedMediaType(
            "send the body as JSON with Content-Type: application/json".into(),
        ),
        JsonRejection::BytesRejection(e) => ApiError::TooLarge(format!(
            "request body could not be read (too large or interrupted): {}",
            e.body_text()
        )),
        other => ApiError::for_status(other.status(), other.body_text()),
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
                ApiError::TooLarge(format!(
                    "request body could not be read (too large or interrupted): {}",
                    e.body_text()
                ))
            })?;
        let value = if bytes.iter().all(u8::is_ascii_whitespace) {
            serde_json::Value::Object(Default::default())
        } else {
            serde_json::from_slice(&bytes)
                .map_err(|e| ApiError::BadRequest(format!("request body is not valid JSON: {e}")))?
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
    let detail = if status.is_server_error() {
        INTERNAL_DETAIL.to_owned()
    } else {
        format!("{method} {uri}: {problem}")
    };
    parts.headers.remove(header::CONTENT_TYPE);
    parts.headers.remove(header::CONTENT_LENGTH);
    (parts, Json(ErrorBody { detail })).into_response()
}
#[cfg(test)]
mod tests {
    use axum::Router;
    use axum::routing::get;

    use super::*;

    async fn boom() -> &'static str {
        panic!("secret database text")
    }

    #[tokio::test]
    async fn a_panicking_handler_is_a_plain_500_and_the_server_keeps_serving() {
        let app = Router::new()
            .route("/boom", get(boom))
            .route("/fine", get(|| async { "ok" }))
            .layer(axum::middleware::from_fn(catch_panics));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let server = tokio::spawn(async move { axum::serve(listener, app).await });
        let http = reqwest::Client::new();
        for _ in 0..2 {
            let boom = http
                .get(format!("http://{addr}/boom"))
                .send()
                .await
                .unwrap();
            assert_eq!(boom.status(), StatusCode::INTERNAL_SERVER_ERROR);
            let body: ErrorBody = boom.json().await.unwrap();
            assert_eq!(body.detail, INTERNAL_DETAIL);
            let fine = http
                .get(format!("http://{addr}/fine"))
                .send()
                .await
                .unwrap();
            assert_eq!(fine.text().await.unwrap(), "ok");
        }
        server.abort();
    }
}
