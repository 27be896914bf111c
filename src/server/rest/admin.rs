//! The admin API's routes, each registered once for the router and the OpenAPI document.
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::{
    alerts, circuit_breakers, config, keys, logs, logs_stream, openapi, prices, session, settings,
    stats, upstream_health, upstreams,
};
use crate::server::state::AppState;

/// Every documented admin route, relative to `/api/admin`; `startup::router` adds the auth layer
/// and the JSON 404 for the rest.
pub(crate) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(session::whoami))
        .routes(routes!(openapi::serve))
        .routes(routes!(keys::list, keys::create))
        .routes(routes!(keys::get, keys::update, keys::delete))
        .routes(routes!(keys::reveal))
        .routes(routes!(keys::spend))
        .routes(routes!(upstreams::list, upstreams::create))
        .routes(routes!(upstreams::test_form))
        .routes(routes!(upstream_health::list))
        .routes(routes!(upstream_health::check_now))
        .routes(routes!(
            upstreams::get,
            upstreams::update,
            upstreams::delete
        ))
        .routes(routes!(upstreams::test_saved))
        .routes(routes!(upstreams::models))
        .routes(routes!(upstreams::refresh_models))
        .routes(routes!(logs::list))
        .routes(routes!(logs_stream::stream))
        .routes(routes!(stats::overview))
        .routes(routes!(stats::timeseries))
        .routes(routes!(stats::leaderboard))
        .routes(routes!(settings::get, settings::update))
        .routes(routes!(circuit_breakers::list))
        .routes(routes!(circuit_breakers::get))
        .routes(routes!(circuit_breakers::force_open))
        .routes(routes!(circuit_breakers::force_close))
        .routes(routes!(prices::list))
        .routes(routes!(prices::unpriced))
        .routes(routes!(prices::set, prices::reset))
        .routes(routes!(config::export))
        .routes(routes!(config::import))
        .routes(routes!(alerts::list, alerts::create))
        .routes(routes!(alerts::get, alerts::update, alerts::delete))
        .routes(routes!(alerts::test))
        .routes(routes!(alerts::deliveries))
        .routes(routes!(alerts::get_settings, alerts::update_settings))
}
