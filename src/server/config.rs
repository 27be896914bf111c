//! Environment -> typed `Config`, validated once at start-up.
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;

use super::secret::Secret;

mod traces;
pub use traces::{TraceConfig, TraceSampler};

/// A configuration error names the variable and says what is wrong with it.
#[derive(Debug, thiserror::Error)]
#[error("{var}: {reason}")]
pub struct ConfigError {
    pub var: &'static str,
    pub reason: String,
}

fn invalid(var: &'static str, reason: impl Into<String>) -> ConfigError {
    ConfigError {
        var,
        reason: reason.into(),
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DatabaseKind {
    Sqlite,
    Postgres,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Clone)]
pub enum EncryptionKeySource {
    /// `ENCRYPTION_KEY` given directly.
    Inline(Secret<String>),
    /// `ENCRYPTION_KEY_FILE`, or the generated `<DATA_DIR>/encryption.key`.
    File {
        path: PathBuf,
        create_if_missing: bool,
    },
}

#[derive(Debug, Clone)]
pub enum AdminTokenSource {
    Inline(Secret<String>),
    /// Generated at first start; only its SHA-256 is kept, in `<DATA_DIR>/admin_token.sha256`.
    Generated {
        hash_path: PathBuf,
    },
}

#[derive(Debug, Clone)]
pub struct Config {
    pub listen: Option<SocketAddr>,
    pub data_dir: PathBuf,
    pub database_url: Secret<String>,
    pub database_kind: DatabaseKind,
    pub db_pool_max: u32,
    pub db_pool_min: u32,
    pub encryption_key: EncryptionKeySource,
    pub admin_token: AdminTokenSource,
    pub allow_key_reveal: bool,
    pub allow_private_upstreams: bool,
    pub log_retention_days: u32,
    pub cors_origins: Vec<String>,
    pub log_level: String,
    pub log_format: LogFormat,
    pub max_body_bytes: usize,
    pub shutdown_grace_secs: u64,
    /// Threads serving HTTP, each with its own single-threaded runtime (`SERVER_THREADS`).
    pub server_threads: usize,
    /// Reverse proxies whose `X-Forwarded-For` / `X-Forwarded-Proto` are believed
    /// (`TRUSTED_PROXIES`); none by default, so a client cannot claim another address.
    pub trusted_proxies: Vec<ipnet::IpNet>,
    /// A connection must send a request's headers within this long (`HEADER_READ_TIMEOUT_SECONDS`).
    pub header_read_timeout_secs: u64,
    /// Open client connections at most; more wait in the listen queue (`MAX_CONNECTIONS`).
    pub max_connections: usize,
    /// How often the routing snapshot is reloaded, for changes made through other instances
    /// (`ROUTING_REFRESH_MS`).
    pub routing_refresh_ms: u64,
    /// How often breaker states other instances changed are adopted (`BREAKER_SYNC_MS`).
    pub breaker_sync_ms: u64,
    /// How often budgets, quotas and the error rate are checked for alerts (`ALERT_CHECK_MS`).
    pub alert_check_ms: u64,
    /// Shared rate, concurrency and spend counters for several instances (`REDIS_URL`); none:
    /// each instance counts alone.
    pub redis_url: Option<Secret<String>>,
    /// The zone budget days and months follow (`BUDGET_TIMEZONE`, an IANA name; UTC).
    pub(crate) budget_zone: crate::server::periods::BudgetZone,
    /// How long an agent session idle is still sent to the upstream that served it last
    /// (`STICKY_IDLE_SECONDS`), and how many sessions an instance remembers at most
    /// (`STICKY_MAX_SESSIONS`).
    pub sticky_idle_secs: u64,
    pub sticky_max_sessions: usize,
    /// How often every upstream's model list is fetched (`MODELS_REFRESH_SECONDS`).
    pub models_refresh_secs: u64,
    /// Prometheus metrics at `/metrics` (`METRICS`, on by default); off, nothing is counted.
    pub metrics: bool,
    /// When set, `/metrics` needs `Authorization: Bearer <token>` (`METRICS_TOKEN`).
    pub metrics_token: Option<Secret<String>>,
    /// OpenTelemetry traces (`OTEL_EXPORTER_OTLP_ENDPOINT`, ...); none: no tracer at all.
    pub traces: Option<TraceConfig>,
    /// This instance's name on the live view (`INSTANCE_ID`; default hostname and pid).
    pub instance_id: String,
}

/// `INSTANCE_ID`: at most 64 printable ASCII characters; by default `hostname-pid`.
fn instance_id(raw: Option<String>) -> Result<String, ConfigError> {
    let Some(raw) = raw else {
        let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
            .ok()
            .or_else(|| std::env::var("HOSTNAME").ok())
            .map(|h| h.trim().to_string())
            .filter(|h| !h.is_empty())
            .unwrap_or_else(|| "autorouter".into());
        let mut id = format!("{host}-{}", std::process::id());
        id.truncate(64);
        return Ok(id);
    };
    let id = raw.trim();
    if id.len() > 64 || !id.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(invalid(
            "INSTANCE_ID",
            "must be at most 64 printable ASCII characters without spaces",
        ));
    }
    Ok(id.to_string())
}

