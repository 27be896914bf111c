//! Repository for `alert_webhooks`, `alert_deliveries` and `alert_states`, and the request
//! counts the error-rate alert reads.
use sqlx::AnyPool;

#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub(crate) struct WebhookRow {
    pub id: String,
    pub name: String,
    pub url_encrypted: String,
    pub format: String,
    /// JSON array of kinds; `None`: every kind.
    pub events: Option<String>,
    pub enabled: i64,
    pub secret_encrypted: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
}

impl WebhookRow {
    pub(crate) fn event_list(&self) -> Vec<String> {
        self.events
            .as_deref()
            .and_then(|e| serde_json::from_str(e).ok())
            .unwrap_or_default()
    }
}

const WEBHOOK_COLUMNS: &str =
    "id, name, url_encrypted, format, events, enabled, secret_encrypted, created_at, updated_at";

pub(crate) async fn list_webhooks(pool: &AnyPool) -> Result<Vec<WebhookRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {WEBHOOK_COLUMNS} FROM alert_webhooks ORDER BY name"
    ))
    .fetch_all(pool)
    .await
}

pub(crate) async fn get_webhook(
    pool: &AnyPool,
    id: &str,
) -> Result<Option<WebhookRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {WEBHOOK_COLUMNS} FROM alert_webhooks WHERE id = $1"
    ))
    .bind(id)
    .fetch_optional(pool)
    .await
}

pub(crate) async fn find_webhook_by_name(
    pool: &AnyPool,
    name: &str,
) -> Result<Option<WebhookRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {WEBHOOK_COLUMNS} FROM alert_webhooks WHERE name = $1"
    ))
    .bind(name)
    .fetch_optional(pool)
    .await
}

pub(crate) async fn insert_webhook(pool: &AnyPool, row: &WebhookRow) -> Result<(), sqlx::Error> {
    sqlx::query(&format!(
        "INSERT INTO alert_webhooks ({WEBHOOK_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)"
    ))
    .bind(&row.id)
    .bind(&row.name)
    .bind(&row.url_encrypted)
    .bind(&row.format)
    .bind(&row.events)
    .bind(row.enabled)
    .bind(&row.secret_encrypted)
    .bind(row.created_at)
    .bind(row.updated_at)
    .execute(pool)
    .await?;
    Ok(())
}

pub(crate) async fn update_webhook(pool: &AnyPool, row: &WebhookRow) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE alert_webhooks SET name = $2, url_encrypted = $3, format = $4, events = $5, \
         enabled = $6, secret_encrypted = $7, updated_at = $8 WHERE id = $1",
    )
    .bind(&row.id)
    .bind(&row.name)
    .bind(&row.url_encrypted)
    .bind(&row.format)
    .bind(&row.events)
    .bind(row.enabled)
    .bind(&row.secret_encrypted)
    .bind(row.updated_at)
    .execute(pool)
    .await?;
    Ok(())
}

/// Deletes the webhook and its deliveries; returns whether it existed.
pub(crate) async fn delete_webhook(pool: &AnyPool, id: &str) -> Result<bool, sqlx::Error> {
    let mut tx = pool.begin().await?;
    sqlx::query("DELETE FROM alert_deliveries WHERE webhook_id = $1")
        .bind(id)
        .execute(&mut *tx)
        .await?;
    let n = sqlx::query("DELETE FROM alert_webhooks WHERE id = $1")
        .bind(id)
        .execute(&mut *tx)
        .await?
        .rows_affected();
    tx.commit().await?;
    Ok(n > 0)
}

#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub(crate) struct DeliveryRow {
    pub id: String,
    pub webhook_id: String,
    pub webhook_name: String,
    pub kind: String,
    pub dedupe_key: String,
    pub summary: String,
    pub status: String,
    pub attempts: i64,
    pub last_error: Option<String>,
    pub created_at: i64,
    pub delivered_at: Option<i64>,
}

/// A delivery about to be attempted.
pub(crate) async fn insert_delivery(
    pool: &AnyPool,
    id: &str,
    webhook_id: &str,
    kind: &str,
    dedupe_key: &str,
    summary: &str,
    now_ms: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO alert_deliveries (id, webhook_id, kind, dedupe_key, summary, status, attempts, created_at) \
         VALUES ($1, $2, $3, $4, $5, 'pending', 0, $6)",
    )
    .bind(id)
    .bind(webhook_id)
    .bind(kind)
    .bind(dedupe_key)
    .bind(summary)
    .bind(now_ms)
    .execute(pool)
    .await?;
    Ok(())
}

