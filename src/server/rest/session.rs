//! `GET /api/admin/session`: tells a script whether its credentials are accepted.
use axum::Json;
use serde_json::{json, Value};

pub(crate) async fn whoami() -> Json<Value> {
    Json(json!({ "authenticated": true, "role": "admin" }))
}
