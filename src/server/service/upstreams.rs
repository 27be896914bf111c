//! Upstreams: validated create/edit (SSRF, models, redirects), list, delete, connection test.
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use super::limits;
use super::Services;
use super::{db_error, validate};
use crate::model::money::usd;
use crate::model::named::Named;
use crate::model::page::{Page, PageRequest};
use crate::model::upstreams::{
    mask_secret, BreakerConfig, ConnectionTestResult, CreateUpstream, Format, TestUpstreamForm,
    UpdateUpstream, UpstreamView,
};
use crate::server::db::upstreams::{self as repo, UpstreamLimitColumns, UpstreamRow};
use crate::server::error::ApiError;
use crate::server::http::ssrf::{validate_url, SsrfError, SsrfPolicy};
use crate::server::proxy::model_rules::{
    parse_model_list, parse_redirects, validate_model_patterns, validate_redirects, Provider,
};
use crate::server::proxy::provider_auth::apply_upstream_auth;
use crate::server::timefmt::to_rfc3339;

pub(crate) const DEFAULT_TIMEOUT_MS: u64 = 60_000;
/// Probes name themselves, so an upstream's operator can tell them from client traffic.
pub(crate) const CONNECTION_TEST_AGENT: &str =
    concat!("AutoRouter-ConnectionTest/", env!("CARGO_PKG_VERSION"));
pub(crate) const HEALTH_CHECK_AGENT: &str =
    concat!("AutoRouter-HealthCheck/", env!("CARGO_PKG_VERSION"));

fn policy(state: &Services) -> SsrfPolicy {
    SsrfPolicy {
        allow_private: state.config.allow_private_upstreams,
    }
}

fn parse_provider(raw: &str) -> Result<Provider, ApiError> {
    raw.trim()
        .parse::<Provider>()
        .map_err(|e| validate::invalid("provider", format!("must be one of {}", e.names())))
}

/// Parsed and SSRF-checked; the trailing slash is dropped so `base + "/chat/completions"` is right.
/// Scheme, host and port: what decides where a request (and the key with it) goes.
fn origin_of(base_url: &str) -> Option<(String, String, Option<u16>)> {
    let url = url::Url::parse(base_url).ok()?;
    Some((
        url.scheme().to_string(),
        url.host_str()?.to_ascii_lowercase(),
        url.port_or_known_default(),
    ))
}

fn checked_base_url(state: &Services, raw: &str) -> Result<String, ApiError> {
    let url = validate_url(raw.trim(), policy(state)).map_err(|e| {
        let (reason, arg) = e.reason();
        validate::problem("base_url", reason, arg, e)
    })?;
    Ok(url.as_str().trim_end_matches('/').to_string())
}

fn checked_breaker(c: BreakerConfig) -> Result<BreakerConfig, ApiError> {
    validate::in_range(
        "circuit_breaker.failure_threshold",
        c.failure_threshold,
        1..=100,
    )?;
    validate::in_range(
        "circuit_breaker.success_threshold",
        c.success_threshold,
        1..=100,
    )?;
    validate::in_range(
        "circuit_breaker.open_duration_ms",
        c.open_duration_ms,
        1_000..=3_600_000,
    )?;
    validate::in_range(
        "circuit_breaker.half_open_max_probes",
        c.half_open_max_probes,
        1..=100,
    )?;
    Ok(c)
}

fn checked_models(list: &[String]) -> Result<Option<String>, ApiError> {
    let list: Vec<String> = list.iter().map(|m| m.trim().to_string()).collect();
    validate_model_patterns(&list).map_err(|e| validate::invalid("allowed_models", e))?;
    Ok(if list.is_empty() {
        None
    } else {
        Some(serde_json::to_string(&list).map_err(ApiError::internal)?)
    })
}

fn checked_redirects(map: &BTreeMap<String, String>) -> Result<Option<String>, ApiError> {
    let map: BTreeMap<String, String> = map
        .iter()
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect();
    validate_redirects(&map).map_err(|e| {
        let (reason, arg) = e.reason();
        validate::problem("model_redirects", reason, arg, e)
    })?;
    Ok(if map.is_empty() {
        None
    } else {
        Some(serde_json::to_string(&map).map_err(ApiError::internal)?)
    })
}

