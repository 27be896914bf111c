//! Builds the state and the one router, binds, and serves until shutdown.
use std::net::SocketAddr;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::middleware::{from_fn, from_fn_with_state};
use axum::response::IntoResponse;
use axum::routing::{any, get};
use axum::Router;
use leptos::config::LeptosOptions;
use leptos::prelude::provide_context;
use leptos_axum::{generate_route_list, handle_server_fns_with_context, LeptosRoutes};
use tokio::net::TcpListener;

use crate::app::{shell, App};
use crate::server::auth::admin_token::AdminToken;
use crate::server::auth::AdminAuth;
use crate::server::clock::SharedClock;
use crate::server::config::Config;
use crate::server::crypto::Cipher;
use crate::server::db::Database;
use crate::server::error::ApiError;
use crate::server::guards::{guard_browser, require_admin, root_redirect};
use crate::server::http::front::Front;
use crate::server::http::per_core::Workers;
use crate::server::http::request_id::assign_request_id;
use crate::server::http::serve::Limits;
use crate::server::proxy::breaker_store::ChangeFeed;
use crate::server::proxy::data_plane::{DataPlane, RequestLimits};
use crate::server::rest;
use crate::server::secret::Secret;
use crate::server::state::AppState;

#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error(transparent)]
    Crypto(#[from] crate::server::crypto::CryptoError),
    #[error("ADMIN_TOKEN: {0}")]
    AdminToken(#[from] crate::server::auth::admin_token::AdminTokenError),
    #[error(transparent)]
    Db(#[from] crate::server::db::DbError),
    #[error("cannot load upstreams and keys: {0}")]
    Routing(String),
    #[error("cannot load breaker and health state: {0}")]
    State(#[source] sqlx::Error),
    #[error("cannot build the HTTP client: {0}")]
    HttpClient(#[source] reqwest::Error),
    #[error("REDIS_URL: {0}")]
    Limits(String),
    #[error("OTEL_EXPORTER_OTLP_ENDPOINT: {0}")]
    Traces(String),
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
}

/// What start-up produced besides the state: things to tell the operator once.
pub struct StartupNotes {
    pub generated_admin_token: Option<Secret<String>>,
    pub generated_encryption_key: bool,
}

pub async fn build_state(
    config: Config,
    leptos_options: LeptosOptions,
    clock: SharedClock,
) -> Result<(AppState, StartupNotes), StartupError> {
    let (admin_token, generated_admin_token) = AdminToken::load(&config.admin_token)?;
    let (state, generated_encryption_key, breaker_changes, alert_events) =
        assemble(config, leptos_options, clock, admin_token).await?;
    use crate::server::jobs;
    jobs::routing_refresh::spawn(state.clone());
    jobs::breaker_sync::spawn(state.clone(), breaker_changes);
    jobs::alerts::spawn(state.clone(), alert_events);
    jobs::health_check::spawn(state.clone());
    jobs::retention::spawn(state.clone());
    jobs::model_discovery::spawn(state.clone());
    jobs::live_feed::spawn(state.clone());
    Ok((
        state,
        StartupNotes {
            generated_admin_token,
            generated_encryption_key,
        },
    ))
}

/// The state for a one-off command (`autorouter export`, `autorouter import`): the same
/// database, encryption key and services as the server, without its background jobs; nobody
/// signs in, so the admin token is neither read nor generated.
pub async fn build_command_state(
    config: Config,
    clock: SharedClock,
) -> Result<AppState, StartupError> {
    let unused = AdminToken::from_plain(&crate::server::crypto::digest_hex(
        &crate::server::crypto::random_bytes::<32>(),
    ));
    Ok(assemble(config, leptos_options(), clock, unused).await?.0)
}

async fn assemble(
    config: Config,
    leptos_options: LeptosOptions,
    clock: SharedClock,
    admin_token: AdminToken,
) -> Result<
    (
        AppState,
        bool,
        ChangeFeed,
        crate::server::proxy::events::EventFeed,
    ),
    StartupError,
> {
    let (cipher, generated_encryption_key) = Cipher::load(&config.encryption_key)?;
    let session_key = cipher.derive("admin-session", admin_token.hash());
    let db = Database::connect(&config).await?;
    let allow_private = config.allow_private_upstreams;
    let http = crate::server::http::upstream_client::UpstreamClients::new(
        crate::server::http::ssrf::SsrfPolicy { allow_private },
    )
    .map_err(StartupError::HttpClient)?;
    let (events, alert_events) = crate::server::proxy::events::EventSink::channel();
    let (breakers, breaker_changes) =
        crate::server::proxy::breaker_store::BreakerStore::with_events(events.clone());
    let limiter = match &config.redis_url {
        None => crate::server::limits::Limiter::local(clock.clone()),
        Some(url) => crate::server::limits::Limiter::shared(url.expose(), clock.clone())
            .await
            .map_err(|e| StartupError::Limits(e.to_string()))?,
    };
    let metrics = config.metrics.then(|| {
        crate::server::proxy::request_metrics::RequestMetrics::new(
            crate::server::metrics::Metrics::new(),
        )
    });
    let traces = match &config.traces {
        None => None,
        Some(c) => {
            Some(crate::server::telemetry::otlp::Traces::start(c).map_err(StartupError::Traces)?)
        }
    };
    let plane = Arc::new(DataPlane {
        clock: clock.clone(),
        db: db.clone(),
        cipher: cipher.clone(),
        limits: RequestLimits {
            max_body_bytes: config.max_body_bytes,
            trusted_proxies: config.trusted_proxies.clone(),
        },
        http,
        routing: crate::server::proxy::routing_table::RoutingTable::new(
            crate::server::http::ssrf::SsrfPolicy { allow_private },
        ),
        keys: crate::server::proxy::key_auth::KeyVerifier::default(),
        logs: crate::server::proxy::log_writer::LogWriter::spawn_counting(
            db.clone(),
            metrics.clone(),
        ),
        breakers,
        health: crate::server::proxy::health::HealthBook::with_events(events),
        balancer: crate::server::proxy::strategy::Balancer::new(),
        periods: crate::server::periods::CurrentPeriods::new(config.budget_zone.clone()),
        limiter,
        sessions: crate::server::proxy::sessions::SessionBook::new(
            config.sticky_idle_secs as i64 * 1_000,
            config.sticky_max_sessions,
        ),
        responses: crate::server::proxy::sessions::SessionBook::new(
            crate::server::proxy::sessions::RESPONSE_ROUTE_MS,
            config.sticky_max_sessions,
        ),
        metrics,
        traces,
        in_flight: Default::default(),
    });
    if let Some(metrics) = &plane.metrics {
        // Weak: the metrics live inside the plane they read.
        let weak: std::sync::Weak<DataPlane> = Arc::downgrade(&plane);
        metrics.metrics.attach(weak);
    }
    let instance_id = config.instance_id.clone();
    let state = AppState::new(crate::server::service::Services {
        leptos_options,
        config: Arc::new(config),
        db: db.clone(),
        cipher,
        auth: Arc::new(AdminAuth::new(
            admin_token,
            session_key,
            clock.clone(),
            db.pool.clone(),
        )),
        clock,
        plane,
        models_wanted: Arc::new(tokio::sync::Notify::new()),
        live: Arc::new(crate::server::service::live::LiveHub::new(instance_id)),
    });
    state
        .plane
        .routing
        .reload(
            &state.db,
            &state.cipher,
            &state.plane.periods,
            state.clock.now_ms(),
        )
        .await
        .map_err(|e| StartupError::Routing(e.to_string()))?;
    state.plane.routing_loaded();
    // Breakers and health carry over a restart (and come from other instances).
    state
        .plane
        .breakers
        .pull(&state.db)
        .await
        .map_err(StartupError::State)?;
    state.plane.health.load(
        crate::server::db::upstream_health::list_all(&state.db.pool)
            .await
            .map_err(StartupError::State)?,
    );
    crate::server::service::keys::forget_copies_unless_revealable(&state)
        .await
        .map_err(StartupError::State)?;
    Ok((
        state,
        generated_encryption_key,
        breaker_changes,
        alert_events,
    ))
}

async fn server_fn_handler(
    State(state): State<AppState>,
    request: Request<Body>,
) -> impl IntoResponse {
    handle_server_fns_with_context(move || provide_context(state.clone()), request).await
}

fn cors_layer(origins: &[String]) -> Option<tower_http::cors::CorsLayer> {
    use axum::http::HeaderValue;
    use tower_http::cors::{AllowHeaders, AllowMethods, CorsLayer};
    if origins.is_empty() {
        return None;
    }
    let origins: Vec<HeaderValue> = origins
        .iter()
        .filter_map(|o| HeaderValue::from_str(o).ok())
        .collect();
    Some(
        CorsLayer::new()
            .allow_origin(origins)
            .allow_methods(AllowMethods::mirror_request())
            .allow_headers(AllowHeaders::mirror_request())
            .expose_headers([axum::http::HeaderName::from_static("x-request-id")]),
    )
}

/// The files at the top of the site (`public/`: favicons, robots.txt), each on its own route:
/// the pages' `/{locale}` route would otherwise take `/favicon.ico` for a locale and answer 404.
fn site_root_files(options: &LeptosOptions) -> Router<AppState> {
    let mut files = Router::new();
    let Ok(entries) = std::fs::read_dir(&*options.site_root) else {
        return files;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        let plain = name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_'));
        if plain && entry.file_type().is_ok_and(|t| t.is_file()) {
            files = files.route_service(
                &format!("/{name}"),
                tower_http::services::ServeFile::new(entry.path()),
            );
        }
    }
    files
}

/// The one place the HTTP surface is assembled.
pub fn router(state: AppState) -> Router {
    let routes = generate_route_list(App);
    // Every documented admin route comes from `rest::admin`, the source of the OpenAPI document.
    let (admin, _) = rest::admin::routes().split_for_parts();
    let admin = admin
        // A route, not a fallback, so the auth layer covers it: unknown admin paths reveal nothing.
        .route("/{*rest}", any(rest::not_found::api_not_found))
        .method_not_allowed_fallback(|| async { ApiError::MethodNotAllowed })
        .layer(from_fn_with_state(state.clone(), require_admin));
    // Guarded by `guard_browser` on the whole router (see there).
    let ui_functions = Router::new().route(
        "/{*fn_name}",
        get(server_fn_handler).post(server_fn_handler),
    );

    let page_context = {
        let state = state.clone();
        move || {
            provide_context(state.clone());
            crate::server::http::security_headers::content_security_policy();
        }
    };
    let app_shell = {
        let options = state.leptos_options.clone();
        move || shell(options.clone())
    };

    let mut router = Router::new()
        .route("/", get(root_redirect))
        .route("/api/health", get(rest::health::health))
        .route("/metrics", get(rest::metrics::metrics))
        .nest("/api/admin", admin)
        .nest("/api/ui", ui_functions)
        .route(
            "/api/proxy/v1/{*path}",
            any(crate::server::proxy::handler::proxy),
        )
        .route("/v1/{*path}", any(crate::server::proxy::handler::proxy))
        // Google's own API (the Gemini format), through the same handler.
        .route(
            "/api/proxy/v1beta/{*path}",
            any(crate::server::proxy::handler::proxy),
        )
        .route("/v1beta/{*path}", any(crate::server::proxy::handler::proxy))
        .route("/api", any(rest::not_found::api_not_found))
        .route("/api/{*rest}", any(rest::not_found::api_not_found))
        .merge(site_root_files(&state.leptos_options))
        .leptos_routes_with_context(&state, routes, page_context, app_shell)
        .fallback(leptos_axum::file_and_error_handler::<AppState, _>(shell))
        .layer(from_fn_with_state(state.clone(), guard_browser));
    if let Some(cors) = cors_layer(&state.config.cors_origins) {
        router = router.layer(cors);
    }
    router
        .layer(from_fn(
            crate::server::http::security_headers::on_every_answer,
        ))
        .layer(from_fn(assign_request_id))
        .with_state(state)
}

/// The proxy's handler for the front door to call without the router, unless a router-wide
/// layer (CORS) must see proxied requests too.
fn direct_proxy(state: &AppState) -> Option<crate::server::http::front::Direct> {
    if !state.config.cors_origins.is_empty() {
        return None;
    }
    let plane = Arc::clone(&state.plane);
    Some(Arc::new(move |id, path, request| {
        // Boxed where it is made: the handler's future is kilobytes, and unboxed it would be
        // copied into the span's wrapper, into the caller's future and its box in turn.
        Box::pin(crate::server::proxy::handler::proxy_request(
            Arc::clone(&plane),
            id,
            path,
            request,
        ))
    }))
}

/// The admin API's OpenAPI document as `GET /api/admin/openapi.json` serves it (pretty JSON),
/// generated from the routes `router` registers; `src/server/rest/openapi.json` is its
/// committed copy.
pub fn openapi_document() -> String {
    rest::openapi::document_json()
}

/// A bound, not yet serving, application: tests bind port 0 and read the real port.
pub struct Application {
    listener: TcpListener,
    front: Front,
    limits: Limits,
}

impl Application {
    pub async fn bind(state: AppState, addr: SocketAddr) -> Result<Self, StartupError> {
        let listener = TcpListener::bind(addr)
            .await
            .map_err(|source| StartupError::Bind { addr, source })?;
        Ok(Self {
            listener,
            front: Front::new(router(state.clone()), direct_proxy(&state)),
            limits: Limits::from_config(&state.config),
        })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.listener
            .local_addr()
            .expect("bound listener has an address")
    }

    /// Serves on `threads` threads, one single-threaded runtime each (see `per_core`); the
    /// acceptor runs on the calling runtime.
    pub fn serve_per_core(self, threads: usize) -> std::io::Result<Workers> {
        Workers::start(self.listener, self.front, self.limits, threads)
    }

    /// Serves on the calling runtime (the tests' in-process gateways).
    pub async fn serve(self, shutdown: impl std::future::Future<Output = ()> + Send + 'static) {
        crate::server::http::serve::serve(self.listener, self.front, self.limits, shutdown).await
    }
}

/// Resolves on SIGINT or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = terminate => {},
    }
    tracing::info!("shutdown signal received; finishing open requests");
}

/// Leptos options: the layout cargo-leptos builds (`target/site`, `pkg/autorouter.*`), with
/// cargo-leptos' `LEPTOS_*` variables honoured when it runs the server.
pub fn leptos_options() -> LeptosOptions {
    let var = |k: &str, default: &str| {
        std::env::var(k)
            .ok()
            .filter(|v| !v.is_empty())
            .unwrap_or_else(|| default.to_string())
    };
    let env = if var("LEPTOS_ENV", "PROD").eq_ignore_ascii_case("dev") {
        leptos::config::Env::DEV
    } else {
        leptos::config::Env::PROD
    };
    LeptosOptions::builder()
        .output_name(var("LEPTOS_OUTPUT_NAME", "autorouter"))
        .site_root(var("LEPTOS_SITE_ROOT", "target/site"))
        .site_pkg_dir(var("LEPTOS_SITE_PKG_DIR", "pkg"))
        .site_addr(
            var("LEPTOS_SITE_ADDR", "127.0.0.1:3000")
                .parse::<std::net::SocketAddr>()
                .unwrap_or_else(|_| ([127, 0, 0, 1], 3000).into()),
        )
        .env(env)
        .build()
}
