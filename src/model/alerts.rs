//! Alert webhooks, their deliveries and the alert settings, as the admin API and the UI see them.
use serde::{Deserialize, Serialize};

crate::wire_enum! {
    /// The body a webhook is sent: AutoRouter's own JSON, or a chat service's text message.
    pub enum WebhookFormat {
        Generic = "generic",
        Slack = "slack",
        Feishu = "feishu",
        Dingtalk = "dingtalk",
    }
}

crate::wire_enum! {
    /// What an alert is about.
    pub enum AlertKind {
        BreakerOpened = "breaker_opened",
        BreakerClosed = "breaker_closed",
        UpstreamUnhealthy = "upstream_unhealthy",
        UpstreamHealthy = "upstream_healthy",
        /// A key's daily or monthly budget, or an upstream's monthly quota, is 80% spent.
        BudgetWarning = "budget_warning",
        /// ... or fully spent.
        BudgetExhausted = "budget_exhausted",
        /// The share of requests answered 5xx over the last 5 minutes is above the threshold.
        ErrorRateHigh = "error_rate_high",
        /// Sent by the "send a test alert" button.
        Test = "test",
    }
}

impl AlertKind {
    /// `warning` or `critical`: how the generic body grades it.
    pub fn severity(self) -> &'static str {
        match self {
            AlertKind::BreakerOpened
            | AlertKind::UpstreamUnhealthy
            | AlertKind::BudgetExhausted
            | AlertKind::ErrorRateHigh => "critical",
            AlertKind::BudgetWarning => "warning",
            AlertKind::BreakerClosed | AlertKind::UpstreamHealthy | AlertKind::Test => "info",
        }
    }
}

crate::wire_enum! {
    /// Where a delivery stands: `pending` (being sent, or waiting to retry), `delivered` (a 2xx
    /// answer), `failed` (every attempt failed).
    pub enum DeliveryStatus {
        Pending = "pending",
        Delivered = "delivered",
        Failed = "failed",
    }
}

crate::wire_enum! {
    /// The language alert texts are written in.
    #[derive(Default)]
    pub enum AlertLanguage {
        #[default]
        En = "en",
        Zh = "zh",
    }
}

/// A webhook as shown: its URL masked, its secret never.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema), schema(as = AlertWebhook))]
pub struct WebhookView {
    pub id: String,
    pub name: String,
    /// Scheme and host only, the rest masked: chat webhook URLs carry their token.
    pub url_masked: String,
    pub format: WebhookFormat,
    /// The kinds it is sent; empty: every kind.
    pub events: Vec<AlertKind>,
    pub enabled: bool,
    /// Whether a signing secret is set.
    pub has_secret: bool,
    #[cfg_attr(feature = "ssr", schema(format = DateTime))]
    pub created_at: String,
}

/// A new webhook.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema), schema(as = CreateAlertWebhook))]
#[serde(deny_unknown_fields)]
pub struct CreateWebhook {
    pub name: String,
    /// http or https; checked against the same SSRF rules as upstreams.
    pub url: String,
    #[cfg_attr(feature = "ssr", schema(value_type = WebhookFormat))]
    pub format: String,
    /// Kinds to send; left out or empty: every kind.
    #[serde(default)]
    #[cfg_attr(feature = "ssr", schema(value_type = Option<Vec<AlertKind>>))]
    pub events: Option<Vec<String>>,
    #[serde(default)]
    pub enabled: Option<bool>,
    /// Signing secret: HMAC-SHA256 header for `generic`, the service's own signature for
    /// `dingtalk` and `feishu`; unused by `slack`.
    #[serde(default)]
    pub secret: Option<String>,
}

/// A partial update: absent fields keep their value; `secret: ""` removes the secret.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema), schema(as = UpdateAlertWebhook))]
#[serde(deny_unknown_fields)]
pub struct UpdateWebhook {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub url: Option<String>,
    #[serde(default)]
    #[cfg_attr(feature = "ssr", schema(value_type = Option<WebhookFormat>))]
    pub format: Option<String>,
    #[serde(default)]
    #[cfg_attr(feature = "ssr", schema(value_type = Option<Vec<AlertKind>>))]
    pub events: Option<Vec<String>>,
    #[serde(default)]
    pub enabled: Option<bool>,
    #[serde(default)]
    pub secret: Option<String>,
}

/// One alert sent (or being sent) to one webhook.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema), schema(as = AlertDelivery))]
pub struct DeliveryView {
    pub id: String,
    pub webhook_id: String,
    pub webhook_name: String,
    pub kind: AlertKind,
    /// What made the alert unique, e.g. `breaker_open:<upstream>:<opened at ms>`.
    pub dedupe_key: String,
    /// The alert's text.
    pub summary: String,
    pub status: DeliveryStatus,
    pub attempts: u32,
    /// Why the last failed attempt failed (a status or a connection error), kept after a
    /// retry succeeded; never the URL.
    #[cfg_attr(feature = "ssr", schema(required = true))]
    pub last_error: Option<String>,
    #[cfg_attr(feature = "ssr", schema(format = DateTime))]
    pub created_at: String,
    #[cfg_attr(feature = "ssr", schema(required = true, format = DateTime))]
    pub delivered_at: Option<String>,
}

pub const DEFAULT_ERROR_RATE_PERCENT: u32 = 20;
pub const DEFAULT_ERROR_RATE_MIN_REQUESTS: u32 = 20;

/// When the error-rate alert fires, and the language alerts are written in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct AlertSettings {
    /// Percentage of requests answered 5xx over the last 5 minutes above which the alert fires;
    /// 0 turns the error-rate alert off.
    #[cfg_attr(feature = "ssr", schema(minimum = 0, maximum = 100, default = 20))]
    pub error_rate_percent: u32,
    /// Fewer requests than this in 5 minutes never fire it.
    #[cfg_attr(feature = "ssr", schema(minimum = 1, maximum = 1000000, default = 20))]
    pub error_rate_min_requests: u32,
    pub language: AlertLanguage,
}

impl Default for AlertSettings {
    fn default() -> Self {
        Self {
            error_rate_percent: DEFAULT_ERROR_RATE_PERCENT,
            error_rate_min_requests: DEFAULT_ERROR_RATE_MIN_REQUESTS,
            language: AlertLanguage::En,
        }
    }
}

/// A partial update of the alert settings.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema), schema(as = UpdateAlertSettings))]
#[serde(deny_unknown_fields)]
pub struct UpdateAlertSettings {
    #[serde(default)]
    #[cfg_attr(feature = "ssr", schema(minimum = 0, maximum = 100))]
    pub error_rate_percent: Option<u32>,
    #[serde(default)]
    #[cfg_attr(feature = "ssr", schema(minimum = 1, maximum = 1000000))]
    pub error_rate_min_requests: Option<u32>,
    #[serde(default)]
    #[cfg_attr(feature = "ssr", schema(value_type = Option<AlertLanguage>))]
    pub language: Option<String>,
}

/// Everything the Alerts page shows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AlertsScreen {
    pub webhooks: Vec<WebhookView>,
    pub deliveries: Vec<DeliveryView>,
    pub settings: AlertSettings,
}
