//! Repository for `api_keys` and `api_key_upstreams`.
use std::collections::HashMap;

use sqlx::AnyPool;

use crate::model::limits::KeyLimits;
use crate::model::money::{nanos_from_usd, usd};

#[derive(Debug, Clone, sqlx::FromRow)]
pub(crate) struct KeyRow {
    pub id: String,
    pub key_prefix: String,
    pub key_hash: String,
    pub key_encrypted: String,
    pub name: String,
    pub description: Option<String>,
    pub is_active: i64,
    pub expires_at: Option<i64>,
    pub last_used_at: Option<i64>,
    pub created_at: i64,
    pub updated_at: i64,
    /// Hex SHA-256 of the key; `None` for keys made before digests were kept.
    pub key_digest: Option<String>,
    #[sqlx(flatten)]
    pub limits: KeyLimitColumns,
}

/// A key's limits as stored: money in nano-USD, the allow-list as a JSON array; NULL is none.
#[derive(Debug, Clone, Default, PartialEq, sqlx::FromRow)]
pub(crate) struct KeyLimitColumns {
    pub allowed_models: Option<String>,
    pub rpm_limit: Option<i64>,
    pub tpm_limit: Option<i64>,
    pub concurrency_limit: Option<i64>,
    pub daily_budget_nanos: Option<i64>,
    pub monthly_budget_nanos: Option<i64>,
}

type AnyQuery<'q> = sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>>;

impl KeyLimitColumns {
    /// Binds the six columns in `COLUMNS` order.
    fn bind_to<'q>(&'q self, q: AnyQuery<'q>) -> AnyQuery<'q> {
        q.bind(&self.allowed_models)
            .bind(self.rpm_limit)
            .bind(self.tpm_limit)
            .bind(self.concurrency_limit)
            .bind(self.daily_budget_nanos)
            .bind(self.monthly_budget_nanos)
    }

    /// Checked limits as stored (the service validated them).
    pub(crate) fn of(limits: &KeyLimits) -> Self {
        Self {
            allowed_models: (!limits.allowed_models.is_empty())
                .then(|| serde_json::to_string(&limits.allowed_models).unwrap_or_default()),
            rpm_limit: limits.rpm.map(i64::from),
            tpm_limit: limits.tpm.map(|t| t.min(i64::MAX as u64) as i64),
            concurrency_limit: limits.max_concurrent.map(i64::from),
            daily_budget_nanos: limits.daily_budget_usd.and_then(nanos_from_usd),
            monthly_budget_nanos: limits.monthly_budget_usd.and_then(nanos_from_usd),
        }
    }

    /// The allow-list; an unreadable one (edited by hand) allows nothing rather than all.
    pub(crate) fn allowed_models(&self) -> Vec<String> {
        match &self.allowed_models {
            None => Vec::new(),
            Some(json) => serde_json::from_str(json).unwrap_or_else(|_| vec![String::new()]),
        }
    }

    pub(crate) fn to_limits(&self) -> KeyLimits {
        let count = |v: Option<i64>| v.map(|n| n.clamp(1, u32::MAX as i64) as u32);
        KeyLimits {
            allowed_models: self.allowed_models(),
            rpm: count(self.rpm_limit),
            tpm: self.tpm_limit.map(|n| n.max(1) as u64),
            max_concurrent: count(self.concurrency_limit),
            daily_budget_usd: self.daily_budget_nanos.map(usd),
            monthly_budget_usd: self.monthly_budget_nanos.map(usd),
        }
    }
}

const COLUMNS: &str =
    "id, key_prefix, key_hash, key_encrypted, name, description, is_active, expires_at, \
     last_used_at, created_at, updated_at, key_digest, allowed_models, rpm_limit, tpm_limit, \
     concurrency_limit, daily_budget_nanos, monthly_budget_nanos";

