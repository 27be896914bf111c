//! Reads the original (Next.js, Drizzle) AutoRouter's PostgreSQL database: its upstreams, client
//! keys, key-upstream links, breaker settings and request logs, in the January 2026 layout (with
//! `upstreams.provider`) or today's (route capabilities; `provider` gone). Columns a layout lacks
//! read as NULL, so one query serves both. Nothing here writes to it.
use std::collections::HashSet;

use sqlx::{AnyPool, Row};

use super::Database;
use crate::server::config::DatabaseKind;

pub(crate) struct Source {
    pool: AnyPool,
    upstream_columns: HashSet<String>,
    key_columns: HashSet<String>,
    log_columns: HashSet<String>,
    has_breakers: bool,
}

#[derive(Debug, Clone)]
pub(crate) struct JsUpstream {
    pub id: String,
    pub name: String,
    /// January 2026 layout only.
    pub provider: Option<String>,
    pub base_url: String,
    pub api_key_encrypted: String,
    /// Seconds.
    pub timeout: i64,
    pub is_active: bool,
    pub weight: Option<i64>,
    pub priority: Option<i64>,
    /// JSON arrays and objects as text.
    pub allowed_models: Option<String>,
    pub model_redirects: Option<String>,
    pub route_capabilities: Option<String>,
    /// `circuit_breaker_states.config`: `{failureThreshold, successThreshold, openDuration (ms),
    /// probeInterval (ms)}`.
    pub breaker_config: Option<String>,
}

#[derive(Debug, Clone)]
pub(crate) struct JsKey {
    pub id: String,
    pub key_hash: String,
    pub key_value_encrypted: Option<String>,
    pub key_prefix: String,
    pub name: String,
    pub description: Option<String>,
    pub is_active: bool,
    pub expires_at: Option<i64>,
    pub created_at: i64,
    /// Today's layout: `unrestricted` keys may use every upstream.
    pub access_mode: Option<String>,
}

#[derive(Debug, Clone)]
pub(crate) struct JsLog {
    pub id: String,
    pub api_key_id: Option<String>,
    pub upstream_id: Option<String>,
    pub method: Option<String>,
    pub path: Option<String>,
    pub model: Option<String>,
    pub status_code: Option<i64>,
    pub prompt_tokens: i64,
    pub completion_tokens: i64,
    pub total_tokens: i64,
    pub cached_tokens: i64,
    pub reasoning_tokens: i64,
    pub cache_creation_tokens: i64,
    pub cache_read_tokens: i64,
    pub duration_ms: Option<i64>,
    pub ttft_ms: Option<i64>,
    pub is_stream: bool,
    pub error_message: Option<String>,
    pub lb_strategy: Option<String>,
    pub failover_attempts: i64,
    pub failover_history: Option<String>,
    pub created_at: i64,
}

/// Where the next page of logs starts: the last row's `created_at` (as PostgreSQL prints it,
/// so no precision is lost) and id.
pub(crate) type LogCursor = Option<(String, String)>;

const MS: &str = "(EXTRACT(EPOCH FROM {})*1000)::bigint";

fn ms(column: &str) -> String {
    MS.replace("{}", column)
}