/// API formats as stored: known names, duplicates dropped, order kept; none: the defaults.
fn checked_formats(list: &[String]) -> Result<Option<String>, ApiError> {
    let mut formats: Vec<Format> = Vec::new();
    for raw in list {
        let f: Format = raw.trim().parse().map_err(|_| {
            let known: Vec<&str> = Format::ALL.iter().map(|f| f.as_str()).collect();
            validate::invalid(
                "api_formats",
                format!("{raw:?} is not one of {}", known.join(", ")),
            )
        })?;
        if !formats.contains(&f) {
            formats.push(f);
        }
    }
    Ok((!formats.is_empty()).then(|| serde_json::to_string(&formats).unwrap_or_default()))
}

fn checked_extra_paths(list: &[String]) -> Result<Option<String>, ApiError> {
    use crate::model::upstreams::{normalize_extra_path, MAX_EXTRA_PATHS};
    if list.len() > MAX_EXTRA_PATHS {
        return Err(validate::invalid(
            "extra_paths",
            format!("at most {MAX_EXTRA_PATHS} paths"),
        ));
    }
    let mut paths: Vec<String> = Vec::with_capacity(list.len());
    for raw in list {
        let path = normalize_extra_path(raw)
            .map_err(|e| validate::invalid("extra_paths", format!("{raw:?} {e}")))?;
        if !paths.contains(&path) {
            paths.push(path);
        }
    }
    Ok(if paths.is_empty() {
        None
    } else {
        Some(serde_json::to_string(&paths).map_err(ApiError::internal)?)
    })
}

fn checked_api_key(raw: &str) -> Result<String, ApiError> {
    let key = raw.trim();
    if key.is_empty() {
        return Err(validate::problem(
            "api_key",
            "required",
            None,
            "must not be empty",
        ));
    }
    if key.len() > 4096 || key.chars().any(|c| c.is_control() || c.is_whitespace()) {
        return Err(validate::invalid(
            "api_key",
            "must be at most 4096 characters without spaces",
        ));
    }
    Ok(key.to_string())
}

fn view(state: &Services, row: &UpstreamRow, spent_nanos: i64) -> UpstreamView {
    let provider = row.provider.parse().unwrap_or(Provider::OpenaiCompatible);
    let masked = state
        .cipher
        .decrypt(&row.api_key_encrypted)
        .map(|k| mask_secret(&k))
        .unwrap_or_else(|_| "***".into());
    UpstreamView {
        id: row.id.clone(),
        name: row.name.clone(),
        provider,
        base_url: row.base_url.clone(),
        api_key_masked: masked,
        timeout_ms: row.timeout_ms.max(0) as u64,
        weight: row.weight.clamp(1, 100) as u32,
        priority: row.priority as i32,
        allowed_models: parse_model_list(row.allowed_models.as_deref()),
        model_redirects: parse_redirects(row.model_redirects.as_deref()),
        is_active: row.is_active != 0,
        circuit_breaker: row.breaker(),
        extra_paths: row.extra_path_list(),
        api_formats: row.format_list(),
        speaks: row.speaks(provider),
        limits: row.limits.to_limits(),
        price_multiplier: row.limits.price_multiplier_ppm as f64 / limits::PPM as f64,
        spend_month_usd: usd(spent_nanos),
        created_at: to_rfc3339(row.created_at),
        updated_at: to_rfc3339(row.updated_at),
    }
}

async fn ensure_name_free(
    state: &Services,
    name: &str,
    except_id: Option<&str>,
) -> Result<(), ApiError> {
    let holder = repo::find_by_name(&state.db.pool, name)
        .await
        .map_err(db_error)?;
    validate::name_free(
        holder.as_ref().map(|r| r.id.as_str()),
        except_id,
        name,
        "an upstream",
    )
}

pub(crate) async fn create(
    state: &Services,
    input: CreateUpstream,
) -> Result<UpstreamView, ApiError> {
    create_row(state, uuid::Uuid::new_v4().to_string(), input, None).await
}

/// An upstream copied from another gateway (the original AutoRouter): its id and its key's
/// Fernet token are kept as they are (the token must decrypt with this gateway's key: checked
/// by the caller); every other field is checked as on create. `input.api_key` is ignored.
pub(crate) async fn create_imported(
    state: &Services,
    id: String,
    input: CreateUpstream,
    api_key_encrypted: String,
) -> Result<UpstreamView, ApiError> {
    create_row(state, id, input, Some(api_key_encrypted)).await
}

