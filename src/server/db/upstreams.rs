//! Repository for `upstreams`.
use sqlx::AnyPool;

use crate::model::limits::UpstreamLimits;
use crate::model::money::{nanos_from_usd, usd};
use crate::model::upstreams::{Format, Provider};

#[derive(Debug, Clone, sqlx::FromRow)]
pub(crate) struct UpstreamRow {
    pub id: String,
    pub name: String,
    pub provider: String,
    pub base_url: String,
    pub api_key_encrypted: String,
    pub timeout_ms: i64,
    pub weight: i64,
    pub priority: i64,
    pub allowed_models: Option<String>,
    pub model_redirects: Option<String>,
    pub is_active: i64,
    pub breaker_config: Option<String>,
    /// A JSON array of extra paths below `/v1/` (see migration 0006).
    pub extra_paths: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
    #[sqlx(flatten)]
    pub limits: UpstreamLimitColumns,
    /// A JSON array of API formats (migration 0012); NULL: the provider's defaults.
    pub api_formats: Option<String>,
}

/// An upstream's caps as stored (money in nano-USD; NULL is none) and its price multiplier in
/// parts per million.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub(crate) struct UpstreamLimitColumns {
    pub concurrency_limit: Option<i64>,
    pub rpm_limit: Option<i64>,
    pub monthly_quota_nanos: Option<i64>,
    pub price_multiplier_ppm: i64,
}

impl Default for UpstreamLimitColumns {
    fn default() -> Self {
        Self {
            concurrency_limit: None,
            rpm_limit: None,
            monthly_quota_nanos: None,
            price_multiplier_ppm: 1_000_000,
        }
    }
}

impl UpstreamLimitColumns {
    /// Checked caps as stored (the service validated them).
    pub(crate) fn of(limits: &UpstreamLimits, price_multiplier_ppm: i64) -> Self {
        Self {
            concurrency_limit: limits.max_concurrent.map(i64::from),
            rpm_limit: limits.rpm.map(i64::from),
            monthly_quota_nanos: limits.monthly_quota_usd.and_then(nanos_from_usd),
            price_multiplier_ppm,
        }
    }

    pub(crate) fn to_limits(&self) -> UpstreamLimits {
        let count = |v: Option<i64>| v.map(|n| n.clamp(1, u32::MAX as i64) as u32);
        UpstreamLimits {
            max_concurrent: count(self.concurrency_limit),
            rpm: count(self.rpm_limit),
            monthly_quota_usd: self.monthly_quota_nanos.map(usd),
        }
    }
}

impl UpstreamRow {
    /// The stored formats, as set (empty: the provider's defaults; unreadable entries skipped).
    pub(crate) fn format_list(&self) -> Vec<Format> {
        self.api_formats
            .as_deref()
            .and_then(|s| serde_json::from_str::<Vec<String>>(s).ok())
            .unwrap_or_default()
            .iter()
            .filter_map(|f| f.parse().ok())
            .collect()
    }

    /// The formats in effect.
    pub(crate) fn speaks(&self, provider: Provider) -> Vec<Format> {
        let set = self.format_list();
        if set.is_empty() {
            provider.default_formats().to_vec()
        } else {
            set
        }
    }

    /// The stored breaker settings (the defaults when absent or unreadable).
    pub(crate) fn breaker(&self) -> crate::model::upstreams::BreakerConfig {
        self.breaker_config
            .as_deref()
            .and_then(|s| serde_json::from_str(s).ok())
            .unwrap_or_default()
    }

    /// The stored extra paths (none when absent or unreadable).
    pub(crate) fn extra_path_list(&self) -> Vec<String> {
        self.extra_paths
            .as_deref()
            .and_then(|s| serde_json::from_str(s).ok())
            .unwrap_or_default()
    }
}

const COLUMNS: &str =
    "id, name, provider, base_url, api_key_encrypted, timeout_ms, weight, priority, \
     allowed_models, model_redirects, is_active, breaker_config, extra_paths, created_at, updated_at, \
     concurrency_limit, rpm_limit, monthly_quota_nanos, price_multiplier_ppm, api_formats";

type AnyQuery<'q> = sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>>;