impl Source {
    pub(crate) async fn connect(url: &str) -> Result<Self, sqlx::Error> {
        let db = Database::connect_url_without_migrations(url, DatabaseKind::Postgres)
            .await
            .map_err(|e| match e {
                super::DbError::Connect(e) => e,
                other => sqlx::Error::Configuration(other.to_string().into()),
            })?;
        let pool = db.pool;
        let columns = |table: &'static str| {
            let pool = pool.clone();
            async move {
                sqlx::query(
                    "SELECT column_name::text FROM information_schema.columns \
                     WHERE table_schema = current_schema() AND table_name = $1",
                )
                .bind(table)
                .fetch_all(&pool)
                .await
                .map(|rows| {
                    rows.iter()
                        .filter_map(|r| r.try_get::<String, _>(0).ok())
                        .collect::<HashSet<String>>()
                })
            }
        };
        let upstream_columns = columns("upstreams").await?;
        let key_columns = columns("api_keys").await?;
        let log_columns = columns("request_logs").await?;
        let has_breakers = !columns("circuit_breaker_states").await?.is_empty();
        if upstream_columns.is_empty() || key_columns.is_empty() {
            return Err(sqlx::Error::Configuration(
                "no `upstreams` and `api_keys` tables in this database's schema: is it the original AutoRouter's?"
                    .into(),
            ));
        }
        Ok(Self {
            pool,
            upstream_columns,
            key_columns,
            log_columns,
            has_breakers,
        })
    }

    /// `january-2026` (upstreams have `provider`) or `current`.
    pub(crate) fn layout(&self) -> &'static str {
        if self.upstream_columns.contains("provider") {
            "january-2026"
        } else {
            "current"
        }
    }

    fn col(columns: &HashSet<String>, name: &str, cast: &str) -> String {
        if columns.contains(name) {
            format!("{name}::{cast}")
        } else {
            format!("NULL::{cast}")
        }
    }

    pub(crate) async fn upstreams(&self) -> Result<Vec<JsUpstream>, sqlx::Error> {
        let c = &self.upstream_columns;
        let breaker = if self.has_breakers {
            "(SELECT b.config::text FROM circuit_breaker_states b WHERE b.upstream_id = u.id)"
        } else {
            "NULL::text"
        };
        let sql = format!(
            "SELECT u.id::text, u.name::text, {provider}, u.base_url::text, u.api_key_encrypted::text, \
             u.timeout::bigint, u.is_active, {weight}, {priority}, {allowed}, {redirects}, {caps}, {breaker} \
             FROM upstreams u ORDER BY u.created_at, u.id",
            provider = Self::col(c, "provider", "text"),
            weight = Self::col(c, "weight", "bigint"),
            priority = Self::col(c, "priority", "bigint"),
            allowed = Self::col(c, "allowed_models", "text"),
            redirects = Self::col(c, "model_redirects", "text"),
            caps = Self::col(c, "route_capabilities", "text"),
        );
        let rows = sqlx::query(&sql).fetch_all(&self.pool).await?;
        rows.iter()
            .map(|r| {
                Ok(JsUpstream {
                    id: r.try_get(0)?,
                    name: r.try_get(1)?,
                    provider: r.try_get(2)?,
                    base_url: r.try_get(3)?,
                    api_key_encrypted: r.try_get(4)?,
                    timeout: r.try_get(5)?,
                    is_active: r.try_get(6)?,
                    weight: r.try_get(7)?,
                    priority: r.try_get(8)?,
                    allowed_models: r.try_get(9)?,
                    model_redirects: r.try_get(10)?,
                    route_capabilities: r.try_get(11)?,
                    breaker_config: r.try_get(12)?,
                })
            })
            .collect()
    }

    pub(crate) async fn keys(&self) -> Result<Vec<JsKey>, sqlx::Error> {
        let sql = format!(
            "SELECT id::text, key_hash::text, key_value_encrypted::text, key_prefix::text, name::text, \
             description::text, is_active, {expires}, {created}, {mode} FROM api_keys ORDER BY created_at, id",
            expires = ms("expires_at"),
            created = ms("created_at"),
            mode = Self::col(&self.key_columns, "access_mode", "text"),
        );
        let rows = sqlx::query(&sql).fetch_all(&self.pool).await?;
        rows.iter()
            .map(|r| {
                Ok(JsKey {
                    id: r.try_get(0)?,
                    key_hash: r.try_get(1)?,
                    key_value_encrypted: r.try_get(2)?,
                    key_prefix: r.try_get(3)?,
                    name: r.try_get(4)?,
                    description: r.try_get(5)?,
                    is_active: r.try_get(6)?,
                    expires_at: r.try_get(7)?,
                    created_at: r.try_get(8)?,
                    access_mode: r.try_get(9)?,
                })
            })
            .collect()
    }

    /// Every (key id, upstream id) link.
    pub(crate) async fn links(&self) -> Result<Vec<(String, String)>, sqlx::Error> {
        let rows = sqlx::query(
            "SELECT api_key_id::text, upstream_id::text FROM api_key_upstreams ORDER BY created_at, id",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| Ok((r.try_get(0)?, r.try_get(1)?)))
            .collect()
    }

    /// Up to `limit` logs after `cursor`, oldest first, and the cursor after them.
    pub(crate) async fn logs(
        &self,
        cursor: &LogCursor,
        limit: i64,
    ) -> Result<(Vec<JsLog>, LogCursor), sqlx::Error> {
        let c = &self.log_columns;
        let zero = |name: &str| {
            if c.contains(name) {
                format!("COALESCE({name}, 0)::bigint")
            } else {
                "0::bigint".into()
            }
        };
        let after = if cursor.is_some() {
            "WHERE (created_at, id) > ($1::timestamptz, $2::uuid)"
        } else {
            "WHERE $1::text IS NULL AND $2::text IS NULL"
        };
        let sql = format!(
            "SELECT id::text, api_key_id::text, upstream_id::text, method::text, path::text, model::text, \
             status_code::bigint, {prompt}, {completion}, {total}, {cached}, {reasoning}, {creation}, {read}, \
             duration_ms::bigint, {ttft}, {stream}, error_message::text, {lb}, {attempts}, {history}, \
             {created}, created_at::text \
             FROM request_logs {after} ORDER BY created_at, id LIMIT {limit}",
            prompt = zero("prompt_tokens"),
            completion = zero("completion_tokens"),
            total = zero("total_tokens"),
            cached = zero("cached_tokens"),
            reasoning = zero("reasoning_tokens"),
            creation = zero("cache_creation_tokens"),
            read = zero("cache_read_tokens"),
            ttft = Self::col(c, "ttft_ms", "bigint"),
            stream = if c.contains("is_stream") {
                "COALESCE(is_stream, false)"
            } else {
                "false"
            },
            lb = Self::col(c, "lb_strategy", "text"),
            attempts = zero("failover_attempts"),
            history = Self::col(c, "failover_history", "text"),
            created = ms("created_at"),
        );
        let (at, id) = match cursor {
            Some((at, id)) => (Some(at.clone()), Some(id.clone())),
            None => (None, None),
        };
        let rows = sqlx::query(&sql)
            .bind(at)
            .bind(id)
            .fetch_all(&self.pool)
            .await?;
        let mut next = cursor.clone();
        let mut out = Vec::with_capacity(rows.len());
        for r in &rows {
            let log = JsLog {
                id: r.try_get(0)?,
                api_key_id: r.try_get(1)?,
                upstream_id: r.try_get(2)?,
                method: r.try_get(3)?,
                path: r.try_get(4)?,
                model: r.try_get(5)?,
                status_code: r.try_get(6)?,
                prompt_tokens: r.try_get(7)?,
                completion_tokens: r.try_get(8)?,
                total_tokens: r.try_get(9)?,
                cached_tokens: r.try_get(10)?,
                reasoning_tokens: r.try_get(11)?,
                cache_creation_tokens: r.try_get(12)?,
                cache_read_tokens: r.try_get(13)?,
                duration_ms: r.try_get(14)?,
                ttft_ms: r.try_get(15)?,
                is_stream: r.try_get(16)?,
                error_message: r.try_get(17)?,
                lb_strategy: r.try_get(18)?,
                failover_attempts: r.try_get(19)?,
                failover_history: r.try_get(20)?,
                created_at: r.try_get(21)?,
            };
            next = Some((r.try_get(22)?, log.id.clone()));
            out.push(log);
        }
        Ok((out, next))
    }

    pub(crate) async fn close(self) {
        self.pool.close().await;
    }
}
