//! Test harness: spawns the real server on a random port against a fresh SQLite file or a fresh
//! PostgreSQL schema, and talks to it over real HTTP.
#![allow(dead_code)]

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};

use autorouter::server::clock;
use autorouter::server::config::{Config, DatabaseKind};
use autorouter::server::db::Database;
use autorouter::server::startup::{build_state, leptos_options, Application};

pub mod mock_upstream;
pub mod redis;

pub const ADMIN_TOKEN: &str = "test-admin-token-0123456789";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

pub struct TestApp {
    pub addr: SocketAddr,
    pub base: String,
    pub client: reqwest::Client,
    pub backend: Backend,
    pub data_dir: PathBuf,
    pub database_url: String,
    /// The running gateway's state, for tests that call into it directly.
    pub state: autorouter::server::state::AppState,
    /// The gateway's clock: the system's, moved forward by tests instead of sleeping.
    pub clock: std::sync::Arc<TestClock>,
    pg_schema: Option<String>,
}

/// The system clock plus an offset a test moves forward: time-dependent behaviour (a key's
/// expiry, a breaker's open duration) is reached without waiting, while everything else runs
/// in real time.
#[derive(Debug, Default)]
pub struct TestClock {
    ahead_ms: std::sync::atomic::AtomicI64,
}

impl TestClock {
    pub fn advance(&self, by: std::time::Duration) {
        self.ahead_ms
            .fetch_add(by.as_millis() as i64, Ordering::SeqCst);
    }
}

impl clock::Clock for TestClock {
    fn now_ms(&self) -> i64 {
        now_ms() + self.ahead_ms.load(Ordering::SeqCst)
    }
}

static COUNTER: AtomicU64 = AtomicU64::new(0);

fn unique(prefix: &str) -> String {
    format!(
        "{prefix}_{}_{}_{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::SeqCst),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .subsec_nanos()
    )
}

/// Wall-clock milliseconds since the Unix epoch, as the gateway stamps its log rows.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

