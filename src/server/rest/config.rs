//! `/api/admin/config/*`: configuration as code, export and import (docs/config-as-code.md).
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{header, HeaderMap};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;

use super::openapi::BadRequest;
use super::query::QueryParams;
use crate::model::config::{ConfigDocument, ImportResult};
use crate::server::error::ApiError;
use crate::server::service::config_io::{self, KeyRefs};
use crate::server::state::AppState;

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct ExportQuery {
    /// Name an environment variable for every upstream's key
    /// (`api_key_env: AUTOROUTER_UPSTREAM_KEY_<NAME>`), so that the document can create the
    /// upstreams elsewhere; the key itself is never exported.
    #[param(default = false)]
    api_key_env: Option<bool>,
}

fn wants_json(headers: &HeaderMap) -> bool {
    headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|a| a.contains("json") && !a.contains("yaml"))
}

/// The document as YAML: what `autorouter export` writes.
pub(crate) fn to_yaml(doc: &ConfigDocument) -> Result<String, ApiError> {
    serde_norway::to_string(doc).map_err(ApiError::internal)
}

/// A document in YAML (or JSON, which YAML reads too); `json` parses it as JSON only.
pub(crate) fn parse_document(body: &[u8], json: bool) -> Result<ConfigDocument, ApiError> {
    if json {
        serde_json::from_slice(body).map_err(|e| ApiError::Invalid(format!("body: {e}")))
    } else {
        serde_norway::from_slice(body).map_err(|e| ApiError::Invalid(format!("body: {e}")))
    }
}

#[utoipa::path(
    get,
    path = "/config/export",
    tag = "config",
    operation_id = "exportConfig",
    summary = "Export the configuration",
    description = "Upstreams (without their keys), client keys' settings (without their values), the admin's prices and the gateway settings, as YAML (`Accept: application/yaml`, the default) or JSON (`Accept: application/json`). Entities are sorted by name: the same configuration exports as the same bytes.",
    params(ExportQuery),
    responses(
        (status = 200, description = "The configuration document.", content(
            (ConfigDocument = "application/yaml"),
            (ConfigDocument = "application/json")
        )),
        (status = 400, response = BadRequest),
    ),
)]
pub(crate) async fn export(
    State(state): State<AppState>,
    headers: HeaderMap,
    QueryParams(q): QueryParams<ExportQuery>,
) -> Result<Response, ApiError> {
    let refs = if q.api_key_env.unwrap_or(false) {
        KeyRefs::Env
    } else {
        KeyRefs::Omit
    };
    let doc = config_io::export(&state, refs).await?;
    if wants_json(&headers) {
        return Ok(Json(doc).into_response());
    }
    Ok(([(header::CONTENT_TYPE, "application/yaml")], to_yaml(&doc)?).into_response())
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct ImportQuery {
    /// Plan only: answer what would change, and change nothing.
    #[param(default = false)]
    dry_run: Option<bool>,
    /// Delete upstreams, keys and prices that a section of the document does not name (as the
    /// document's own `prune: true`).
    #[param(default = false)]
    prune: Option<bool>,
}

#[utoipa::path(
    post,
    path = "/config/import",
    tag = "config",
    operation_id = "importConfig",
    summary = "Import a configuration",
    description = "Applies a configuration document (YAML, or JSON with `content-type: application/json`) through the same checks as the admin API: creates and updates what differs, and with `prune` deletes what a section does not name. Importing the same document twice changes nothing the second time. `api_key_env` names an environment variable of the gateway's own process. Keys it creates get new values, answered once in `issued_keys`. Changes are applied one by one: a change the gateway refuses stops the import with a 400 naming the entity, after the changes before it.",
    params(ImportQuery),
    request_body(description = "A configuration document.", content(
        (ConfigDocument = "application/yaml"),
        (ConfigDocument = "application/json")
    )),
    responses(
        (status = 200, description = "What changed (or, on a dry run, would change).", body = ImportResult),
        (status = 400, response = BadRequest),
    ),
)]
pub(crate) async fn import(
    State(state): State<AppState>,
    headers: HeaderMap,
    QueryParams(q): QueryParams<ImportQuery>,
    body: Bytes,
) -> Result<Json<ImportResult>, ApiError> {
    let json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|c| c.contains("json"));
    let doc = parse_document(&body, json)?;
    let result = config_io::import(
        &state,
        doc,
        q.dry_run.unwrap_or(false),
        q.prune.unwrap_or(false),
    )
    .await?;
    Ok(Json(result))
}
