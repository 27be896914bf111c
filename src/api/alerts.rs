//! Alerts for the browser: the same service as `/api/admin/alerts`.
use leptos::prelude::*;
use leptos::server_fn::codec::Json;

// Each server function defines a struct named after it, so these are named by their module.
use crate::model::alerts::{self as al, AlertSettings, DeliveryView, WebhookView};
use crate::model::errors::UiError;

/// Webhooks, the 50 newest deliveries and the settings.
#[server(prefix = "/api/ui", endpoint = "alerts")]
pub async fn alerts_screen() -> Result<al::AlertsScreen, UiError> {
    use crate::server::service::alerts;
    let state = super::context::admin_state().await?;
    Ok(al::AlertsScreen {
        webhooks: alerts::list(&state).await?,
        deliveries: alerts::deliveries(&state, None, None).await?,
        settings: alerts::settings(&state).await?,
    })
}

#[server(prefix = "/api/ui", endpoint = "alerts/create", input = Json)]
pub async fn create_webhook(input: al::CreateWebhook) -> Result<WebhookView, UiError> {
    let state = super::context::admin_state().await?;
    Ok(crate::server::service::alerts::create(&state, input).await?)
}

#[server(prefix = "/api/ui", endpoint = "alerts/update", input = Json)]
pub async fn update_webhook(id: String, input: al::UpdateWebhook) -> Result<WebhookView, UiError> {
    let state = super::context::admin_state().await?;
    Ok(crate::server::service::alerts::update(&state, &id, input).await?)
}

#[server(prefix = "/api/ui", endpoint = "alerts/delete")]
pub async fn delete_webhook(id: String) -> Result<(), UiError> {
    let state = super::context::admin_state().await?;
    Ok(crate::server::service::alerts::delete(&state, &id).await?)
}

/// Sends a test alert now and answers the delivery.
#[server(prefix = "/api/ui", endpoint = "alerts/test")]
pub async fn test_webhook(id: String) -> Result<DeliveryView, UiError> {
    let state = super::context::admin_state().await?;
    Ok(crate::server::service::alerts::test(&state, &id).await?)
}

#[server(prefix = "/api/ui", endpoint = "alerts/settings", input = Json)]
pub async fn update_alert_settings(
    input: al::UpdateAlertSettings,
) -> Result<AlertSettings, UiError> {
    let state = super::context::admin_state().await?;
    Ok(crate::server::service::alerts::update_settings(&state, input).await?)
}
