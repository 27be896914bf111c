//! `GET /api/admin/openapi.json`: the admin API's OpenAPI 3.1 document, embedded at build time.
use axum::http::header;
use axum::response::IntoResponse;

const DOCUMENT: &str = include_str!("openapi.json");

pub(crate) async fn document() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "application/json")], DOCUMENT)
}
