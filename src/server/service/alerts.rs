//! Alerts by webhook: the webhooks (CRUD, SSRF-checked, URL and secret encrypted), turning the
//! data plane's transitions and the periodic checks (budgets, error rate) into alerts announced
//! once across instances, and their delivery with retries, recorded per webhook.
use std::ops::Deref;
use std::time::Duration;

use base64::Engine;
use hmac::{Hmac, Mac};
use serde_json::{json, Value};
use sha2::Sha256;

use super::{db_error, validate, Services};
use crate::model::alerts::{
    AlertKind, AlertLanguage, AlertSettings, CreateWebhook, DeliveryStatus, DeliveryView,
    UpdateAlertSettings, UpdateWebhook, WebhookFormat, WebhookView,
};
use crate::model::money::usd;
use crate::server::db::alerts::{self as repo, DeliveryRow, WebhookRow};
use crate::server::db::settings as settings_repo;
use crate::server::error::ApiError;
use crate::server::http::ssrf::{validate_url, SsrfPolicy};
use crate::server::proxy::events::PlaneEvent;
use crate::server::timefmt::to_rfc3339;

/// Attempts per alert, and the waits between them.
pub(crate) const MAX_ATTEMPTS: u32 = 5;
const BACKOFF: [Duration; 4] = [
    Duration::from_secs(1),
    Duration::from_secs(5),
    Duration::from_secs(30),
    Duration::from_secs(120),
];
const SEND_TIMEOUT: Duration = Duration::from_secs(10);
/// The window the error-rate alert looks at.
pub(crate) const ERROR_RATE_WINDOW_MS: i64 = 5 * 60 * 1000;
const MAX_WEBHOOKS: usize = 50;
const MAX_URL_LEN: usize = 2048;
const MAX_SECRET_LEN: usize = 256;
/// Deliveries listed at most.
const MAX_DELIVERIES: u32 = 200;

pub(crate) const ERROR_RATE_PERCENT: &str = "alert_error_rate_percent";
pub(crate) const ERROR_RATE_MIN_REQUESTS: &str = "alert_error_rate_min_requests";
pub(crate) const LANGUAGE: &str = "alert_language";

fn policy(state: &Services) -> SsrfPolicy {
    SsrfPolicy {
        allow_private: state.config.allow_private_upstreams,
    }
}

// ---------------------------------------------------------------------------------------------
// Alerts and their bodies

/// What an alert names: an upstream or a key.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Subject {
    None,
    Upstream { id: String, name: String },
    Key { id: String, name: String },
}

/// One alert, before it is shaped for a webhook.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Alert {
    pub kind: AlertKind,
    pub subject: Subject,
    /// What makes it unique, e.g. `breaker_open:<upstream>:<opened at>`.
    pub dedupe_key: String,
    pub message: String,
    pub at_ms: i64,
}

fn with_secret(secret: Option<&str>, f: impl FnOnce(&str) -> String) -> Option<String> {
    secret.filter(|s| !s.is_empty()).map(f)
}

fn hmac_sha256(key: &[u8], message: &[u8]) -> Vec<u8> {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes keys of any length");
    mac.update(message);
    mac.finalize().into_bytes().to_vec()
}

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// The request one webhook is sent: the URL (DingTalk's signature goes in its query), the
/// JSON body and any extra headers.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Shaped {
    pub url: url::Url,
    pub body: Value,
    pub headers: Vec<(&'static str, String)>,
}

/// Shapes `alert` for a webhook of `format`, signed with `secret` if there is one, at `now_ms`;
/// `instance` names the gateway that sent it (`INSTANCE_ID`, as on the live view).
pub(crate) fn shape(
    format: WebhookFormat,
    mut url: url::Url,
    secret: Option<&str>,
    alert: &Alert,
    instance: &str,
    now_ms: i64,
) -> Shaped {
    let text = format!("[AutoRouter] {}", alert.message);
    let mut headers = Vec::new();
    let body = match format {
        WebhookFormat::Generic => {
            let mut body = json!({
                "event": alert.kind.as_str(),
                "severity": alert.kind.severity(),
                "message": alert.message,
                "at": to_rfc3339(alert.at_ms),
                "instance": instance,
                "dedupe_key": alert.dedupe_key,
            });
            match &alert.subject {
                Subject::Upstream { id, name } => {
                    body["upstream"] = json!({"id": id, "name": name});
                }
                Subject::Key { id, name } => body["key"] = json!({"id": id, "name": name}),
                Subject::None => {}
            }
            // Signed over `<timestamp>.<body>`, so a replayed body with a new timestamp fails.
            let ts = (now_ms / 1000).to_string();
            let raw = body.to_string();
            if let Some(sig) = with_secret(secret, |s| {
                let mac = hmac_sha256(s.as_bytes(), format!("{ts}.{raw}").as_bytes());
                format!("sha256={}", crate::server::crypto::digest_hex(&to_32(&mac)))
            }) {
                headers.push(("x-autorouter-timestamp", ts));
                headers.push(("x-autorouter-signature", sig));
            }
            body
        }
        WebhookFormat::Slack => json!({ "text": text }),
        WebhookFormat::Feishu => {
            let mut body = json!({"msg_type": "text", "content": {"text": text}});
            // Feishu: base64(HMAC-SHA256 keyed by "<timestamp s>\n<secret>" over nothing).
            let ts = (now_ms / 1000).to_string();
            if let Some(sign) = with_secret(secret, |s| {
                b64(&hmac_sha256(format!("{ts}\n{s}").as_bytes(), b""))
            }) {
                body["timestamp"] = json!(ts);
                body["sign"] = json!(sign);
            }
            body
        }
        WebhookFormat::Dingtalk => {
            // DingTalk: `timestamp` (ms) and `sign` = base64(HMAC-SHA256 keyed by the secret over
            // "<timestamp>\n<secret>") in the query.
            let ts = now_ms.to_string();
            if let Some(sign) = with_secret(secret, |s| {
                b64(&hmac_sha256(s.as_bytes(), format!("{ts}\n{s}").as_bytes()))
            }) {
                url.query_pairs_mut()
                    .append_pair("timestamp", &ts)
                    .append_pair("sign", &sign);
            }
            json!({"msgtype": "text", "text": {"content": text}})
        }
    };
    Shaped { url, body, headers }
}

