//! Client API keys as the admin API and the UI exchange them.
use serde::{Deserialize, Serialize};

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

/// A key as listed: never the full secret.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ApiKeyView {
    pub id: String,
    pub name: String,
    pub description: Option<String>,
    pub key_prefix: String,
    pub is_active: bool,
    /// RFC 3339, UTC.
    pub expires_at: Option<String>,
    pub is_expired: bool,
    pub upstream_ids: Vec<String>,
    pub last_used_at: Option<String>,
    pub created_at: String,
    pub updated_at: String,
}

/// Answer to a create: the one time the full key is shown.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CreatedApiKey {
    #[serde(flatten)]
    pub key: ApiKeyView,
    pub key_value: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RevealedApiKey {
    pub id: String,
    pub key_value: String,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateApiKey {
    pub name: String,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub upstream_ids: Vec<String>,
    /// RFC 3339; must lie in the future.
    #[serde(default)]
    pub expires_at: Option<String>,
    #[serde(default)]
    pub is_active: Option<bool>,
}

/// Partial update: absent fields stay; `null` clears the nullable ones.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpdateApiKey {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default, with = "double_option")]
    pub description: Option<Option<String>>,
    #[serde(default)]
    pub upstream_ids: Option<Vec<String>>,
    #[serde(default, with = "double_option")]
    pub expires_at: Option<Option<String>>,
    #[serde(default)]
    pub is_active: Option<bool>,
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
