//! The OpenAPI document: generated from the routes, committed as `src/server/rest/openapi.json`
//! byte for byte, every path and method answered by a route, nothing else routed, refs resolve.
//!
//! To regenerate the committed file after changing a handler or a type:
//! `UPDATE_OPENAPI=1 cargo test --features ssr --test it openapi`.
use std::collections::BTreeSet;

use serde_json::Value;

use crate::common;
use common::{TestApp, ADMIN_TOKEN};

const COMMITTED: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/src/server/rest/openapi.json");
const METHODS: &[&str] = &[
    "get", "put", "post", "delete", "options", "head", "patch", "trace",
];

fn document() -> Value {
    serde_json::from_str(&autorouter::server::startup::openapi_document())
        .expect("the generated document is valid JSON")
}

fn documented_methods(item: &Value) -> BTreeSet<String> {
    item.as_object()
        .expect("a path item is an object")
        .keys()
        .filter(|k| METHODS.contains(&k.as_str()))
        .cloned()
        .collect()
}

#[test]
fn committed_document_is_generated() {
    let generated = autorouter::server::startup::openapi_document();
    if std::env::var_os("UPDATE_OPENAPI").is_some_and(|v| v == "1") {
        std::fs::write(COMMITTED, &generated).expect("write src/server/rest/openapi.json");
        return;
    }
    let committed = std::fs::read_to_string(COMMITTED).expect("read src/server/rest/openapi.json");
    assert!(
        committed == generated,
        "src/server/rest/openapi.json is not the generated document; regenerate it with \
         `UPDATE_OPENAPI=1 cargo test --features ssr --test it openapi` and commit it"
    );
}

#[test]
fn document_is_openapi_3_1() {
    let doc = document();
    assert!(
        doc["openapi"].as_str().unwrap_or("").starts_with("3.1"),
        "openapi: {}",
        doc["openapi"]
    );
    assert_eq!(doc["info"]["title"], "AutoRouter admin API");
    assert_eq!(doc["info"]["version"], env!("CARGO_PKG_VERSION"));
}

#[test]
fn admin_operations_require_the_admin_token() {
    let doc = document();
    let global = &doc["security"];
    assert!(
        global
            .as_array()
            .is_some_and(|s| s.iter().any(|r| r.get("adminBearer").is_some())),
        "admin bearer auth is the default"
    );
    for (path, item) in doc["paths"].as_object().unwrap() {
        for method in documented_methods(item) {
            let op = &item[&method];
            let effective = op.get("security").unwrap_or(global);
            let needs_admin = effective
                .as_array()
                .is_some_and(|s| s.iter().any(|r| r.get("adminBearer").is_some()));
            assert_eq!(
                needs_admin,
                path.starts_with("/api/admin"),
                "security of {method} {path}"
            );
            if needs_admin {
                for status in ["401", "429", "500"] {
                    assert!(
                        op["responses"].get(status).is_some(),
                        "{method} {path} documents no {status}"
                    );
                }
            }
        }
    }
}

