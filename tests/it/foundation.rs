//! Foundation over real HTTP on both backends: health, request ids, JSON 404s, admin auth,
//! sessions, login throttling, page guards, locale redirects, schema.
use crate::common;

use common::{TestApp, ADMIN_TOKEN};
use serde_json::Value;

async fn json(res: reqwest::Response) -> Value {
    res.json().await.expect("JSON body")
}

async fn health_reports_database_and_version(app: &TestApp) {
    let res = app.get("/api/health").await;
    assert_eq!(res.status(), 200);
    let body = json(res).await;
    assert_eq!(body["status"], "healthy");
    assert_eq!(body["database"], "ok");
    assert_eq!(body["version"], env!("CARGO_PKG_VERSION"));
}

async fn every_response_has_a_distinct_request_id(app: &TestApp) {
    let mut seen = std::collections::HashSet::new();
    for path in ["/api/health", "/api/health", "/api/nope", "/en/login", "/"] {
        let res = app.get(path).await;
        let id = res
            .headers()
            .get("x-request-id")
            .expect("x-request-id")
            .to_str()
            .unwrap()
            .to_string();
        assert_eq!(id.len(), 32, "{path}: {id}");
        assert!(seen.insert(id), "request ids repeat");
    }
}

async fn unknown_api_paths_answer_json_404(app: &TestApp) {
    for path in ["/api/nope", "/api/proxy-typo/x", "/api"] {
        let res = app.get(path).await;
        assert_eq!(res.status(), 404, "{path}");
        assert!(res.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/json"));
        let body = json(res).await;
        assert_eq!(body["error"]["type"], "not_found");
        assert!(body["error"]["message"].as_str().unwrap().contains(path));
    }
    // Signed in, an unknown admin route is a JSON 404 too.
    let res = app.admin_get("/api/admin/does-not-exist").await;
    assert_eq!(res.status(), 404);
    assert_eq!(json(res).await["error"]["type"], "not_found");
}

async fn admin_api_requires_credentials(app: &TestApp) {
    let res = app.get("/api/admin/session").await;
    assert_eq!(res.status(), 401);
    let body = json(res).await;
    assert_eq!(body["error"]["type"], "unauthorized");
    assert!(body["error"]["message"].is_string());

    let res = app
        .client
        .get(app.url("/api/admin/session"))
        .bearer_auth("wrong-token-wrong-token")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);

    let res = app.admin_get("/api/admin/session").await;
    assert_eq!(res.status(), 200);
    assert_eq!(json(res).await["authenticated"], true);

    // Unknown admin paths do not reveal themselves without credentials.
    assert_eq!(app.get("/api/admin/keys-typo").await.status(), 401);
}

async fn ui_server_functions_require_a_session(app: &TestApp) {
    let res = app
        .client
        .post(app.url("/api/ui/some_admin_call"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
    assert_eq!(json(res).await["error"]["type"], "unauthorized");
}

async fn login_sets_a_signed_http_only_cookie(app: &TestApp) {
    let res = app
        .client
        .post(app.url("/api/ui/login"))
        .form(&[("token", ADMIN_TOKEN)])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let cookie = res.headers()["set-cookie"].to_str().unwrap().to_string();
    assert!(cookie.starts_with("ar_session="));
    assert!(cookie.contains("HttpOnly"));
    assert!(cookie.contains("SameSite=Strict"));
    assert!(
        !cookie.contains("Secure"),
        "plain HTTP must not mark the cookie Secure"
    );
    assert!(
        !cookie.contains(ADMIN_TOKEN),
        "the cookie never holds the raw token"
    );
    assert_eq!(res.text().await.unwrap(), "\"SignedIn\"");

    let pair = cookie.split(';').next().unwrap();
    let res = app
        .client
        .get(app.url("/api/admin/session"))
        .header("cookie", pair)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);

    // A forged or altered cookie is refused.
    let forged = format!("{}x", pair);
    let res = app
        .client
        .get(app.url("/api/admin/session"))
        .header("cookie", forged)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);

    // A client's own claim to have come over HTTPS counts for nothing...
    let res = app
        .client
        .post(app.url("/api/ui/login"))
        .header("x-forwarded-proto", "https")
        .form(&[("token", ADMIN_TOKEN)])
        .send()
        .await
        .unwrap();
    assert!(!res.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .contains("Secure"));
    // ...but behind a trusted TLS-terminating proxy the cookie is Secure and `__Host-`.
    let proxied = app
        .another_instance(&[("TRUSTED_PROXIES", "127.0.0.1")])
        .await;
    let res = proxied
        .client
        .post(proxied.url("/api/ui/login"))
        .header("x-forwarded-proto", "https")
        .form(&[("token", ADMIN_TOKEN)])
        .send()
        .await
        .unwrap();
    let cookie = res.headers()["set-cookie"].to_str().unwrap().to_string();
    assert!(
        cookie.starts_with("__Host-ar_session=") && cookie.contains("; Secure"),
        "{cookie}"
    );
    let pair = cookie.split(';').next().unwrap();
    let res = proxied
        .client
        .get(proxied.url("/api/admin/session"))
        .header("cookie", pair)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
}

async fn logout_clears_the_cookie(app: &TestApp) {
    let pair = app.login_cookie().await;
    let res = app
        .client
        .post(app.url("/api/ui/logout"))
        .header("cookie", &pair)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let cleared = res.headers()["set-cookie"].to_str().unwrap();
    assert!(cleared.starts_with("ar_session=;"));
    assert!(cleared.contains("Max-Age=0"));
}