/// `TRUSTED_PROXIES`: comma-separated addresses (`10.0.0.5`) or networks (`10.0.0.0/8`).
fn parse_networks(var: &'static str, raw: &str) -> Result<Vec<ipnet::IpNet>, ConfigError> {
    raw.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|item| {
            item.parse::<ipnet::IpNet>()
                .or_else(|_| item.parse::<std::net::IpAddr>().map(ipnet::IpNet::from))
                .map_err(|_| invalid(var, format!("{item:?} is not an IP address or network")))
        })
        .collect()
}

/// Strict boolean parsing: `true/1/yes`, `false/0/no/(empty)`; anything else is an error.
pub fn parse_bool(
    var: &'static str,
    raw: Option<&str>,
    default: bool,
) -> Result<bool, ConfigError> {
    match raw.map(|s| s.trim().to_ascii_lowercase()) {
        None => Ok(default),
        Some(v) => match v.as_str() {
            "true" | "1" | "yes" => Ok(true),
            "false" | "0" | "no" | "" => Ok(false),
            _ => Err(invalid(
                var,
                format!("expected true/false/1/0/yes/no, got {v:?}"),
            )),
        },
    }
}

fn parse_num<T>(
    var: &'static str,
    raw: Option<&str>,
    default: T,
    range: std::ops::RangeInclusive<T>,
) -> Result<T, ConfigError>
where
    T: std::str::FromStr + PartialOrd + std::fmt::Display + Copy,
{
    let Some(raw) = raw.map(str::trim).filter(|s| !s.is_empty()) else {
        return Ok(default);
    };
    let value: T = raw
        .parse()
        .map_err(|_| invalid(var, format!("expected a whole number, got {raw:?}")))?;
    if !range.contains(&value) {
        return Err(invalid(
            var,
            format!(
                "must be between {} and {}, got {value}",
                range.start(),
                range.end()
            ),
        ));
    }
    Ok(value)
}

fn parse_origin(var: &'static str, raw: &str) -> Result<String, ConfigError> {
    let url =
        url::Url::parse(raw).map_err(|e| invalid(var, format!("{raw:?} is not a URL: {e}")))?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        return Err(invalid(var, format!("{raw:?} is not an http(s) origin")));
    }
    Ok(url.origin().ascii_serialization())
}

impl Config {
    /// Reads the process environment (after an optional `.env`).
    pub fn from_env() -> Result<Self, ConfigError> {
        match dotenvy::dotenv() {
            Ok(_) => {}
            Err(e) if e.not_found() => {}
            Err(e) => return Err(invalid(".env", e.to_string())),
        }
        Self::from_lookup(|k| std::env::var(k).ok())
    }

    /// Builds the config from any variable lookup (the environment, or a map in tests).
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let nonempty = |k: &str| get(k).filter(|v| !v.trim().is_empty());

        let data_dir = PathBuf::from(nonempty("DATA_DIR").unwrap_or_else(|| "./data".into()));

        let database_url = nonempty("DATABASE_URL")
            .unwrap_or_else(|| format!("sqlite://{}/autorouter.db", data_dir.display()));
        let database_kind = if database_url.starts_with("sqlite:") {
            DatabaseKind::Sqlite
        } else if database_url.starts_with("postgres://")
            || database_url.starts_with("postgresql://")
        {
            DatabaseKind::Postgres
        } else {
            return Err(invalid(
                "DATABASE_URL",
                "must start with sqlite:// or postgres:// (postgresql://)",
            ));
        };
        let default_pool = match database_kind {
            DatabaseKind::Sqlite => 8,
            DatabaseKind::Postgres => 16,
        };
        let db_pool_max = parse_num(
            "DB_POOL_MAX",
            get("DB_POOL_MAX").as_deref(),
            default_pool,
            1..=1000,
        )?;
        let db_pool_min = parse_num("DB_POOL_MIN", get("DB_POOL_MIN").as_deref(), 1, 0..=1000)?;
        if db_pool_min > db_pool_max {
            return Err(invalid("DB_POOL_MIN", "must not exceed DB_POOL_MAX"));
        }

