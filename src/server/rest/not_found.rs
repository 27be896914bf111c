//! Unknown `/api/*` paths answer JSON, not the HTML app.
use axum::http::Uri;

use crate::server::error::ApiError;

pub(crate) async fn api_not_found(uri: Uri) -> ApiError {
    ApiError::NotFound(format!("no API route at {}", uri.path()))
}
