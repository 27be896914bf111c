//! A query-string extractor whose rejections answer in the API's error format.
use axum::extract::{FromRequestParts, Query};
use axum::http::request::Parts;

use crate::server::error::ApiError;

pub(crate) struct QueryParams<T>(pub T);

impl<S, T> FromRequestParts<S> for QueryParams<T>
where
    T: serde::de::DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        Query::<T>::from_request_parts(parts, state)
            .await
            .map(|Query(v)| QueryParams(v))
            .map_err(|e| ApiError::Invalid(format!("query: {}", e.body_text())))
    }
}
