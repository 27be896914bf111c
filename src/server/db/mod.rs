//! The database pool (SQLite or PostgreSQL through one portable driver) and migrations.
use std::str::FromStr;
use std::time::Duration;

use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::{AnyPool, ConnectOptions, Executor};

use crate::server::config::{Config, DatabaseKind};

pub mod admin_sessions;
pub(crate) mod alerts;
pub(crate) mod autorouter_js;
pub mod breaker_states;
pub(crate) mod imported_rows;
pub mod keys;
pub mod prices;
pub mod request_logs;
pub mod request_stats;
pub mod settings;
pub mod upstream_health;
pub(crate) mod upstream_models;
pub mod upstreams;

pub static SQLITE_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("migrations/sqlite");
pub static POSTGRES_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("migrations/postgres");

#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("DATABASE_URL: cannot connect: {0}")]
    Connect(#[source] sqlx::Error),
    #[error("DATABASE_URL: migration failed: {0}")]
    Migrate(#[source] sqlx::migrate::MigrateError),
    #[error("DATA_DIR: cannot create the SQLite directory: {0}")]
    Dir(#[source] std::io::Error),
}

#[derive(Clone, Debug)]
pub struct Database {
    pub pool: AnyPool,
    pub kind: DatabaseKind,
}

/// Adds `mode=rwc` so a missing SQLite file is created, and makes sure its folder exists.
fn prepare_sqlite_url(url: &str) -> Result<String, DbError> {
    let path_part = url
        .trim_start_matches("sqlite://")
        .trim_start_matches("sqlite:")
        .split('?')
        .next()
        .unwrap_or("");
    if !path_part.is_empty() && path_part != ":memory:" {
        if let Some(parent) = std::path::Path::new(path_part).parent() {
            if !parent.as_os_str().is_empty() {
                std::fs::create_dir_all(parent).map_err(DbError::Dir)?;
            }
        }
    }
    Ok(if url.contains("mode=") {
        url.to_string()
    } else if url.contains('?') {
        format!("{url}&mode=rwc")
    } else {
        format!("{url}?mode=rwc")
    })
}

impl Database {
    pub async fn connect(config: &Config) -> Result<Self, DbError> {
        Self::connect_url(
            config.database_url.expose(),
            config.database_kind,
            config.db_pool_min,
            config.db_pool_max,
        )
        .await
    }

    pub async fn connect_url(
        url: &str,
        kind: DatabaseKind,
        min: u32,
        max: u32,
    ) -> Result<Self, DbError> {
        let db = Self::open(url, kind, min, max).await?;
        db.migrate().await?;
        Ok(db)
    }

    /// A small pool without running migrations (tests use it to create and drop schemas).
    pub async fn connect_url_without_migrations(
        url: &str,
        kind: DatabaseKind,
    ) -> Result<Self, DbError> {
        Self::open(url, kind, 0, 2).await
    }

    async fn open(url: &str, kind: DatabaseKind, min: u32, max: u32) -> Result<Self, DbError> {
        sqlx::any::install_default_drivers();
        let url = match kind {
            DatabaseKind::Sqlite => prepare_sqlite_url(url)?,
            DatabaseKind::Postgres => url.to_string(),
        };
        let options = AnyConnectOptions::from_str(&url)
            .map_err(DbError::Connect)?
            .log_statements(tracing::log::LevelFilter::Trace)
            .log_slow_statements(tracing::log::LevelFilter::Warn, Duration::from_millis(500));
        let mut pool = AnyPoolOptions::new()
            .min_connections(min)
            .max_connections(max)
            .acquire_timeout(Duration::from_secs(10));
        if kind == DatabaseKind::Sqlite {
            pool = pool.after_connect(|conn, _meta| {
                Box::pin(async move {
                    // WAL lets readers proceed while the log writer writes; the busy timeout
                    // makes concurrent writers wait instead of failing.
                    conn.execute("PRAGMA journal_mode = WAL").await?;
                    conn.execute("PRAGMA busy_timeout = 5000").await?;
                    conn.execute("PRAGMA synchronous = NORMAL").await?;
                    conn.execute("PRAGMA foreign_keys = ON").await?;
                    Ok(())
                })
            });
        }
        let pool = pool.connect_with(options).await.map_err(DbError::Connect)?;
        Ok(Database { pool, kind })
    }

    pub async fn migrate(&self) -> Result<(), DbError> {
        let migrator = match self.kind {
            DatabaseKind::Sqlite => &SQLITE_MIGRATIONS,
            DatabaseKind::Postgres => &POSTGRES_MIGRATIONS,
        };
        migrator.run(&self.pool).await.map_err(DbError::Migrate)
    }

    /// A cheap round trip used by the health endpoint.
    pub async fn ping(&self) -> bool {
        let probe = sqlx::query_scalar::<_, i64>("SELECT 1").fetch_one(&self.pool);
        matches!(
            tokio::time::timeout(Duration::from_secs(2), probe).await,
            Ok(Ok(1))
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlite_urls_get_create_mode() {
        let dir = std::env::temp_dir().join("ar-url-test");
        let url = format!("sqlite://{}/x.db", dir.display());
        assert_eq!(prepare_sqlite_url(&url).unwrap(), format!("{url}?mode=rwc"));
        assert!(dir.exists());
        assert_eq!(
            prepare_sqlite_url("sqlite::memory:?cache=shared").unwrap(),
            "sqlite::memory:?cache=shared&mode=rwc"
        );
        assert_eq!(
            prepare_sqlite_url("sqlite://a.db?mode=ro").unwrap(),
            "sqlite://a.db?mode=ro"
        );
    }
}