/// Every upstream, by priority then name.
pub(crate) async fn all(state: &Services) -> Result<Vec<UpstreamView>, ApiError> {
    let rows = repo::list_all(&state.db.pool).await.map_err(db_error)?;
    Ok(rows.iter().map(|r| view(state, r, 0)).collect())
}

/// Whether the upstream's stored key is `key` (a key that cannot be decrypted is not).
pub(crate) async fn stored_key_is(state: &Services, id: &str, key: &str) -> Result<bool, ApiError> {
    let row = load(state, id).await?;
    Ok(state
        .cipher
        .decrypt(&row.api_key_encrypted)
        .is_ok_and(|stored| stored == key.trim()))
}

/// `encrypted`: the key's token when it comes encrypted (an import); else `input.api_key`.
async fn create_row(
    state: &Services,
    id: String,
    input: CreateUpstream,
    encrypted: Option<String>,
) -> Result<UpstreamView, ApiError> {
    let now = state.clock.now_ms();
    let name = validate::text("name", &input.name, 100)?;
    let provider = parse_provider(&input.provider)?;
    let base_url = checked_base_url(state, &input.base_url)?;
    let api_key_encrypted = match encrypted {
        Some(token) => token,
        None => state.cipher.encrypt(&checked_api_key(&input.api_key)?),
    };
    let timeout_ms = validate::in_range(
        "timeout_ms",
        input.timeout_ms.unwrap_or(DEFAULT_TIMEOUT_MS),
        1_000..=600_000,
    )?;
    let weight = validate::in_range("weight", input.weight.unwrap_or(1), 1..=100)?;
    let priority = validate::in_range("priority", input.priority.unwrap_or(0), 0..=1000)?;
    let allowed_models = checked_models(input.allowed_models.as_deref().unwrap_or_default())?;
    let model_redirects = checked_redirects(&input.model_redirects.unwrap_or_default())?;
    let breaker = checked_breaker(input.circuit_breaker.unwrap_or_default())?;
    let extra_paths = checked_extra_paths(input.extra_paths.as_deref().unwrap_or_default())?;
    let caps = limits::checked_upstream_limits(&input.limits)?;
    let api_formats = checked_formats(input.api_formats.as_deref().unwrap_or_default())?;
    let multiplier = limits::checked_multiplier(input.price_multiplier.unwrap_or(1.0))?;
    ensure_name_free(state, &name, None).await?;

    let row = UpstreamRow {
        id,
        name,
        provider: provider.as_str().to_string(),
        base_url,
        api_key_encrypted,
        timeout_ms: timeout_ms as i64,
        weight: weight as i64,
        priority: priority as i64,
        allowed_models,
        model_redirects,
        is_active: i64::from(input.is_active.unwrap_or(true)),
        breaker_config: Some(serde_json::to_string(&breaker).map_err(ApiError::internal)?),
        extra_paths,
        created_at: now,
        updated_at: now,
        limits: UpstreamLimitColumns::of(&caps, multiplier),
        api_formats,
    };
    repo::insert(&state.db.pool, &row).await.map_err(db_error)?;
    state.routing_changed().await;
    tracing::info!(upstream_id = %row.id, name = %row.name, "upstream created");
    // Its model list is fetched by the discovery job, without holding up the answer.
    state.models_wanted.notify_one();
    Ok(view(state, &row, 0))
}

pub(crate) async fn list(
    state: &Services,
    page: PageRequest,
) -> Result<Page<UpstreamView>, ApiError> {
    let (rows, total) = repo::list_page(&state.db.pool, page.page_size as i64, page.offset())
        .await
        .map_err(db_error)?;
    let spent = limits::upstream_month_spend(state).await?;
    let items = rows
        .iter()
        .map(|r| view(state, r, spent.get(&r.id).copied().unwrap_or(0)))
        .collect();
    Ok(Page::new(
        items,
        total.max(0) as u64,
        page.page,
        page.page_size,
    ))
}

