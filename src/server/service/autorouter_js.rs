//! Moving from the original (Next.js) AutoRouter: copies its upstreams (their Fernet tokens kept
//! as they are: with the same `ENCRYPTION_KEY` they decrypt here), client keys (bcrypt hashes
//! kept: existing clients keep working), key-upstream links, breaker settings and request logs.
//! Upstreams and keys keep their ids and logs are marked as copied, so a second run copies
//! nothing again (docs/config-as-code.md).
use std::collections::{BTreeMap, HashMap, HashSet};

use super::{db_error, keys, upstreams, Services};
use crate::model::config::JsImportSummary;
use crate::model::keys::KEY_PREFIX;
use crate::model::upstreams::{BreakerConfig, CreateUpstream, Provider};
use crate::model::usage::Usage;
use crate::server::db::autorouter_js::{JsKey, JsLog, JsUpstream, LogCursor, Source};
use crate::server::db::imported_rows::{self, REQUEST_LOG};
use crate::server::db::request_logs::LogRecord;
use crate::server::error::ApiError;

/// Logs read and written per transaction.
const LOG_BATCH: i64 = 1_000;

/// The original wrote Fernet tokens in standard base64 without padding; Fernet (and this
/// gateway) reads URL-safe base64 with it. Same bytes, other spelling.
pub(crate) fn fernet_token(raw: &str) -> String {
    let mut t: String = raw
        .trim()
        .trim_end_matches('=')
        .chars()
        .map(|c| match c {
            '+' => '-',
            '/' => '_',
            c => c,
        })
        .collect();
    while !t.len().is_multiple_of(4) {
        t.push('=');
    }
    t
}

/// The provider: the January 2026 layout names it; today's has route capabilities instead.
fn provider_of(u: &JsUpstream) -> Provider {
    if let Some(p) = u.provider.as_deref() {
        return match p.trim().to_ascii_lowercase().as_str() {
            "openai" => Provider::Openai,
            "anthropic" => Provider::Anthropic,
            "google" | "gemini" => Provider::Google,
            _ => Provider::OpenaiCompatible,
        };
    }
    let caps: Vec<String> = u
        .route_capabilities
        .as_deref()
        .and_then(|c| serde_json::from_str(c).ok())
        .unwrap_or_default();
    if caps.iter().any(|c| c.starts_with("anthropic")) {
        Provider::Anthropic
    } else if caps.iter().any(|c| c.starts_with("gemini")) {
        Provider::Google
    } else if caps
        .iter()
        .any(|c| c.starts_with("openai") || c.starts_with("codex"))
    {
        Provider::Openai
    } else {
        Provider::OpenaiCompatible
    }
}

/// `circuit_breaker_states.config` (camelCase, milliseconds) as ours; fields left out take our
/// defaults, as the original merged its own over them. `probeInterval` has no counterpart.
fn breaker_of(raw: &str) -> Option<BreakerConfig> {
    let v: serde_json::Value = serde_json::from_str(raw).ok()?;
    let obj = v.as_object()?;
    let d = BreakerConfig::default();
    let num = |k: &str| obj.get(k).and_then(serde_json::Value::as_u64);
    Some(BreakerConfig {
        failure_threshold: num("failureThreshold")
            .map_or(d.failure_threshold, |n| n.clamp(1, 100) as u32),
        success_threshold: num("successThreshold")
            .map_or(d.success_threshold, |n| n.clamp(1, 100) as u32),
        open_duration_ms: num("openDuration")
            .map_or(d.open_duration_ms, |n| n.clamp(1_000, 3_600_000)),
        half_open_max_probes: d.half_open_max_probes,
    })
}

fn upstream_input(u: &JsUpstream) -> CreateUpstream {
    let allowed: Vec<String> = u
        .allowed_models
        .as_deref()
        .and_then(|m| serde_json::from_str(m).ok())
        .unwrap_or_default();
    let redirects: BTreeMap<String, String> = u
        .model_redirects
        .as_deref()
        .and_then(|m| serde_json::from_str(m).ok())
        .unwrap_or_default();
    CreateUpstream {
        name: u.name.clone(),
        provider: provider_of(u).as_str().to_string(),
        base_url: u.base_url.clone(),
        timeout_ms: Some((u.timeout.clamp(1, 600) as u64) * 1_000),
        weight: Some(u.weight.unwrap_or(1).clamp(1, 100) as u32),
        priority: Some(u.priority.unwrap_or(0).clamp(0, 1_000) as i32),
        allowed_models: Some(allowed),
        model_redirects: Some(redirects),
        is_active: Some(u.is_active),
        circuit_breaker: u.breaker_config.as_deref().and_then(breaker_of),
        ..CreateUpstream::default()
    }
}

