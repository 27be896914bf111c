//! Upstreams as the admin API and the UI exchange them.
use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::limits::UpstreamLimits;

crate::wire_enum! {
    /// How the gateway authenticates to the upstream: `anthropic` sends `x-api-key` and
    /// `anthropic-version`, the others `Authorization: Bearer`. It also sets the default model
    /// patterns when `allowed_models` is empty.
    pub enum Provider {
        Openai = "openai",
        Anthropic = "anthropic",
        Google = "google",
        OpenaiCompatible = "openai_compatible",
    }
}

crate::wire_enum! {
    /// An API format: which client paths an upstream may be sent. `chat_completions`,
    /// `completions`, `embeddings`, `responses` (with `responses/input_tokens`), `moderations`,
    /// `images` and `audio` are OpenAI's; `messages` (with `messages/count_tokens`) is
    /// Anthropic's; `gemini` is Google's own API.
    pub enum Format {
        ChatCompletions = "chat_completions",
        Completions = "completions",
        Embeddings = "embeddings",
        Responses = "responses",
        Moderations = "moderations",
        Images = "images",
        Audio = "audio",
        Messages = "messages",
        Gemini = "gemini",
    }
}

impl Provider {
    /// The formats an upstream of this provider speaks when its own list is empty.
    pub fn default_formats(self) -> &'static [Format] {
        use Format::*;
        match self {
            Provider::Openai | Provider::OpenaiCompatible => &[
                ChatCompletions,
                Completions,
                Embeddings,
                Responses,
                Moderations,
                Images,
                Audio,
            ],
            Provider::Anthropic => &[Messages],
            Provider::Google => &[ChatCompletions, Embeddings, Gemini],
        }
    }
}

/// The models an upstream listed when last asked (its own `/v1/models`, or Gemini's
/// `/v1beta/models`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct DiscoveredModels {
    /// Model ids, sorted.
    pub models: Vec<String>,
    /// RFC 3339, UTC; null when never asked.
    #[cfg_attr(feature = "ssr", schema(required = true, format = DateTime))]
    pub fetched_at: Option<String>,
    /// Why the last fetch failed (the list kept is the one before it); null when it worked.
    #[cfg_attr(feature = "ssr", schema(required = true))]
    pub error: Option<String>,
}

/// Per-upstream circuit breaker settings. In a request every field is optional, and a field left
/// out takes its default (not the stored value), also on update.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(default, deny_unknown_fields)]
pub struct BreakerConfig {
    /// Consecutive failures that open the breaker.
    #[cfg_attr(feature = "ssr", schema(minimum = 1, maximum = 100, default = 5))]
    pub failure_threshold: u32,
    /// Successful probes that close it again.
    #[cfg_attr(feature = "ssr", schema(minimum = 1, maximum = 100, default = 2))]
    pub success_threshold: u32,
    /// How long it stays open before probing, in milliseconds.
    #[cfg_attr(
        feature = "ssr",
        schema(minimum = 1000, maximum = 3600000, default = 30000)
    )]
    pub open_duration_ms: u64,
    /// Requests let through while half-open.
    #[cfg_attr(feature = "ssr", schema(minimum = 1, maximum = 100, default = 1))]
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