/// After an attempt: where the delivery stands now. A success keeps the last failure's error,
/// so a delivery that needed retries still says why.
pub(crate) async fn update_delivery(
    pool: &AnyPool,
    id: &str,
    status: &str,
    attempts: u32,
    last_error: Option<&str>,
    delivered_at: Option<i64>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE alert_deliveries SET status = $2, attempts = $3, last_error = COALESCE($4, last_error), delivered_at = $5 \
         WHERE id = $1",
    )
    .bind(id)
    .bind(status)
    .bind(i64::from(attempts))
    .bind(last_error)
    .bind(delivered_at)
    .execute(pool)
    .await?;
    Ok(())
}

const DELIVERY_SELECT: &str = "SELECT d.id, d.webhook_id, w.name AS webhook_name, d.kind, \
     d.dedupe_key, d.summary, d.status, d.attempts, d.last_error, d.created_at, d.delivered_at \
     FROM alert_deliveries d JOIN alert_webhooks w ON w.id = d.webhook_id";

/// The newest deliveries first, of one webhook or of all.
pub(crate) async fn list_deliveries(
    pool: &AnyPool,
    webhook_id: Option<&str>,
    limit: i64,
) -> Result<Vec<DeliveryRow>, sqlx::Error> {
    match webhook_id {
        Some(w) => {
            sqlx::query_as(&format!(
            "{DELIVERY_SELECT} WHERE d.webhook_id = $1 ORDER BY d.created_at DESC, d.id LIMIT $2"
        ))
            .bind(w)
            .bind(limit)
            .fetch_all(pool)
            .await
        }
        None => {
            sqlx::query_as(&format!(
                "{DELIVERY_SELECT} ORDER BY d.created_at DESC, d.id LIMIT $1"
            ))
            .bind(limit)
            .fetch_all(pool)
            .await
        }
    }
}

pub(crate) async fn get_delivery(
    pool: &AnyPool,
    id: &str,
) -> Result<Option<DeliveryRow>, sqlx::Error> {
    sqlx::query_as(&format!("{DELIVERY_SELECT} WHERE d.id = $1"))
        .bind(id)
        .fetch_optional(pool)
        .await
}

/// Retention: deliveries, and fired budget thresholds, from before `cutoff_ms`.
pub(crate) async fn delete_before(pool: &AnyPool, cutoff_ms: i64) -> Result<u64, sqlx::Error> {
    let n = sqlx::query("DELETE FROM alert_deliveries WHERE created_at < $1")
        .bind(cutoff_ms)
        .execute(pool)
        .await?
        .rows_affected();
    sqlx::query("DELETE FROM alert_states WHERE state = 'fired' AND changed_at < $1")
        .bind(cutoff_ms)
        .execute(pool)
        .await?;
    Ok(n)
}

/// Moves `subject` into `state`; true when this call moved it, i.e. the caller announces it.
/// Atomic on both backends (SQLite serialises writers; PostgreSQL's upsert locks the row), so
/// of several instances seeing the same event, exactly one is told to announce it.
///
/// With `create` false a subject never seen is left alone: a recovery with no outage announced
/// before it is no news.
pub(crate) async fn claim_state(
    pool: &AnyPool,
    subject: &str,
    state: &str,
    create: bool,
    now_ms: i64,
) -> Result<bool, sqlx::Error> {
    let sql = if create {
        "INSERT INTO alert_states (subject, state, changed_at) VALUES ($1, $2, $3) \
         ON CONFLICT (subject) DO UPDATE SET state = excluded.state, changed_at = excluded.changed_at \
         WHERE alert_states.state <> excluded.state"
    } else {
        "UPDATE alert_states SET state = $2, changed_at = $3 WHERE subject = $1 AND state <> $2"
    };
    let n = sqlx::query(sql)
        .bind(subject)
        .bind(state)
        .bind(now_ms)
        .execute(pool)
        .await?
        .rows_affected();
    Ok(n == 1)
}

/// Requests answered since `since_ms`, and how many of them with a 5xx status.
pub(crate) async fn request_outcomes_since(
    pool: &AnyPool,
    since_ms: i64,
) -> Result<(i64, i64), sqlx::Error> {
    sqlx::query_as(
        "SELECT COUNT(*), COALESCE(SUM(CASE WHEN status_code >= 500 THEN 1 ELSE 0 END), 0) \
         FROM request_logs WHERE created_at >= $1 AND status_code IS NOT NULL",
    )
    .bind(since_ms)
    .fetch_one(pool)
    .await
}
