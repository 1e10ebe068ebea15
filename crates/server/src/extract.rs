//! Request extractors beyond the JSON bodies of [`crate::error`].

use axum::extract::{FromRequest, Request};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::error::{ApiError, OptionalBody};

/// A filter body read into its wire type `T`: absent means no filter, and a field `T` does not
/// know is refused by its path (`crate::convert::filters::read`), never ignored.
pub struct FilterBody<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned + Serialize> FromRequest<S> for FilterBody<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let OptionalBody(body) =
            OptionalBody::<serde_json::Value>::from_request(req, state).await?;
        crate::convert::filters::read("body", &body)
            .map(FilterBody)
            .map_err(ApiError::Invalid)
    }
}