/// The upstream with this id, or a 404.
pub(crate) async fn load(state: &Services, id: &str) -> Result<UpstreamRow, ApiError> {
    repo::get(&state.db.pool, id)
        .await
        .map_err(db_error)?
        .ok_or_else(|| ApiError::NotFound(format!("no upstream with id {id}")))
}

pub(crate) async fn get(state: &Services, id: &str) -> Result<UpstreamView, ApiError> {
    let row = load(state, id).await?;
    Ok(view(state, &row, month_spend(state, id).await?))
}

async fn month_spend(state: &Services, id: &str) -> Result<i64, ApiError> {
    Ok(limits::upstream_month_spend(state)
        .await?
        .get(id)
        .copied()
        .unwrap_or(0))
}

pub(crate) async fn update(
    state: &Services,
    id: &str,
    input: UpdateUpstream,
) -> Result<UpstreamView, ApiError> {
    let mut row = load(state, id).await?;
    if let Some(name) = &input.name {
        let name = validate::text("name", name, 100)?;
        ensure_name_free(state, &name, Some(id)).await?;
        row.name = name;
    }
    if let Some(p) = &input.provider {
        row.provider = parse_provider(p)?.as_str().to_string();
    }
    if let Some(u) = &input.base_url {
        let moved = checked_base_url(state, u)?;
        // The stored key was given for the old host: it follows the upstream to another origin
        // only when the admin gives it again.
        if origin_of(&moved) != origin_of(&row.base_url) && input.api_key.is_none() {
            return Err(validate::problem(
                "api_key",
                "required_for_new_origin",
                None,
                "is required again when the base URL moves to another origin",
            ));
        }
        row.base_url = moved;
    }
    if let Some(k) = &input.api_key {
        row.api_key_encrypted = state.cipher.encrypt(&checked_api_key(k)?);
    }
    if let Some(t) = input.timeout_ms {
        row.timeout_ms = validate::in_range("timeout_ms", t, 1_000..=600_000)? as i64;
    }
    if let Some(w) = input.weight {
        row.weight = validate::in_range("weight", w, 1..=100)? as i64;
    }
    if let Some(p) = input.priority {
        row.priority = validate::in_range("priority", p, 0..=1000)? as i64;
    }
    if let Some(m) = &input.allowed_models {
        row.allowed_models = checked_models(m)?;
    }
    if let Some(r) = &input.model_redirects {
        row.model_redirects = checked_redirects(r)?;
    }
    if let Some(a) = input.is_active {
        row.is_active = i64::from(a);
    }
    if let Some(p) = &input.extra_paths {
        row.extra_paths = checked_extra_paths(p)?;
    }
    if let Some(f) = &input.api_formats {
        row.api_formats = checked_formats(f)?;
    }
    if let Some(b) = input.circuit_breaker {
        row.breaker_config =
            Some(serde_json::to_string(&checked_breaker(b)?).map_err(ApiError::internal)?);
    }
    if let Some(l) = &input.limits {
        let caps = limits::checked_upstream_limits(l)?;
        row.limits = UpstreamLimitColumns::of(&caps, row.limits.price_multiplier_ppm);
    }
    if let Some(m) = input.price_multiplier {
        row.limits.price_multiplier_ppm = limits::checked_multiplier(m)?;
    }
    row.updated_at = state.clock.now_ms();
    if !repo::update(&state.db.pool, &row).await.map_err(db_error)? {
        return Err(ApiError::NotFound(format!("no upstream with id {id}")));
    }
    state.routing_changed().await;
    Ok(view(state, &row, month_spend(state, id).await?))
}

pub(crate) async fn delete(state: &Services, id: &str) -> Result<(), ApiError> {
    if repo::delete(&state.db.pool, id).await.map_err(db_error)? {
        state.routing_changed().await;
        // The database rows went with the upstream (ON DELETE CASCADE); so does what memory held.
        state.plane.forget_upstream(id);
        tracing::info!(upstream_id = %id, "upstream deleted");
        Ok(())
    } else {
        Err(ApiError::NotFound(format!("no upstream with id {id}")))
    }
}

pub(crate) async fn test_saved(
    state: &Services,
    id: &str,
) -> Result<ConnectionTestResult, ApiError> {
    let row = load(state, id).await?;
    let key = state
        .cipher
        .decrypt(&row.api_key_encrypted)
        .map_err(ApiError::internal)?;
    let provider = parse_provider(&row.provider)?;
    Ok(probe(
        state,
        provider,
        &row.base_url,
        &key,
        row.timeout_ms.max(1000) as u64,
        CONNECTION_TEST_AGENT,
    )
    .await)
}

