//! Request logs for the browser: the same service as `/api/admin/logs`.
use leptos::prelude::*;
use leptos::server_fn::codec::Json;

use crate::model::errors::UiError;
use crate::model::logs::{LogQuery, LogsScreen};

/// One page of logs matching the filters, with key and upstream names.
#[server(prefix = "/api/ui", endpoint = "logs/list", input = Json)]
pub async fn list_logs(query: LogQuery) -> Result<LogsScreen, UiError> {
    use crate::server::service::{keys, logs, upstreams};
    let state = super::context::admin_state().await?;
    Ok(LogsScreen {
        page: logs::list(&state, query).await?,
        keys: keys::names(&state).await?,
        upstreams: upstreams::names(&state).await?,
    })
}