        let encryption_key = match (nonempty("ENCRYPTION_KEY"), nonempty("ENCRYPTION_KEY_FILE")) {
            (Some(_), Some(_)) => {
                return Err(invalid(
                    "ENCRYPTION_KEY",
                    "set either ENCRYPTION_KEY or ENCRYPTION_KEY_FILE, not both",
                ))
            }
            (Some(k), None) => EncryptionKeySource::Inline(Secret::new(k.trim().to_string())),
            (None, Some(path)) => EncryptionKeySource::File {
                path: PathBuf::from(path),
                create_if_missing: false,
            },
            (None, None) => EncryptionKeySource::File {
                path: data_dir.join("encryption.key"),
                create_if_missing: true,
            },
        };

        let admin_token = match get("ADMIN_TOKEN") {
            Some(t) if t.trim().len() >= 16 => {
                AdminTokenSource::Inline(Secret::new(t.trim().to_string()))
            }
            Some(t) if !t.trim().is_empty() => {
                return Err(invalid(
                    "ADMIN_TOKEN",
                    "must be at least 16 characters long",
                ))
            }
            _ => AdminTokenSource::Generated {
                hash_path: data_dir.join("admin_token.sha256"),
            },
        };

        let listen = {
            let host = nonempty("HOST");
            let port = nonempty("PORT");
            if host.is_none() && port.is_none() {
                None
            } else {
                let ip: IpAddr = host
                    .as_deref()
                    .unwrap_or("127.0.0.1")
                    .parse()
                    .map_err(|_| {
                        invalid("HOST", "must be an IP address such as 127.0.0.1 or 0.0.0.0")
                    })?;
                let port = parse_num("PORT", port.as_deref(), 3000u16, 1..=65535)?;
                Some(SocketAddr::new(ip, port))
            }
        };

        let cors_origins = nonempty("CORS_ORIGINS")
            .map(|raw| {
                raw.split(',')
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(|o| parse_origin("CORS_ORIGINS", o))
                    .collect::<Result<Vec<_>, _>>()
            })
            .transpose()?
            .unwrap_or_default();

        let log_format = match nonempty("LOG_FORMAT").map(|s| s.to_ascii_lowercase()) {
            None => {
                if parse_bool("LOG_JSON", get("LOG_JSON").as_deref(), false)? {
                    LogFormat::Json
                } else {
                    LogFormat::Text
                }
            }
            Some(f) if f == "json" => LogFormat::Json,
            Some(f) if f == "text" => LogFormat::Text,
            Some(f) => {
                return Err(invalid(
                    "LOG_FORMAT",
                    format!("expected text or json, got {f:?}"),
                ))
            }
        };
        let log_level = nonempty("LOG_LEVEL").unwrap_or_else(|| "info".into());
        if tracing_subscriber::EnvFilter::try_new(&log_level).is_err() {
            return Err(invalid(
                "LOG_LEVEL",
                format!("{log_level:?} is not a valid level or filter"),
            ));
        }

        let redis_url = nonempty("REDIS_URL").map(|u| u.trim().to_string());
        if let Some(u) = &redis_url {
            if !(u.starts_with("redis://") || u.starts_with("rediss://")) {
                return Err(invalid(
                    "REDIS_URL",
                    "must start with redis:// or rediss://",
                ));
            }
        }
        let budget_zone = crate::server::periods::BudgetZone::parse(
            nonempty("BUDGET_TIMEZONE").as_deref().unwrap_or("UTC"),
        )
        .map_err(|e| invalid("BUDGET_TIMEZONE", e))?;

        let metrics = match nonempty("METRICS").map(|v| v.trim().to_ascii_lowercase()) {
            Some(v) if v == "on" => true,
            Some(v) if v == "off" => false,
            raw => parse_bool("METRICS", raw.as_deref(), true)?,
        };
        let metrics_token = match nonempty("METRICS_TOKEN").map(|t| t.trim().to_string()) {
            Some(t) if t.len() < 16 => {
                return Err(invalid(
                    "METRICS_TOKEN",
                    "must be at least 16 characters long",
                ))
            }
            t => t.map(Secret::new),
        };

