//! The OpenAPI document matches the router: every admin route documented, nothing stale, refs resolve.
use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

const DOCUMENT: &str = include_str!("../../src/server/rest/openapi.json");
const METHODS: &[&str] = &[
    "get", "put", "post", "delete", "options", "head", "patch", "trace",
];

fn document() -> Value {
    serde_json::from_str(DOCUMENT).expect("openapi.json is valid JSON")
}

fn startup_source() -> String {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/src/server/startup.rs");
    let text = std::fs::read_to_string(path).expect("read src/server/startup.rs");
    // Comments could mention routes; only code counts.
    text.lines()
        .map(|l| l.find("//").map_or(l, |i| &l[..i]))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The method-router calls in one `.route(...)` argument list: `get(`, `.post(`, ...
fn methods_in(route_args: &str) -> BTreeSet<String> {
    let bytes = route_args.as_bytes();
    let mut found = BTreeSet::new();
    for name in METHODS.iter().copied().chain(["any"]) {
        let pattern = format!("{name}(");
        let mut from = 0;
        while let Some(at) = route_args[from..].find(&pattern) {
            let start = from + at;
            let before = start.checked_sub(1).map(|i| bytes[i]);
            // `rest::keys::get)` is a handler, `.get(` / ` get(` / `(get(` a method router.
            if !matches!(before, Some(b) if b.is_ascii_alphanumeric() || b == b'_' || b == b':') {
                found.insert(name.to_string());
            }
            from = start + pattern.len();
        }
    }
    found
}

/// Admin routes as registered in `router()`: full path -> methods.
fn registered_admin_routes() -> BTreeMap<String, BTreeSet<String>> {
    let source = startup_source();
    let start = source
        .find("let admin = Router::new()")
        .expect("startup.rs builds an `admin` router");
    let block = &source[start..];
    let block = &block[..block.find(';').expect("the admin router ends with `;`")];
    let mut routes = BTreeMap::new();
    let mut saw_catch_all = false;
    for chunk in block.split(".route(").skip(1) {
        let args = chunk.split(".layer(").next().unwrap_or(chunk);
        let path = args
            .split('"')
            .nth(1)
            .unwrap_or_else(|| panic!("a route without a string path: {args}"));
        if args.contains("not_found::api_not_found") {
            // The catch-all that answers a JSON 404 for unknown admin paths.
            saw_catch_all = true;
            continue;
        }
        let methods = methods_in(args);
        assert!(
            !methods.is_empty(),
            "cannot tell the methods of admin route {path}: {args}"
        );
        assert!(
            !methods.contains("any"),
            "admin route {path} takes any method: document explicit methods instead"
        );
        let previous = routes.insert(format!("/api/admin{path}"), methods);
        assert!(previous.is_none(), "admin route {path} registered twice");
    }
    assert!(saw_catch_all, "the parser found the admin router's routes");
    routes
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
fn document_is_openapi_3_1() {
    let doc = document();
    assert!(
        doc["openapi"].as_str().unwrap_or("").starts_with("3.1"),
        "openapi: {}",
        doc["openapi"]
    );
    assert_eq!(doc["info"]["title"], "AutoRouter admin API");
    assert!(doc["info"]["version"].is_string());
}

#[test]
fn every_admin_route_is_documented_with_its_methods() {
    let doc = document();
    let paths = doc["paths"].as_object().expect("paths is an object");
    let routes = registered_admin_routes();
    assert!(routes.contains_key("/api/admin/openapi.json"));
    for (path, methods) in &routes {
        let item = paths
            .get(path)
            .unwrap_or_else(|| panic!("{path} is routed but not documented in openapi.json"));
        assert_eq!(
            &documented_methods(item),
            methods,
            "methods of {path}: documented vs routed"
        );
    }
    for path in paths.keys().filter(|p| p.starts_with("/api/admin")) {
        assert!(
            routes.contains_key(path),
            "{path} is documented but not routed in startup.rs"
        );
    }
}

#[test]
fn other_documented_paths_are_routed() {
    let doc = document();
    let source = startup_source();
    let routed: BTreeSet<&str> = source
        .split(".route(")
        .skip(1)
        .filter_map(|args| args.split('"').nth(1))
        .collect();
    for path in doc["paths"].as_object().unwrap().keys() {
        if path.starts_with("/api/admin") {
            continue;
        }
        // A documented `{path}` may be an axum catch-all `{*path}`.
        let wildcard = path.replace("{path}", "{*path}");
        assert!(
            routed.contains(path.as_str()) || routed.contains(wildcard.as_str()),
            "{path} is documented but not routed in startup.rs"
        );
    }
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
            let effective = item[&method].get("security").unwrap_or(global);
            let needs_admin = effective
                .as_array()
                .is_some_and(|s| s.iter().any(|r| r.get("adminBearer").is_some()));
            assert_eq!(
                needs_admin,
                path.starts_with("/api/admin"),
                "security of {method} {path}"
            );
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
    let resolve = |p: &Value| -> Value {
        match p.get("$ref").and_then(Value::as_str) {
            Some(r) => doc.pointer(&r[1..]).cloned().unwrap_or(Value::Null),
            None => p.clone(),
        }
    };
    for (path, item) in doc["paths"].as_object().unwrap() {
        let templated: BTreeSet<&str> = path
            .split('{')
            .skip(1)
            .filter_map(|s| s.split('}').next())
            .collect();
        for method in documented_methods(item) {
            let declared: BTreeSet<String> = item
                .get("parameters")
                .into_iter()
                .chain(item[&method].get("parameters"))
                .flat_map(|ps| ps.as_array().cloned().unwrap_or_default())
                .map(|p| resolve(&p))
                .filter(|p| p["in"] == "path")
                .filter_map(|p| p["name"].as_str().map(str::to_string))
                .collect();
            let templated: BTreeSet<String> = templated.iter().map(|s| s.to_string()).collect();
            assert_eq!(declared, templated, "path parameters of {method} {path}");
        }
    }
}
