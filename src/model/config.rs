//! Configuration as code: the document `autorouter export` writes and `autorouter import`
//! applies (YAML or JSON), and the plan an import makes. Entities are named, never by id; no
//! secret is ever in a document or a plan (docs/config-as-code.md).
use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::limits::{KeyLimits, UpstreamLimits};
use super::prices::PriceRates;
use super::settings::GatewaySettings;
use super::upstreams::{BreakerConfig, Format, Provider};

/// The only document version this build reads and writes.
pub const CONFIG_VERSION: u32 = 1;

/// A gateway's configuration. A section left out (or `null`) is left alone by an import; a
/// section present is the whole truth for what it names, and with `prune: true` also for what it
/// does not name (deleted).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct ConfigDocument {
    /// Always 1.
    pub version: u32,
    /// Delete upstreams, keys and prices that a present section does not name. Off unless set
    /// here, or by the import's `prune` option.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub prune: bool,
    #[serde(default)]
    pub settings: Option<GatewaySettings>,
    #[serde(default)]
    pub upstreams: Option<Vec<UpstreamSpec>>,
    #[serde(default)]
    pub keys: Option<Vec<KeySpec>>,
    /// The admin's prices (overrides of shipped prices and custom ones); the shipped list is
    /// not part of a document.
    #[serde(default)]
    pub prices: Option<Vec<PriceSpec>>,
}

fn default_timeout_ms() -> u64 {
    60_000
}
fn one_u32() -> u32 {
    1
}
fn yes() -> bool {
    true
}
fn one_f64() -> f64 {
    1.0
}

/// An upstream, found by its name (unique). Fields left out take their defaults, as on create.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct UpstreamSpec {
    pub name: String,
    pub provider: Provider,
    pub base_url: String,
    /// The environment variable the importer reads the upstream's key from. Left out: an
    /// existing upstream keeps its stored key, and a new one cannot be created.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_key_env: Option<String>,
    #[serde(default = "default_timeout_ms")]
    pub timeout_ms: u64,
    #[serde(default = "one_u32")]
    pub weight: u32,
    #[serde(default)]
    pub priority: i32,
    #[serde(default)]
    pub allowed_models: Vec<String>,
    #[serde(default)]
    pub model_redirects: BTreeMap<String, String>,
    #[serde(default = "yes")]
    pub is_active: bool,
    #[serde(default)]
    pub circuit_breaker: BreakerConfig,
    #[serde(default)]
    pub extra_paths: Vec<String>,
    #[serde(default)]
    pub api_formats: Vec<Format>,
    #[serde(default)]
    pub limits: UpstreamLimits,
    #[serde(default = "one_f64")]
    pub price_multiplier: f64,
}

/// A client key's settings, found by its name; its value is never part of a document.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct KeySpec {
    pub name: String,
    #[serde(default)]
    pub description: Option<String>,
    /// The names of the upstreams the key may use (at least one).
    pub upstreams: Vec<String>,
    /// RFC 3339; null: never.
    #[serde(default)]
    pub expires_at: Option<String>,
    #[serde(default = "yes")]
    pub is_active: bool,
    #[serde(default)]
    pub limits: KeyLimits,
}

/// A price the admin set, USD per million tokens.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct PriceSpec {
    /// A model name or `*` pattern.
    pub model: String,
    pub price: PriceRates,
}

crate::wire_enum! {
    /// What an import does to one entity.
    pub enum ChangeAction {
        Create = "create",
        Update = "update",
        Delete = "delete",
    }
}

crate::wire_enum! {
    /// The kind of entity a change is about.
    pub enum EntityKind {
        Settings = "settings",
        Upstream = "upstream",
        Key = "key",
        Price = "price",
    }
}

/// One planned change. `fields` names what an update changes (never a value: `api_key` is
/// listed when the key read from `api_key_env` differs from the stored one).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct PlannedChange {
    pub action: ChangeAction,
    pub kind: EntityKind,
    /// The entity's name (the model pattern for a price; `settings` for the settings).
    pub name: String,
    pub fields: Vec<String>,
}

/// A client key an import created, with its value: shown this once.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct IssuedKey {
    pub name: String,
    pub key_value: String,
}

/// What an import did, or (a dry run) would do.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct ImportResult {
    /// True when nothing was changed (a dry run).
    pub dry_run: bool,
    /// In the order they are (or would be) applied; empty when the gateway already matches.
    pub changes: Vec<PlannedChange>,
    /// Keys created by this import, each with its new value (never on a dry run).
    pub issued_keys: Vec<IssuedKey>,
}

/// Counts of one kind of record in an import from the original AutoRouter.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tally {
    /// Copied now (or, on a dry run, to be copied).
    pub copied: u64,
    /// Already here from an earlier import, left as they are.
    pub already: u64,
    /// Not copied; the reasons are in `warnings`.
    pub skipped: u64,
}

/// The summary of `autorouter import --from-autorouter-js`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct JsImportSummary {
    pub dry_run: bool,
    /// `january-2026` (the first layout, with `provider`) or `current` (route capabilities).
    pub layout: String,
    pub upstreams: Tally,
    pub keys: Tally,
    pub links: Tally,
    pub breaker_configs: Tally,
    pub request_logs: Tally,
    pub warnings: Vec<String>,
}
