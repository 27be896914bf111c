//! Configuration as code (export, import, dry run, prune; REST and the real binary) and the move
//! from the original Next.js AutoRouter (a database laid out by its migrations, imported, and a
//! key issued there authenticating here), plus the admin API's aliases of its field names.
use std::process::{Command, Stdio};

use base64::Engine;
use reqwest::Method;
use serde_json::{json, Value};

use crate::common::mock_upstream::{Knobs, MockUpstream};
use crate::common::{self, Backend, TestApp, ADMIN_TOKEN};

const PRIVATE: (&str, &str) = ("ALLOW_PRIVATE_UPSTREAMS", "true");

/// The value every test sets for the environment variables its documents name: parallel tests
/// that set the same variable set the same value.
const ENV_KEY: &str = "sk-from-the-environment-0123456789";

async fn export_yaml(app: &TestApp, query: &str) -> String {
    let res = app
        .client
        .get(app.url(&format!("/api/admin/config/export{query}")))
        .bearer_auth(ADMIN_TOKEN)
        .header("accept", "application/yaml")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["content-type"], "application/yaml");
    res.text().await.unwrap()
}

async fn import(app: &TestApp, yaml: &str, query: &str) -> (u16, Value) {
    let res = app
        .client
        .post(app.url(&format!("/api/admin/config/import{query}")))
        .bearer_auth(ADMIN_TOKEN)
        .header("content-type", "application/yaml")
        .body(yaml.to_string())
        .send()
        .await
        .unwrap();
    let status = res.status().as_u16();
    (status, res.json().await.unwrap_or(Value::Null))
}

