//! Client API keys for the browser: the same service as `/api/admin/keys`.
use leptos::prelude::*;
use leptos::server_fn::codec::Json;

use crate::model::errors::UiError;
use crate::model::keys::{
    ApiKeyView, CreateApiKey, CreatedApiKey, KeysScreen, RevealedApiKey, UpdateApiKey,
};

/// One page of keys matching `search` (name or prefix), with what the dialogs need.
#[server(prefix = "/api/ui", endpoint = "keys/list")]
pub async fn list_keys(page: u32, search: String) -> Result<KeysScreen, UiError> {
    use crate::model::page::PageRequest;
    use crate::server::service::{keys, upstreams};
    let state = super::context::admin_state().await?;
    let page = PageRequest::new(Some(page.max(1)), None)
        .map_err(|m| UiError::new("invalid_request", m))?;
    let search = Some(search.trim()).filter(|s| !s.is_empty());
    Ok(KeysScreen {
        page: keys::list(&state, page, search).await?,
        upstreams: upstreams::names(&state).await?,
        reveal_allowed: keys::reveal_allowed(&state),
    })
}

#[server(prefix = "/api/ui", endpoint = "keys/create", input = Json)]
pub async fn create_key(input: CreateApiKey) -> Result<CreatedApiKey, UiError> {
    let state = super::context::admin_state().await?;
    Ok(crate::server::service::keys::create(&state, input).await?)
}

#[server(prefix = "/api/ui", endpoint = "keys/update", input = Json)]
pub async fn update_key(id: String, input: UpdateApiKey) -> Result<ApiKeyView, UiError> {
    let state = super::context::admin_state().await?;
    Ok(crate::server::service::keys::update(&state, &id, input).await?)
}

#[server(prefix = "/api/ui", endpoint = "keys/delete")]
pub async fn delete_key(id: String) -> Result<(), UiError> {
    let state = super::context::admin_state().await?;
    Ok(crate::server::service::keys::delete(&state, &id).await?)
}

/// The full key, only when the server allows revealing (`ALLOW_KEY_REVEAL=true`).
#[server(prefix = "/api/ui", endpoint = "keys/reveal")]
pub async fn reveal_key(id: String) -> Result<RevealedApiKey, UiError> {
    let state = super::context::admin_state().await?;
    Ok(crate::server::service::keys::reveal(&state, &id).await?)
}

/// A key's spend day by day over the last two weeks.
#[server(prefix = "/api/ui", endpoint = "keys/spend")]
pub async fn key_spend(id: String) -> Result<Vec<crate::model::limits::DaySpend>, UiError> {
    let state = super::context::admin_state().await?;
    Ok(crate::server::service::keys::spend_by_day(&state, &id, 14).await?)
}
