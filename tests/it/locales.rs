//! Every translation key exists in every locale, and no value is empty.
use std::collections::BTreeSet;

fn keys(prefix: &str, value: &serde_json::Value, out: &mut BTreeSet<String>) {
    match value {
        serde_json::Value::Object(map) => {
            for (k, v) in map {
                let path = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}.{k}")
                };
                keys(&path, v, out);
            }
        }
        serde_json::Value::String(s) => {
            assert!(!s.trim().is_empty(), "{prefix} is empty");
            out.insert(prefix.to_string());
        }
        other => panic!("{prefix}: unexpected value {other}"),
    }
}

fn load(locale: &str) -> BTreeSet<String> {
    let path = format!("{}/locales/{locale}.json", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap();
    let value: serde_json::Value =
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"));
    let mut out = BTreeSet::new();
    keys("", &value, &mut out);
    out
}

#[test]
fn english_and_chinese_have_the_same_keys() {
    let en = load("en");
    let zh = load("zh");
    let only_en: Vec<_> = en.difference(&zh).collect();
    let only_zh: Vec<_> = zh.difference(&en).collect();
    assert!(only_en.is_empty(), "keys missing from zh.json: {only_en:?}");
    assert!(only_zh.is_empty(), "keys missing from en.json: {only_zh:?}");
    assert!(en.len() > 20, "suspiciously few keys: {}", en.len());
}