pub(crate) async fn test_form(
    state: &Services,
    form: TestUpstreamForm,
) -> Result<ConnectionTestResult, ApiError> {
    let provider = parse_provider(&form.provider)?;
    let key = checked_api_key(&form.api_key)?;
    let timeout = validate::in_range(
        "timeout_ms",
        form.timeout_ms.unwrap_or(15_000),
        1_000..=600_000,
    )?;
    Ok(probe(
        state,
        provider,
        &form.base_url,
        &key,
        timeout,
        CONNECTION_TEST_AGENT,
    )
    .await)
}

fn failure(
    error_type: &str,
    message: String,
    status: Option<u16>,
    latency: Option<u64>,
) -> ConnectionTestResult {
    ConnectionTestResult {
        success: false,
        latency_ms: latency,
        status_code: status,
        error_type: Some(error_type.into()),
        message,
    }
}

fn find_ssrf<'a>(e: &'a (dyn std::error::Error + 'static)) -> Option<&'a SsrfError> {
    let mut cur: Option<&'a (dyn std::error::Error + 'static)> = Some(e);
    while let Some(err) = cur {
        if let Some(s) = err.downcast_ref::<SsrfError>() {
            return Some(s);
        }
        cur = err.source();
    }
    None
}

/// `GET {base}/models` with the provider's auth: spends no tokens and proves URL, key and network.
pub(crate) async fn probe(
    state: &Services,
    provider: Provider,
    base_url: &str,
    key: &str,
    timeout_ms: u64,
    user_agent: &'static str,
) -> ConnectionTestResult {
    let base = match validate_url(base_url.trim(), policy(state)) {
        Ok(u) => u.as_str().trim_end_matches('/').to_string(),
        Err(e @ SsrfError::Blocked { .. }) => {
            return failure("ssrf_blocked", e.to_string(), None, None)
        }
        Err(e) => return failure("invalid", e.to_string(), None, None),
    };
    let mut headers = axum::http::HeaderMap::new();
    apply_upstream_auth(provider, key, &mut headers, false);
    headers.insert(
        axum::http::header::USER_AGENT,
        axum::http::HeaderValue::from_static(user_agent),
    );
    let started = Instant::now();
    let sent = state
        .plane
        .http
        .tester()
        .get(format!("{base}/models"))
        .headers(headers)
        .timeout(Duration::from_millis(timeout_ms))
        .send()
        .await;
    let latency = started.elapsed().as_millis() as u64;
    match sent {
        Ok(res) => {
            let status = res.status().as_u16();
            match status {
                200..=299 => ConnectionTestResult {
                    success: true,
                    latency_ms: Some(latency),
                    status_code: Some(status),
                    error_type: None,
                    message: format!("connected in {latency} ms"),
                },
                401 | 403 => failure("auth", format!("the upstream refused the API key (HTTP {status})"), Some(status), Some(latency)),
                404 => failure("not_found", format!("{base}/models was not found (HTTP 404); check the base URL and its version prefix"), Some(status), Some(latency)),
                500..=599 => failure("server_error", format!("the upstream answered HTTP {status}"), Some(status), Some(latency)),
                _ => failure("unexpected_status", format!("the upstream answered HTTP {status}"), Some(status), Some(latency)),
            }
        }
        Err(e) => {
            if let Some(s) = find_ssrf(&e) {
                failure("ssrf_blocked", s.to_string(), None, None)
            } else if e.is_timeout() {
                failure(
                    "timeout",
                    format!("no answer within {timeout_ms} ms"),
                    None,
                    Some(latency),
                )
            } else {
                failure(
                    "network",
                    "could not connect to the upstream".into(),
                    None,
                    Some(latency),
                )
            }
        }
    }
}

/// Every upstream's id and name.
pub(crate) async fn names(state: &Services) -> Result<Vec<Named>, ApiError> {
    let rows = repo::names(&state.db.pool).await.map_err(db_error)?;
    Ok(rows
        .into_iter()
        .map(|(id, name)| Named { id, name })
        .collect())
}
