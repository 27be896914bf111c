//! Client API keys as the admin API and the UI exchange them.
use serde::{Deserialize, Serialize};

use super::limits::{KeyLimits, Spend};

/// What every client key starts with.
pub const KEY_PREFIX: &str = "sk-auto-";
/// How much of a key is stored in the clear, to find and show it by.
pub const STORED_PREFIX_LEN: usize = 12;

/// The part of a key stored in the clear.
pub fn stored_prefix(key: &str) -> &str {
    let end = key
        .char_indices()
        .nth(STORED_PREFIX_LEN)
        .map(|(i, _)| i)
        .unwrap_or(key.len());
    &key[..end]
}

/// A client key as listed: never the full secret.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct ApiKeyView {
    #[cfg_attr(feature = "ssr", schema(format = "uuid"))]
    pub id: String,
    pub name: String,
    #[cfg_attr(feature = "ssr", schema(required = true))]
    pub description: Option<String>,
    /// The key's first 12 characters.
    #[cfg_attr(feature = "ssr", schema(examples("sk-auto-Ab3x")))]
    pub key_prefix: String,
    pub is_active: bool,
    /// RFC 3339, UTC; null when unset.
    #[cfg_attr(feature = "ssr", schema(required = true, format = DateTime))]
    pub expires_at: Option<String>,
    pub is_expired: bool,
    /// Upstreams this key may use.
    pub upstream_ids: Vec<String>,
    pub limits: KeyLimits,
    /// Spent today and this month (budget time zone), as the statistics have it.
    pub spend: Spend,
    /// RFC 3339, UTC; null when unset.
    #[cfg_attr(feature = "ssr", schema(required = true, format = DateTime))]
    pub last_used_at: Option<String>,
    /// RFC 3339, UTC.
    #[cfg_attr(feature = "ssr", schema(format = DateTime))]
    pub created_at: String,
    /// RFC 3339, UTC.
    #[cfg_attr(feature = "ssr", schema(format = DateTime))]
    pub updated_at: String,
}

/// The created key with its full value: the only time `key_value` is shown (unless reveal is
/// enabled).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct CreatedApiKey {
    #[serde(flatten)]
    pub key: ApiKeyView,
    /// `sk-auto-` plus 43 URL-safe base64 characters (256 random bits).
    #[cfg_attr(feature = "ssr", schema(pattern = r"^sk-auto-[A-Za-z0-9_-]{43}$"))]
    pub key_value: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct RevealedApiKey {
    #[cfg_attr(feature = "ssr", schema(format = "uuid"))]
    pub id: String,
    #[cfg_attr(feature = "ssr", schema(pattern = r"^sk-auto-[A-Za-z0-9_-]{43}$"))]
    pub key_value: String,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct CreateApiKey {
    /// Trimmed; 1-100 characters without control characters.
    #[cfg_attr(feature = "ssr", schema(min_length = 1, max_length = 100))]
    pub name: String,
    /// At most 500 characters; empty or null means none.
    #[cfg_attr(feature = "ssr", schema(max_length = 500))]
    #[serde(default)]
    pub description: Option<String>,
    /// Ids of existing upstreams the key may use; at least one. Duplicates are dropped.
    #[cfg_attr(feature = "ssr", schema(required = true, min_items = 1))]
    #[serde(default)]
    pub upstream_ids: Vec<String>,
    /// RFC 3339 (any offset), in the future; empty or null means never.
    #[cfg_attr(feature = "ssr", schema(format = DateTime))]
    #[serde(default)]
    pub expires_at: Option<String>,
    #[cfg_attr(feature = "ssr", schema(default = true))]
    #[serde(default)]
    pub is_active: Option<bool>,
    /// Rate, concurrency and budget limits and the model allow-list; none when left out.
    #[serde(default)]
    pub limits: KeyLimits,
}

/// Partial update: fields left out keep their value; `null` clears `description` and
/// `expires_at`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct UpdateApiKey {
    /// Trimmed; 1-100 characters without control characters.
    #[cfg_attr(feature = "ssr", schema(min_length = 1, max_length = 100))]
    #[serde(default)]
    pub name: Option<String>,
    /// At most 500 characters; null or empty clears it.
    #[cfg_attr(feature = "ssr", schema(value_type = Option<String>, max_length = 500))]
    #[serde(default, with = "double_option")]
    pub description: Option<Option<String>>,
    /// Replaces the key's upstreams; at least one, each must exist.
    #[cfg_attr(feature = "ssr", schema(min_items = 1))]
    #[serde(default)]
    pub upstream_ids: Option<Vec<String>>,
    /// RFC 3339, in the future; null or empty removes the expiry.
    #[cfg_attr(feature = "ssr", schema(value_type = Option<String>, format = DateTime))]
    #[serde(default, with = "double_option")]
    pub expires_at: Option<Option<String>>,
    /// false disables the key at once; true enables it.
    #[serde(default)]
    pub is_active: Option<bool>,
    /// Replaces every limit at once (a limit left out of the object is removed).
    #[serde(default)]
    pub limits: Option<KeyLimits>,
}

/// Distinguishes an absent field (`None`) from an explicit `null` (`Some(None)`).
pub mod double_option {
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    pub fn serialize<T: Serialize, S: Serializer>(
        v: &Option<Option<T>>,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        match v {
            None => s.serialize_none(),
            Some(inner) => inner.serialize(s),
        }
    }

    pub fn deserialize<'de, T: Deserialize<'de>, D: Deserializer<'de>>(
        d: D,
    ) -> Result<Option<Option<T>>, D::Error> {
        Option::<T>::deserialize(d).map(Some)
    }
}

/// What the keys page shows: one page of keys, the upstreams a key may be given, and whether
/// the server allows revealing a key again.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KeysScreen {
    pub page: super::page::Page<ApiKeyView>,
    pub upstreams: Vec<super::named::Named>,
    pub reveal_allowed: bool,
}