fn log_record(l: JsLog, prices: &crate::model::prices::PriceTable) -> LogRecord {
    let usage = Usage {
        prompt_tokens: l.prompt_tokens,
        completion_tokens: l.completion_tokens,
        total_tokens: l.total_tokens,
        cached_tokens: l.cached_tokens,
        reasoning_tokens: l.reasoning_tokens,
        cache_creation_tokens: l.cache_creation_tokens,
        cache_read_tokens: l.cache_read_tokens,
        cache_creation_1h_tokens: 0,
    };
    let cost_nanos = l
        .model
        .as_deref()
        .and_then(|m| prices.lookup(m))
        .filter(|_| usage.total_tokens > 0)
        .map(|p| crate::model::prices::cost_nanos(p, &usage, 1_000_000));
    LogRecord {
        request_id: l.id,
        api_key_id: l.api_key_id,
        upstream_id: l.upstream_id,
        method: l.method.unwrap_or_else(|| "POST".into()),
        path: l.path.unwrap_or_default(),
        model_requested: l.model.clone(),
        model_sent: l.model,
        status_code: l.status_code,
        is_stream: l.is_stream,
        usage,
        ttft_ms: l.ttft_ms,
        duration_ms: l.duration_ms,
        error_message: l.error_message,
        lb_strategy: l.lb_strategy,
        failover_attempts: l.failover_attempts,
        failover_history: l.failover_history,
        created_at: l.created_at,
        cost_nanos,
        ..LogRecord::default()
    }
}

fn source_error(e: sqlx::Error) -> ApiError {
    ApiError::Invalid(format!("the original AutoRouter's database: {e}"))
}

/// Copies what `url` (the original's PostgreSQL) holds that is not here yet; a dry run reads
/// and counts but writes nothing. Every upstream key must decrypt with this gateway's key
/// before anything is written.
pub(crate) async fn import(
    state: &Services,
    url: &str,
    dry_run: bool,
) -> Result<JsImportSummary, ApiError> {
    let source = Source::connect(url).await.map_err(source_error)?;
    let result = copy(state, &source, dry_run).await;
    source.close().await;
    result
}

async fn copy(
    state: &Services,
    source: &Source,
    dry_run: bool,
) -> Result<JsImportSummary, ApiError> {
    let mut summary = JsImportSummary {
        dry_run,
        layout: source.layout().into(),
        ..JsImportSummary::default()
    };
    let ups = source.upstreams().await.map_err(source_error)?;
    // The whole point of keeping tokens is that they decrypt here: check every one first.
    for u in &ups {
        if state
            .cipher
            .decrypt(&fernet_token(&u.api_key_encrypted))
            .is_err()
        {
            return Err(ApiError::Invalid(format!(
                "upstream {:?}: its key does not decrypt with this gateway's ENCRYPTION_KEY; \
                 run the import with the original AutoRouter's ENCRYPTION_KEY",
                u.name
            )));
        }
    }
    let here: HashMap<String, String> = upstreams::all(state)
        .await?
        .into_iter()
        .map(|u| (u.id, u.name))
        .collect();
    let names_here: HashMap<&str, &str> = here
        .iter()
        .map(|(id, name)| (name.as_str(), id.as_str()))
        .collect();
    // Upstreams the keys may be linked to: here already, or copied now.
    let mut usable: HashSet<String> = HashSet::new();
    for u in &ups {
        if here.contains_key(&u.id) {
            summary.upstreams.already += 1;
            usable.insert(u.id.clone());
            continue;
        }
        if let Some(other) = names_here.get(u.name.as_str()) {
            summary.upstreams.skipped += 1;
            summary.warnings.push(format!(
                "upstream {:?} skipped: an upstream of that name (id {other}) is already here",
                u.name
            ));
            continue;
        }
        let input = upstream_input(u);
        if input.circuit_breaker.is_some() {
            summary.breaker_configs.copied += 1;
        }
        if !dry_run {
            let token = fernet_token(&u.api_key_encrypted);
            if let Err(e) = upstreams::create_imported(state, u.id.clone(), input, token).await {
                summary.upstreams.skipped += 1;
                summary
                    .warnings
                    .push(format!("upstream {:?} skipped: {e}", u.name));
                continue;
            }
        }
        summary.upstreams.copied += 1;
        usable.insert(u.id.clone());
    }

    let mut links: HashMap<String, Vec<String>> = HashMap::new();
    for (key, upstream) in source.links().await.map_err(source_error)? {
        links.entry(key).or_default().push(upstream);
    }
    let all_usable: Vec<String> = ups
        .iter()
        .filter(|u| usable.contains(&u.id))
        .map(|u| u.id.clone())
        .collect();
    for k in source.keys().await.map_err(source_error)? {
        copy_key(
            state,
            k,
            &links,
            &usable,
            &all_usable,
            dry_run,
            &mut summary,
        )
        .await?;
    }

    copy_logs(state, source, dry_run, &mut summary).await?;
    tracing::info!(
        dry_run,
        upstreams = summary.upstreams.copied,
        keys = summary.keys.copied,
        logs = summary.request_logs.copied,
        "imported from the original AutoRouter"
    );
    Ok(summary)
}

