//! The live view of the request log: requests still in flight, and the stream's filters.
use serde::{Deserialize, Serialize};

/// One request an instance has sent upstream and not finished answering.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct InFlightRequest {
    /// The `x-request-id` the client received (its log row will carry it).
    pub request_id: String,
    /// The instance serving it (`INSTANCE_ID`).
    pub instance: String,
    pub api_key_id: String,
    /// Null when the key was deleted since.
    #[cfg_attr(feature = "ssr", schema(required = true))]
    pub api_key_name: Option<String>,
    pub upstream_id: String,
    pub upstream_name: String,
    /// The model the client asked for.
    pub model: String,
    /// Whether the client asked for a stream.
    pub is_stream: bool,
    /// RFC 3339, UTC: when it was sent upstream (its latest attempt).
    #[cfg_attr(feature = "ssr", schema(format = DateTime))]
    pub started_at: String,
    /// How long it has run, when the event was sent.
    pub elapsed_ms: i64,
    /// Bytes of the answer forwarded to the client so far.
    pub bytes_out: u64,
}

/// How many requests one instance has in flight.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct InstanceInFlight {
    pub instance: String,
    /// All of them, even when its report listed only the oldest.
    pub in_flight: u64,
}

/// The `in_flight` event: every instance's requests in flight, oldest first.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct InFlightEvent {
    /// The instance this stream comes from.
    pub instance: String,
    pub requests: Vec<InFlightRequest>,
    /// This instance and every other one that reported in the last few seconds.
    pub instances: Vec<InstanceInFlight>,
}

/// The live stream's filters: the logs list's, less the page and time range. Empty values are
/// ignored.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(
    feature = "ssr",
    derive(utoipa::IntoParams),
    into_params(parameter_in = Query)
)]
pub struct LiveQuery {
    pub api_key_id: Option<String>,
    pub upstream_id: Option<String>,
    /// Exact requested model name.
    pub model: Option<String>,
    /// A session's short digest (rows only: requests in flight are not filtered by it).
    pub session: Option<String>,
    /// An exact status code or a class such as `5xx` (rows only).
    #[cfg_attr(
        feature = "ssr",
        param(pattern = r"^\s*([1-5][0-9]{2}|[1-5][xX]{2})\s*$", example = "5xx")
    )]
    pub status: Option<String>,
}