fn changes(result: &Value) -> Vec<String> {
    result["changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| format!("{} {} {}", c["action"], c["kind"], c["name"]).replace('"', ""))
        .collect()
}

/// A gateway with two upstreams, two keys with limits, a price and changed settings.
async fn configure(app: &TestApp, mock: &MockUpstream) {
    let a = app
        .upstream(json!({
            "name": "cac-openai", "provider": "openai", "base_url": mock.base_url,
            "api_key": ENV_KEY, "weight": 3, "priority": 1,
            "allowed_models": ["gpt-*"], "model_redirects": {"gpt-x": "gpt-4o-mini"},
            "limits": {"rpm": 600}, "price_multiplier": 0.8,
            "circuit_breaker": {"failure_threshold": 4}
        }))
        .await;
    let b = app
        .upstream(json!({
            "name": "cac-claude", "provider": "anthropic", "base_url": format!("{}/", mock.base_url),
            "api_key": ENV_KEY, "is_active": false, "api_formats": ["messages"]
        }))
        .await;
    for (name, ups, limits) in [
        (
            "ci",
            vec![a.clone()],
            json!({"rpm": 10, "daily_budget_usd": 2.5, "allowed_models": ["gpt-*"]}),
        ),
        ("team", vec![a, b], json!({})),
    ] {
        let (s, v) = app
            .admin_json(
                Method::POST,
                "/api/admin/keys",
                json!({"name": name, "upstream_ids": ups, "limits": limits,
                       "description": format!("the {name} key"), "expires_at": "2999-01-01T00:00:00Z"}),
            )
            .await;
        assert_eq!(s, 201, "{v}");
    }
    let (s, v) = app
        .admin_json(
            Method::PUT,
            "/api/admin/prices/house-model-*",
            json!({"input": 1.5, "output": 3}),
        )
        .await;
    assert!(s == 200 || s == 201, "{s} {v}");
    let (s, v) = app
        .admin_json(
            Method::PUT,
            "/api/admin/settings",
            json!({"max_attempts": 2, "lb_strategy": "round_robin"}),
        )
        .await;
    assert_eq!(s, 200, "{v}");
}

fn set_env_keys() {
    for name in ["cac-openai", "cac-claude"] {
        let var = format!(
            "AUTOROUTER_UPSTREAM_KEY_{}",
            name.to_uppercase().replace('-', "_")
        );
        std::env::set_var(var, ENV_KEY);
    }
}

async fn round_trip(app: &TestApp) {
    let mock = MockUpstream::start_with(Knobs {
        require_auth: Some(ENV_KEY.into()),
        ..Knobs::default()
    })
    .await;
    configure(app, &mock).await;
    let exported = export_yaml(app, "?api_key_env=true").await;
    assert!(exported.starts_with("version: 1\n"), "{exported}");
    assert!(
        exported.contains("api_key_env: AUTOROUTER_UPSTREAM_KEY_CAC_OPENAI"),
        "{exported}"
    );
    assert!(!exported.contains(ENV_KEY), "a secret in the export");
    assert!(!exported.contains("sk-auto-"), "a key value in the export");
    // The same configuration exports as the same bytes.
    assert_eq!(export_yaml(app, "?api_key_env=true").await, exported);
    set_env_keys();

    // Wipe: a fresh gateway on the same backend.
    let fresh = TestApp::spawn_with(app.backend, &[PRIVATE]).await;
    let before = export_yaml(&fresh, "").await;
    let (s, plan) = import(&fresh, &exported, "?dry_run=true").await;
    assert_eq!(s, 200, "{plan}");
    assert_eq!(plan["dry_run"], true);
    let planned = changes(&plan);
    for expected in [
        "update settings settings",
        "create upstream cac-claude",
        "create upstream cac-openai",
        "create price house-model-*",
        "create key ci",
        "create key team",
    ] {
        assert!(planned.contains(&expected.to_string()), "{planned:?}");
    }
    assert_eq!(planned.len(), 6, "{planned:?}");
    assert_eq!(
        export_yaml(&fresh, "").await,
        before,
        "a dry run changed something"
    );

    let (s, applied) = import(&fresh, &exported, "").await;
    assert_eq!(s, 200, "{applied}");
    assert_eq!(changes(&applied), planned);
    let issued = applied["issued_keys"].as_array().unwrap();
    assert_eq!(issued.len(), 2, "{applied}");
    assert_eq!(
        export_yaml(&fresh, "?api_key_env=true").await,
        exported,
        "export -> wipe -> import did not reproduce the configuration"
    );

    // Idempotent: the same document again plans nothing and changes nothing.
    let (s, again) = import(&fresh, &exported, "").await;
    assert_eq!(s, 200, "{again}");
    assert!(changes(&again).is_empty(), "{again}");
    assert!(again["issued_keys"].as_array().unwrap().is_empty());

    // The upstream key came from the environment: the mock accepts only that one.
    let ci = issued.iter().find(|k| k["name"] == "ci").unwrap();
    let res = fresh
        .client
        .post(fresh.url("/v1/chat/completions"))
        .bearer_auth(ci["key_value"].as_str().unwrap())
        .json(&json!({"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200, "{}", res.text().await.unwrap());
    assert_eq!(
        mock.last().unwrap().header("authorization"),
        Some(format!("Bearer {ENV_KEY}").as_str())
    );
    fresh.cleanup().await;
}

async fn plans_name_changed_fields_and_prune_deletes(app: &TestApp) {
    let mock = MockUpstream::start().await;
    configure(app, &mock).await;
    let exported = export_yaml(app, "").await;
    // Without api_key_env the stored keys stay; an edited weight and a dropped key and upstream.
    let edited = exported.replace("weight: 3", "weight: 7");
    let doc: Value = serde_norway::from_str(&edited).unwrap();
    let mut doc = doc;
    doc["keys"]
        .as_array_mut()
        .unwrap()
        .retain(|k| k["name"] != "team");
    doc["upstreams"]
        .as_array_mut()
        .unwrap()
        .retain(|u| u["name"] != "cac-claude");
    let yaml = serde_norway::to_string(&doc).unwrap();

    let (s, plan) = import(app, &yaml, "?dry_run=true").await;
    assert_eq!(s, 200, "{plan}");
    assert_eq!(changes(&plan), vec!["update upstream cac-openai"]);
    assert_eq!(plan["changes"][0]["fields"], json!(["weight"]));

    let (s, plan) = import(app, &yaml, "?prune=true").await;
    assert_eq!(s, 200, "{plan}");
    assert_eq!(
        changes(&plan),
        vec![
            "update upstream cac-openai",
            "delete key team",
            "delete upstream cac-claude"
        ]
    );
    let (s, again) = import(app, &yaml, "?prune=true").await;
    assert_eq!(s, 200);
    assert!(changes(&again).is_empty(), "{again}");

    // A document that names a missing environment variable, or a wrong version, is refused
    // with the entity named, and nothing changes.
    let bad = yaml.replace(
        "name: cac-openai",
        "name: cac-openai\n  api_key_env: AUTOROUTER_TEST_UNSET_VARIABLE",
    );
    let (s, err) = import(app, &bad, "").await;
    assert_eq!(s, 400, "{err}");
    let message = err["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("AUTOROUTER_TEST_UNSET_VARIABLE"),
        "{message}"
    );
    let (s, err) = import(app, "version: 2\n", "").await;
    assert_eq!(s, 400, "{err}");
    let (s, err) = import(app, "version: 1\nbogus: true\n", "").await;
    assert_eq!(s, 400, "{err}");

    // JSON by Accept, and the endpoints are admin-only.
    let res = app
        .client
        .get(app.url("/api/admin/config/export"))
        .bearer_auth(ADMIN_TOKEN)
        .header("accept", "application/json")
        .send()
        .await
        .unwrap();
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["version"], 1);
    for (method, path) in [
        (Method::GET, "/api/admin/config/export"),
        (Method::POST, "/api/admin/config/import"),
    ] {
        let res = app
            .client
            .request(method, app.url(path))
            .body("version: 1\n")
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 401);
    }
}

async fn aliases_of_the_originals_field_names(app: &TestApp) {
    let mock = MockUpstream::start().await;
    let (s, up) = app
        .admin_json(
            Method::POST,
            "/api/admin/upstreams",
            json!({"name": "legacy", "provider": "openai", "base_url": mock.base_url, "api_key": ENV_KEY,
                   "timeout": 90,
                   "circuit_breaker_config": {"failure_threshold": 3, "success_threshold": 4,
                                              "open_duration": 120, "probe_interval": 10}}),
        )
        .await;
    assert_eq!(s, 201, "{up}");
    assert_eq!(up["timeout_ms"], 90_000);
    assert_eq!(up["circuit_breaker"]["failure_threshold"], 3);
    assert_eq!(up["circuit_breaker"]["success_threshold"], 4);
    assert_eq!(up["circuit_breaker"]["open_duration_ms"], 120_000);
    assert!(up.get("timeout").is_none() && up.get("circuit_breaker_config").is_none());
    let id = up["id"].as_str().unwrap();
    let (s, up) = app
        .admin_json(
            Method::PUT,
            &format!("/api/admin/upstreams/{id}"),
            json!({"timeout": 30, "circuit_breaker_config": {"open_duration": 600000}}),
        )
        .await;
    assert_eq!(s, 200, "{up}");
    assert_eq!(up["timeout_ms"], 30_000);
    assert_eq!(up["circuit_breaker"]["open_duration_ms"], 600_000);
    let (s, err) = app
        .admin_json(
            Method::PUT,
            &format!("/api/admin/upstreams/{id}"),
            json!({"circuit_breaker_config": {"half_open": 1}}),
        )
        .await;
    assert_eq!(s, 400, "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_openapi_document_lists_the_aliases_as_deprecated() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let doc: Value = app
        .admin_get("/api/admin/openapi.json")
        .await
        .json()
        .await
        .unwrap();
    let schemas = &doc["components"]["schemas"];
    for body in ["CreateUpstream", "UpdateUpstream"] {
        let props = &schemas[body]["properties"];
        assert_eq!(props["timeout"]["deprecated"], true, "{body}");
        assert!(props["circuit_breaker_config"].is_object(), "{body}");
    }
    assert_eq!(schemas["LegacyBreakerConfig"]["deprecated"], true);
    for path in ["/api/admin/config/export", "/api/admin/config/import"] {
        assert!(doc["paths"][path].is_object(), "{path} is not documented");
    }
    app.cleanup().await;
}

private_both_backends!(
    round_trip,
    plans_name_changed_fields_and_prune_deletes,
    aliases_of_the_originals_field_names
);

// ---- the real binary ----

fn binary(vars: &[(&str, &str)]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_autorouter"));
    cmd.env_clear();
    for k in ["PATH", "HOME"] {
        if let Ok(v) = std::env::var(k) {
            cmd.env(k, v);
        }
    }
    for (k, v) in vars {
        cmd.env(k, v);
    }
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    cmd
}

fn run(cmd: &mut Command) -> (i32, String, String) {
    let out = cmd.output().expect("the binary runs");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_binary_exports_and_imports() {
    let mock = MockUpstream::start().await;
    let dir = std::env::temp_dir().join(format!(
        "ar_cac_cli_{}_{}",
        std::process::id(),
        common::now_ms()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let doc = dir.join("gateway.yaml");
    std::fs::write(
        &doc,
        format!(
            "version: 1\nsettings:\n  lb_strategy: least_connections\n  max_attempts: 4\n  health_check_interval_seconds: 0\n\
             upstreams:\n- name: cli-up\n  provider: openai\n  base_url: {}\n  api_key_env: CLI_UPSTREAM_KEY\n\
             keys:\n- name: cli-key\n  upstreams: [cli-up]\n  limits:\n    rpm: 5\n\
             prices:\n- model: cli-model\n  price:\n    input: 1\n    output: 2\n",
            mock.base_url
        ),
    )
    .unwrap();
    let data = dir.display().to_string();
    let db = format!("sqlite://{}/autorouter.db", dir.display());
    let vars = [
        ("DATA_DIR", data.as_str()),
        ("DATABASE_URL", db.as_str()),
        ("ALLOW_PRIVATE_UPSTREAMS", "true"),
        ("CLI_UPSTREAM_KEY", ENV_KEY),
    ];
    let path = doc.display().to_string();

    let (code, out, err) = run(binary(&vars).args(["import", &path, "--dry-run"]));
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("create upstream \"cli-up\""), "{out}");
    assert!(
        out.contains("4 change(s) planned (dry run: nothing was changed)"),
        "{out}"
    );

    let keys_file = dir.join("keys.json");
    let keys_path = keys_file.display().to_string();
    let (code, out, err) = run(binary(&vars).args(["import", &path, "--keys-out", &keys_path]));
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("4 change(s) applied"), "{out}");
    assert!(
        !out.contains("sk-auto-"),
        "the key went to the file, not the output: {out}"
    );
    assert!(!out.contains(ENV_KEY) && !err.contains(ENV_KEY));
    let issued: Value = serde_json::from_slice(&std::fs::read(&keys_file).unwrap()).unwrap();
    assert!(issued[0]["key_value"]
        .as_str()
        .unwrap()
        .starts_with("sk-auto-"));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&keys_file).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }

    let (code, out, err) = run(binary(&vars).args(["import", &path]));
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("no changes"), "{out}");

    let (code, exported, err) = run(binary(&vars).args(["export", "--api-key-env"]));
    assert_eq!(code, 0, "{err}");
    assert!(exported.contains("name: cli-up"), "{exported}");
    assert!(
        exported.contains("api_key_env: AUTOROUTER_UPSTREAM_KEY_CLI_UP"),
        "{exported}"
    );
    assert!(exported.contains("rpm: 5") && exported.contains("max_attempts: 4"));
    let (code, json_out, _) = run(binary(&vars).args(["export", "--json"]));
    assert_eq!(code, 0);
    let parsed: Value = serde_json::from_str(&json_out).unwrap();
    assert_eq!(parsed["settings"]["lb_strategy"], "least_connections");

    let (code, _, err) = run(binary(&vars).args(["import", "/no/such/file.yaml"]));
    assert_eq!(code, 1);
    assert!(err.contains("/no/such/file.yaml"), "{err}");
    let (code, _, err) = run(binary(&vars).args(["import"]));
    assert_eq!(code, 2, "{err}");
    let _ = std::fs::remove_dir_all(&dir);
}

// ---- from the original AutoRouter ----

/// A PostgreSQL schema holding the original's tables, built from the fixture's DDL.
struct OriginalDb {
    pool: sqlx::AnyPool,
    schema: String,
    url: String,
}

impl OriginalDb {
    async fn create(fixture: &str) -> OriginalDb {
        use autorouter::server::config::DatabaseKind;
        use autorouter::server::db::Database;
        let base = common::postgres_base_url();
        let schema = format!(
            "ar_js_{}_{}",
            std::process::id(),
            common::now_ms() % 1_000_000_000
        );
        let admin = Database::connect_url_without_migrations(&base, DatabaseKind::Postgres)
            .await
            .expect("PostgreSQL at TEST_DATABASE_URL");
        sqlx::query(&format!("CREATE SCHEMA {schema}"))
            .execute(&admin.pool)
            .await
            .unwrap();
        admin.pool.close().await;
        let sep = if base.contains('?') { '&' } else { '?' };
        let url = format!("{base}{sep}options=-c%20search_path%3D{schema}");
        let db = Database::connect_url_without_migrations(&url, DatabaseKind::Postgres)
            .await
            .unwrap();
        let ddl: String = fixture
            .lines()
            .filter(|l| !l.trim_start().starts_with("--"))
            .collect::<Vec<_>>()
            .join("\n");
        for sql in ddl.split(';') {
            if !sql.trim().is_empty() {
                sqlx::query(sql)
                    .execute(&db.pool)
                    .await
                    .unwrap_or_else(|e| panic!("{sql}: {e}"));
            }
        }
        OriginalDb {
            pool: db.pool,
            schema,
            url,
        }
    }

    async fn exec(&self, sql: &str) {
        sqlx::query(sql)
            .execute(&self.pool)
            .await
            .unwrap_or_else(|e| panic!("{sql}: {e}"));
    }

    async fn drop(self) {
        let _ = sqlx::query(&format!("DROP SCHEMA {} CASCADE", self.schema))
            .execute(&self.pool)
            .await;
        self.pool.close().await;
    }
}

/// A token as the original's encryption.ts writes it: Fernet, in standard base64 without
/// padding.
fn original_token(key_b64: &str, plaintext: &str) -> String {
    let raw = base64::engine::general_purpose::STANDARD
        .decode(key_b64)
        .unwrap();
    let fernet =
        fernet::Fernet::new(&base64::engine::general_purpose::URL_SAFE.encode(raw)).unwrap();
    fernet
        .encrypt(plaintext.as_bytes())
        .trim_end_matches('=')
        .replace('-', "+")
        .replace('_', "/")
}

fn new_encryption_key() -> String {
    base64::engine::general_purpose::STANDARD.encode(rand::random::<[u8; 32]>())
}

const UPSTREAM_ID: &str = "0b9a4f3e-6a4e-4f7a-9c55-3d2f1e0a1b01";
const KEY_ID: &str = "5e1f2a3b-4c5d-4e6f-8a9b-0c1d2e3f4a5b";
/// A client key in the original's format (`sk-auto-` + 43 base64url characters).
const CLIENT_KEY: &str = "sk-auto-OrIgInAlKeY0123456789abcdefghijklmnopqRSTU";

fn import_js(vars: &[(&str, &str)], url: &str, dry_run: bool) -> Value {
    let mut cmd = binary(vars);
    cmd.args(["import", "--from-autorouter-js", url, "--json"]);
    if dry_run {
        cmd.arg("--dry-run");
    }
    let (code, out, err) = run(&mut cmd);
    assert_eq!(code, 0, "{out}{err}");
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}"))
}

