//! Trust boundaries: what an anonymous caller can reach of the admin's data, however the path
//! is spelled. Paths go over a raw socket, exactly as written: an HTTP client library would
//! normalise dot segments and could re-encode the rest.
use crate::common;

use common::mock_upstream::MockUpstream;
use common::TestApp;
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const UPSTREAM_NAME: &str = "upstream-only-the-admin-may-see";
const KEY_NAME: &str = "key-only-the-admin-may-see";

/// Sends `method path` as written and returns the status and the whole answer as text.
async fn raw(app: &TestApp, method: &str, path: &str, headers: &[(&str, &str)]) -> (u16, String) {
    raw_with_body(app, method, path, headers, "").await
}

async fn raw_with_body(
    app: &TestApp,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> (u16, String) {
    let mut stream = tokio::net::TcpStream::connect(app.addr).await.unwrap();
    let mut request = format!(
        "{method} {path} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\nContent-Length: {}\r\n",
        app.addr,
        body.len()
    );
    for (k, v) in headers {
        request.push_str(&format!("{k}: {v}\r\n"));
    }
    request.push_str("\r\n");
    request.push_str(body);
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut answer = Vec::new();
    tokio::time::timeout(
        std::time::Duration::from_secs(20),
        stream.read_to_end(&mut answer),
    )
    .await
    .unwrap_or_else(|_| {
        panic!(
            "no complete answer to {method} {path} within 20 s: {:.300}",
            String::from_utf8_lossy(&answer)
        )
    })
    .unwrap();
    let text = String::from_utf8_lossy(&answer).into_owned();
    let status = text
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no status line for {path}: {text:.200}"));
    (status, text)
}

async fn seed(app: &TestApp) {
    let upstream = app
        .upstream(json!({"name": UPSTREAM_NAME, "provider": "openai", "base_url": "https://api.openai.com/v1", "api_key": "sk-upstream-secret-0001"}))
        .await;
    let res = app
        .admin_json(
            reqwest::Method::POST,
            "/api/admin/keys",
            json!({"name": KEY_NAME, "upstream_ids": [upstream]}),
        )
        .await;
    assert_eq!(res.0, 201, "{}", res.1);
}

/// The ways one page can be spelled that a router may still take for it.
fn spellings(locale: &str, page: &str) -> Vec<String> {
    let first = locale.as_bytes()[0];
    let encoded_first = format!("%{first:02x}{}", &locale[1..]);
    let encoded_all: String = locale.bytes().map(|b| format!("%{b:02X}")).collect();
    let upper = locale.to_uppercase();
    let mixed = format!("{}{}", &upper[..1], &locale[1..]);
    let mut out = vec![
        format!("/{encoded_first}{page}"),
        format!("/{encoded_all}{page}"),
        format!("//{locale}{page}"),
        format!("/{locale}{page}/"),
        format!("/{locale}/{page}"),
        format!("/{upper}{page}"),
        format!("/{mixed}{page}"),
        format!("/{locale}/../{locale}{page}"),
        format!("/{locale}/%2e%2e/{locale}{page}"),
        format!("/x/../{locale}{page}"),
        format!("/{locale}/login/..{page}"),
    ];
    if !page.is_empty() {
        let encoded_page: String = page
            .bytes()
            .map(|b| {
                if b == b'/' {
                    "/".to_string()
                } else {
                    format!("%{b:02x}")
                }
            })
            .collect();
        out.push(format!("/{locale}{encoded_page}"));
        out.push(format!("/{encoded_first}{}", page.to_uppercase()));
    }
    out
}

fn no_admin_data(what: &str, status: u16, text: &str) {
    assert!(
        matches!(status, 302 | 303 | 307 | 400 | 401 | 403 | 404),
        "{what}: answered {status} to a caller without a session"
    );
    assert!(
        !text.contains(UPSTREAM_NAME) && !text.contains(KEY_NAME),
        "{what}: admin data reached a caller without a session"
    );
}

async fn pages_show_no_admin_data_without_a_session_however_spelled(app: &TestApp) {
    seed(app).await;
    // The check can fail: signed in, the same pages do show the seeded names.
    let cookie = app.login_cookie().await;
    let (status, text) = raw(app, "GET", "/en/keys", &[("Cookie", &cookie)]).await;
    assert_eq!(status, 200);
    assert!(
        text.contains(KEY_NAME),
        "the signed-in keys page lists the key"
    );
    let (_, text) = raw(app, "GET", "/zh/upstreams", &[("Cookie", &cookie)]).await;
    assert!(
        text.contains(UPSTREAM_NAME),
        "the signed-in upstreams page lists the upstream"
    );

    for locale in ["en", "zh"] {
        for page in ["", "/keys", "/upstreams", "/logs", "/circuit-breakers"] {
            for path in spellings(locale, page) {
                let (status, text) = raw(app, "GET", &path, &[]).await;
                no_admin_data(&path, status, &text);
            }
        }
    }
}

async fn every_server_function_checks_the_caller(app: &TestApp) {
    seed(app).await;
    let public = ["/api/ui/login", "/api/ui/logout"];
    let functions: Vec<String> = leptos::server_fn::axum::server_fn_paths()
        .map(|(path, _)| path.to_string())
        .filter(|p| !public.contains(&p.as_str()))
        .collect();
    assert!(
        functions.len() >= 10,
        "found the server functions: {functions:?}"
    );
    for function in &functions {
        let below = function.strip_prefix("/api/ui/").unwrap();
        for path in [
            function.clone(),
            format!("{function}/"),
            format!("/api/ui//{below}"),
            format!("/api//ui/{below}"),
            format!("/api/%75i/{below}"),
            format!("/API/ui/{below}"),
            format!("/api/ui/x/../{below}"),
            format!("/api/ui/%2e%2e/ui/{below}"),
            format!("/api/admin{function}"),
        ] {
            for method in ["GET", "POST"] {
                let (status, text) = raw(app, method, &path, &[]).await;
                no_admin_data(&format!("{method} {path}"), status, &text);
                assert!(
                    status != 302,
                    "{method} {path}: a redirect is no answer for an API"
                );
            }
        }
        let origin = format!("http://{}", app.addr);
        let (status, _) = raw(app, "POST", function, &[("Origin", &origin)]).await;
        assert_eq!(status, 401, "POST {function} without a session");
        let (status, _) = raw(app, "POST", function, &[]).await;
        assert_eq!(status, 403, "POST {function} from no known origin");
    }
}

/// `/api/admin` strips its prefix before its guard runs: the sign-in function's path below it
/// must not count as public.
async fn public_paths_are_judged_before_the_admin_prefix_is_stripped(app: &TestApp) {
    for path in ["/api/admin/api/ui/login", "/api/admin/api/ui/logout"] {
        let (status, text) = raw(app, "POST", path, &[]).await;
        assert_eq!(status, 401, "{path}: {text:.300}");
        let (status, _) = raw(app, "GET", path, &[]).await;
        assert_eq!(status, 401, "{path}");
    }
}

/// The functions a page calls while it renders are plain calls on the server, which no HTTP
/// guard sees: each checks the caller itself.
async fn admin_functions_refuse_a_caller_without_a_session_when_called_directly(app: &TestApp) {
    use leptos::prelude::{provide_context, Owner};
    seed(app).await;
    let call = |cookie: Option<String>| {
        let state = app.state.clone();
        async move {
            let owner = Owner::new();
            owner.set();
            provide_context(state);
            let mut request = axum::http::Request::builder().uri("/en/keys");
            if let Some(cookie) = cookie {
                request = request.header("cookie", cookie);
            }
            let (parts, ()) = request.body(()).unwrap().into_parts();
            provide_context(parts);
            autorouter::api::keys::list_keys(1, String::new()).await
        }
    };
    let refused = call(None).await.expect_err("no session, no keys");
    assert_eq!(refused.kind, "unauthorized");
    let forged = call(Some("ar_session=forged.value".into())).await;
    assert_eq!(
        forged.expect_err("a forged session is refused").kind,
        "unauthorized"
    );
    let screen = call(Some(app.login_cookie().await))
        .await
        .expect("the admin's session is let in");
    let listed: Value = serde_json::to_value(&screen.page.items).unwrap();
    assert!(listed.to_string().contains(KEY_NAME));
}

/// The body of an answer read by `raw`, as JSON.
fn body_json(text: &str) -> Value {
    let body = text.split_once("\r\n\r\n").map_or("", |(_, b)| b);
    serde_json::from_str(body).unwrap_or_else(|_| panic!("not JSON: {text:.400}"))
}

async fn client_keys_reach_only_the_documented_endpoints(app: &TestApp) {
    let mock = MockUpstream::start().await;
    let id = app
        .upstream(json!({"name": "tenant-upstream", "provider": "openai", "base_url": mock.base_url, "api_key": "sk-shared-provider-key", "allowed_models": ["gpt-4o-mini"]}))
        .await;
    let (_, key) = app.key(&[&id]).await;
    let bearer = format!("Bearer {key}");
    let auth = [
        ("Authorization", bearer.as_str()),
        ("Content-Type", "application/json"),
    ];
    let body = r#"{"model": "gpt-4o-mini", "messages": []}"#;
    for (method, path) in [
        ("DELETE", "/v1/files/file-abc"),
        ("GET", "/v1/files"),
        ("POST", "/v1/files"),
        ("POST", "/v1/batches"),
        ("POST", "/v1/fine_tuning/jobs"),
        ("GET", "/v1/chat/completions"),
        ("GET", "/v1/chat/completions/chatcmpl-other-tenant"),
        ("DELETE", "/v1/chat/completions/chatcmpl-other-tenant"),
        ("POST", "/v1/assistants"),
        ("POST", "/v1/vector_stores"),
        ("POST", "/v1/chat/../files"),
        ("POST", "/v1/chat/%2e%2e/files"),
        ("POST", "/v1/%2E%2E/%2E%2E/admin"),
        ("POST", "/v1/chat%2fcompletions"),
        ("POST", "/api/proxy/v1/chat/%2e%2e/%2e%2e/files"),
        ("POST", "/v1/chat/completions/"),
    ] {
        let (status, text) = raw_with_body(app, method, path, &auth, body).await;
        assert_eq!(status, 404, "{method} {path}: {text:.400}");
        let error = &body_json(&text)["error"];
        assert_eq!(error["type"], "invalid_request_error", "{method} {path}");
        assert_eq!(error["code"], "unknown_url", "{method} {path}");
    }
    // Anthropic's paths are refused in Anthropic's format.
    let anthropic = [
        ("x-api-key", key.as_str()),
        ("Content-Type", "application/json"),
    ];
    let (status, text) = raw_with_body(app, "POST", "/v1/messages/batches", &anthropic, body).await;
    assert_eq!(status, 404);
    let answer = body_json(&text);
    assert_eq!(answer["type"], "error");
    assert_eq!(answer["error"]["type"], "not_found_error");
    // Another tenant's stored response: the gateway never saw this key make it.
    let (status, text) =
        raw_with_body(app, "GET", "/v1/responses/resp_other_tenant", &auth, "").await;
    assert_eq!(status, 404, "{text:.400}");
    assert_eq!(body_json(&text)["error"]["type"], "invalid_request_error");
    assert_eq!(mock.hits(), 0, "no refused request reached the upstream");

    // The documented ones still pass, and the gateway answers for a model by name.
    let (status, text) = raw_with_body(app, "POST", "/v1/chat/completions", &auth, body).await;
    assert_eq!(status, 200, "{text:.600}");
    assert_eq!(mock.last().unwrap().path, "/v1/chat/completions");
    let (status, text) = raw(app, "GET", "/v1/models/gpt-4o-mini", &auth).await;
    assert_eq!(status, 200);
    assert_eq!(body_json(&text)["id"], "gpt-4o-mini");
    let (status, text) = raw(app, "GET", "/v1/models/gpt-not-served", &auth).await;
    assert_eq!(status, 404);
    assert_eq!(body_json(&text)["error"]["code"], "model_not_found");
    assert_eq!(mock.hits(), 1);
}

async fn headers_cross_by_allowlist_both_ways(app: &TestApp) {
    let mock = MockUpstream::start().await;
    let id = app
        .upstream(json!({"name": "header-upstream", "provider": "openai", "base_url": mock.base_url, "api_key": "sk-shared-provider-key"}))
        .await;
    let (_, key) = app.key(&[&id]).await;
    let res = app
        .client
        .post(app.url("/v1/chat/completions"))
        .bearer_auth(&key)
        .header("OpenAI-Organization", "org-other-tenant")
        .header("OpenAI-Project", "proj-other-tenant")
        .header("X-Forwarded-For", "203.0.113.9")
        .header("X-Real-IP", "203.0.113.9")
        .header("Forwarded", "for=203.0.113.9")
        .header("True-Client-IP", "203.0.113.9")
        .header("X-Stainless-Lang", "python")
        .json(&json!({"model": "gpt-4o-mini", "messages": []}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    for name in [
        "set-cookie",
        "alt-svc",
        "strict-transport-security",
        "openai-organization",
        "openai-project",
    ] {
        assert!(
            res.headers().get(name).is_none(),
            "{name} reached the client"
        );
    }
    assert!(
        res.headers()
            .get("x-ratelimit-remaining-requests")
            .is_some(),
        "rate-limit headers pass"
    );
    let seen = mock.last().unwrap();
    for name in [
        "openai-organization",
        "openai-project",
        "x-forwarded-for",
        "x-real-ip",
        "forwarded",
        "true-client-ip",
    ] {
        assert_eq!(seen.header(name), None, "{name} reached the upstream");
    }
    assert_eq!(seen.header("x-stainless-lang"), Some("python"));
}

async fn clients_get_generic_upstream_errors(app: &TestApp) {
    // An upstream on a closed local port: the connection is refused.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    let id = app
        .upstream(json!({"name": "refusing-upstream", "provider": "openai", "base_url": format!("http://127.0.0.1:{port}/v1"), "api_key": "sk-x"}))
        .await;
    let (_, key) = app.key(&[&id]).await;
    let res = app
        .client
        .post(app.url("/v1/chat/completions"))
        .bearer_auth(&key)
        .json(&json!({"model": "gpt-4o-mini", "messages": []}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 502);
    let text = res.text().await.unwrap();
    let body: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(body["error"]["message"], "upstream unavailable");
    for leak in [
        "127.0.0.1",
        &port.to_string(),
        "refused",
        "tcp",
        "os error",
        "refusing-upstream",
    ] {
        assert!(
            !text.contains(leak),
            "the client's error names {leak}: {text}"
        );
    }
    // The log keeps what happened.
    let logs = app.logs(1).await;
    let detail = logs[0]["error_message"]
        .as_str()
        .unwrap_or_default()
        .to_lowercase();
    assert!(
        detail.contains("refused") || detail.contains("connect"),
        "{detail}"
    );
}

async fn the_dashboards_calls_refuse_other_sites(app: &TestApp) {
    let upstream = app
        .upstream(json!({"name": "csrf-upstream", "provider": "openai", "base_url": "https://api.openai.com/v1", "api_key": "sk-x"}))
        .await;
    let cookie = app.login_cookie().await;
    let host = app.addr.to_string();
    let own = format!("http://{host}");
    let create =
        |name: &str| json!({"input": {"name": name, "upstream_ids": [upstream]}}).to_string();
    let keys = || async {
        let (_, page) = app
            .admin_json(
                reqwest::Method::GET,
                "/api/admin/keys?page_size=100",
                Value::Null,
            )
            .await;
        page["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|k| k["name"].as_str().unwrap().to_string())
            .collect::<Vec<_>>()
    };
    // (case, extra headers, whether the call is let through)
    for (case, extra, allowed) in [
        (
            "another site's Origin",
            vec![("Origin", "http://127.0.0.1:9999")],
            false,
        ),
        ("an opaque Origin", vec![("Origin", "null")], false),
        (
            "a cross-site fetch",
            vec![("Sec-Fetch-Site", "cross-site"), ("Origin", own.as_str())],
            false,
        ),
        (
            "a same-site fetch from another port",
            vec![("Sec-Fetch-Site", "same-site")],
            false,
        ),
        ("no Origin at all", vec![], false),
        ("its own Origin", vec![("Origin", own.as_str())], true),
        (
            "a same-origin fetch",
            vec![("Sec-Fetch-Site", "same-origin")],
            true,
        ),
    ] {
        let mut headers = vec![
            ("Cookie", cookie.as_str()),
            ("Content-Type", "application/json"),
            ("Accept", "application/json"),
        ];
        headers.extend(extra);
        let (status, text) =
            raw_with_body(app, "POST", "/api/ui/keys/create", &headers, &create(case)).await;
        assert_eq!(
            status,
            if allowed { 200 } else { 403 },
            "{case}: {text:.300}"
        );
        assert_eq!(
            keys().await.contains(&case.to_string()),
            allowed,
            "{case}: created or not as expected"
        );
    }
}

async fn session_status(app: &TestApp, cookie: &str) -> u16 {
    let (status, _) = raw(app, "GET", "/api/admin/session", &[("Cookie", cookie)]).await;
    status
}

async fn signing_out_revokes_the_session_and_its_copies(app: &TestApp) {
    let cookie = app.login_cookie().await;
    let other_browser = app.login_cookie().await;
    assert_eq!(session_status(app, &cookie).await, 200);
    let copy = cookie.clone();
    let origin = format!("http://{}", app.addr);
    let (status, _) = raw(
        app,
        "POST",
        "/api/ui/logout",
        &[("Cookie", &cookie), ("Origin", &origin)],
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(
        session_status(app, &copy).await,
        401,
        "a copy of a signed-out cookie still works"
    );
    let (status, text) = raw(app, "GET", "/en/keys", &[("Cookie", &copy)]).await;
    assert_eq!(status, 302, "{text:.200}");
    // Another instance on the same database refuses it too, and other sessions live on.
    let second = app.another_instance(&[]).await;
    assert_eq!(session_status(&second, &copy).await, 401);
    assert_eq!(session_status(&second, &other_browser).await, 200);
    assert_eq!(session_status(app, &other_browser).await, 200);
}

async fn signing_out_everywhere_ends_every_session(app: &TestApp) {
    let first = app.login_cookie().await;
    let second = app.login_cookie().await;
    let origin = format!("http://{}", app.addr);
    let (status, text) = raw(
        app,
        "POST",
        "/api/ui/logout-everywhere",
        &[("Cookie", &first), ("Origin", &origin)],
    )
    .await;
    assert_eq!(status, 200, "{text:.300}");
    assert_eq!(session_status(app, &first).await, 401);
    assert_eq!(session_status(app, &second).await, 401);
    // Anonymous callers cannot do it.
    let (status, _) = raw(
        app,
        "POST",
        "/api/ui/logout-everywhere",
        &[("Origin", &origin)],
    )
    .await;
    assert_eq!(status, 401);
    // Signing in again works.
    let fresh = app.login_cookie().await;
    assert_eq!(session_status(app, &fresh).await, 200);
}

async fn pages_carry_a_content_security_policy(app: &TestApp) {
    let res = app.get("/en/login").await;
    assert_eq!(res.status(), 200);
    let headers = res.headers().clone();
    let csp = headers["content-security-policy"]
        .to_str()
        .unwrap()
        .to_string();
    for directive in [
        "frame-ancestors 'none'",
        "object-src 'none'",
        "base-uri 'none'",
        "'wasm-unsafe-eval'",
    ] {
        assert!(csp.contains(directive), "{directive} missing from {csp}");
    }
    let script_src = csp
        .split(';')
        .map(str::trim)
        .find(|d| d.starts_with("script-src"))
        .expect("a script-src directive");
    assert!(!script_src.contains("'unsafe-inline'"), "{script_src}");
    let nonce = csp
        .split("'nonce-")
        .nth(1)
        .and_then(|rest| rest.split('\'').next())
        .expect("a script nonce");
    assert!(nonce.len() >= 16);
    let html = res.text().await.unwrap();
    // Every script of the page with something to run carries the nonce (an empty element runs
    // nothing, and browsers skip it before any policy check).
    let tag = format!("nonce=\"{nonce}\"");
    let scripts: Vec<&str> = html
        .split("<script")
        .skip(1)
        .filter(|rest| !rest.starts_with("></script>"))
        .map(|rest| rest.split('>').next().unwrap_or_default())
        .collect();
    assert!(scripts.len() >= 3, "{scripts:?}");
    for attributes in &scripts {
        assert!(
            attributes.contains(&tag),
            "a script without the nonce: <script{attributes}>"
        );
    }
    // A new page, a new nonce.
    let again = app.get("/en/login").await;
    assert!(!again.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .contains(nonce));
    assert_eq!(headers["x-content-type-options"], "nosniff");
    assert_eq!(headers["referrer-policy"], "same-origin");
    assert_eq!(headers["x-frame-options"], "DENY");
    let api = app.get("/api/health").await;
    assert_eq!(api.headers()["x-content-type-options"], "nosniff");
}

async fn an_upstream_moved_to_another_origin_needs_its_key_again(app: &TestApp) {
    let id = app
        .upstream(json!({"name": "moving", "provider": "openai", "base_url": "https://api.openai.com/v1", "api_key": "sk-for-openai-only"}))
        .await;
    let path = format!("/api/admin/upstreams/{id}");
    for elsewhere in [
        "https://api.anthropic.com/v1",
        "http://api.openai.com/v1",
        "https://api.openai.com:8443/v1",
    ] {
        let (status, body) = app
            .admin_json(reqwest::Method::PUT, &path, json!({"base_url": elsewhere}))
            .await;
        assert_eq!(status, 400, "{elsewhere}: {body}");
        assert_eq!(body["error"]["param"], "api_key");
        assert_eq!(body["error"]["code"], "required_for_new_origin");
    }
    let (_, kept) = app
        .admin_json(reqwest::Method::GET, &path, Value::Null)
        .await;
    assert_eq!(
        kept["base_url"], "https://api.openai.com/v1",
        "nothing changed"
    );
    // Another path on the same origin keeps the key; another origin with a new key is fine.
    let (status, _) = app
        .admin_json(
            reqwest::Method::PUT,
            &path,
            json!({"base_url": "https://API.openai.com/v2"}),
        )
        .await;
    assert_eq!(status, 200);
    let (status, moved) = app
        .admin_json(
            reqwest::Method::PUT,
            &path,
            json!({"base_url": "https://api.anthropic.com/v1", "api_key": "sk-for-anthropic"}),
        )
        .await;
    assert_eq!(status, 200, "{moved}");
}

async fn stored_copies(app: &TestApp) -> Vec<String> {
    sqlx::query_scalar::<_, String>("SELECT key_encrypted FROM api_keys")
        .fetch_all(&app.state.db.pool)
        .await
        .unwrap()
}

async fn a_revealable_copy_exists_only_while_revealing_is_allowed(app: &TestApp) {
    let upstream = app
        .upstream(json!({"name": "reveal-upstream", "provider": "openai", "base_url": "https://api.openai.com/v1", "api_key": "sk-x"}))
        .await;
    // Revealing is off (the default): no copy is kept.
    app.key(&[&upstream]).await;
    assert_eq!(stored_copies(app).await, vec![String::new()]);

    let revealing = app.another_instance(&[("ALLOW_KEY_REVEAL", "true")]).await;
    let (status, created) = revealing
        .admin_json(
            reqwest::Method::POST,
            "/api/admin/keys",
            json!({"name": "revealable", "upstream_ids": [upstream]}),
        )
        .await;
    assert_eq!(status, 201);
    let id = created["id"].as_str().unwrap().to_string();
    assert_eq!(
        stored_copies(app)
            .await
            .iter()
            .filter(|c| !c.is_empty())
            .count(),
        1
    );
    let reveal = format!("/api/admin/keys/{id}/reveal");
    let (status, shown) = revealing
        .admin_json(reqwest::Method::GET, &reveal, Value::Null)
        .await;
    assert_eq!((status, &shown["key_value"]), (200, &created["key_value"]));

    // A start with revealing off deletes the copies; turning it on again brings none back.
    let _strict = app.another_instance(&[]).await;
    assert!(stored_copies(app).await.iter().all(String::is_empty));
    let again = app.another_instance(&[("ALLOW_KEY_REVEAL", "true")]).await;
    let (status, body) = again
        .admin_json(reqwest::Method::GET, &reveal, Value::Null)
        .await;
    assert_eq!(status, 409, "{body}");
    assert!(!body
        .to_string()
        .contains(created["key_value"].as_str().unwrap()));
}

async fn a_key_is_found_by_its_digest_and_wrong_keys_cost_no_bcrypt(app: &TestApp) {
    let mock = MockUpstream::start().await;
    let id = app
        .upstream(json!({"name": "digest-upstream", "provider": "openai", "base_url": mock.base_url, "api_key": "sk-x"}))
        .await;
    let (key_id, key) = app.key(&[&id]).await;
    let send = |presented: String| async move {
        app.client
            .post(app.url("/v1/chat/completions"))
            .bearer_auth(presented)
            .json(&json!({"model": "gpt-4o-mini", "messages": []}))
            .send()
            .await
            .unwrap()
    };
    assert_eq!(send(key.clone()).await.status(), 200);
    // Wrong keys under the live key's prefix, and under unknown ones: one answer, no bcrypt.
    let prefix = &key[..12];
    for i in 0..20 {
        let wrong_here = format!(
            "{prefix}{}",
            "x".repeat(key.len() - 12 - 2) + &format!("{i:02}")
        );
        let res = send(wrong_here).await;
        assert_eq!(res.status(), 401);
        let body: Value = res.json().await.unwrap();
        assert_eq!(body["error"]["message"], "invalid API key");
        assert_eq!(
            send(format!("sk-auto-zz{i:02}{}", &key[12..]))
                .await
                .status(),
            401
        );
    }
    // Disabled: the same answer as a wrong key.
    app.admin_json(
        reqwest::Method::PUT,
        &format!("/api/admin/keys/{key_id}"),
        json!({"is_active": false}),
    )
    .await;
    let res = send(key.clone()).await;
    assert_eq!(res.status(), 401);
    assert_eq!(
        res.json::<Value>().await.unwrap()["error"]["message"],
        "invalid API key"
    );
    assert_eq!(
        app.state.plane.keys.bcrypt_runs(),
        0,
        "no bcrypt for keys with a stored digest"
    );
}

/// A key made before digests were stored is checked by bcrypt once, then stored by its digest.
async fn an_older_key_gets_its_digest_on_first_use(app: &TestApp) {
    let mock = MockUpstream::start().await;
    let upstream = app
        .upstream(json!({"name": "legacy-upstream", "provider": "openai", "base_url": mock.base_url, "api_key": "sk-x"}))
        .await;
    let key = "sk-auto-legacyKEYmadeBEFOREdigestsWEREkept0123456";
    let hash = bcrypt::hash(key, 4).unwrap();
    let now = common::now_ms();
    let pool = &app.state.db.pool;
    sqlx::query(
        "INSERT INTO api_keys (id, key_prefix, key_hash, key_encrypted, name, description, is_active, \
         expires_at, last_used_at, created_at, updated_at) \
         VALUES ('legacy-key', $1, $2, '', 'legacy', NULL, 1, NULL, NULL, $3, $3)",
    )
    .bind(&key[..12])
    .bind(&hash)
    .bind(now)
    .execute(pool)
    .await
    .unwrap();
    sqlx::query("INSERT INTO api_key_upstreams (api_key_id, upstream_id, created_at) VALUES ('legacy-key', $1, $2)")
        .bind(&upstream)
        .bind(now)
        .execute(pool)
        .await
        .unwrap();
    app.state.routing_changed().await;
    let res = app
        .client
        .post(app.url("/v1/chat/completions"))
        .bearer_auth(key)
        .json(&json!({"model": "gpt-4o-mini", "messages": []}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(app.state.plane.keys.bcrypt_runs(), 1);
    let expected: String =
        autorouter::server::crypto::digest_hex(&autorouter::server::crypto::sha256(key.as_bytes()));
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    loop {
        let stored: Option<String> =
            sqlx::query_scalar("SELECT key_digest FROM api_keys WHERE id = 'legacy-key'")
                .fetch_one(pool)
                .await
                .unwrap();
        if stored.as_deref() == Some(expected.as_str()) {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the digest was never stored"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

/// An upstream opts in to a path outside the endpoint table; only keys that may use it reach the
/// path, only on that upstream, only by POST, and the opt-in itself never lets a path climb.
async fn an_upstream_opts_in_to_more_paths(app: &TestApp) {
    let opted = MockUpstream::start().await;
    let other = MockUpstream::start().await;
    let bad = app
        .admin_json(
            reqwest::Method::POST,
            "/api/admin/upstreams",
            json!({"name": "climber", "provider": "openai", "base_url": opted.base_url, "api_key": "sk-x", "extra_paths": ["rerank/../files"]}),
        )
        .await;
    assert_eq!(bad.0, 400, "{}", bad.1);
    assert_eq!(bad.1["error"]["param"], "extra_paths", "{}", bad.1);
    let with = app
        .upstream(json!({"name": "opted-in", "provider": "openai", "base_url": opted.base_url, "api_key": "sk-x", "allowed_models": ["rerank-*"], "extra_paths": ["/v1/rerank", "rerank"]}))
        .await;
    let without = app
        .upstream(json!({"name": "not-opted-in", "provider": "openai", "base_url": other.base_url, "api_key": "sk-x", "allowed_models": ["rerank-*"]}))
        .await;
    let (_, view) = app
        .admin_json(
            reqwest::Method::GET,
            &format!("/api/admin/upstreams/{with}"),
            json!(null),
        )
        .await;
    assert_eq!(
        view["extra_paths"],
        json!(["rerank"]),
        "stored once, below /v1/"
    );
    let (_, key) = app.key(&[&with]).await;
    let (_, other_key) = app.key(&[&without]).await;
    let body = r#"{"model": "rerank-1", "query": "q", "documents": ["a"]}"#;
    let call = |key: String, method: &'static str, path: &'static str| async move {
        let bearer = format!("Bearer {key}");
        let headers = [
            ("Authorization", bearer.as_str()),
            ("Content-Type", "application/json"),
        ];
        raw_with_body(app, method, path, &headers, body).await
    };
    let (status, text) = call(key.clone(), "POST", "/v1/rerank").await;
    assert_eq!(status, 200, "{text:.400}");
    assert_eq!(opted.last().unwrap().path, "/v1/rerank");
    for (method, path) in [
        ("GET", "/v1/rerank"),
        ("POST", "/v1/rerank/../files"),
        ("POST", "/v1/rerank/%2e%2e/files"),
        ("POST", "/v1/v1/rerank"),
        ("POST", "/v1/files"),
    ] {
        let (status, text) = call(key.clone(), method, path).await;
        assert_eq!(status, 404, "{method} {path}: {text:.300}");
    }
    let (status, _) = call(other_key, "POST", "/v1/rerank").await;
    assert_eq!(status, 404, "a key whose upstreams did not opt in");
    assert_eq!(other.hits(), 0);
    assert_eq!(opted.hits(), 1);
    // Clearing the list closes the path again.
    let (status, _) = app
        .admin_json(
            reqwest::Method::PUT,
            &format!("/api/admin/upstreams/{with}"),
            json!({"extra_paths": []}),
        )
        .await;
    assert_eq!(status, 200);
    let (status, _) = call(key, "POST", "/v1/rerank").await;
    assert_eq!(status, 404);
    assert_eq!(opted.hits(), 1);
}

/// A flood of distinct wrong keys under a pre-digest key's prefix, from one source, costs a few
/// bcrypt checks run one at a time: a real key's first use from elsewhere is not held up.
async fn wrong_keys_from_one_source_cannot_delay_a_real_key(backend: common::Backend) {
    use std::time::{Duration, Instant};
    let app = TestApp::spawn_with(
        backend,
        &[
            ("ALLOW_PRIVATE_UPSTREAMS", "true"),
            ("TRUSTED_PROXIES", "127.0.0.1/32"),
        ],
    )
    .await;
    let mock = MockUpstream::start().await;
    let upstream = app
        .upstream(json!({"name": "legacy-upstream", "provider": "openai", "base_url": mock.base_url, "api_key": "sk-x"}))
        .await;
    // Two keys made before digests were kept, sharing one prefix, hashed at cost 10.
    let real = "sk-auto-legacyREALkeyMADEbeforeDIGESTSwereKEPT0001";
    let decoy = "sk-auto-legacyDECOYkeyMADEbeforeDIGESTSwereKEPT001";
    let now = common::now_ms();
    let pool = &app.state.db.pool;
    for (id, key) in [("real", real), ("decoy", decoy)] {
        sqlx::query(
            "INSERT INTO api_keys (id, key_prefix, key_hash, key_encrypted, name, description, is_active, \
             expires_at, last_used_at, created_at, updated_at) \
             VALUES ($1, $2, $3, '', $1, NULL, 1, NULL, NULL, $4, $4)",
        )
        .bind(id)
        .bind(&key[..12])
        .bind(bcrypt::hash(key, 10).unwrap())
        .bind(now)
        .execute(pool)
        .await
        .unwrap();
        sqlx::query("INSERT INTO api_key_upstreams (api_key_id, upstream_id, created_at) VALUES ($1, $2, $3)")
            .bind(id)
            .bind(&upstream)
            .bind(now)
            .execute(pool)
            .await
            .unwrap();
    }
    app.state.routing_changed().await;
    let send = |key: String, from: &'static str| {
        let (client, url) = (app.client.clone(), app.url("/v1/chat/completions"));
        async move {
            let started = Instant::now();
            let status = client
                .post(url)
                .bearer_auth(key)
                .header("X-Forwarded-For", from)
                .json(&json!({"model": "gpt-4o-mini", "messages": []}))
                .send()
                .await
                .unwrap()
                .status();
            (status.as_u16(), started.elapsed())
        }
    };
    // One key check at that cost, unhurried: what a real key's first use costs alone.
    let (status, alone) = send(decoy.to_string(), "10.9.9.9").await;
    assert_eq!(status, 200);
    // Sixty distinct wrong keys under the shared prefix, all at once from one source.
    let flood: Vec<_> = (0..60)
        .map(|i| tokio::spawn(send(format!("sk-auto-legacyWRONG{i:0>31}"), "10.6.6.6")))
        .collect();
    tokio::time::sleep(Duration::from_millis(50)).await;
    let (status, real_took) = send(real.to_string(), "10.1.1.1").await;
    assert_eq!(status, 200);
    for task in flood {
        assert_eq!(task.await.unwrap().0, 401);
    }
    assert!(
        real_took < alone * 3 + Duration::from_millis(100),
        "the real key took {real_took:?}; a key check alone takes {alone:?}"
    );
    let runs = app.state.plane.keys.bcrypt_runs();
    // The decoy: 1; the real key: 1 or 2 (the decoy's hash is tried first or second); the
    // flood: at most its source's burst, each against two hashes.
    let most = 3 + 2 * u64::from(autorouter::server::proxy::key_auth::SOURCE_BURST);
    assert!(runs <= most, "{runs} bcrypt runs, at most {most} expected");
    assert!(
        app.state.plane.keys.over_budget() >= 60 - 5,
        "the rest were refused without bcrypt"
    );
    app.cleanup().await;
}

private_both_backends!(
    client_keys_reach_only_the_documented_endpoints,
    an_upstream_opts_in_to_more_paths,
    headers_cross_by_allowlist_both_ways,
    clients_get_generic_upstream_errors,
    a_key_is_found_by_its_digest_and_wrong_keys_cost_no_bcrypt,
    an_older_key_gets_its_digest_on_first_use,
);

both_backends!(
    pages_show_no_admin_data_without_a_session_however_spelled,
    every_server_function_checks_the_caller,
    public_paths_are_judged_before_the_admin_prefix_is_stripped,
    admin_functions_refuse_a_caller_without_a_session_when_called_directly,
    the_dashboards_calls_refuse_other_sites,
    signing_out_revokes_the_session_and_its_copies,
    signing_out_everywhere_ends_every_session,
    pages_carry_a_content_security_policy,
    an_upstream_moved_to_another_origin_needs_its_key_again,
    a_revealable_copy_exists_only_while_revealing_is_allowed,
);

/// Reads until the server closes the connection; `Err` when it is still open at `within`.
async fn closed_within(
    stream: &mut tokio::net::TcpStream,
    within: std::time::Duration,
) -> Result<(), ()> {
    let mut buf = [0u8; 4096];
    let deadline = tokio::time::Instant::now() + within;
    loop {
        match tokio::time::timeout_at(deadline, stream.read(&mut buf)).await {
            Err(_) => return Err(()),
            Ok(Ok(0)) | Ok(Err(_)) => return Ok(()),
            Ok(Ok(_)) => {}
        }
    }
}

async fn slow_and_idle_clients_are_cut_off(backend: common::Backend) {
    use std::time::Duration;
    let app = TestApp::spawn_with(backend, &[("HEADER_READ_TIMEOUT_SECONDS", "1")]).await;
    // Slowloris: 20 sockets each sending one header line every 200 ms, never finishing.
    let mut slow = Vec::new();
    for _ in 0..20 {
        let mut s = tokio::net::TcpStream::connect(app.addr).await.unwrap();
        s.write_all(b"GET /api/health HTTP/1.1\r\nHost: x\r\n")
            .await
            .unwrap();
        slow.push(s);
    }
    let trickle = {
        let mut handles = Vec::new();
        for mut s in slow {
            handles.push(tokio::spawn(async move {
                let started = tokio::time::Instant::now();
                for i in 0..30 {
                    tokio::time::sleep(Duration::from_millis(200)).await;
                    if s.write_all(format!("X-Slow-{i}: 1\r\n").as_bytes())
                        .await
                        .is_err()
                    {
                        break;
                    }
                }
                let cut = closed_within(&mut s, Duration::from_secs(3)).await;
                (cut, started.elapsed())
            }));
        }
        handles
    };
    // Normal traffic meanwhile is unaffected.
    for _ in 0..5 {
        assert_eq!(app.get("/api/health").await.status(), 200);
    }
    for handle in trickle {
        let (cut, after) = handle.await.unwrap();
        assert!(cut.is_ok(), "a slow client's connection stayed open");
        assert!(after < Duration::from_secs(5), "cut after {after:?}");
    }
    // A kept-alive connection idle past the deadline is closed too.
    let mut idle = tokio::net::TcpStream::connect(app.addr).await.unwrap();
    idle.write_all(b"GET /api/health HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let mut buf = [0u8; 1024];
    let n = idle.read(&mut buf).await.unwrap();
    assert!(String::from_utf8_lossy(&buf[..n]).starts_with("HTTP/1.1 200"));
    let started = std::time::Instant::now();
    assert!(
        closed_within(&mut idle, Duration::from_secs(3))
            .await
            .is_ok(),
        "an idle connection stayed open"
    );
    assert!(
        started.elapsed() >= Duration::from_millis(800),
        "closed too early"
    );
    app.cleanup().await;
}

async fn open_connections_are_capped(backend: common::Backend) {
    use std::time::Duration;
    let app = TestApp::spawn_with(backend, &[("MAX_CONNECTIONS", "2")]).await;
    let request = b"GET /api/health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
    let first = tokio::net::TcpStream::connect(app.addr).await.unwrap();
    let _second = tokio::net::TcpStream::connect(app.addr).await.unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    // The third waits in the listen queue: no answer while two are open.
    let mut third = tokio::net::TcpStream::connect(app.addr).await.unwrap();
    third.write_all(request).await.unwrap();
    let mut buf = [0u8; 1024];
    assert!(
        tokio::time::timeout(Duration::from_millis(500), third.read(&mut buf))
            .await
            .is_err(),
        "a third connection was served past the cap of two"
    );
    drop(first);
    let n = tokio::time::timeout(Duration::from_secs(3), third.read(&mut buf))
        .await
        .expect("served once a slot frees")
        .unwrap();
    assert!(String::from_utf8_lossy(&buf[..n]).starts_with("HTTP/1.1 200"));
    app.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_and_idle_clients_are_cut_off_sqlite() {
    slow_and_idle_clients_are_cut_off(common::Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_and_idle_clients_are_cut_off_postgres() {
    slow_and_idle_clients_are_cut_off(common::Backend::Postgres).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn open_connections_are_capped_sqlite() {
    open_connections_are_capped(common::Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn open_connections_are_capped_postgres() {
    open_connections_are_capped(common::Backend::Postgres).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_keys_from_one_source_cannot_delay_a_real_key_sqlite() {
    wrong_keys_from_one_source_cannot_delay_a_real_key(common::Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_keys_from_one_source_cannot_delay_a_real_key_postgres() {
    wrong_keys_from_one_source_cannot_delay_a_real_key(common::Backend::Postgres).await;
}