fn collect_refs<'a>(value: &'a Value, out: &mut Vec<&'a str>) {
    match value {
        Value::Object(map) => {
            for (k, v) in map {
                match (k.as_str(), v) {
                    ("$ref", Value::String(r)) => out.push(r),
                    _ => collect_refs(v, out),
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|v| collect_refs(v, out)),
        _ => {}
    }
}

#[test]
fn every_ref_resolves() {
    let doc = document();
    let mut refs = Vec::new();
    collect_refs(&doc, &mut refs);
    assert!(!refs.is_empty());
    for r in refs {
        let pointer = r
            .strip_prefix('#')
            .unwrap_or_else(|| panic!("{r}: only local refs are used"));
        assert!(
            pointer.starts_with("/components/"),
            "{r}: refs point into components"
        );
        assert!(doc.pointer(pointer).is_some(), "{r} does not resolve");
    }
}

#[test]
fn path_parameters_are_declared() {
    let doc = document();
    for (path, item) in doc["paths"].as_object().unwrap() {
        let templated: BTreeSet<String> = path
            .split('{')
            .skip(1)
            .filter_map(|s| s.split('}').next())
            .map(str::to_string)
            .collect();
        for method in documented_methods(item) {
            let declared: BTreeSet<String> = item
                .get("parameters")
                .into_iter()
                .chain(item[&method].get("parameters"))
                .flat_map(|ps| ps.as_array().cloned().unwrap_or_default())
                .filter(|p| p["in"] == "path")
                .filter_map(|p| p["name"].as_str().map(str::to_string))
                .collect();
            assert_eq!(declared, templated, "path parameters of {method} {path}");
        }
    }
}

/// The JSON 404 that `/api/admin/{*rest}` and `/api/{*rest}` give a path no route serves.
fn is_catch_all(status: u16, body: &str) -> bool {
    status == 404 && body.contains("no API route at")
}

async fn call(app: &TestApp, method: &str, path: &str) -> (u16, String) {
    let method = reqwest::Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
    let mut req = app
        .client
        .request(method.clone(), app.url(path))
        .bearer_auth(ADMIN_TOKEN);
    if method == reqwest::Method::POST || method == reqwest::Method::PUT {
        // Any body: a route answers it (400 or otherwise), the catch-all a 404.
        req = req.header("content-type", "application/json").body("{}");
    }
    let res = req.send().await.unwrap();
    let status = res.status().as_u16();
    // An event stream (the live view's) never ends: its status is the answer.
    if res
        .headers()
        .get("content-type")
        .is_some_and(|v| v.as_bytes().starts_with(b"text/event-stream"))
    {
        return (status, String::new());
    }
    (status, res.text().await.unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_documented_operation_is_routed_and_nothing_else() {
    let app = TestApp::spawn(common::Backend::Sqlite).await;
    let doc = document();
    let paths = doc["paths"].as_object().unwrap();
    assert!(paths.contains_key("/api/admin/openapi.json"));
    for (path, item) in paths {
        // Path parameters get a value no record has: the route answers (404 not_found), the
        // catch-all does not.
        let concrete: String = path
            .split('/')
            .map(|seg| {
                if seg.starts_with('{') {
                    if path.contains("v1/") {
                        "chat/completions"
                    } else {
                        "no-such-id"
                    }
                } else {
                    seg
                }
            })
            .collect::<Vec<_>>()
            .join("/");
        let documented = documented_methods(item);
        for method in METHODS {
            let (status, body) = call(&app, method, &concrete).await;
            if documented.contains(*method) {
                assert!(
                    !is_catch_all(status, &body) && status != 405,
                    "{method} {path} is documented but not routed: {status} {body}"
                );
            } else if path.starts_with("/api/admin") && *method != "head" {
                // HEAD falls back to GET in axum.
                assert!(
                    status == 405 || is_catch_all(status, &body),
                    "{method} {path} answers {status} but is not documented: {body}"
                );
            }
        }
    }
    // Paths no route serves, next to ones that exist: the catch-all answers them.
    for path in [
        "/api/admin",
        "/api/admin/",
        "/api/admin/key",
        "/api/admin/keys/x/y",
        "/api/admin/keys/x/reveal/more",
        "/api/admin/upstreams/x/test/more",
        "/api/admin/upstreams/health/check/now",
        "/api/admin/stats",
        "/api/admin/stats/overview/more",
        "/api/admin/circuit-breakers/x/force-half-open",
        "/api/admin/openapi.yaml",
        "/api/admin/logs/1",
        "/api/admin/settings/x",
    ] {
        let (status, body) = call(&app, "get", path).await;
        assert!(
            is_catch_all(status, &body),
            "GET {path} answers {status} {body}: routed but not documented?"
        );
    }
    app.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_served_document_is_the_generated_one() {
    let app = TestApp::spawn(common::Backend::Sqlite).await;
    let res = app.admin_get("/api/admin/openapi.json").await;
    assert_eq!(res.status().as_u16(), 200);
    assert_eq!(
        res.headers()["content-type"].to_str().unwrap(),
        "application/json"
    );
    assert_eq!(
        res.text().await.unwrap(),
        autorouter::server::startup::openapi_document()
    );
    app.cleanup().await;
}