fn to_32(mac: &[u8]) -> [u8; 32] {
    let mut out = [0u8; 32];
    out.copy_from_slice(&mac[..32]);
    out
}

fn percent(spent: i64, limit: i64) -> i64 {
    if limit <= 0 {
        return 0;
    }
    ((spent as i128 * 100) / limit as i128) as i64
}

/// The alert texts, in the language the admin chose.
struct Texts(AlertLanguage);

impl Texts {
    fn zh(&self) -> bool {
        self.0 == AlertLanguage::Zh
    }

    fn breaker_opened(&self, name: &str) -> String {
        if self.zh() {
            format!("上游 {name} 的熔断器已打开：在它恢复之前，请求会跳过它。")
        } else {
            format!(
                "Circuit breaker opened for upstream {name}: requests skip it until it recovers."
            )
        }
    }

    fn breaker_closed(&self, name: &str) -> String {
        if self.zh() {
            format!("上游 {name} 的熔断器已关闭：它重新开始处理请求。")
        } else {
            format!("Circuit breaker closed for upstream {name}: it serves requests again.")
        }
    }

    fn unhealthy(&self, name: &str, error: Option<&str>) -> String {
        let error = error.unwrap_or("-");
        if self.zh() {
            format!("上游 {name} 不健康：{error}")
        } else {
            format!("Upstream {name} is unhealthy: {error}")
        }
    }

    fn healthy(&self, name: &str) -> String {
        if self.zh() {
            format!("上游 {name} 已恢复健康。")
        } else {
            format!("Upstream {name} is healthy again.")
        }
    }

    fn budget(&self, what: &Budget, name: &str, threshold: i64, spent: i64, limit: i64) -> String {
        let (spent, limit) = (usd(spent), usd(limit));
        let zh = self.zh();
        let whose = match (what, zh) {
            (Budget::KeyDaily, false) => format!("Key {name} has spent"),
            (Budget::KeyMonthly, false) => format!("Key {name} has spent"),
            (Budget::UpstreamMonthly, false) => format!("Upstream {name} has used"),
            (Budget::UpstreamMonthly, true) => format!("上游 {name} 已用掉"),
            (_, true) => format!("密钥 {name} 已用掉"),
        };
        let of_what = match (what, zh) {
            (Budget::KeyDaily, false) => "its daily budget",
            (Budget::KeyMonthly, false) => "its monthly budget",
            (Budget::UpstreamMonthly, false) => "its monthly quota",
            (Budget::KeyDaily, true) => "每日预算",
            (Budget::KeyMonthly, true) => "每月预算",
            (Budget::UpstreamMonthly, true) => "每月额度",
        };
        match (threshold >= 100, zh) {
            (false, false) => format!(
                "{whose} {threshold}% of {of_what} ({spent:.4} of {limit:.4} USD)."
            ),
            (true, false) => format!(
                "{whose} all of {of_what} ({spent:.4} of {limit:.4} USD): it is refused until the period ends."
            ),
            (false, true) => format!("{whose}{of_what}的 {threshold}%（{spent:.4} / {limit:.4} USD）。"),
            (true, true) => format!(
                "{whose}全部{of_what}（{spent:.4} / {limit:.4} USD）：在本周期结束前将被拒绝。"
            ),
        }
    }

    fn error_rate(&self, errors: i64, total: i64, threshold: u32) -> String {
        let pct = percent(errors, total);
        if self.zh() {
            format!(
                "最近 5 分钟有 {pct}% 的请求以 5xx 失败（{errors} / {total}），超过阈值 {threshold}%。"
            )
        } else {
            format!(
                "{pct}% of requests failed with a 5xx status over the last 5 minutes ({errors} of {total}), above the {threshold}% threshold."
            )
        }
    }

