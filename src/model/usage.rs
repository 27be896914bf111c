//! Token counts of a request, as logs and stats carry them.

/// Token counts of one request, normalised across API formats.
///
/// `prompt_tokens` is all input, cached or not (Anthropic's `input_tokens` plus its cache reads
/// and writes); `completion_tokens` is all output, reasoning included. `cached_tokens` is the
/// generic "prompt tokens served from cache" figure for every format; `cache_creation_tokens`
/// and `cache_read_tokens` are only filled for Anthropic, whose cache writes and reads are
/// priced separately. `cache_creation_1h_tokens` is the part of `cache_creation_tokens` written
/// with the 1-hour TTL (priced above the 5-minute writes); it is not stored with the log row.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct Usage {
    pub prompt_tokens: i64,
    pub completion_tokens: i64,
    pub total_tokens: i64,
    pub cached_tokens: i64,
    pub reasoning_tokens: i64,
    pub cache_creation_tokens: i64,
    pub cache_read_tokens: i64,
    pub cache_creation_1h_tokens: i64,
}
