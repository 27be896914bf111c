//! Client API keys: create (the only time the full key is shown), list, edit, delete, reveal.
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;

use super::limits::{self, checked_key_limits};
use super::Services;
use super::{db_error, validate};
use crate::model::keys::{
    stored_prefix, ApiKeyView, CreateApiKey, CreatedApiKey, RevealedApiKey, UpdateApiKey,
    KEY_PREFIX,
};
use crate::model::limits::{DaySpend, Spend};
use crate::model::named::Named;
use crate::model::page::{Page, PageRequest};
use crate::server::crypto::random_bytes;
use crate::server::db::keys::{self as repo, KeyLimitColumns, KeyRow};
use crate::server::db::upstreams as upstream_repo;
use crate::server::error::ApiError;
use crate::server::timefmt::{parse_rfc3339, to_rfc3339};

/// Keys carry 256 random bits, so bcrypt is defence in depth rather than the only barrier.
const BCRYPT_COST: u32 = 10;

pub(crate) fn generate_key() -> String {
    format!(
        "{KEY_PREFIX}{}",
        URL_SAFE_NO_PAD.encode(random_bytes::<32>())
    )
}

fn view(row: &KeyRow, upstream_ids: Vec<String>, spend: Spend, now: i64) -> ApiKeyView {
    ApiKeyView {
        id: row.id.clone(),
        name: row.name.clone(),
        description: row.description.clone(),
        key_prefix: row.key_prefix.clone(),
        is_active: row.is_active != 0,
        expires_at: row.expires_at.map(to_rfc3339),
        is_expired: row.expires_at.is_some_and(|e| e <= now),
        upstream_ids,
        limits: row.limits.to_limits(),
        spend,
        last_used_at: row.last_used_at.map(to_rfc3339),
        created_at: to_rfc3339(row.created_at),
        updated_at: to_rfc3339(row.updated_at),
    }
}

fn parse_expiry(raw: Option<&str>, now: i64) -> Result<Option<i64>, ApiError> {
    match raw.map(str::trim).filter(|s| !s.is_empty()) {
        None => Ok(None),
        Some(s) => {
            let at = parse_rfc3339(s).map_err(|e| validate::invalid("expires_at", e))?;
            if at <= now {
                return Err(validate::problem(
                    "expires_at",
                    "past",
                    None,
                    "must be in the future",
                ));
            }
            Ok(Some(at))
        }
    }
}

async fn checked_upstreams(state: &Services, ids: &[String]) -> Result<Vec<String>, ApiError> {
    let ids = validate::id_list("upstream_ids", ids)?;
    if ids.is_empty() {
        return Err(validate::problem(
            "upstream_ids",
            "required",
            None,
            "a key needs at least one upstream",
        ));
    }
    let existing = upstream_repo::existing_ids(&state.db.pool, &ids)
        .await
        .map_err(db_error)?;
    if let Some(missing) = ids.iter().find(|id| !existing.contains(id)) {
        return Err(validate::invalid(
            "upstream_ids",
            format!("no upstream with id {missing}"),
        ));
    }
    Ok(ids)
}

async fn bcrypt_hash(key: String) -> Result<String, ApiError> {
    tokio::task::spawn_blocking(move || bcrypt::hash(key, BCRYPT_COST))
        .await
        .map_err(ApiError::internal)?
        .map_err(ApiError::internal)
}

pub(crate) async fn create(
    state: &Services,
    input: CreateApiKey,
) -> Result<CreatedApiKey, ApiError> {
    let now = state.clock.now_ms();
    let name = validate::text("name", &input.name, 100)?;
    let description = validate::optional_text("description", input.description.as_deref(), 500)?;
    let expires_at = parse_expiry(input.expires_at.as_deref(), now)?;
    let upstream_ids = checked_upstreams(state, &input.upstream_ids).await?;
    let limits = checked_key_limits(&input.limits)?;

    let key = generate_key();
    let row = KeyRow {
        id: uuid::Uuid::new_v4().to_string(),
        key_prefix: stored_prefix(&key).to_string(),
        key_hash: bcrypt_hash(key.clone()).await?,
        // A revealable copy exists only while revealing is allowed: a key issued otherwise
        // can never be shown again, whatever the setting later says.
        key_encrypted: if state.config.allow_key_reveal {
            state.cipher.encrypt(&key)
        } else {
            String::new()
        },
        name,
        description,
        is_active: i64::from(input.is_active.unwrap_or(true)),
        expires_at,
        last_used_at: None,
        created_at: now,
        updated_at: now,
        key_digest: Some(crate::server::crypto::digest_hex(
            &crate::server::crypto::sha256(key.as_bytes()),
        )),
        limits: KeyLimitColumns::of(&limits),
    };
    repo::insert(&state.db.pool, &row, &upstream_ids)
        .await
        .map_err(db_error)?;
    state.routing_changed().await;
    tracing::info!(key_id = %row.id, prefix = %row.key_prefix, "api key created");
    Ok(CreatedApiKey {
        key: view(&row, upstream_ids, Spend::default(), now),
        key_value: key,
    })
}