async fn wrong_tokens_are_refused_then_slowed_down(app: &TestApp) {
    for _ in 0..5 {
        let res = app
            .client
            .post(app.url("/api/ui/login"))
            .form(&[("token", "not-the-admin-token")])
            .send()
            .await
            .unwrap();
        assert!(res.headers().get("set-cookie").is_none());
        assert_eq!(res.text().await.unwrap(), "\"InvalidToken\"");
    }
    // Locked out: a further wrong token is answered as throttled...
    let res = app
        .client
        .post(app.url("/api/ui/login"))
        .form(&[("token", "still-not-the-admin-token")])
        .send()
        .await
        .unwrap();
    assert!(res.headers().get("set-cookie").is_none());
    let body: Value = res.json().await.unwrap();
    let secs = body["Throttled"]["retry_after_secs"]
        .as_u64()
        .expect("throttled outcome");
    assert!((1..=60).contains(&secs), "{secs}");
    let res = app
        .client
        .get(app.url("/api/admin/session"))
        .bearer_auth("a-wrong-bearer-token")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 429, "the lock-out covers Bearer attempts too");
    assert!(res.headers().get("retry-after").is_some());
    // ...while the right token, from the same address, is never turned away by them.
    let res = app
        .client
        .post(app.url("/api/ui/login"))
        .form(&[("token", ADMIN_TOKEN)])
        .send()
        .await
        .unwrap();
    assert!(res.headers().get("set-cookie").is_some());
    assert_eq!(res.text().await.unwrap(), "\"SignedIn\"");
    assert_eq!(app.admin_get("/api/admin/session").await.status(), 200);
}

async fn dashboard_pages_redirect_to_login_without_a_session(app: &TestApp) {
    for (path, to) in [
        ("/en", "/en/login"),
        ("/en/keys", "/en/login"),
        ("/zh/upstreams", "/zh/login"),
        ("/en/logs", "/en/login"),
        ("/zh/circuit-breakers", "/zh/login"),
    ] {
        let res = app.get(path).await;
        assert_eq!(res.status(), 302, "{path}");
        assert_eq!(res.headers()["location"], to, "{path}");
    }
    let res = app.get("/en/login").await;
    assert_eq!(res.status(), 200);
    let html = res.text().await.unwrap();
    assert!(html.contains("Admin token"));
}

async fn signed_in_pages_render_in_their_locale(app: &TestApp) {
    let cookie = app.login_cookie().await;
    let page = |path: &'static str| {
        let cookie = cookie.clone();
        async move {
            let res = app
                .client
                .get(app.url(path))
                .header("cookie", cookie)
                .send()
                .await
                .unwrap();
            (res.status(), res.text().await.unwrap())
        }
    };
    let (status, html) = page("/en/keys").await;
    assert_eq!(status, 200);
    assert!(html.contains("API keys") && html.contains("Sign out"));
    let (status, html) = page("/zh/keys").await;
    assert_eq!(status, 200);
    assert!(html.contains("API 密钥") && html.contains("退出登录"));
    assert!(html.contains("lang=\"zh\""));
    // Signed in, the login page sends you to the dashboard.
    let res = app
        .client
        .get(app.url("/zh/login"))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 302);
    assert_eq!(res.headers()["location"], "/zh");
    // Unknown pages are 404s.
    let (status, _) = page("/en/no-such-page").await;
    assert_eq!(status, 404);
}

async fn root_picks_locale_from_cookie_then_accept_language(app: &TestApp) {
    let go = |headers: Vec<(&'static str, &'static str)>| async move {
        let mut req = app.client.get(app.url("/"));
        for (k, v) in headers {
            req = req.header(k, v);
        }
        let res = req.send().await.unwrap();
        assert_eq!(res.status(), 302);
        res.headers()["location"].to_str().unwrap().to_string()
    };
    assert_eq!(go(vec![]).await, "/en");
    assert_eq!(go(vec![("accept-language", "zh-CN,zh;q=0.9")]).await, "/zh");
    assert_eq!(go(vec![("accept-language", "fr-FR,en;q=0.5")]).await, "/en");
    assert_eq!(
        go(vec![
            ("accept-language", "en-US"),
            ("cookie", "i18n_pref_locale=zh")
        ])
        .await,
        "/zh"
    );
}

async fn schema_has_every_table_the_gateway_needs(app: &TestApp) {
    // A second start on the same database re-runs migrations idempotently, then every table answers.
    let kind = match app.backend {
        common::Backend::Sqlite => autorouter::server::config::DatabaseKind::Sqlite,
        common::Backend::Postgres => autorouter::server::config::DatabaseKind::Postgres,
    };
    let db = autorouter::server::db::Database::connect_url(&app.database_url, kind, 1, 2)
        .await
        .unwrap();
    check_tables(&db).await;
    db.pool.close().await;
}

async fn check_tables(db: &autorouter::server::db::Database) {
    for table in [
        "api_keys",
        "upstreams",
        "api_key_upstreams",
        "upstream_health",
        "circuit_breaker_states",
        "settings",
        "request_logs",
    ] {
        let n: i64 = sqlx::query_scalar(&format!("SELECT COUNT(*) FROM {table}"))
            .fetch_one(&db.pool)
            .await
            .unwrap_or_else(|e| panic!("{table}: {e}"));
        assert_eq!(n, 0, "{table}");
    }
}

both_backends!(
    health_reports_database_and_version,
    every_response_has_a_distinct_request_id,
    unknown_api_paths_answer_json_404,
    admin_api_requires_credentials,
    ui_server_functions_require_a_session,
    login_sets_a_signed_http_only_cookie,
    logout_clears_the_cookie,
    wrong_tokens_are_refused_then_slowed_down,
    dashboard_pages_redirect_to_login_without_a_session,
    signed_in_pages_render_in_their_locale,
    root_picks_locale_from_cookie_then_accept_language,
    schema_has_every_table_the_gateway_needs,
);
