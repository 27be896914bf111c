//! Model prices for the browser: the same service as `/api/admin/prices`.
use leptos::prelude::*;
use leptos::server_fn::codec::Json;

use crate::model::errors::UiError;
use crate::model::prices::{PriceRates, PriceView, PricesScreen};

/// One page of prices matching `search`, the models seen without a price, and where the
/// shipped prices come from.
#[server(prefix = "/api/ui", endpoint = "prices/list")]
pub async fn list_prices(page: u32, search: String) -> Result<PricesScreen, UiError> {
    use crate::model::page::PageRequest;
    use crate::server::service::prices;
    let state = super::context::admin_state().await?;
    let page = PageRequest::new(Some(page.max(1)), None)
        .map_err(|m| UiError::new("invalid_request", m))?;
    let search = Some(search.trim()).filter(|s| !s.is_empty());
    Ok(PricesScreen {
        page: prices::list(&state, search, page).await?,
        unpriced: prices::unpriced(&state).await?,
        defaults_source: prices::defaults_source(),
    })
}

#[server(prefix = "/api/ui", endpoint = "prices/set", input = Json)]
pub async fn set_price(model: String, rates: PriceRates) -> Result<PriceView, UiError> {
    let state = super::context::admin_state().await?;
    Ok(crate::server::service::prices::set(&state, &model, rates).await?)
}

/// Back to the shipped price (an override), or gone (a custom price).
#[server(prefix = "/api/ui", endpoint = "prices/reset")]
pub async fn reset_price(model: String) -> Result<(), UiError> {
    let state = super::context::admin_state().await?;
    Ok(crate::server::service::prices::reset(&state, &model).await?)
}