/// A client key copied from another gateway (the original AutoRouter), which kept only its
/// bcrypt hash: it has no digest, so its first use here checks it with bcrypt and stores the
/// digest (the proxy's path for keys made before digests). Its id and prefix are kept; an
/// expiry in the past is kept too (the key is expired here as it was there). `key_encrypted` is
/// the original's revealable copy, kept only while revealing is allowed.
pub(crate) async fn create_imported(
    state: &Services,
    imported: ImportedKey,
) -> Result<ApiKeyView, ApiError> {
    let now = state.clock.now_ms();
    let name = validate::text("name", &imported.name, 100)?;
    let description = validate::optional_text("description", imported.description.as_deref(), 500)?;
    let upstream_ids = checked_upstreams(state, &imported.upstream_ids).await?;
    if !imported.key_hash.starts_with("$2") {
        return Err(validate::invalid("key_hash", "is not a bcrypt hash"));
    }
    let row = KeyRow {
        id: imported.id,
        key_prefix: imported.key_prefix,
        key_hash: imported.key_hash,
        key_encrypted: if state.config.allow_key_reveal {
            imported.key_encrypted.unwrap_or_default()
        } else {
            String::new()
        },
        name,
        description,
        is_active: i64::from(imported.is_active),
        expires_at: imported.expires_at,
        last_used_at: None,
        created_at: imported.created_at.unwrap_or(now),
        updated_at: now,
        key_digest: None,
        limits: KeyLimitColumns::default(),
    };
    repo::insert(&state.db.pool, &row, &upstream_ids)
        .await
        .map_err(db_error)?;
    state.routing_changed().await;
    tracing::info!(key_id = %row.id, prefix = %row.key_prefix, "api key imported");
    Ok(view(&row, upstream_ids, Spend::default(), now))
}

/// What an imported key brings: everything but its value.
pub(crate) struct ImportedKey {
    pub id: String,
    pub name: String,
    pub description: Option<String>,
    pub key_prefix: String,
    pub key_hash: String,
    pub key_encrypted: Option<String>,
    pub is_active: bool,
    pub expires_at: Option<i64>,
    pub created_at: Option<i64>,
    pub upstream_ids: Vec<String>,
}

/// Every key (spend left at zero), newest first.
pub(crate) async fn all(state: &Services) -> Result<Vec<ApiKeyView>, ApiError> {
    let now = state.clock.now_ms();
    let rows = repo::list_all(&state.db.pool).await.map_err(db_error)?;
    let mut perms = repo::all_permissions(&state.db.pool)
        .await
        .map_err(db_error)?;
    Ok(rows
        .iter()
        .map(|r| {
            let mut upstreams = perms.remove(&r.id).unwrap_or_default();
            upstreams.sort();
            view(r, upstreams, Spend::default(), now)
        })
        .collect())
}

/// Whether a key with this id exists.
pub(crate) async fn exists(state: &Services, id: &str) -> Result<bool, ApiError> {
    Ok(repo::get(&state.db.pool, id)
        .await
        .map_err(db_error)?
        .is_some())
}

pub(crate) async fn list(
    state: &Services,
    page: PageRequest,
    search: Option<&str>,
) -> Result<Page<ApiKeyView>, ApiError> {
    let now = state.clock.now_ms();
    let (rows, total) =
        repo::list_page(&state.db.pool, search, page.page_size as i64, page.offset())
            .await
            .map_err(db_error)?;
    let ids: Vec<String> = rows.iter().map(|r| r.id.clone()).collect();
    let mut perms = repo::upstream_ids_for(&state.db.pool, &ids)
        .await
        .map_err(db_error)?;
    let mut spend = limits::key_spend(state).await?;
    let items = rows
        .iter()
        .map(|r| {
            let upstreams = perms.remove(&r.id).unwrap_or_default();
            view(r, upstreams, spend.remove(&r.id).unwrap_or_default(), now)
        })
        .collect();
    Ok(Page::new(
        items,
        total.max(0) as u64,
        page.page,
        page.page_size,
    ))
}

async fn load(state: &Services, id: &str) -> Result<KeyRow, ApiError> {
    repo::get(&state.db.pool, id)
        .await
        .map_err(db_error)?
        .ok_or_else(|| ApiError::NotFound(format!("no API key with id {id}")))
}

pub(crate) async fn get(state: &Services, id: &str) -> Result<ApiKeyView, ApiError> {
    let row = load(state, id).await?;
    let mut perms = repo::upstream_ids_for(&state.db.pool, std::slice::from_ref(&row.id))
        .await
        .map_err(db_error)?;
    let spend = limits::key_spend(state)
        .await?
        .remove(&row.id)
        .unwrap_or_default();
    Ok(view(
        &row,
        perms.remove(&row.id).unwrap_or_default(),
        spend,
        state.clock.now_ms(),
    ))
}