/// An upstream as the API shows it: the key only masked.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct UpstreamView {
    #[cfg_attr(feature = "ssr", schema(format = "uuid"))]
    pub id: String,
    pub name: String,
    pub provider: Provider,
    #[cfg_attr(feature = "ssr", schema(format = "uri"))]
    pub base_url: String,
    /// Like `sk-***abcd` (`***` for keys under 12 characters); the key itself never leaves the
    /// server.
    #[cfg_attr(feature = "ssr", schema(examples("sk-***abcd")))]
    pub api_key_masked: String,
    pub timeout_ms: u64,
    #[cfg_attr(feature = "ssr", schema(minimum = 1, maximum = 100))]
    pub weight: u32,
    pub priority: i32,
    pub allowed_models: Vec<String>,
    pub model_redirects: BTreeMap<String, String>,
    pub is_active: bool,
    pub circuit_breaker: BreakerConfig,
    /// POST paths below `/v1/`, beyond the documented endpoint table, that this upstream
    /// forwards (for example `rerank`); each request must still be a JSON body naming a model the
    /// upstream serves. Segments of letters, digits and `-_.:` only; no `.` or `..` segment; at
    /// most 32. Empty: none.
    pub extra_paths: Vec<String>,
    /// The API formats it is sent, as set; empty: the provider's defaults (`speaks` has the
    /// list in effect).
    pub api_formats: Vec<Format>,
    /// The API formats in effect: `api_formats`, or the provider's defaults.
    pub speaks: Vec<Format>,
    pub limits: UpstreamLimits,
    /// What the upstream's list price is multiplied by (resellers, discounts); 1 is list price.
    #[cfg_attr(feature = "ssr", schema(minimum = 0, maximum = 100))]
    pub price_multiplier: f64,
    /// Spent through this upstream this month (budget time zone), in USD.
    pub spend_month_usd: f64,
    /// RFC 3339, UTC.
    #[cfg_attr(feature = "ssr", schema(format = DateTime))]
    pub created_at: String,
    /// RFC 3339, UTC.
    #[cfg_attr(feature = "ssr", schema(format = DateTime))]
    pub updated_at: String,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct CreateUpstream {
    /// Unique among upstreams (409 otherwise). Trimmed; 1-100 characters without control
    /// characters.
    #[cfg_attr(feature = "ssr", schema(min_length = 1, max_length = 100))]
    pub name: String,
    #[cfg_attr(feature = "ssr", schema(value_type = Provider))]
    pub provider: String,
    /// An http or https URL without `user:password@`, including the version prefix (e.g.
    /// `https://api.openai.com/v1`); a trailing slash is dropped. Requests to `/v1/{path}` go to
    /// `{base_url}/{path}`. Private, loopback and link-local addresses are refused unless
    /// `ALLOW_PRIVATE_UPSTREAMS=true`.
    #[cfg_attr(feature = "ssr", schema(format = "uri"))]
    pub base_url: String,
    /// The upstream's own API key; trimmed, without spaces or control characters, stored
    /// encrypted and never returned.
    #[cfg_attr(feature = "ssr", schema(min_length = 1, max_length = 4096, write_only))]
    pub api_key: String,
    /// How long to wait for the upstream, in milliseconds.
    #[cfg_attr(
        feature = "ssr",
        schema(minimum = 1000, maximum = 600000, default = 60000)
    )]
    #[serde(default)]
    pub timeout_ms: Option<u64>,
    /// Share of traffic among upstreams of the same priority.
    #[cfg_attr(feature = "ssr", schema(minimum = 1, maximum = 100, default = 1))]
    #[serde(default)]
    pub weight: Option<u32>,
    /// Lower numbers are preferred: only the lowest-numbered tier that serves the model is used.
    #[cfg_attr(feature = "ssr", schema(minimum = 0, maximum = 1000, default = 0))]
    #[serde(default)]
    pub priority: Option<i32>,
    /// Model name patterns this upstream serves, `*` matching any run of characters (ASCII
    /// case-insensitive). Empty means the provider's defaults (`gpt-*`, `o1*`, ... for openai;
    /// `claude-*`; `gemini-*`; none for openai_compatible).
    #[cfg_attr(feature = "ssr", schema(max_items = 500, default = json!([])))]
    #[serde(default)]
    pub allowed_models: Option<Vec<String>>,
    /// Requested model name -> model name sent upstream (exact, case-sensitive). Chains are
    /// followed; self-loops, cycles and empty names are refused. Empty clears.
    #[cfg_attr(feature = "ssr", schema(default = json!({})))]
    #[serde(default)]
    pub model_redirects: Option<BTreeMap<String, String>>,
    /// Inactive upstreams receive no traffic.
    #[cfg_attr(feature = "ssr", schema(default = true))]
    #[serde(default)]
    pub is_active: Option<bool>,
    #[serde(default)]
    pub circuit_breaker: Option<BreakerConfig>,
    /// POST paths below `/v1/`, beyond the documented endpoint table, that this upstream
    /// forwards (for example `rerank`); each request must still be a JSON body naming a model the
    /// upstream serves. Segments of letters, digits and `-_.:` only; no `.` or `..` segment; at
    /// most 32. Empty: none.
    #[serde(default)]
    pub extra_paths: Option<Vec<String>>,
    /// The API formats it is sent (`chat_completions`, `messages`, `gemini`, ...); empty or
    /// left out: the provider's defaults.
    #[cfg_attr(feature = "ssr", schema(value_type = Option<Vec<String>>))]
    #[serde(default)]
    pub api_formats: Option<Vec<String>>,
    /// Concurrency, rate and monthly spend caps; none when left out.
    #[serde(default)]
    pub limits: UpstreamLimits,
    /// 0 to 100, at most 6 decimals; 1 (list price) when left out.
    #[cfg_attr(feature = "ssr", schema(minimum = 0, maximum = 100, default = 1.0))]
    #[serde(default)]
    pub price_multiplier: Option<f64>,
    /// Deprecated alias, as the original (Next.js) AutoRouter named it: the timeout in seconds.
    /// `timeout_ms` wins when both are given.
    #[cfg_attr(feature = "ssr", schema(deprecated, minimum = 1, maximum = 600))]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<u64>,
    /// Deprecated alias of `circuit_breaker`, as the original (Next.js) AutoRouter named it.
    /// `circuit_breaker` wins when both are given.
    #[cfg_attr(feature = "ssr", schema(deprecated))]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub circuit_breaker_config: Option<LegacyBreakerConfig>,
}