    fn test(&self) -> String {
        if self.zh() {
            "这是一条测试告警：此 Webhook 工作正常。".into()
        } else {
            "This is a test alert: this webhook works.".into()
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Budget {
    KeyDaily,
    KeyMonthly,
    UpstreamMonthly,
}

impl Budget {
    fn as_str(self) -> &'static str {
        match self {
            Budget::KeyDaily => "key_daily",
            Budget::KeyMonthly => "key_monthly",
            Budget::UpstreamMonthly => "upstream_monthly",
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Settings

pub(crate) async fn settings(state: &Services) -> Result<AlertSettings, ApiError> {
    let pairs = settings_repo::all(&state.db.pool).await.map_err(db_error)?;
    let mut s = AlertSettings::default();
    for (key, value) in pairs {
        match key.as_str() {
            ERROR_RATE_PERCENT => {
                if let Some(v) = value.parse().ok().filter(|v| *v <= 100) {
                    s.error_rate_percent = v;
                }
            }
            ERROR_RATE_MIN_REQUESTS => {
                if let Some(v) = value.parse().ok().filter(|v| *v >= 1) {
                    s.error_rate_min_requests = v;
                }
            }
            LANGUAGE => {
                if let Ok(v) = value.parse() {
                    s.language = v;
                }
            }
            _ => {}
        }
    }
    Ok(s)
}

pub(crate) async fn update_settings(
    state: &Services,
    input: UpdateAlertSettings,
) -> Result<AlertSettings, ApiError> {
    let mut pairs: Vec<(&str, String)> = Vec::new();
    if let Some(n) = input.error_rate_percent {
        validate::in_range("error_rate_percent", n, 0..=100)?;
        pairs.push((ERROR_RATE_PERCENT, n.to_string()));
    }
    if let Some(n) = input.error_rate_min_requests {
        validate::in_range("error_rate_min_requests", n, 1..=1_000_000)?;
        pairs.push((ERROR_RATE_MIN_REQUESTS, n.to_string()));
    }
    if let Some(raw) = &input.language {
        let lang: AlertLanguage =
            raw.trim()
                .parse()
                .map_err(|e: crate::model::wire::UnknownName| {
                    validate::invalid("language", format!("must be one of {}", e.names()))
                })?;
        pairs.push((LANGUAGE, lang.as_str().to_owned()));
    }
    if !pairs.is_empty() {
        settings_repo::put_all(&state.db.pool, &pairs, state.clock.now_ms())
            .await
            .map_err(db_error)?;
        tracing::info!(changed = ?pairs, "alert settings changed");
    }
    settings(state).await
}

// ---------------------------------------------------------------------------------------------
// Webhooks

/// Scheme, host and port; the path and query (where chat services put the token) masked.
pub(crate) fn mask_url(raw: &str) -> String {
    match url::Url::parse(raw) {
        Ok(u) => {
            let host = u.host_str().unwrap_or("");
            match u.port() {
                Some(p) => format!("{}://{host}:{p}/***", u.scheme()),
                None => format!("{}://{host}/***", u.scheme()),
            }
        }
        Err(_) => "***".into(),
    }
}

fn view(state: &Services, row: &WebhookRow) -> WebhookView {
    let url = state
        .cipher
        .decrypt(&row.url_encrypted)
        .map(|u| mask_url(&u))
        .unwrap_or_else(|_| "***".into());
    WebhookView {
        id: row.id.clone(),
        name: row.name.clone(),
        url_masked: url,
        format: row.format.parse().unwrap_or(WebhookFormat::Generic),
        events: row
            .event_list()
            .iter()
            .filter_map(|e| e.parse().ok())
            .collect(),
        enabled: row.enabled != 0,
        has_secret: row.secret_encrypted.is_some(),
        created_at: to_rfc3339(row.created_at),
    }
}

fn checked_url(state: &Services, raw: &str) -> Result<String, ApiError> {
    let raw = raw.trim();
    if raw.is_empty() {
        return Err(validate::problem(
            "url",
            "required",
            None,
            "must not be empty",
        ));
    }
    if raw.len() > MAX_URL_LEN {
        return Err(validate::problem(
            "url",
            "too_long",
            Some(MAX_URL_LEN.to_string()),
            format!("must be at most {MAX_URL_LEN} characters"),
        ));
    }
    let url = validate_url(raw, policy(state)).map_err(|e| {
        let (reason, arg) = e.reason();
        validate::problem("url", reason, arg, e)
    })?;
    Ok(url.to_string())
}

fn checked_format(raw: &str) -> Result<WebhookFormat, ApiError> {
    raw.trim()
        .parse()
        .map_err(|e: crate::model::wire::UnknownName| {
            validate::invalid("format", format!("must be one of {}", e.names()))
        })
}

/// Stored as a JSON array; every kind (none given) as NULL.
fn checked_events(list: &[String]) -> Result<Option<String>, ApiError> {
    let mut kinds: Vec<AlertKind> = Vec::new();
    for raw in list {
        let k: AlertKind = raw
            .trim()
            .parse()
            .ok()
            .filter(|k| *k != AlertKind::Test)
            .ok_or_else(|| {
                let known: Vec<&str> = AlertKind::ALL
                    .iter()
                    .filter(|k| **k != AlertKind::Test)
                    .map(|k| k.as_str())
                    .collect();
                validate::invalid(
                    "events",
                    format!("{raw:?} is not one of {}", known.join(", ")),
                )
            })?;
        if !kinds.contains(&k) {
            kinds.push(k);
        }
    }
    Ok((!kinds.is_empty()).then(|| {
        let names: Vec<&str> = kinds.iter().map(|k| k.as_str()).collect();
        serde_json::to_string(&names).unwrap_or_default()
    }))
}

fn checked_secret(state: &Services, raw: Option<&str>) -> Result<Option<String>, ApiError> {
    let Some(secret) = raw.map(str::trim).filter(|s| !s.is_empty()) else {
        return Ok(None);
    };
    if secret.len() > MAX_SECRET_LEN || secret.chars().any(char::is_control) {
        return Err(validate::invalid(
            "secret",
            format!("must be at most {MAX_SECRET_LEN} characters without control characters"),
        ));
    }
    Ok(Some(state.cipher.encrypt(secret)))
}

async fn ensure_name_free(
    state: &Services,
    name: &str,
    except_id: Option<&str>,
) -> Result<(), ApiError> {
    let holder = repo::find_webhook_by_name(&state.db.pool, name)
        .await
        .map_err(db_error)?;
    validate::name_free(
        holder.as_ref().map(|r| r.id.as_str()),
        except_id,
        name,
        "a webhook",
    )
}

pub(crate) async fn list(state: &Services) -> Result<Vec<WebhookView>, ApiError> {
    let rows = repo::list_webhooks(&state.db.pool)
        .await
        .map_err(db_error)?;
    Ok(rows.iter().map(|r| view(state, r)).collect())
}

async fn load(state: &Services, id: &str) -> Result<WebhookRow, ApiError> {
    repo::get_webhook(&state.db.pool, id)
        .await
        .map_err(db_error)?
        .ok_or_else(|| ApiError::NotFound(format!("no webhook with id {id}")))
}

pub(crate) async fn get(state: &Services, id: &str) -> Result<WebhookView, ApiError> {
    Ok(view(state, &load(state, id).await?))
}

pub(crate) async fn create(
    state: &Services,
    input: CreateWebhook,
) -> Result<WebhookView, ApiError> {
    let name = validate::text("name", &input.name, 100)?;
    let url = checked_url(state, &input.url)?;
    let format = checked_format(&input.format)?;
    let events = checked_events(input.events.as_deref().unwrap_or_default())?;
    let secret = checked_secret(state, input.secret.as_deref())?;
    ensure_name_free(state, &name, None).await?;
    let existing = repo::list_webhooks(&state.db.pool)
        .await
        .map_err(db_error)?;
    if existing.len() >= MAX_WEBHOOKS {
        return Err(ApiError::Invalid(format!(
            "at most {MAX_WEBHOOKS} webhooks; delete one first"
        )));
    }
    let now = state.clock.now_ms();
    let row = WebhookRow {
        id: uuid::Uuid::new_v4().to_string(),
        name,
        url_encrypted: state.cipher.encrypt(&url),
        format: format.as_str().to_owned(),
        events,
        enabled: i64::from(input.enabled.unwrap_or(true)),
        secret_encrypted: secret,
        created_at: now,
        updated_at: now,
    };
    repo::insert_webhook(&state.db.pool, &row)
        .await
        .map_err(db_error)?;
    tracing::info!(webhook_id = %row.id, name = %row.name, format = %row.format, "alert webhook created");
    Ok(view(state, &row))
}

pub(crate) async fn update(
    state: &Services,
    id: &str,
    input: UpdateWebhook,
) -> Result<WebhookView, ApiError> {
    let mut row = load(state, id).await?;
    if let Some(name) = &input.name {
        let name = validate::text("name", name, 100)?;
        ensure_name_free(state, &name, Some(id)).await?;
        row.name = name;
    }
    if let Some(url) = &input.url {
        row.url_encrypted = state.cipher.encrypt(&checked_url(state, url)?);
    }
    if let Some(f) = &input.format {
        row.format = checked_format(f)?.as_str().to_owned();
    }
    if let Some(events) = &input.events {
        row.events = checked_events(events)?;
    }
    if let Some(enabled) = input.enabled {
        row.enabled = i64::from(enabled);
    }
    if let Some(secret) = &input.secret {
        row.secret_encrypted = checked_secret(state, Some(secret))?;
    }
    row.updated_at = state.clock.now_ms();
    repo::update_webhook(&state.db.pool, &row)
        .await
        .map_err(db_error)?;
    tracing::info!(webhook_id = %row.id, "alert webhook changed");
    Ok(view(state, &row))
}

pub(crate) async fn delete(state: &Services, id: &str) -> Result<(), ApiError> {
    if !repo::delete_webhook(&state.db.pool, id)
        .await
        .map_err(db_error)?
    {
        return Err(ApiError::NotFound(format!("no webhook with id {id}")));
    }
    tracing::info!(webhook_id = %id, "alert webhook deleted");
    Ok(())
}

fn delivery_view(row: DeliveryRow) -> DeliveryView {
    DeliveryView {
        id: row.id,
        webhook_id: row.webhook_id,
        webhook_name: row.webhook_name,
        kind: row.kind.parse().unwrap_or(AlertKind::Test),
        dedupe_key: row.dedupe_key,
        summary: row.summary,
        status: row.status.parse().unwrap_or(DeliveryStatus::Failed),
        attempts: u32::try_from(row.attempts.max(0)).unwrap_or(u32::MAX),
        last_error: row.last_error,
        created_at: to_rfc3339(row.created_at),
        delivered_at: row.delivered_at.map(to_rfc3339),
    }
}

/// The newest deliveries first (at most `limit`, default 50), of one webhook or of all.
pub(crate) async fn deliveries(
    state: &Services,
    webhook_id: Option<&str>,
    limit: Option<u32>,
) -> Result<Vec<DeliveryView>, ApiError> {
    let limit = validate::in_range("limit", limit.unwrap_or(50), 1..=MAX_DELIVERIES)?;
    let rows = repo::list_deliveries(&state.db.pool, webhook_id, i64::from(limit))
        .await
        .map_err(db_error)?;
    Ok(rows.into_iter().map(delivery_view).collect())
}

/// Sends a test alert to the webhook now, once (no retries), and answers how it went.
pub(crate) async fn test(state: &Services, id: &str) -> Result<DeliveryView, ApiError> {
    let row = load(state, id).await?;
    let lang = settings(state).await?.language;
    let now = state.clock.now_ms();
    let alert = Alert {
        kind: AlertKind::Test,
        subject: Subject::None,
        dedupe_key: format!("test:{now}"),
        message: Texts(lang).test(),
        at_ms: now,
    };
    let delivery_id = deliver(state, &row, &alert, 1).await?;
    let row = repo::get_delivery(&state.db.pool, &delivery_id)
        .await
        .map_err(db_error)?
        .ok_or_else(|| ApiError::NotFound("the delivery is gone".into()))?;
    Ok(delivery_view(row))
}

// ---------------------------------------------------------------------------------------------
// Delivery

/// One attempt: `Ok` on a 2xx answer; the error never names the URL.
async fn send_once(state: &Services, row: &WebhookRow, alert: &Alert) -> Result<(), String> {
    let raw = state
        .cipher
        .decrypt(&row.url_encrypted)
        .map_err(|_| "the stored URL cannot be decrypted (was ENCRYPTION_KEY changed?)")?;
    // IP literals never reach the guarded resolver: checked here, names at connect time.
    let url = validate_url(&raw, policy(state)).map_err(|e| e.to_string())?;
    let secret = match &row.secret_encrypted {
        Some(s) => Some(
            state
                .cipher
                .decrypt(s)
                .map_err(|_| "the stored secret cannot be decrypted")?,
        ),
        None => None,
    };
    let format = row.format.parse().unwrap_or(WebhookFormat::Generic);
    let shaped = shape(
        format,
        url,
        secret.as_deref(),
        alert,
        &state.config.instance_id,
        state.clock.now_ms(),
    );
    let mut request = state
        .plane
        .http
        .tester()
        .post(shaped.url)
        .timeout(SEND_TIMEOUT)
        .header(
            "user-agent",
            concat!("AutoRouter-Alerts/", env!("CARGO_PKG_VERSION")),
        )
        .json(&shaped.body);
    for (name, value) in shaped.headers {
        request = request.header(name, value);
    }
    match request.send().await {
        Ok(res) if res.status().is_success() => Ok(()),
        Ok(res) => Err(format!("answered HTTP {}", res.status().as_u16())),
        // `without_url`: the URL may carry the webhook's token.
        Err(e) => Err(describe(&e.without_url())),
    }
}

fn describe(e: &reqwest::Error) -> String {
    use std::error::Error;
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text.chars().take(500).collect()
}

/// Records a delivery and makes up to `attempts` attempts, waiting by `BACKOFF` between them;
/// returns the delivery's id.
async fn deliver(
    state: &Services,
    row: &WebhookRow,
    alert: &Alert,
    attempts: u32,
) -> Result<String, ApiError> {
    let id = uuid::Uuid::now_v7().to_string();
    repo::insert_delivery(
        &state.db.pool,
        &id,
        &row.id,
        alert.kind.as_str(),
        &alert.dedupe_key,
        &alert.message,
        state.clock.now_ms(),
    )
    .await
    .map_err(db_error)?;
    for attempt in 1..=attempts {
        let outcome = send_once(state, row, alert).await;
        let (status, error, delivered_at) = match &outcome {
            Ok(()) => (DeliveryStatus::Delivered, None, Some(state.clock.now_ms())),
            Err(e) if attempt < attempts => (DeliveryStatus::Pending, Some(e.as_str()), None),
            Err(e) => (DeliveryStatus::Failed, Some(e.as_str()), None),
        };
        repo::update_delivery(
            &state.db.pool,
            &id,
            status.as_str(),
            attempt,
            error,
            delivered_at,
        )
        .await
        .map_err(db_error)?;
        match outcome {
            Ok(()) => break,
            Err(e) => {
                tracing::warn!(webhook_id = %row.id, kind = %alert.kind, attempt, error = %e, "alert delivery failed");
                if let Some(wait) = BACKOFF
                    .get(attempt as usize - 1)
                    .filter(|_| attempt < attempts)
                {
                    tokio::time::sleep(*wait).await;
                }
            }
        }
    }
    Ok(id)
}

fn wants(row: &WebhookRow, kind: AlertKind) -> bool {
    let events = row.event_list();
    row.enabled != 0 && (events.is_empty() || events.iter().any(|e| e == kind.as_str()))
}

async fn enabled_webhooks(state: &Services) -> Result<Vec<WebhookRow>, sqlx::Error> {
    Ok(repo::list_webhooks(&state.db.pool)
        .await?
        .into_iter()
        .filter(|w| w.enabled != 0)
        .collect())
}

/// A handle on the services that delivery tasks can keep (the running gateway's `AppState`).
pub(crate) trait Shared: Deref<Target = Services> + Clone + Send + Sync + 'static {}
impl<T: Deref<Target = Services> + Clone + Send + Sync + 'static> Shared for T {}

/// Sends `alert` to every enabled webhook that wants its kind, each in a task of its own so a
/// slow or failing one never holds up the others (or the next event).
fn dispatch<S: Shared>(state: &S, webhooks: &[WebhookRow], alert: Alert) {
    for row in webhooks.iter().filter(|w| wants(w, alert.kind)) {
        let (state, row, alert) = (state.clone(), row.clone(), alert.clone());
        tokio::spawn(async move {
            if let Err(e) = deliver(&state, &row, &alert, MAX_ATTEMPTS).await {
                tracing::error!(webhook_id = %row.id, error = %e, "alert delivery could not be recorded");
            }
        });
    }
}

// ---------------------------------------------------------------------------------------------
// Events and checks

fn upstream_subject(state: &Services, id: &str) -> Subject {
    let name = state
        .plane
        .routing
        .snapshot()
        .upstreams
        .get(id)
        .map_or_else(|| id.to_owned(), |u| u.name.clone());
    Subject::Upstream {
        id: id.to_owned(),
        name,
    }
}

fn subject_name(s: &Subject) -> &str {
    match s {
        Subject::Upstream { name, .. } | Subject::Key { name, .. } => name,
        Subject::None => "",
    }
}

/// A breaker or health transition from the data plane: announced when this call is the one that
/// moves the subject's shared state (so one transition seen by several instances, or one outage
/// whose breaker several instances opened, makes one alert).
pub(crate) async fn on_event<S: Shared>(state: &S, event: PlaneEvent) -> Result<(), sqlx::Error> {
    let webhooks = enabled_webhooks(state).await?;
    if webhooks.is_empty() {
        return Ok(());
    }
    let texts = Texts(
        settings(state)
            .await
            .map(|s| s.language)
            .unwrap_or_default(),
    );
    let now = state.clock.now_ms();
    let (subject_key, to, create, alert) = match event {
        PlaneEvent::BreakerOpened {
            upstream_id,
            opened_at_ms,
        } => {
            let subject = upstream_subject(state, &upstream_id);
            let message = texts.breaker_opened(subject_name(&subject));
            (
                format!("breaker:{upstream_id}"),
                "open",
                true,
                Alert {
                    kind: AlertKind::BreakerOpened,
                    dedupe_key: format!("breaker_open:{upstream_id}:{opened_at_ms}"),
                    subject,
                    message,
                    at_ms: opened_at_ms,
                },
            )
        }
        PlaneEvent::BreakerClosed { upstream_id, at_ms } => {
            let subject = upstream_subject(state, &upstream_id);
            let message = texts.breaker_closed(subject_name(&subject));
            (
                format!("breaker:{upstream_id}"),
                "closed",
                false,
                Alert {
                    kind: AlertKind::BreakerClosed,
                    dedupe_key: format!("breaker_closed:{upstream_id}:{at_ms}"),
                    subject,
                    message,
                    at_ms,
                },
            )
        }
        PlaneEvent::HealthChanged {
            upstream_id,
            healthy,
            at_ms,
            error,
        } => {
            let subject = upstream_subject(state, &upstream_id);
            let (kind, message, to) = if healthy {
                (
                    AlertKind::UpstreamHealthy,
                    texts.healthy(subject_name(&subject)),
                    "healthy",
                )
            } else {
                (
                    AlertKind::UpstreamUnhealthy,
                    texts.unhealthy(subject_name(&subject), error.as_deref()),
                    "unhealthy",
                )
            };
            (
                format!("health:{upstream_id}"),
                to,
                !healthy,
                Alert {
                    kind,
                    dedupe_key: format!("{kind}:{upstream_id}:{at_ms}"),
                    subject,
                    message,
                    at_ms,
                },
            )
        }
    };
    if repo::claim_state(&state.db.pool, &subject_key, to, create, now).await? {
        tracing::info!(kind = %alert.kind, dedupe_key = %alert.dedupe_key, "alert raised");
        dispatch(state, &webhooks, alert);
    }
    Ok(())
}

/// The periodic checks: budgets and quotas at 80% and 100% (once per period and threshold), and
/// the error rate over the last 5 minutes (once per excursion above the threshold).
pub(crate) async fn evaluate<S: Shared>(state: &S) -> Result<(), sqlx::Error> {
    let webhooks = enabled_webhooks(state).await?;
    if webhooks.is_empty() {
        return Ok(());
    }
    let settings = settings(state).await.unwrap_or_default();
    let texts = Texts(settings.language);
    let now = state.clock.now_ms();
    for alert in budget_alerts(state, &texts, now).await? {
        dispatch(state, &webhooks, alert);
    }
    if let Some(alert) = error_rate_alert(state, &settings, &texts, now).await? {
        dispatch(state, &webhooks, alert);
    }
    Ok(())
}

/// What every key with a budget and every upstream with a quota has spent, from the routing
/// snapshot (the statistics as of its last reload, shared by every instance).
async fn budget_alerts(
    state: &Services,
    texts: &Texts,
    now: i64,
) -> Result<Vec<Alert>, sqlx::Error> {
    let snapshot = state.plane.routing.snapshot();
    let spend = &snapshot.spend;
    // (what, id, period, spent, limit)
    let mut crossed: Vec<(Budget, String, String, i64, i64)> = Vec::new();
    for key in snapshot.keys.values() {
        let Some(c) = &key.counters else { continue };
        if let Some(limit) = c.daily_budget_nanos {
            let spent = spend.key_day.get(&key.id).copied().unwrap_or(0);
            crossed.push((
                Budget::KeyDaily,
                key.id.clone(),
                spend.day.clone(),
                spent,
                limit,
            ));
        }
        if let Some(limit) = c.monthly_budget_nanos {
            let spent = spend.key_month.get(&key.id).copied().unwrap_or(0);
            crossed.push((
                Budget::KeyMonthly,
                key.id.clone(),
                spend.month.clone(),
                spent,
                limit,
            ));
        }
    }
    for u in snapshot.upstreams.values() {
        let Some(limit) = u.caps.as_ref().and_then(|c| c.monthly_quota_nanos) else {
            continue;
        };
        let spent = spend.upstream_month.get(&u.id).copied().unwrap_or(0);
        crossed.push((
            Budget::UpstreamMonthly,
            u.id.clone(),
            spend.month.clone(),
            spent,
            limit,
        ));
    }
    let mut alerts = Vec::new();
    for (what, id, period, spent, limit) in crossed {
        let pct = percent(spent, limit);
        // Only the highest threshold crossed: a jump past 100% is one alert, not two.
        let (threshold, kind) = match pct {
            p if p >= 100 => (100, AlertKind::BudgetExhausted),
            p if p >= 80 => (80, AlertKind::BudgetWarning),
            _ => continue,
        };
        if period.is_empty() {
            continue;
        }
        let dedupe_key = format!("budget:{}:{id}:{period}:{threshold}", what.as_str());
        if !repo::claim_state(&state.db.pool, &dedupe_key, "fired", true, now).await? {
            continue;
        }
        let subject = match what {
            Budget::UpstreamMonthly => upstream_subject(state, &id),
            _ => Subject::Key {
                name: crate::server::db::keys::get(&state.db.pool, &id)
                    .await?
                    .map_or_else(|| id.clone(), |k| k.name),
                id: id.clone(),
            },
        };
        let message = texts.budget(&what, subject_name(&subject), threshold, spent, limit);
        tracing::info!(kind = %kind, dedupe_key = %dedupe_key, "alert raised");
        alerts.push(Alert {
            kind,
            subject,
            dedupe_key,
            message,
            at_ms: now,
        });
    }
    Ok(alerts)
}

async fn error_rate_alert(
    state: &Services,
    settings: &AlertSettings,
    texts: &Texts,
    now: i64,
) -> Result<Option<Alert>, sqlx::Error> {
    if settings.error_rate_percent == 0 {
        return Ok(None);
    }
    let (total, errors) =
        repo::request_outcomes_since(&state.db.pool, now - ERROR_RATE_WINDOW_MS).await?;
    let threshold = i64::from(settings.error_rate_percent);
    let high =
        total >= i64::from(settings.error_rate_min_requests) && errors * 100 > threshold * total;
    if !high {
        // Back below: the next excursion is news again.
        repo::claim_state(&state.db.pool, "error_rate", "normal", false, now).await?;
        return Ok(None);
    }
    if !repo::claim_state(&state.db.pool, "error_rate", "high", true, now).await? {
        return Ok(None);
    }
    tracing::info!(total, errors, "alert raised: error rate");
    Ok(Some(Alert {
        kind: AlertKind::ErrorRateHigh,
        subject: Subject::None,
        dedupe_key: format!("error_rate:{now}"),
        message: texts.error_rate(errors, total, settings.error_rate_percent),
        at_ms: now,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn alert() -> Alert {
        Alert {
            kind: AlertKind::BreakerOpened,
            subject: Subject::Upstream {
                id: "u1".into(),
                name: "openai-main".into(),
            },
            dedupe_key: "breaker_open:u1:5".into(),
            message: "Circuit breaker opened for upstream openai-main".into(),
            at_ms: 5_000,
        }
    }

    fn url(s: &str) -> url::Url {
        url::Url::parse(s).unwrap()
    }

    #[test]
    fn chat_bodies_have_their_services_shapes() {
        let a = alert();
        let slack = shape(
            WebhookFormat::Slack,
            url("https://h/x"),
            None,
            &a,
            "gw-1",
            0,
        );
        assert_eq!(
            slack.body,
            json!({"text": "[AutoRouter] Circuit breaker opened for upstream openai-main"})
        );
        let feishu = shape(
            WebhookFormat::Feishu,
            url("https://h/x"),
            None,
            &a,
            "gw-1",
            0,
        );
        assert_eq!(feishu.body["msg_type"], "text");
        assert!(feishu.body["content"]["text"]
            .as_str()
            .unwrap()
            .contains("openai-main"));
        assert!(feishu.body.get("sign").is_none());
        let ding = shape(
            WebhookFormat::Dingtalk,
            url("https://h/x?access_token=t"),
            None,
            &a,
            "gw-1",
            0,
        );
        assert_eq!(ding.body["msgtype"], "text");
        assert!(ding.body["text"]["content"]
            .as_str()
            .unwrap()
            .contains("openai-main"));
        assert_eq!(ding.url.as_str(), "https://h/x?access_token=t");
    }

    #[test]
    fn generic_bodies_name_the_subject_and_are_signed_over_timestamp_and_body() {
        let a = alert();
        let s = shape(
            WebhookFormat::Generic,
            url("https://h/x"),
            Some("k"),
            &a,
            "gw-1",
            1_700_000_000_123,
        );
        assert_eq!(s.body["event"], "breaker_opened");
        assert_eq!(s.body["severity"], "critical");
        assert_eq!(s.body["instance"], "gw-1");
        assert_eq!(
            s.body["upstream"],
            json!({"id": "u1", "name": "openai-main"})
        );
        assert_eq!(
            s.headers[0],
            ("x-autorouter-timestamp", "1700000000".to_string())
        );
        let expected = hmac_sha256(b"k", format!("1700000000.{}", s.body).as_bytes());
        assert_eq!(
            s.headers[1].1,
            format!(
                "sha256={}",
                crate::server::crypto::digest_hex(&to_32(&expected))
            )
        );
        let unsigned = shape(
            WebhookFormat::Generic,
            url("https://h/x"),
            None,
            &a,
            "gw-1",
            0,
        );
        assert!(unsigned.headers.is_empty());
    }

    #[test]
    fn dingtalk_and_feishu_signatures_follow_their_documented_recipes() {
        let a = alert();
        // DingTalk's documented example recipe: HmacSHA256(key=secret, "<ts>\n<secret>").
        let d = shape(
            WebhookFormat::Dingtalk,
            url("https://h/robot/send?access_token=t"),
            Some("SEC1"),
            &a,
            "gw-1",
            1_600_000_000_000,
        );
        let pairs: Vec<(String, String)> = d
            .url
            .query_pairs()
            .map(|(k, v)| (k.into(), v.into()))
            .collect();
        assert_eq!(pairs[1], ("timestamp".into(), "1600000000000".into()));
        let sign = b64(&hmac_sha256(b"SEC1", b"1600000000000\nSEC1"));
        assert_eq!(pairs[2], ("sign".into(), sign));
        // Feishu: HmacSHA256(key="<ts s>\n<secret>", empty message), seconds.
        let f = shape(
            WebhookFormat::Feishu,
            url("https://h/hook/x"),
            Some("SEC2"),
            &a,
            "gw-1",
            1_600_000_000_999,
        );
        assert_eq!(f.body["timestamp"], "1600000000");
        assert_eq!(f.body["sign"], b64(&hmac_sha256(b"1600000000\nSEC2", b"")));
    }

    #[test]
    fn masked_urls_keep_only_scheme_host_and_port() {
        assert_eq!(
            mask_url("https://hooks.slack.com/services/T0/B0/secret"),
            "https://hooks.slack.com/***"
        );
        assert_eq!(
            mask_url("http://127.0.0.1:9000/x?token=t"),
            "http://127.0.0.1:9000/***"
        );
        assert_eq!(mask_url("not a url"), "***");
    }

    #[test]
    fn budget_texts_name_the_threshold_in_both_languages() {
        let en = Texts(AlertLanguage::En).budget(
            &Budget::KeyDaily,
            "ci",
            80,
            800_000_000,
            1_000_000_000,
        );
        assert_eq!(
            en,
            "Key ci has spent 80% of its daily budget (0.8000 of 1.0000 USD)."
        );
        let zh = Texts(AlertLanguage::Zh).budget(&Budget::UpstreamMonthly, "oa", 100, 2, 1);
        assert!(zh.starts_with("上游 oa 已用掉全部每月额度"), "{zh}");
        assert_eq!(percent(79, 100), 79);
        assert_eq!(percent(5, 0), 0);
    }
}