async fn copy_key(
    state: &Services,
    k: JsKey,
    links: &HashMap<String, Vec<String>>,
    usable: &HashSet<String>,
    all_usable: &[String],
    dry_run: bool,
    summary: &mut JsImportSummary,
) -> Result<(), ApiError> {
    let linked = links.get(&k.id).map(Vec::as_slice).unwrap_or_default();
    if keys::exists(state, &k.id).await? {
        summary.keys.already += 1;
        summary.links.already += linked.len() as u64;
        return Ok(());
    }
    if !k.key_prefix.starts_with(KEY_PREFIX) {
        summary.keys.skipped += 1;
        summary.warnings.push(format!(
            "key {:?} skipped: its prefix is not {KEY_PREFIX}, which this gateway requires",
            k.name
        ));
        return Ok(());
    }
    let unrestricted = k.access_mode.as_deref() == Some("unrestricted");
    let upstream_ids: Vec<String> = if unrestricted {
        all_usable.to_vec()
    } else {
        linked
            .iter()
            .filter(|id| usable.contains(*id))
            .cloned()
            .collect()
    };
    let dropped = if unrestricted {
        0
    } else {
        linked.len() - upstream_ids.len()
    };
    if upstream_ids.is_empty() {
        summary.keys.skipped += 1;
        summary.links.skipped += linked.len() as u64;
        summary.warnings.push(format!(
            "key {:?} skipped: none of its upstreams was copied (a key here needs at least one)",
            k.name
        ));
        return Ok(());
    }
    let name: String = k.name.chars().take(100).collect();
    let description = k.description.map(|d| d.chars().take(500).collect());
    let copied_links = upstream_ids.len() as u64;
    if !dry_run {
        let imported = keys::ImportedKey {
            id: k.id,
            name: name.clone(),
            description,
            key_prefix: k.key_prefix,
            key_hash: k.key_hash,
            key_encrypted: k.key_value_encrypted.as_deref().map(fernet_token),
            is_active: k.is_active,
            expires_at: k.expires_at,
            created_at: Some(k.created_at),
            upstream_ids,
        };
        if let Err(e) = keys::create_imported(state, imported).await {
            summary.keys.skipped += 1;
            summary.warnings.push(format!("key {name:?} skipped: {e}"));
            return Ok(());
        }
    }
    summary.keys.copied += 1;
    summary.links.copied += copied_links;
    summary.links.skipped += dropped as u64;
    Ok(())
}

async fn copy_logs(
    state: &Services,
    source: &Source,
    dry_run: bool,
    summary: &mut JsImportSummary,
) -> Result<(), ApiError> {
    let prices = state.plane.routing.snapshot().prices.clone();
    let mut cursor: LogCursor = None;
    loop {
        let (batch, next) = source
            .logs(&cursor, LOG_BATCH)
            .await
            .map_err(source_error)?;
        if batch.is_empty() {
            return Ok(());
        }
        cursor = next;
        let ids: Vec<String> = batch.iter().map(|l| l.id.clone()).collect();
        let done = imported_rows::copied(&state.db.pool, REQUEST_LOG, &ids)
            .await
            .map_err(db_error)?;
        let fresh: Vec<JsLog> = batch
            .into_iter()
            .filter(|l| !done.contains(&l.id))
            .collect();
        summary.request_logs.already += done.len() as u64;
        summary.request_logs.copied += fresh.len() as u64;
        if dry_run || fresh.is_empty() {
            continue;
        }
        let ids: Vec<String> = fresh.iter().map(|l| l.id.clone()).collect();
        let records: Vec<LogRecord> = fresh.into_iter().map(|l| log_record(l, &prices)).collect();
        imported_rows::insert_logs(&state.db, &records, &ids, state.clock.now_ms())
            .await
            .map_err(db_error)?;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_in_standard_base64_become_url_safe_and_padded() {
        assert_eq!(fernet_token("gAAA+b/c"), "gAAA-b_c");
        assert_eq!(fernet_token("gAAAAB"), "gAAAAB==");
        assert_eq!(fernet_token("gAAAAB=="), "gAAAAB==");
    }

    #[test]
    fn the_originals_breaker_config_maps_to_ours() {
        let b = breaker_of(r#"{"failureThreshold":3,"openDuration":60000,"probeInterval":5000}"#)
            .unwrap();
        assert_eq!(b.failure_threshold, 3);
        assert_eq!(b.success_threshold, 2);
        assert_eq!(b.open_duration_ms, 60_000);
        assert!(breaker_of("null").is_none());
    }
}
