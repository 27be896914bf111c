//! How each provider expects to be authenticated.
use axum::http::{HeaderMap, HeaderName, HeaderValue};

use super::model_rules::Provider;

pub const ANTHROPIC_VERSION: &str = "2023-06-01";

/// Sets the upstream's credentials. `keep_client_version`: an `anthropic-version` already in
/// `headers` (sent by the client) is kept rather than replaced.
pub fn apply_upstream_auth(
    provider: Provider,
    key: &str,
    headers: &mut HeaderMap,
    keep_client_version: bool,
) {
    let Ok(key_value) = HeaderValue::from_str(key) else {
        return;
    };
    match provider {
        Provider::Anthropic => {
            headers.insert(HeaderName::from_static("x-api-key"), key_value);
            if !(keep_client_version && headers.contains_key("anthropic-version")) {
                headers.insert(
                    HeaderName::from_static("anthropic-version"),
                    HeaderValue::from_static(ANTHROPIC_VERSION),
                );
            }
        }
        Provider::Openai | Provider::Google | Provider::OpenaiCompatible => {
            if let Ok(bearer) = HeaderValue::from_str(&format!("Bearer {key}")) {
                headers.insert(axum::http::header::AUTHORIZATION, bearer);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_provider_gets_its_own_auth() {
        let mut h = HeaderMap::new();
        apply_upstream_auth(Provider::Openai, "sk-x", &mut h, false);
        assert_eq!(h["authorization"], "Bearer sk-x");
        let mut h = HeaderMap::new();
        apply_upstream_auth(Provider::Anthropic, "sk-ant", &mut h, false);
        assert_eq!(h["x-api-key"], "sk-ant");
        assert_eq!(h["anthropic-version"], ANTHROPIC_VERSION);
        assert!(h.get("authorization").is_none());
        let mut h = HeaderMap::new();
        h.insert("anthropic-version", HeaderValue::from_static("2024-01-01"));
        apply_upstream_auth(Provider::Anthropic, "sk-ant", &mut h, true);
        assert_eq!(h["anthropic-version"], "2024-01-01");
    }
}