pub fn postgres_base_url() -> String {
    std::env::var("TEST_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into())
}

fn with_search_path(url: &str, schema: &str) -> String {
    let sep = if url.contains('?') { '&' } else { '?' };
    format!("{url}{sep}options=-c%20search_path%3D{schema}")
}

impl TestApp {
    pub async fn spawn(backend: Backend) -> TestApp {
        Self::spawn_with(backend, &[]).await
    }

    /// A gateway on a fresh SQLite file or PostgreSQL schema. PostgreSQL must be reachable at
    /// `TEST_DATABASE_URL`: a run without one skips those tests by name (`--skip postgres`, as
    /// `scripts/test.sh` does, saying so), so a skipped test is never reported as passed.
    pub async fn spawn_with(backend: Backend, extra: &[(&str, &str)]) -> TestApp {
        let data_dir = std::env::temp_dir().join(unique("autorouter_test"));
        std::fs::create_dir_all(&data_dir).unwrap();
        let (database_url, pg_schema) = match backend {
            Backend::Sqlite => (format!("sqlite://{}/test.db", data_dir.display()), None),
            Backend::Postgres => {
                let schema = unique("ar_test");
                let base = postgres_base_url();
                let admin = Database::connect_url_without_migrations(&base, DatabaseKind::Postgres)
                    .await
                    .unwrap_or_else(|e| panic!("PostgreSQL at TEST_DATABASE_URL is unreachable ({e}); run with `-- --skip postgres` to leave these tests out"));
                sqlx::query(&format!("CREATE SCHEMA {schema}"))
                    .execute(&admin.pool)
                    .await
                    .unwrap();
                admin.pool.close().await;
                (with_search_path(&base, &schema), Some(schema))
            }
        };
        Self::start(backend, data_dir, database_url, pg_schema, extra).await
    }

    /// A second gateway on the same database and data directory (a restart, or another instance).
    pub async fn another_instance(&self, extra: &[(&str, &str)]) -> TestApp {
        Self::start(
            self.backend,
            self.data_dir.clone(),
            self.database_url.clone(),
            None,
            extra,
        )
        .await
    }

    async fn start(
        backend: Backend,
        data_dir: PathBuf,
        database_url: String,
        pg_schema: Option<String>,
        extra: &[(&str, &str)],
    ) -> TestApp {
        let mut vars: HashMap<String, String> = HashMap::from([
            ("DATA_DIR".into(), data_dir.display().to_string()),
            ("DATABASE_URL".into(), database_url.clone()),
            ("ADMIN_TOKEN".into(), ADMIN_TOKEN.into()),
            ("DB_POOL_MAX".into(), "4".into()),
            ("LOG_LEVEL".into(), "warn".into()),
            // Other instances' changes arrive within a fifth of a second instead of seconds.
            ("ROUTING_REFRESH_MS".into(), "200".into()),
            ("BREAKER_SYNC_MS".into(), "200".into()),
        ]);
        for (k, v) in extra {
            vars.insert(k.to_string(), v.to_string());
        }
        let config = Config::from_lookup(|k| vars.get(k).cloned()).expect("test config is valid");
        let test_clock = std::sync::Arc::new(TestClock::default());
        let (state, _notes) = build_state(config, leptos_options(), test_clock.clone())
            .await
            .expect("state builds");
        let app = Application::bind(state.clone(), "127.0.0.1:0".parse().unwrap())
            .await
            .unwrap();
        let addr = app.local_addr();
        tokio::spawn(app.serve(std::future::pending()));
        // As the dashboard's own pages call it: the UI's server functions refuse other origins.
        let mut same_origin = reqwest::header::HeaderMap::new();
        same_origin.insert(
            "origin",
            format!("http://{addr}")
                .parse()
                .expect("an origin header value"),
        );
        let client = reqwest::Client::builder()
            .default_headers(same_origin)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        TestApp {
            addr,
            base: format!("http://{addr}"),
            client,
            backend,
            data_dir,
            database_url,
            state,
            clock: test_clock,
            pg_schema,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.client.get(self.url(path)).send().await.unwrap()
    }

    pub async fn admin_get(&self, path: &str) -> reqwest::Response {
        self.client
            .get(self.url(path))
            .bearer_auth(ADMIN_TOKEN)
            .send()
            .await
            .unwrap()
    }

    /// Signs in through the UI's login server function and returns the session cookie pair.
    pub async fn login_cookie(&self) -> String {
        let res = self
            .client
            .post(self.url("/api/ui/login"))
            .header("accept", "application/json")
            .form(&[("token", ADMIN_TOKEN)])
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200);
        let set_cookie = res
            .headers()
            .get("set-cookie")
            .expect("login sets a cookie")
            .to_str()
            .unwrap()
            .to_string();
        set_cookie.split(';').next().unwrap().to_string()
    }

    pub async fn cleanup(&self) {
        if let Some(schema) = &self.pg_schema {
            if let Ok(db) = Database::connect_url_without_migrations(
                &postgres_base_url(),
                DatabaseKind::Postgres,
            )
            .await
            {
                let _ = sqlx::query(&format!("DROP SCHEMA {schema} CASCADE"))
                    .execute(&db.pool)
                    .await;
                db.pool.close().await;
            }
        }
        let _ = std::fs::remove_dir_all(&self.data_dir);
    }
}

/// Runs one async test body against SQLite and against PostgreSQL.
#[macro_export]
macro_rules! both_backends {
    ($($name:ident),+ $(,)?) => {
        $(
            mod $name {
                use super::*;

                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn sqlite() {
                    let app = common::TestApp::spawn(common::Backend::Sqlite).await;
                    super::$name(&app).await;
                    app.cleanup().await;
                }

                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn postgres() {
                    let app = common::TestApp::spawn(common::Backend::Postgres).await;
                    super::$name(&app).await;
                    app.cleanup().await;
                }
            }
        )+
    };
}

/// Like `both_backends!`, with private upstream addresses allowed (the mocks listen on 127.0.0.1).
#[macro_export]
macro_rules! private_both_backends {
    ($($name:ident),+ $(,)?) => {
        $(
            mod $name {
                use super::*;

                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn sqlite() {
                    let app = common::TestApp::spawn_with(common::Backend::Sqlite, &[("ALLOW_PRIVATE_UPSTREAMS", "true")]).await;
                    super::$name(&app).await;
                    app.cleanup().await;
                }

                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn postgres() {
                    let app = common::TestApp::spawn_with(common::Backend::Postgres, &[("ALLOW_PRIVATE_UPSTREAMS", "true")]).await;
                    super::$name(&app).await;
                    app.cleanup().await;
                }
            }
        )+
    };
}

/// Admin REST helpers shared by the data-plane tests.
impl TestApp {
    pub async fn admin_json(
        &self,
        method: reqwest::Method,
        path: &str,
        body: serde_json::Value,
    ) -> (u16, serde_json::Value) {
        let res = self
            .client
            .request(method, self.url(path))
            .bearer_auth(ADMIN_TOKEN)
            .json(&body)
            .send()
            .await
            .unwrap();
        let status = res.status().as_u16();
        let text = res.text().await.unwrap();
        (
            status,
            serde_json::from_str(&text).unwrap_or(serde_json::Value::Null),
        )
    }

    /// Creates an upstream and returns its id.
    pub async fn upstream(&self, body: serde_json::Value) -> String {
        let (status, created) = self
            .admin_json(reqwest::Method::POST, "/api/admin/upstreams", body)
            .await;
        assert_eq!(status, 201, "{created}");
        created["id"].as_str().unwrap().to_string()
    }

    /// The ids `GET /v1/models` lists for a client key, in order (it must answer 200 with an
    /// OpenAI model list).
    pub async fn model_ids(&self, key: &str) -> Vec<String> {
        let res = self
            .client
            .get(self.url("/v1/models"))
            .bearer_auth(key)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200);
        let body: serde_json::Value = res.json().await.unwrap();
        assert_eq!(body["object"], "list", "{body}");
        body["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["id"].as_str().unwrap().to_string())
            .collect()
    }

    /// Creates a key for these upstreams and returns (id, full key).
    pub async fn key(&self, upstream_ids: &[&str]) -> (String, String) {
        let (status, created) = self
            .admin_json(
                reqwest::Method::POST,
                "/api/admin/keys",
                serde_json::json!({"name": "test key", "upstream_ids": upstream_ids}),
            )
            .await;
        assert_eq!(status, 201, "{created}");
        (
            created["id"].as_str().unwrap().to_string(),
            created["key_value"].as_str().unwrap().to_string(),
        )
    }

    /// Waits until the request log holds at least `n` rows (the writer batches for up to 50 ms).
    pub async fn logs(&self, n: usize) -> Vec<serde_json::Value> {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        loop {
            let res = self
                .client
                .get(self.url("/api/admin/logs?page_size=100"))
                .bearer_auth(ADMIN_TOKEN)
                .send()
                .await
                .unwrap();
            let page: serde_json::Value = res.json().await.unwrap();
            let items = page["items"].as_array().cloned().unwrap_or_default();
            if items.len() >= n {
                return items;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "expected {n} log rows, have {}",
                items.len()
            );
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
    }
}