/// Binds `id` and the editable fields, in `COLUMNS` order ($1 to $13), then the limits ($14 to
/// $17) and the formats ($18).
fn bind_fields<'q>(q: AnyQuery<'q>, row: &'q UpstreamRow) -> AnyQuery<'q> {
    q.bind(&row.id)
        .bind(&row.name)
        .bind(&row.provider)
        .bind(&row.base_url)
        .bind(&row.api_key_encrypted)
        .bind(row.timeout_ms)
        .bind(row.weight)
        .bind(row.priority)
        .bind(&row.allowed_models)
        .bind(&row.model_redirects)
        .bind(row.is_active)
        .bind(&row.breaker_config)
        .bind(&row.extra_paths)
        .bind(row.limits.concurrency_limit)
        .bind(row.limits.rpm_limit)
        .bind(row.limits.monthly_quota_nanos)
        .bind(row.limits.price_multiplier_ppm)
        .bind(&row.api_formats)
}

pub(crate) async fn insert(pool: &AnyPool, row: &UpstreamRow) -> Result<(), sqlx::Error> {
    let sql = format!(
        "INSERT INTO upstreams ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, \
         $12, $13, $19, $20, $14, $15, $16, $17, $18)"
    );
    bind_fields(sqlx::query(&sql), row)
        .bind(row.created_at)
        .bind(row.updated_at)
        .execute(pool)
        .await?;
    Ok(())
}

pub(crate) async fn update(pool: &AnyPool, row: &UpstreamRow) -> Result<bool, sqlx::Error> {
    let sql =
        "UPDATE upstreams SET name = $2, provider = $3, base_url = $4, api_key_encrypted = $5, \
         timeout_ms = $6, weight = $7, priority = $8, allowed_models = $9, model_redirects = $10, \
         is_active = $11, breaker_config = $12, extra_paths = $13, concurrency_limit = $14, \
         rpm_limit = $15, monthly_quota_nanos = $16, price_multiplier_ppm = $17, api_formats = $18, \
         updated_at = $19 WHERE id = $1";
    let done = bind_fields(sqlx::query(sql), row)
        .bind(row.updated_at)
        .execute(pool)
        .await?;
    Ok(done.rows_affected() > 0)
}

pub(crate) async fn get(pool: &AnyPool, id: &str) -> Result<Option<UpstreamRow>, sqlx::Error> {
    sqlx::query_as(&format!("SELECT {COLUMNS} FROM upstreams WHERE id = $1"))
        .bind(id)
        .fetch_optional(pool)
        .await
}

pub(crate) async fn find_by_name(
    pool: &AnyPool,
    name: &str,
) -> Result<Option<UpstreamRow>, sqlx::Error> {
    sqlx::query_as(&format!("SELECT {COLUMNS} FROM upstreams WHERE name = $1"))
        .bind(name)
        .fetch_optional(pool)
        .await
}

/// Every upstream, lowest priority number first (the routing order).
pub(crate) async fn list_all(pool: &AnyPool) -> Result<Vec<UpstreamRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM upstreams ORDER BY priority, name"
    ))
    .fetch_all(pool)
    .await
}

pub(crate) async fn list_page(
    pool: &AnyPool,
    limit: i64,
    offset: i64,
) -> Result<(Vec<UpstreamRow>, i64), sqlx::Error> {
    let total: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM upstreams")
        .fetch_one(pool)
        .await?;
    let rows = sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM upstreams ORDER BY priority, name LIMIT $1 OFFSET $2"
    ))
    .bind(limit)
    .bind(offset)
    .fetch_all(pool)
    .await?;
    Ok((rows, total))
}

pub(crate) async fn delete(pool: &AnyPool, id: &str) -> Result<bool, sqlx::Error> {
    let done = sqlx::query("DELETE FROM upstreams WHERE id = $1")
        .bind(id)
        .execute(pool)
        .await?;
    Ok(done.rows_affected() > 0)
}

/// The ids among `ids` that exist.
pub(crate) async fn existing_ids(
    pool: &AnyPool,
    ids: &[String],
) -> Result<Vec<String>, sqlx::Error> {
    if ids.is_empty() {
        return Ok(vec![]);
    }
    let placeholders: Vec<String> = (1..=ids.len()).map(|i| format!("${i}")).collect();
    let sql = format!(
        "SELECT id FROM upstreams WHERE id IN ({})",
        placeholders.join(", ")
    );
    let mut q = sqlx::query_scalar(&sql);
    for id in ids {
        q = q.bind(id);
    }
    q.fetch_all(pool).await
}

/// Every upstream's id and name, by name.
pub(crate) async fn names(pool: &AnyPool) -> Result<Vec<(String, String)>, sqlx::Error> {
    sqlx::query_as("SELECT id, name FROM upstreams ORDER BY name, id")
        .fetch_all(pool)
        .await
}