pub(crate) async fn update(
    state: &Services,
    id: &str,
    input: UpdateApiKey,
) -> Result<ApiKeyView, ApiError> {
    let now = state.clock.now_ms();
    let mut row = load(state, id).await?;
    if let Some(name) = &input.name {
        row.name = validate::text("name", name, 100)?;
    }
    if let Some(description) = &input.description {
        row.description = validate::optional_text("description", description.as_deref(), 500)?;
    }
    if let Some(expires_at) = &input.expires_at {
        row.expires_at = parse_expiry(expires_at.as_deref(), now)?;
    }
    if let Some(active) = input.is_active {
        row.is_active = i64::from(active);
    }
    if let Some(l) = &input.limits {
        row.limits = KeyLimitColumns::of(&checked_key_limits(l)?);
    }
    let upstream_ids = match &input.upstream_ids {
        Some(ids) => Some(checked_upstreams(state, ids).await?),
        None => None,
    };
    row.updated_at = now;
    if !repo::update(&state.db.pool, &row, upstream_ids.as_deref())
        .await
        .map_err(db_error)?
    {
        return Err(ApiError::NotFound(format!("no API key with id {id}")));
    }
    state.routing_changed().await;
    get(state, id).await
}

pub(crate) async fn delete(state: &Services, id: &str) -> Result<(), ApiError> {
    if repo::delete(&state.db.pool, id).await.map_err(db_error)? {
        state.routing_changed().await;
        tracing::info!(key_id = %id, "api key deleted");
        Ok(())
    } else {
        Err(ApiError::NotFound(format!("no API key with id {id}")))
    }
}

/// The full key, only when `ALLOW_KEY_REVEAL=true`; the decrypted copy must still match the hash.
pub(crate) async fn reveal(state: &Services, id: &str) -> Result<RevealedApiKey, ApiError> {
    if !state.config.allow_key_reveal {
        return Err(ApiError::Forbidden(
            "revealing keys is disabled (set ALLOW_KEY_REVEAL=true to allow it)".into(),
        ));
    }
    let row = load(state, id).await?;
    if row.key_encrypted.is_empty() {
        return Err(ApiError::Conflict(
            "this key was issued while revealing was off; no copy of it was kept".into(),
        ));
    }
    let key = state
        .cipher
        .decrypt(&row.key_encrypted)
        .map_err(ApiError::internal)?;
    let hash = row.key_hash.clone();
    let candidate = key.clone();
    let matches =
        tokio::task::spawn_blocking(move || bcrypt::verify(candidate, &hash).unwrap_or(false))
            .await
            .map_err(ApiError::internal)?;
    if !matches {
        return Err(ApiError::internal(std::io::Error::other(
            "stored key copy does not match its hash",
        )));
    }
    tracing::info!(key_id = %id, "api key revealed");
    Ok(RevealedApiKey {
        id: row.id,
        key_value: key,
    })
}

/// A key's spend per day over the last `days` days (404 for no such key).
pub(crate) async fn spend_by_day(
    state: &Services,
    id: &str,
    days: u32,
) -> Result<Vec<DaySpend>, ApiError> {
    load(state, id).await?;
    limits::key_days(state, id, days).await
}

/// Every key's id and name.
pub(crate) async fn names(state: &Services) -> Result<Vec<Named>, ApiError> {
    let rows = repo::names(&state.db.pool).await.map_err(db_error)?;
    Ok(rows
        .into_iter()
        .map(|(id, name)| Named { id, name })
        .collect())
}

/// With revealing off, the copies kept while it was on are deleted (at start-up): a key's
/// encrypted copy exists only while `ALLOW_KEY_REVEAL=true`.
pub(crate) async fn forget_copies_unless_revealable(state: &Services) -> Result<u64, sqlx::Error> {
    if state.config.allow_key_reveal {
        return Ok(0);
    }
    let forgotten = repo::forget_encrypted_copies(&state.db.pool).await?;
    if forgotten > 0 {
        tracing::info!(
            forgotten,
            "ALLOW_KEY_REVEAL is off: the revealable copies of client keys were deleted"
        );
    }
    Ok(forgotten)
}

pub(crate) fn reveal_allowed(state: &Services) -> bool {
    state.config.allow_key_reveal
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_have_the_documented_shape() {
        let k = generate_key();
        assert!(k.starts_with("sk-auto-"));
        assert_eq!(k.len(), 8 + 43);
        assert_eq!(stored_prefix(&k).len(), 12);
        assert!(k.starts_with(stored_prefix(&k)));
        assert_ne!(generate_key(), k);
    }
}
