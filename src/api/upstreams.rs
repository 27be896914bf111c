//! Upstreams and the balancing setting for the browser: the same services as
//! `/api/admin/upstreams` and `/api/admin/settings`.
use leptos::prelude::*;
use leptos::server_fn::codec::Json;

use crate::model::errors::UiError;
// Each server function defines a struct named after it, so these are named by their module.
use crate::model::settings::{self, GatewaySettings};
use crate::model::upstreams::{
    self as up, ConnectionTestResult, TestUpstreamForm, UpstreamView, UpstreamsScreen,
};

/// One page of upstreams with their health, breakers and the gateway settings.
#[server(prefix = "/api/ui", endpoint = "upstreams/list")]
pub async fn list_upstreams(page: u32) -> Result<UpstreamsScreen, UiError> {
    use crate::model::page::PageRequest;
    use crate::server::service::{breakers, health, settings as gateway, upstreams};
    let state = super::context::admin_state().await?;
    let page = PageRequest::new(Some(page.max(1)), None)
        .map_err(|m| UiError::new("invalid_request", m))?;
    Ok(UpstreamsScreen {
        page: upstreams::list(&state, page).await?,
        health: health::list(&state, None).await?,
        breakers: breakers::list(&state).await?,
        settings: gateway::get(&state).await?,
    })
}

#[server(prefix = "/api/ui", endpoint = "upstreams/create", input = Json)]
pub async fn create_upstream(input: up::CreateUpstream) -> Result<UpstreamView, UiError> {
    let state = super::context::admin_state().await?;
    Ok(crate::server::service::upstreams::create(&state, input).await?)
}

#[server(prefix = "/api/ui", endpoint = "upstreams/update", input = Json)]
pub async fn update_upstream(
    id: String,
    input: up::UpdateUpstream,
) -> Result<UpstreamView, UiError> {
    let state = super::context::admin_state().await?;
    Ok(crate::server::service::upstreams::update(&state, &id, input).await?)
}

#[server(prefix = "/api/ui", endpoint = "upstreams/delete")]
pub async fn delete_upstream(id: String) -> Result<(), UiError> {
    let state = super::context::admin_state().await?;
    Ok(crate::server::service::upstreams::delete(&state, &id).await?)
}

/// Tests a saved upstream (`id`), or the unsaved form when the form carries an API key.
#[server(prefix = "/api/ui", endpoint = "upstreams/test", input = Json)]
pub async fn test_upstream(
    id: Option<String>,
    form: TestUpstreamForm,
) -> Result<ConnectionTestResult, UiError> {
    use crate::server::service::upstreams;
    let state = super::context::admin_state().await?;
    match id {
        Some(id) if form.api_key.trim().is_empty() => Ok(upstreams::test_saved(&state, &id).await?),
        _ => Ok(upstreams::test_form(&state, form).await?),
    }
}

#[server(prefix = "/api/ui", endpoint = "settings/update", input = Json)]
pub async fn update_settings(input: settings::UpdateSettings) -> Result<GatewaySettings, UiError> {
    let state = super::context::admin_state().await?;
    Ok(crate::server::service::settings::update(&state, input).await?)
}

/// The models an upstream listed when last asked; with `refresh`, asked again first.
#[server(prefix = "/api/ui", endpoint = "upstreams/models")]
pub async fn upstream_models(id: String, refresh: bool) -> Result<up::DiscoveredModels, UiError> {
    use crate::server::service::upstream_models;
    let state = super::context::admin_state().await?;
    Ok(if refresh {
        upstream_models::refresh(&state, &id).await?
    } else {
        upstream_models::list(&state, &id).await?
    })
}