        Ok(Config {
            listen,
            metrics,
            metrics_token,
            data_dir,
            database_url: Secret::new(database_url),
            database_kind,
            db_pool_max,
            db_pool_min,
            encryption_key,
            admin_token,
            allow_key_reveal: parse_bool(
                "ALLOW_KEY_REVEAL",
                get("ALLOW_KEY_REVEAL").as_deref(),
                false,
            )?,
            allow_private_upstreams: parse_bool(
                "ALLOW_PRIVATE_UPSTREAMS",
                get("ALLOW_PRIVATE_UPSTREAMS").as_deref(),
                false,
            )?,
            log_retention_days: parse_num(
                "LOG_RETENTION_DAYS",
                get("LOG_RETENTION_DAYS").as_deref(),
                90,
                1..=36500,
            )?,
            cors_origins,
            log_level,
            log_format,
            max_body_bytes: parse_num(
                "MAX_REQUEST_BODY_BYTES",
                get("MAX_REQUEST_BODY_BYTES").as_deref(),
                32 * 1024 * 1024,
                1024..=1024 * 1024 * 1024,
            )?,
            shutdown_grace_secs: parse_num(
                "SHUTDOWN_GRACE_SECONDS",
                get("SHUTDOWN_GRACE_SECONDS").as_deref(),
                30,
                0..=3600,
            )?,
            server_threads: match parse_num(
                "SERVER_THREADS",
                get("SERVER_THREADS").as_deref(),
                0,
                0..=1024,
            )? {
                0 => std::thread::available_parallelism().map_or(1, |n| n.get()),
                n => n,
            },
            trusted_proxies: nonempty("TRUSTED_PROXIES")
                .map(|raw| parse_networks("TRUSTED_PROXIES", &raw))
                .transpose()?
                .unwrap_or_default(),
            header_read_timeout_secs: parse_num(
                "HEADER_READ_TIMEOUT_SECONDS",
                get("HEADER_READ_TIMEOUT_SECONDS").as_deref(),
                10,
                1..=300,
            )?,
            max_connections: parse_num(
                "MAX_CONNECTIONS",
                get("MAX_CONNECTIONS").as_deref(),
                10_000,
                1..=1_000_000,
            )?,
            routing_refresh_ms: parse_num(
                "ROUTING_REFRESH_MS",
                get("ROUTING_REFRESH_MS").as_deref(),
                5_000,
                50..=3_600_000,
            )?,
            breaker_sync_ms: parse_num(
                "BREAKER_SYNC_MS",
                get("BREAKER_SYNC_MS").as_deref(),
                2_000,
                50..=3_600_000,
            )?,
            alert_check_ms: parse_num(
                "ALERT_CHECK_MS",
                get("ALERT_CHECK_MS").as_deref(),
                60_000,
                100..=3_600_000,
            )?,
            redis_url: redis_url.map(Secret::new),
            budget_zone,
            sticky_idle_secs: parse_num(
                "STICKY_IDLE_SECONDS",
                get("STICKY_IDLE_SECONDS").as_deref(),
                3_600,
                1..=30 * 86_400,
            )?,
            models_refresh_secs: parse_num(
                "MODELS_REFRESH_SECONDS",
                get("MODELS_REFRESH_SECONDS").as_deref(),
                3_600,
                60..=30 * 86_400,
            )?,
            sticky_max_sessions: parse_num(
                "STICKY_MAX_SESSIONS",
                get("STICKY_MAX_SESSIONS").as_deref(),
                100_000,
                1..=10_000_000,
            )?,
            traces: traces::from_lookup(&get)?,
            instance_id: instance_id(nonempty("INSTANCE_ID"))?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn config(vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Config::from_lookup(|k| map.get(k).cloned())
    }

    #[test]
    fn defaults_need_no_variables() {
        let c = config(&[]).unwrap();
        assert_eq!(c.database_kind, DatabaseKind::Sqlite);
        assert_eq!(c.database_url.expose(), "sqlite://./data/autorouter.db");
        assert!(!c.allow_key_reveal);
        assert!(!c.allow_private_upstreams);
        assert_eq!(c.log_retention_days, 90);
        assert!(matches!(c.admin_token, AdminTokenSource::Generated { .. }));
        assert!(matches!(
            c.encryption_key,
            EncryptionKeySource::File {
                create_if_missing: true,
                ..
            }
        ));
        assert_eq!(c.max_body_bytes, 32 * 1024 * 1024);
    }

    #[test]
    fn booleans_parse_strictly() {
        for (raw, want) in [
            ("true", true),
            ("1", true),
            ("YES", true),
            ("false", false),
            ("0", false),
            ("no", false),
            ("", false),
        ] {
            assert_eq!(
                config(&[("ALLOW_KEY_REVEAL", raw)])
                    .unwrap()
                    .allow_key_reveal,
                want,
                "{raw}"
            );
        }
        let err = config(&[("ALLOW_KEY_REVEAL", "maybe")]).unwrap_err();
        assert_eq!(err.var, "ALLOW_KEY_REVEAL");
        let err = config(&[("ALLOW_PRIVATE_UPSTREAMS", "on")]).unwrap_err();
        assert_eq!(err.var, "ALLOW_PRIVATE_UPSTREAMS");
    }

    #[test]
    fn invalid_values_name_their_variable() {
        assert_eq!(
            config(&[("DATABASE_URL", "mysql://x")]).unwrap_err().var,
            "DATABASE_URL"
        );
        assert_eq!(
            config(&[("LOG_RETENTION_DAYS", "0")]).unwrap_err().var,
            "LOG_RETENTION_DAYS"
        );
        assert_eq!(
            config(&[("LOG_RETENTION_DAYS", "ten")]).unwrap_err().var,
            "LOG_RETENTION_DAYS"
        );
        assert_eq!(config(&[("PORT", "70000")]).unwrap_err().var, "PORT");
        assert_eq!(config(&[("HOST", "example.com")]).unwrap_err().var, "HOST");
        assert_eq!(
            config(&[("CORS_ORIGINS", "not a url")]).unwrap_err().var,
            "CORS_ORIGINS"
        );
        assert_eq!(
            config(&[("ADMIN_TOKEN", "short")]).unwrap_err().var,
            "ADMIN_TOKEN"
        );
        assert_eq!(
            config(&[("LOG_FORMAT", "xml")]).unwrap_err().var,
            "LOG_FORMAT"
        );
        assert_eq!(
            config(&[("ENCRYPTION_KEY", "a"), ("ENCRYPTION_KEY_FILE", "/x")])
                .unwrap_err()
                .var,
            "ENCRYPTION_KEY"
        );
    }

    #[test]
    fn database_url_listen_and_cors_are_read() {
        let c = config(&[
            ("DATABASE_URL", "postgres://u@h/db"),
            ("PORT", "8080"),
            ("CORS_ORIGINS", "https://a.example, http://localhost:5173/"),
            ("LOG_JSON", "true"),
        ])
        .unwrap();
        assert_eq!(c.database_kind, DatabaseKind::Postgres);
        assert_eq!(c.listen, Some("127.0.0.1:8080".parse().unwrap()));
        assert_eq!(
            c.cors_origins,
            vec!["https://a.example", "http://localhost:5173"]
        );
        assert_eq!(c.log_format, LogFormat::Json);
    }

    #[test]
    fn metrics_are_on_unless_turned_off() {
        assert!(config(&[]).unwrap().metrics);
        for (raw, want) in [
            ("on", true),
            ("off", false),
            ("OFF", false),
            ("false", false),
            ("1", true),
        ] {
            assert_eq!(config(&[("METRICS", raw)]).unwrap().metrics, want, "{raw}");
        }
        assert_eq!(config(&[("METRICS", "maybe")]).unwrap_err().var, "METRICS");
        assert_eq!(
            config(&[("METRICS_TOKEN", "short")]).unwrap_err().var,
            "METRICS_TOKEN"
        );
        let c = config(&[("METRICS_TOKEN", "metrics-token-0123456789")]).unwrap();
        assert_eq!(
            c.metrics_token.as_ref().map(|t| t.expose().as_str()),
            Some("metrics-token-0123456789")
        );
        assert!(!format!("{c:?}").contains("metrics-token-0123456789"));
    }

    #[test]
    fn debug_output_hides_secrets() {
        let c = config(&[
            ("ADMIN_TOKEN", "admin-token-that-is-long"),
            ("ENCRYPTION_KEY", "key-material-here"),
            ("DATABASE_URL", "postgres://user:pgpassword@h/db"),
        ])
        .unwrap();
        let dbg = format!("{c:?}");
        assert!(!dbg.contains("admin-token-that-is-long"));
        assert!(!dbg.contains("key-material-here"));
        assert!(!dbg.contains("pgpassword"));
    }
}
