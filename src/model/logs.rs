//! Request log rows as the admin API and the UI exchange them.
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RequestLogView {
    pub id: i64,
    pub request_id: String,
    pub api_key_id: Option<String>,
    pub upstream_id: Option<String>,
    pub method: String,
    pub path: String,
    pub model_requested: Option<String>,
    pub model_sent: Option<String>,
    pub status_code: Option<i64>,
    pub is_stream: bool,
    pub prompt_tokens: i64,
    pub completion_tokens: i64,
    pub total_tokens: i64,
    pub cached_tokens: i64,
    pub reasoning_tokens: i64,
    pub cache_creation_tokens: i64,
    pub cache_read_tokens: i64,
    /// Time to the first byte forwarded to the client.
    pub ttfb_ms: Option<i64>,
    /// Time to the first content token of a stream (text, tool-call or reasoning delta);
    /// `None` for an answer that is not a stream, or one that carried no content.
    pub ttft_ms: Option<i64>,
    pub duration_ms: Option<i64>,
    pub error_message: Option<String>,
    pub lb_strategy: Option<String>,
    pub failover_attempts: i64,
    pub failover_history: Option<serde_json::Value>,
    pub created_at: String,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct LogQuery {
    pub page: Option<u32>,
    pub page_size: Option<u32>,
    pub api_key_id: Option<String>,
    pub upstream_id: Option<String>,
    pub model: Option<String>,
    /// `200`, or a class: `2xx`, `4xx`, `5xx`.
    pub status: Option<String>,
    /// RFC 3339.
    pub start_time: Option<String>,
    pub end_time: Option<String>,
}

/// What the logs page shows: one page of rows, and the keys and upstreams to name and filter by.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LogsScreen {
    pub page: super::page::Page<RequestLogView>,
    pub keys: Vec<super::named::Named>,
    pub upstreams: Vec<super::named::Named>,
}