/// Partial update: fields left out keep their value; leaving out `api_key` keeps the stored key.
/// `allowed_models: []` and `model_redirects: {}` clear those settings.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct UpdateUpstream {
    /// Unique among upstreams (409 otherwise). Trimmed; 1-100 characters without control
    /// characters.
    #[cfg_attr(feature = "ssr", schema(min_length = 1, max_length = 100))]
    #[serde(default)]
    pub name: Option<String>,
    #[cfg_attr(feature = "ssr", schema(value_type = Option<Provider>))]
    #[serde(default)]
    pub provider: Option<String>,
    /// An http or https URL without `user:password@`, including the version prefix (e.g.
    /// `https://api.openai.com/v1`); a trailing slash is dropped. Requests to `/v1/{path}` go to
    /// `{base_url}/{path}`. Private, loopback and link-local addresses are refused unless
    /// `ALLOW_PRIVATE_UPSTREAMS=true`.
    #[cfg_attr(feature = "ssr", schema(format = "uri"))]
    #[serde(default)]
    pub base_url: Option<String>,
    /// The upstream's own API key; trimmed, without spaces or control characters, stored
    /// encrypted and never returned.
    #[cfg_attr(feature = "ssr", schema(min_length = 1, max_length = 4096, write_only))]
    #[serde(default)]
    pub api_key: Option<String>,
    /// How long to wait for the upstream, in milliseconds.
    #[cfg_attr(
        feature = "ssr",
        schema(minimum = 1000, maximum = 600000, default = 60000)
    )]
    #[serde(default)]
    pub timeout_ms: Option<u64>,
    /// Share of traffic among upstreams of the same priority.
    #[cfg_attr(feature = "ssr", schema(minimum = 1, maximum = 100, default = 1))]
    #[serde(default)]
    pub weight: Option<u32>,
    /// Lower numbers are preferred: only the lowest-numbered tier that serves the model is used.
    #[cfg_attr(feature = "ssr", schema(minimum = 0, maximum = 1000, default = 0))]
    #[serde(default)]
    pub priority: Option<i32>,
    /// Model name patterns this upstream serves, `*` matching any run of characters (ASCII
    /// case-insensitive). Empty means the provider's defaults (`gpt-*`, `o1*`, ... for openai;
    /// `claude-*`; `gemini-*`; none for openai_compatible).
    #[cfg_attr(feature = "ssr", schema(max_items = 500, default = json!([])))]
    #[serde(default)]
    pub allowed_models: Option<Vec<String>>,
    /// Requested model name -> model name sent upstream (exact, case-sensitive). Chains are
    /// followed; self-loops, cycles and empty names are refused. Empty clears.
    #[cfg_attr(feature = "ssr", schema(default = json!({})))]
    #[serde(default)]
    pub model_redirects: Option<BTreeMap<String, String>>,
    /// Inactive upstreams receive no traffic.
    #[cfg_attr(feature = "ssr", schema(default = true))]
    #[serde(default)]
    pub is_active: Option<bool>,
    #[serde(default)]
    pub circuit_breaker: Option<BreakerConfig>,
    /// POST paths below `/v1/`, beyond the documented endpoint table, that this upstream
    /// forwards (for example `rerank`); each request must still be a JSON body naming a model the
    /// upstream serves. Segments of letters, digits and `-_.:` only; no `.` or `..` segment; at
    /// most 32. Empty: none. `[]` clears them.
    #[serde(default)]
    pub extra_paths: Option<Vec<String>>,
    /// Replaces the API formats; `[]`: the provider's defaults.
    #[cfg_attr(feature = "ssr", schema(value_type = Option<Vec<String>>))]
    #[serde(default)]
    pub api_formats: Option<Vec<String>>,
    /// Replaces every cap at once (a cap left out of the object is removed).
    #[serde(default)]
    pub limits: Option<UpstreamLimits>,
    /// 0 to 100, at most 6 decimals.
    #[cfg_attr(feature = "ssr", schema(minimum = 0, maximum = 100))]
    #[serde(default)]
    pub price_multiplier: Option<f64>,
    /// Deprecated alias, as the original (Next.js) AutoRouter named it: the timeout in seconds.
    /// `timeout_ms` wins when both are given.
    #[cfg_attr(feature = "ssr", schema(deprecated, minimum = 1, maximum = 600))]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<u64>,
    /// Deprecated alias of `circuit_breaker`, as the original (Next.js) AutoRouter named it.
    /// `circuit_breaker` wins when both are given.
    #[cfg_attr(feature = "ssr", schema(deprecated))]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub circuit_breaker_config: Option<LegacyBreakerConfig>,
}

