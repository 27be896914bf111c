//! Request log rows as the admin API and the UI exchange them.
use serde::{Deserialize, Serialize};

/// One proxied request, including refused ones.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct RequestLogView {
    pub id: i64,
    /// The `x-request-id` the client received.
    pub request_id: String,
    /// Null when the client key was missing or invalid.
    #[cfg_attr(feature = "ssr", schema(required = true))]
    pub api_key_id: Option<String>,
    /// Null when no upstream was chosen.
    #[cfg_attr(feature = "ssr", schema(required = true))]
    pub upstream_id: Option<String>,
    #[cfg_attr(feature = "ssr", schema(examples("POST")))]
    pub method: String,
    #[cfg_attr(feature = "ssr", schema(examples("/v1/chat/completions")))]
    pub path: String,
    #[cfg_attr(feature = "ssr", schema(required = true))]
    pub model_requested: Option<String>,
    /// After `model_redirects`.
    #[cfg_attr(feature = "ssr", schema(required = true))]
    pub model_sent: Option<String>,
    /// The status the client got; null while unknown.
    #[cfg_attr(feature = "ssr", schema(required = true))]
    pub status_code: Option<i64>,
    pub is_stream: bool,
    pub prompt_tokens: i64,
    pub completion_tokens: i64,
    pub total_tokens: i64,
    pub cached_tokens: i64,
    pub reasoning_tokens: i64,
    pub cache_creation_tokens: i64,
    pub cache_read_tokens: i64,
    /// Time from the request's arrival to the first byte of the answer forwarded to the client.
    #[cfg_attr(feature = "ssr", schema(required = true))]
    pub ttfb_ms: Option<i64>,
    /// Time to the first content token of a stream (text, tool-call or reasoning delta); null
    /// for an answer that is not a stream or carried no content. Rows logged before migration
    /// 0007 have only `ttfb_ms`.
    #[cfg_attr(feature = "ssr", schema(required = true))]
    pub ttft_ms: Option<i64>,
    #[cfg_attr(feature = "ssr", schema(required = true))]
    pub duration_ms: Option<i64>,
    #[cfg_attr(feature = "ssr", schema(required = true))]
    pub error_message: Option<String>,
    #[cfg_attr(feature = "ssr", schema(required = true, examples("weighted")))]
    pub lb_strategy: Option<String>,
    pub failover_attempts: i64,
    /// Any JSON value recorded for failover attempts, or null.
    #[cfg_attr(feature = "ssr", schema(required = true))]
    pub failover_history: Option<serde_json::Value>,
    /// RFC 3339, UTC.
    #[cfg_attr(feature = "ssr", schema(format = DateTime))]
    pub created_at: String,
    /// What the answer cost in USD (summed from integer nano-dollars); null when its model has
    /// no price, or for rows logged before prices existed.
    #[cfg_attr(feature = "ssr", schema(required = true))]
    pub cost_usd: Option<f64>,
    /// The limit that refused the request: `key_rpm`, `key_tpm`, `key_concurrency`,
    /// `key_daily_budget`, `key_monthly_budget`, `model_not_allowed`, `upstream_limits`.
    #[cfg_attr(feature = "ssr", schema(required = true))]
    pub refused_by: Option<String>,
    /// The short digest (16 hex characters) of the agent session the request belonged to: from
    /// `x-session-id`, Claude Code's and Codex's session headers or body fields. Never the
    /// session's own name.
    #[cfg_attr(feature = "ssr", schema(required = true))]
    pub session_id: Option<String>,
    /// For a request of a session: whether it went to the upstream that served the session
    /// last (false for its first request, and when that upstream could not take it).
    #[cfg_attr(feature = "ssr", schema(required = true))]
    pub sticky: Option<bool>,
}

/// The logs list's query: filters combine with AND; empty values are ignored.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(
    feature = "ssr",
    derive(utoipa::IntoParams),
    into_params(parameter_in = Query)
)]
pub struct LogQuery {
    /// 1-based page number.
    #[cfg_attr(feature = "ssr", param(minimum = 1, default = 1))]
    pub page: Option<u32>,
    #[cfg_attr(feature = "ssr", param(minimum = 1, maximum = 100, default = 20))]
    pub page_size: Option<u32>,
    pub api_key_id: Option<String>,
    pub upstream_id: Option<String>,
    /// Exact requested model name.
    pub model: Option<String>,
    /// A session's short digest (`session_id` of a row).
    pub session: Option<String>,
    /// An exact status code (100-599) or a class such as `2xx`, `4xx`, `5xx`.
    #[cfg_attr(
        feature = "ssr",
        param(pattern = r"^\s*([1-5][0-9]{2}|[1-5][xX]{2})\s*$", example = "5xx")
    )]
    pub status: Option<String>,
    /// RFC 3339, inclusive, e.g. `2030-01-31T00:00:00Z` (URL-encode a `+` offset as `%2B`).
    #[cfg_attr(feature = "ssr", param(format = DateTime))]
    pub start_time: Option<String>,
    /// RFC 3339, inclusive.
    #[cfg_attr(feature = "ssr", param(format = DateTime))]
    pub end_time: Option<String>,
}

/// What the logs page shows: one page of rows, and the keys and upstreams to name and filter by.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LogsScreen {
    pub page: super::page::Page<RequestLogView>,
    pub keys: Vec<super::named::Named>,
    pub upstreams: Vec<super::named::Named>,
}
