//! How each provider expects to be authenticated.
use axum::http::{HeaderMap, HeaderName, HeaderValue};

use super::model_rules::Provider;

pub(crate) const ANTHROPIC_VERSION: &str = "2023-06-01";

/// An upstream's credentials as the header they travel in. Built once per routing load, so a
/// proxied request copies a prepared header instead of formatting and checking the key again.
/// The value is marked sensitive: a debug print shows `Sensitive`, never the key.
#[derive(Debug, Clone)]
pub(crate) struct Credential {
    provider: Provider,
    name: HeaderName,
    value: HeaderValue,
    /// The bare key, for Google's own API (`x-goog-api-key`), whatever the provider: an API key
    /// in `Authorization: Bearer` is refused there (it expects OAuth tokens in that header).
    bare: HeaderValue,
}

pub(crate) const GOOG_API_KEY: &str = "x-goog-api-key";

impl Credential {
    /// `None` when the key cannot be sent in a header (a control character, say): such an
    /// upstream is called without credentials and answers 401, which its log records.
    pub(crate) fn new(provider: Provider, key: &str) -> Option<Credential> {
        let (name, mut value) = match provider {
            Provider::Anthropic => (
                HeaderName::from_static("x-api-key"),
                HeaderValue::from_str(key).ok()?,
            ),
            Provider::Openai | Provider::Google | Provider::OpenaiCompatible => (
                axum::http::header::AUTHORIZATION,
                HeaderValue::from_str(&format!("Bearer {key}")).ok()?,
            ),
        };
        value.set_sensitive(true);
        let mut bare = HeaderValue::from_str(key).ok()?;
        bare.set_sensitive(true);
        Some(Credential {
            provider,
            name,
            value,
            bare,
        })
    }

    /// Sets the credentials of a call to Google's own API (the Gemini format).
    pub(crate) fn apply_gemini(&self, headers: &mut HeaderMap) {
        headers.insert(HeaderName::from_static(GOOG_API_KEY), self.bare.clone());
    }

    /// Sets the credentials. `keep_client_version`: an `anthropic-version` already in `headers`
    /// (sent by the client) is kept rather than replaced.
    pub(crate) fn apply(&self, headers: &mut HeaderMap, keep_client_version: bool) {
        headers.insert(self.name.clone(), self.value.clone());
        if self.provider == Provider::Anthropic
            && !(keep_client_version && headers.contains_key("anthropic-version"))
        {
            headers.insert(
                HeaderName::from_static("anthropic-version"),
                HeaderValue::from_static(ANTHROPIC_VERSION),
            );
        }
    }
}

/// Sets the upstream's credentials from its key, for a one-off call (the connection tester, the
/// health probe); the proxy keeps a prepared `Credential` per upstream.
pub(crate) fn apply_upstream_auth(
    provider: Provider,
    key: &str,
    headers: &mut HeaderMap,
    keep_client_version: bool,
) {
    if let Some(credential) = Credential::new(provider, key) {
        credential.apply(headers, keep_client_version);
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

    #[test]
    fn a_prepared_credential_is_sensitive_and_refuses_keys_unfit_for_a_header() {
        let credential = Credential::new(Provider::OpenaiCompatible, "sk-secret-1").unwrap();
        assert!(!format!("{credential:?}").contains("sk-secret-1"));
        let mut h = HeaderMap::new();
        credential.apply(&mut h, true);
        assert_eq!(h["authorization"], "Bearer sk-secret-1");
        assert!(h["authorization"].is_sensitive());
        assert!(Credential::new(Provider::Openai, "sk-\nInjected: 1").is_none());
        assert!(Credential::new(Provider::Openai, "sk-\r\nInjected: 1").is_none());
        assert!(Credential::new(Provider::Anthropic, "sk-\0").is_none());
    }

    #[test]
    fn gemini_calls_carry_the_bare_key_in_x_goog_api_key() {
        let credential = Credential::new(Provider::Google, "AIza-secret").unwrap();
        let mut h = HeaderMap::new();
        credential.apply_gemini(&mut h);
        assert_eq!(h[GOOG_API_KEY], "AIza-secret");
        assert!(h[GOOG_API_KEY].is_sensitive());
        assert!(h.get("authorization").is_none());
        assert!(!format!("{credential:?}").contains("AIza-secret"));
    }
}