/// The original AutoRouter's circuit breaker settings (`circuit_breaker_config`), accepted so
/// that scripts written against it keep working. Durations are seconds, or milliseconds when
/// above 300 (`open_duration`) or 60 (`probe_interval`), as the original read them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ssr", schema(deprecated))]
#[serde(default, deny_unknown_fields)]
pub struct LegacyBreakerConfig {
    /// Maps to `circuit_breaker.failure_threshold`.
    #[cfg_attr(feature = "ssr", schema(minimum = 1, maximum = 100))]
    pub failure_threshold: Option<u32>,
    /// Maps to `circuit_breaker.success_threshold`.
    #[cfg_attr(feature = "ssr", schema(minimum = 1, maximum = 100))]
    pub success_threshold: Option<u32>,
    /// Maps to `circuit_breaker.open_duration_ms`.
    pub open_duration: Option<u64>,
    /// Accepted and ignored: a half-open breaker here admits `half_open_max_probes` requests
    /// instead of one per interval.
    pub probe_interval: Option<u64>,
}

/// A duration the original AutoRouter took in seconds, or in milliseconds above `seconds_up_to`.
pub fn legacy_duration_ms(value: u64, seconds_up_to: u64) -> u64 {
    if value > seconds_up_to {
        value
    } else {
        value.saturating_mul(1000)
    }
}

impl LegacyBreakerConfig {
    /// Our settings: fields left out take their defaults, as in `circuit_breaker`.
    pub fn to_breaker(self) -> BreakerConfig {
        let d = BreakerConfig::default();
        BreakerConfig {
            failure_threshold: self.failure_threshold.unwrap_or(d.failure_threshold),
            success_threshold: self.success_threshold.unwrap_or(d.success_threshold),
            open_duration_ms: self
                .open_duration
                .map_or(d.open_duration_ms, |v| legacy_duration_ms(v, 300)),
            half_open_max_probes: d.half_open_max_probes,
        }
    }
}

