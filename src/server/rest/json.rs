//! A JSON body extractor whose rejections answer in the API's error format.
use axum::extract::rejection::JsonRejection;
use axum::extract::{FromRequest, Request};

use crate::server::error::ApiError;

pub(crate) struct JsonBody<T>(pub T);

impl<S, T> FromRequest<S> for JsonBody<T>
where
    axum::Json<T>: FromRequest<S, Rejection = JsonRejection>,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        match axum::Json::<T>::from_request(req, state).await {
            Ok(axum::Json(v)) => Ok(JsonBody(v)),
            Err(JsonRejection::MissingJsonContentType(_)) => Err(ApiError::Invalid(
                "body: send JSON with content-type: application/json".into(),
            )),
            Err(JsonRejection::JsonSyntaxError(e)) => Err(ApiError::Invalid(format!(
                "body: malformed JSON: {}",
                e.body_text()
            ))),
            Err(JsonRejection::JsonDataError(e)) => {
                Err(ApiError::Invalid(format!("body: {}", e.body_text())))
            }
            Err(e) => Err(ApiError::Invalid(format!("body: {}", e.body_text()))),
        }
    }
}
