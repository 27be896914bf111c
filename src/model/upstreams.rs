//! Upstreams as the admin API and the UI exchange them.
use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

crate::wire_enum! {
    /// Whose API an upstream speaks.
    pub enum Provider {
        Openai = "openai",
        Anthropic = "anthropic",
        Google = "google",
        OpenaiCompatible = "openai_compatible",
    }
}

/// Per-upstream circuit breaker settings; units are in the names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BreakerConfig {
    pub failure_threshold: u32,
    pub success_threshold: u32,
    pub open_duration_ms: u64,
    pub half_open_max_probes: u32,
}

impl Default for BreakerConfig {
    fn default() -> Self {
        Self {
            failure_threshold: 5,
            success_threshold: 2,
            open_duration_ms: 30_000,
            half_open_max_probes: 1,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UpstreamView {
    pub id: String,
    pub name: String,
    pub provider: Provider,
    pub base_url: String,
    /// Like `sk-***abcd`; the key itself never leaves the server.
    pub api_key_masked: String,
    pub timeout_ms: u64,
    pub weight: u32,
    pub priority: i32,
    pub allowed_models: Vec<String>,
    pub model_redirects: BTreeMap<String, String>,
    pub is_active: bool,
    pub circuit_breaker: BreakerConfig,
    /// Paths below `/v1/` beyond the documented endpoints that this upstream forwards.
    pub extra_paths: Vec<String>,
    pub created_at: String,
    pub updated_at: String,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateUpstream {
    pub name: String,
    pub provider: String,
    pub base_url: String,
    pub api_key: String,
    #[serde(default)]
    pub timeout_ms: Option<u64>,
    #[serde(default)]
    pub weight: Option<u32>,
    #[serde(default)]
    pub priority: Option<i32>,
    #[serde(default)]
    pub allowed_models: Option<Vec<String>>,
    #[serde(default)]
    pub model_redirects: Option<BTreeMap<String, String>>,
    #[serde(default)]
    pub is_active: Option<bool>,
    #[serde(default)]
    pub circuit_breaker: Option<BreakerConfig>,
    #[serde(default)]
    pub extra_paths: Option<Vec<String>>,
}

/// Partial update: absent fields stay as they are; an absent `api_key` keeps the stored key.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpdateUpstream {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub provider: Option<String>,
    #[serde(default)]
    pub base_url: Option<String>,
    #[serde(default)]
    pub api_key: Option<String>,
    #[serde(default)]
    pub timeout_ms: Option<u64>,
    #[serde(default)]
    pub weight: Option<u32>,
    #[serde(default)]
    pub priority: Option<i32>,
    #[serde(default)]
    pub allowed_models: Option<Vec<String>>,
    #[serde(default)]
    pub model_redirects: Option<BTreeMap<String, String>>,
    #[serde(default)]
    pub is_active: Option<bool>,
    #[serde(default)]
    pub circuit_breaker: Option<BreakerConfig>,
    #[serde(default)]
    pub extra_paths: Option<Vec<String>>,
}

/// An unsaved upstream form to test; other fields of a full upstream form are ignored.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TestUpstreamForm {
    pub provider: String,
    pub base_url: String,
    pub api_key: String,
    #[serde(default)]
    pub timeout_ms: Option<u64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConnectionTestResult {
    pub success: bool,
    pub latency_ms: Option<u64>,
    pub status_code: Option<u16>,
    /// auth | not_found | server_error | unexpected_status | timeout | network | ssrf_blocked | invalid
    pub error_type: Option<String>,
    pub message: String,
}

/// How many extra paths one upstream may opt in to, and how long each may be.
pub const MAX_EXTRA_PATHS: usize = 32;
pub const MAX_EXTRA_PATH_LEN: usize = 128;

/// An extra path as stored: below `/v1/` (a leading `/` or `/v1/` is dropped), segments of
/// letters, digits and `-_.:` only, no `.` or `..` segment, no empty segment, no query.
pub fn normalize_extra_path(raw: &str) -> Result<String, &'static str> {
    let trimmed = raw.trim().trim_start_matches('/');
    let path = trimmed.strip_prefix("v1/").unwrap_or(trimmed);
    if path.is_empty() || path.len() > MAX_EXTRA_PATH_LEN {
        return Err("must be a path below /v1/ of at most 128 characters");
    }
    let segment_ok = |s: &str| {
        !s.is_empty()
            && s != "."
            && s != ".."
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':'))
    };
    if !path.split('/').all(segment_ok) {
        return Err("may hold only letters, digits, '-', '_', '.', ':' between slashes, and no '.' or '..' segment");
    }
    Ok(path.to_string())
}

/// `sk-***abcd`: enough to recognise a key, never enough to use it.
pub fn mask_secret(secret: &str) -> String {
    let chars: Vec<char> = secret.chars().collect();
    if chars.len() < 12 {
        return "***".into();
    }
    let head: String = chars[..3].iter().collect();
    let tail: String = chars[chars.len() - 4..].iter().collect();
    format!("{head}***{tail}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_keep_only_a_hint() {
        assert_eq!(
            mask_secret("sk-proj-abcdefghijklmnopqrstuvwxyz0123"),
            "sk-***0123"
        );
        assert_eq!(mask_secret("short"), "***");
    }

    #[test]
    fn extra_paths_are_stored_below_v1_and_never_climb() {
        assert_eq!(
            normalize_extra_path("/v1/audio/transcriptions").unwrap(),
            "audio/transcriptions"
        );
        assert_eq!(normalize_extra_path(" rerank ").unwrap(), "rerank");
        assert_eq!(
            normalize_extra_path("models/m:generate").unwrap(),
            "models/m:generate"
        );
        for bad in [
            "", "/", "a/../b", "..", "./x", "a//b", "a/b?x=1", "a%2e%2e", "a b", "a\\b",
        ] {
            assert!(normalize_extra_path(bad).is_err(), "{bad:?}");
        }
        assert!(normalize_extra_path(&"a".repeat(129)).is_err());
    }
}

/// What the upstreams page shows: one page of upstreams with their health and breakers, and the
/// gateway's balancing settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UpstreamsScreen {
    pub page: super::page::Page<UpstreamView>,
    pub health: Vec<super::health::UpstreamHealthView>,
    pub breakers: Vec<super::breakers::BreakerView>,
    pub settings: super::settings::GatewaySettings,
}