async fn key_digest(app: &TestApp) -> Option<String> {
    sqlx::query_scalar::<_, Option<String>>("SELECT key_digest FROM api_keys WHERE id = $1")
        .bind(KEY_ID)
        .fetch_one(&app.state.db.pool)
        .await
        .unwrap()
}

async fn wait_for_key(app: &TestApp, key: &str) -> reqwest::Response {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let res = app
            .client
            .post(app.url("/v1/chat/completions"))
            .bearer_auth(key)
            .json(&json!({"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]}))
            .send()
            .await
            .unwrap();
        if res.status() != 401 || std::time::Instant::now() > deadline {
            return res;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn from_autorouter_js_january_layout_postgres() {
    let upstream_secret = "sk-original-upstream-secret-0123456789";
    let mock = MockUpstream::start_with(Knobs {
        require_auth: Some(upstream_secret.into()),
        ..Knobs::default()
    })
    .await;
    let key_b64 = new_encryption_key();
    let original =
        OriginalDb::create(include_str!("fixtures/autorouter_js_january_2026.sql")).await;
    let token = original_token(&key_b64, upstream_secret);
    assert!(token.contains('+') || token.contains('/') || !token.ends_with('='));
    original
        .exec(&format!(
            "INSERT INTO upstreams (id, name, provider, base_url, api_key_encrypted, timeout, weight, allowed_models, model_redirects) \
             VALUES ('{UPSTREAM_ID}', 'orig-openai', 'openai', '{}', '{token}', 45, 2, '[\"gpt-*\"]', '{{\"gpt-alias\": \"gpt-4o-mini\"}}')",
            mock.base_url
        ))
        .await;
    original
        .exec(&format!(
            "INSERT INTO circuit_breaker_states (upstream_id, config) VALUES ('{UPSTREAM_ID}', \
             '{{\"failureThreshold\": 7, \"openDuration\": 90000, \"probeInterval\": 10000}}')"
        ))
        .await;
    let hash = bcrypt::hash(CLIENT_KEY, 10).unwrap();
    original
        .exec(&format!(
            "INSERT INTO api_keys (id, key_hash, key_prefix, name, description) \
             VALUES ('{KEY_ID}', '{hash}', '{}', 'original key', 'from the Next.js gateway')",
            &CLIENT_KEY[..12]
        ))
        .await;
    original
        .exec(&format!(
            "INSERT INTO api_key_upstreams (api_key_id, upstream_id) VALUES ('{KEY_ID}', '{UPSTREAM_ID}')"
        ))
        .await;
    for i in 0..3 {
        original
            .exec(&format!(
                "INSERT INTO request_logs (api_key_id, upstream_id, method, path, model, prompt_tokens, completion_tokens, total_tokens, status_code, duration_ms, created_at) \
                 VALUES ('{KEY_ID}', '{UPSTREAM_ID}', 'POST', 'chat/completions', 'gpt-4o-mini', 10, {i}, {}, 200, 120, now() - interval '{i} hours')",
                10 + i
            ))
            .await;
    }

    let app =
        TestApp::spawn_with(Backend::Postgres, &[PRIVATE, ("ENCRYPTION_KEY", &key_b64)]).await;
    let vars = [
        ("DATABASE_URL", app.database_url.as_str()),
        ("ENCRYPTION_KEY", key_b64.as_str()),
        ("ALLOW_PRIVATE_UPSTREAMS", "true"),
        ("DATA_DIR", app.data_dir.to_str().unwrap()),
    ];

    // A dry run reads and counts, and writes nothing.
    let dry = import_js(&vars, &original.url, true);
    assert_eq!(dry["layout"], "january-2026");
    assert_eq!(dry["upstreams"]["copied"], 1, "{dry}");
    assert_eq!(dry["keys"]["copied"], 1, "{dry}");
    assert_eq!(dry["request_logs"]["copied"], 3, "{dry}");
    let (_, ups) = app
        .admin_json(Method::GET, "/api/admin/upstreams", Value::Null)
        .await;
    assert_eq!(ups["total"], 0, "a dry run wrote {ups}");

    // A different ENCRYPTION_KEY is refused before anything is written.
    let other = new_encryption_key();
    let mut wrong = binary(&[
        ("DATABASE_URL", app.database_url.as_str()),
        ("ENCRYPTION_KEY", other.as_str()),
        ("DATA_DIR", app.data_dir.to_str().unwrap()),
    ]);
    wrong.args(["import", "--from-autorouter-js", &original.url]);
    let (code, out, err) = run(&mut wrong);
    assert_eq!(code, 1, "{out}{err}");
    assert!(err.contains("ENCRYPTION_KEY"), "{err}");
    assert!(!err.contains(upstream_secret));

    let summary = import_js(&vars, &original.url, false);
    assert_eq!(
        summary["upstreams"],
        json!({"copied": 1, "already": 0, "skipped": 0}),
        "{summary}"
    );
    assert_eq!(
        summary["keys"],
        json!({"copied": 1, "already": 0, "skipped": 0}),
        "{summary}"
    );
    assert_eq!(summary["links"]["copied"], 1);
    assert_eq!(summary["breaker_configs"]["copied"], 1);
    assert_eq!(summary["request_logs"]["copied"], 3);

    let (_, up) = app
        .admin_json(
            Method::GET,
            &format!("/api/admin/upstreams/{UPSTREAM_ID}"),
            Value::Null,
        )
        .await;
    assert_eq!(up["name"], "orig-openai", "{up}");
    assert_eq!(up["provider"], "openai");
    assert_eq!(up["timeout_ms"], 45_000);
    assert_eq!(up["weight"], 2);
    assert_eq!(up["allowed_models"], json!(["gpt-*"]));
    assert_eq!(up["model_redirects"]["gpt-alias"], "gpt-4o-mini");
    assert_eq!(up["circuit_breaker"]["failure_threshold"], 7);
    assert_eq!(up["circuit_breaker"]["open_duration_ms"], 90_000);
    let (_, key) = app
        .admin_json(
            Method::GET,
            &format!("/api/admin/keys/{KEY_ID}"),
            Value::Null,
        )
        .await;
    assert_eq!(key["key_prefix"], &CLIENT_KEY[..12]);
    assert_eq!(key["upstream_ids"], json!([UPSTREAM_ID]));

    // The key issued by the original authenticates here, unchanged, through the bcrypt path
    // (this gateway learns of it at its next routing refresh), and the upstream's key decrypts.
    assert_eq!(
        key_digest(&app).await,
        None,
        "an imported key has only its bcrypt hash"
    );
    let res = wait_for_key(&app, CLIENT_KEY).await;
    assert_eq!(res.status(), 200, "{}", res.text().await.unwrap());
    // Its first use stored its digest, as for any key made before digests were kept.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    let expected = autorouter::server::crypto::digest_hex(&autorouter::server::crypto::sha256(
        CLIENT_KEY.as_bytes(),
    ));
    while key_digest(&app).await.as_deref() != Some(expected.as_str()) {
        assert!(
            std::time::Instant::now() < deadline,
            "the key's digest was never stored"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(
        mock.last().unwrap().header("authorization"),
        Some(format!("Bearer {upstream_secret}").as_str())
    );
    let wrong_key = format!("{}x", &CLIENT_KEY[..CLIENT_KEY.len() - 1]);
    let res = app
        .client
        .get(app.url("/v1/models"))
        .bearer_auth(&wrong_key)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
    // The copied logs are there with the one just proxied.
    let logs = app.logs(4).await;
    assert_eq!(
        logs.iter().filter(|l| l["api_key_id"] == KEY_ID).count(),
        4,
        "{logs:?}"
    );

    // Twice: nothing copied again.
    let again = import_js(&vars, &original.url, false);
    assert_eq!(
        again["upstreams"],
        json!({"copied": 0, "already": 1, "skipped": 0}),
        "{again}"
    );
    assert_eq!(
        again["keys"],
        json!({"copied": 0, "already": 1, "skipped": 0})
    );
    assert_eq!(
        again["request_logs"],
        json!({"copied": 0, "already": 3, "skipped": 0})
    );
    let logs = app.logs(4).await;
    assert_eq!(logs.len(), 4, "{logs:?}");

    app.cleanup().await;
    original.drop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn from_autorouter_js_current_layout_postgres() {
    let upstream_secret = "sk-ant-original-upstream-0123456789";
    let mock = MockUpstream::start().await;
    let key_b64 = new_encryption_key();
    let original = OriginalDb::create(include_str!("fixtures/autorouter_js_current.sql")).await;
    let token = original_token(&key_b64, upstream_secret);
    original
        .exec(&format!(
            "INSERT INTO upstreams (id, name, base_url, api_key_encrypted, timeout, priority, route_capabilities) \
             VALUES ('{UPSTREAM_ID}', 'orig-claude', '{}', '{token}', 600, 3, '[\"anthropic_messages\"]')",
            mock.base_url
        ))
        .await;
    let hash = bcrypt::hash(CLIENT_KEY, 10).unwrap();
    // Unrestricted: no links, every upstream.
    original
        .exec(&format!(
            "INSERT INTO api_keys (id, key_hash, key_prefix, name, access_mode, spending_rules) \
             VALUES ('{KEY_ID}', '{hash}', '{}', 'unrestricted key', 'unrestricted', '[]')",
            &CLIENT_KEY[..12]
        ))
        .await;
    original
        .exec(&format!(
            "INSERT INTO request_logs (api_key_id, upstream_id, method, path, model, total_tokens, status_code, is_stream, ttft_ms) \
             VALUES ('{KEY_ID}', '{UPSTREAM_ID}', 'POST', 'messages', 'claude-sonnet-4-5', 42, 200, true, 300)"
        ))
        .await;
    let app =
        TestApp::spawn_with(Backend::Postgres, &[PRIVATE, ("ENCRYPTION_KEY", &key_b64)]).await;
    let vars = [
        ("DATABASE_URL", app.database_url.as_str()),
        ("ENCRYPTION_KEY", key_b64.as_str()),
        ("ALLOW_PRIVATE_UPSTREAMS", "true"),
        ("DATA_DIR", app.data_dir.to_str().unwrap()),
    ];
    let summary = import_js(&vars, &original.url, false);
    assert_eq!(summary["layout"], "current", "{summary}");
    assert_eq!(summary["upstreams"]["copied"], 1, "{summary}");
    assert_eq!(summary["keys"]["copied"], 1, "{summary}");
    assert_eq!(summary["links"]["copied"], 1, "{summary}");
    assert_eq!(summary["request_logs"]["copied"], 1, "{summary}");
    let (_, up) = app
        .admin_json(
            Method::GET,
            &format!("/api/admin/upstreams/{UPSTREAM_ID}"),
            Value::Null,
        )
        .await;
    assert_eq!(up["provider"], "anthropic", "{up}");
    assert_eq!(up["priority"], 3);
    assert_eq!(up["timeout_ms"], 600_000);
    // The key authenticates: its model list answers (401 until the routing refresh sees it).
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let res = app
            .client
            .get(app.url("/v1/models"))
            .bearer_auth(CLIENT_KEY)
            .send()
            .await
            .unwrap();
        if res.status() == 200 {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the imported key never authenticated"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let again = import_js(&vars, &original.url, false);
    assert_eq!(again["keys"]["already"], 1, "{again}");
    assert_eq!(again["request_logs"]["already"], 1, "{again}");
    app.cleanup().await;
    original.drop().await;
}