async fn replace_upstreams(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    key_id: &str,
    upstream_ids: &[String],
    now: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM api_key_upstreams WHERE api_key_id = $1")
        .bind(key_id)
        .execute(&mut **tx)
        .await?;
    for upstream_id in upstream_ids {
        sqlx::query("INSERT INTO api_key_upstreams (api_key_id, upstream_id, created_at) VALUES ($1, $2, $3)")
            .bind(key_id)
            .bind(upstream_id)
            .bind(now)
            .execute(&mut **tx)
            .await?;
    }
    Ok(())
}

/// Deletes every revealable copy of a client key; returns how many there were.
pub(crate) async fn forget_encrypted_copies(pool: &AnyPool) -> Result<u64, sqlx::Error> {
    Ok(
        sqlx::query("UPDATE api_keys SET key_encrypted = '' WHERE key_encrypted <> ''")
            .execute(pool)
            .await?
            .rows_affected(),
    )
}

/// Stores the digest of a key made before digests were kept, the first time it is used.
pub(crate) async fn set_digest(
    pool: &AnyPool,
    id: &str,
    digest_hex: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE api_keys SET key_digest = $1 WHERE id = $2 AND key_digest IS NULL")
        .bind(digest_hex)
        .bind(id)
        .execute(pool)
        .await?;
    Ok(())
}

pub(crate) async fn insert(
    pool: &AnyPool,
    row: &KeyRow,
    upstream_ids: &[String],
) -> Result<(), sqlx::Error> {
    let mut tx = pool.begin().await?;
    let sql = format!(
        "INSERT INTO api_keys ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, \
         $13, $14, $15, $16, $17, $18)"
    );
    let insert = sqlx::query(&sql)
        .bind(&row.id)
        .bind(&row.key_prefix)
        .bind(&row.key_hash)
        .bind(&row.key_encrypted)
        .bind(&row.name)
        .bind(&row.description)
        .bind(row.is_active)
        .bind(row.expires_at)
        .bind(row.last_used_at)
        .bind(row.created_at)
        .bind(row.updated_at)
        .bind(&row.key_digest);
    row.limits.bind_to(insert).execute(&mut *tx).await?;
    replace_upstreams(&mut tx, &row.id, upstream_ids, row.created_at).await?;
    tx.commit().await
}

/// Saves the editable fields, and the permissions when given.
pub(crate) async fn update(
    pool: &AnyPool,
    row: &KeyRow,
    upstream_ids: Option<&[String]>,
) -> Result<bool, sqlx::Error> {
    let mut tx = pool.begin().await?;
    let update = sqlx::query(
        "UPDATE api_keys SET name = $2, description = $3, is_active = $4, expires_at = $5, \
         updated_at = $6, allowed_models = $7, rpm_limit = $8, tpm_limit = $9, \
         concurrency_limit = $10, daily_budget_nanos = $11, monthly_budget_nanos = $12 \
         WHERE id = $1",
    )
    .bind(&row.id)
    .bind(&row.name)
    .bind(&row.description)
    .bind(row.is_active)
    .bind(row.expires_at)
    .bind(row.updated_at);
    let done = row.limits.bind_to(update).execute(&mut *tx).await?;
    if done.rows_affected() == 0 {
        return Ok(false);
    }
    if let Some(ids) = upstream_ids {
        replace_upstreams(&mut tx, &row.id, ids, row.updated_at).await?;
    }
    tx.commit().await?;
    Ok(true)
}

pub(crate) async fn get(pool: &AnyPool, id: &str) -> Result<Option<KeyRow>, sqlx::Error> {
    sqlx::query_as(&format!("SELECT {COLUMNS} FROM api_keys WHERE id = $1"))
        .bind(id)
        .fetch_optional(pool)
        .await
}

/// Every key (the routing table keeps them in memory).
pub(crate) async fn list_all(pool: &AnyPool) -> Result<Vec<KeyRow>, sqlx::Error> {
    sqlx::query_as(&format!("SELECT {COLUMNS} FROM api_keys"))
        .fetch_all(pool)
        .await
}