impl CreateUpstream {
    /// Folds the original AutoRouter's field names into ours (ours win when both are given).
    pub fn resolve_aliases(&mut self) {
        if let Some(seconds) = self.timeout.take() {
            self.timeout_ms.get_or_insert(seconds.saturating_mul(1000));
        }
        if let Some(legacy) = self.circuit_breaker_config.take() {
            self.circuit_breaker.get_or_insert(legacy.to_breaker());
        }
    }
}

impl UpdateUpstream {
    /// Folds the original AutoRouter's field names into ours (ours win when both are given).
    pub fn resolve_aliases(&mut self) {
        if let Some(seconds) = self.timeout.take() {
            self.timeout_ms.get_or_insert(seconds.saturating_mul(1000));
        }
        if let Some(legacy) = self.circuit_breaker_config.take() {
            self.circuit_breaker.get_or_insert(legacy.to_breaker());
        }
    }
}

/// An unsaved upstream to try. Unknown fields are ignored (unlike the create and update bodies),
/// so a whole upstream form can be sent.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct TestUpstreamForm {
    #[cfg_attr(feature = "ssr", schema(value_type = Provider))]
    pub provider: String,
    /// Checked like an upstream's `base_url`; a bad or blocked URL is reported in the result
    /// (`invalid`, `ssrf_blocked`), not as a 400.
    pub base_url: String,
    /// The upstream's own API key; trimmed, without spaces or control characters, stored
    /// encrypted and never returned.
    #[cfg_attr(feature = "ssr", schema(min_length = 1, max_length = 4096, write_only))]
    pub api_key: String,
    #[cfg_attr(
        feature = "ssr",
        schema(minimum = 1000, maximum = 600000, default = 15000)
    )]
    #[serde(default)]
    pub timeout_ms: Option<u64>,
}

/// The outcome of `GET {base_url}/models` with the provider's auth: spends no tokens. A failed
/// probe is still a 200 answer with `success: false`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct ConnectionTestResult {
    /// True when the upstream answered 2xx.
    pub success: bool,
    /// Null when no request was sent.
    #[cfg_attr(feature = "ssr", schema(required = true))]
    pub latency_ms: Option<u64>,
    /// The upstream's HTTP status; null when it did not answer.
    #[cfg_attr(feature = "ssr", schema(required = true, minimum = 100, maximum = 599))]
    pub status_code: Option<u16>,
    /// Null on success. `auth`: 401/403; `not_found`: 404 (check the base URL's version prefix);
    /// `server_error`: 5xx; `unexpected_status`: any other non-2xx; `timeout`, `network`: no
    /// answer; `ssrf_blocked`: the address is private; `invalid`: the URL does not parse or is
    /// not http(s).
    #[cfg_attr(feature = "ssr", schema(required = true))]
    pub error_type: Option<String>,
    /// Human-readable summary.
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
    fn the_originals_field_names_map_to_ours() {
        let mut c: CreateUpstream = serde_json::from_value(serde_json::json!({
            "name": "u", "provider": "openai", "base_url": "https://x.example/v1", "api_key": "k",
            "timeout": 90,
            "circuit_breaker_config": {"failure_threshold": 3, "open_duration": 120, "probe_interval": 10}
        }))
        .unwrap();
        c.resolve_aliases();
        assert_eq!(c.timeout_ms, Some(90_000));
        let b = c.circuit_breaker.unwrap();
        assert_eq!((b.failure_threshold, b.success_threshold), (3, 2));
        assert_eq!(b.open_duration_ms, 120_000);
        assert!(c.timeout.is_none() && c.circuit_breaker_config.is_none());
        // Milliseconds, as the original's older clients sent them.
        assert_eq!(legacy_duration_ms(600_000, 300), 600_000);
        let mut u = UpdateUpstream {
            timeout: Some(30),
            timeout_ms: Some(5_000),
            ..UpdateUpstream::default()
        };
        u.resolve_aliases();
        assert_eq!(u.timeout_ms, Some(5_000));
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