/// Every key's upstream permissions.
pub(crate) async fn all_permissions(
    pool: &AnyPool,
) -> Result<HashMap<String, Vec<String>>, sqlx::Error> {
    let mut out: HashMap<String, Vec<String>> = HashMap::new();
    let rows = sqlx::query_as::<_, (String, String)>(
        "SELECT api_key_id, upstream_id FROM api_key_upstreams ORDER BY created_at, upstream_id",
    )
    .fetch_all(pool)
    .await?;
    for (key, upstream) in rows {
        out.entry(key).or_default().push(upstream);
    }
    Ok(out)
}

/// `%` and `_` in user input are literal, not wildcards.
fn like_pattern(search: &str) -> String {
    let escaped = search
        .to_lowercase()
        .replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_");
    format!("%{escaped}%")
}

pub(crate) async fn list_page(
    pool: &AnyPool,
    search: Option<&str>,
    limit: i64,
    offset: i64,
) -> Result<(Vec<KeyRow>, i64), sqlx::Error> {
    let (filter, pattern) = match search.map(str::trim).filter(|s| !s.is_empty()) {
        Some(s) => (
            "WHERE LOWER(name) LIKE $1 ESCAPE '\\' OR LOWER(key_prefix) LIKE $1 ESCAPE '\\'",
            Some(like_pattern(s)),
        ),
        None => ("", None),
    };
    let count_sql = format!("SELECT COUNT(*) FROM api_keys {filter}");
    let mut count = sqlx::query_scalar(&count_sql);
    if let Some(p) = &pattern {
        count = count.bind(p);
    }
    let total: i64 = count.fetch_one(pool).await?;
    let (limit_at, offset_at) = if pattern.is_some() { (2, 3) } else { (1, 2) };
    let sql = format!(
        "SELECT {COLUMNS} FROM api_keys {filter} ORDER BY created_at DESC, id LIMIT ${limit_at} OFFSET ${offset_at}"
    );
    let mut q = sqlx::query_as(&sql);
    if let Some(p) = &pattern {
        q = q.bind(p);
    }
    let rows = q.bind(limit).bind(offset).fetch_all(pool).await?;
    Ok((rows, total))
}

pub(crate) async fn delete(pool: &AnyPool, id: &str) -> Result<bool, sqlx::Error> {
    let done = sqlx::query("DELETE FROM api_keys WHERE id = $1")
        .bind(id)
        .execute(pool)
        .await?;
    Ok(done.rows_affected() > 0)
}

/// Upstream permissions of the given keys.
pub(crate) async fn upstream_ids_for(
    pool: &AnyPool,
    key_ids: &[String],
) -> Result<HashMap<String, Vec<String>>, sqlx::Error> {
    let mut out: HashMap<String, Vec<String>> = HashMap::new();
    if key_ids.is_empty() {
        return Ok(out);
    }
    let placeholders: Vec<String> = (1..=key_ids.len()).map(|i| format!("${i}")).collect();
    let sql = format!(
        "SELECT api_key_id, upstream_id FROM api_key_upstreams WHERE api_key_id IN ({}) ORDER BY created_at, upstream_id",
        placeholders.join(", ")
    );
    let mut q = sqlx::query_as::<_, (String, String)>(&sql);
    for id in key_ids {
        q = q.bind(id);
    }
    for (key, upstream) in q.fetch_all(pool).await? {
        out.entry(key).or_default().push(upstream);
    }
    Ok(out)
}

/// Every key's id and name, by name (the logs page names keys and filters by them).
pub(crate) async fn names(pool: &AnyPool) -> Result<Vec<(String, String)>, sqlx::Error> {
    sqlx::query_as("SELECT id, name FROM api_keys ORDER BY name, id")
        .fetch_all(pool)
        .await
}

#[cfg(test)]
mod tests {
    use super::like_pattern;

    #[test]
    fn like_patterns_escape_wildcards() {
        assert_eq!(like_pattern("Prod_%"), "%prod\\_\\%%");
    }
}
