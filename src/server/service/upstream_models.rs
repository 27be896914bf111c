//! Model discovery: each upstream's own model list, fetched on an interval and on demand,
//! stored, and given to the routing snapshot so a key's `/v1/models` names every model it can
//! reach.
use std::time::Duration;

use serde_json::Value;

use super::upstreams::load;
use super::{db_error, Services};
use crate::model::upstreams::{DiscoveredModels, Format, Provider};
use crate::server::db::upstream_models as repo;
use crate::server::db::upstreams::{self as upstream_repo, UpstreamRow};
use crate::server::error::ApiError;
use crate::server::http::ssrf::{validate_url, SsrfPolicy};
use crate::server::proxy::provider_auth::{apply_upstream_auth, Credential};
use crate::server::proxy::upstream_target::UpstreamTarget;
use crate::server::timefmt::to_rfc3339;

/// Fetches name themselves, so an upstream's operator (and the test mock) can tell them from
/// client traffic.
pub(crate) const DISCOVERY_AGENT: &str =
    concat!("AutoRouter-ModelDiscovery/", env!("CARGO_PKG_VERSION"));
/// The most models kept per upstream, and the longest id.
const MAX_MODELS: usize = 2_000;
const MAX_MODEL_LEN: usize = 200;

/// The model ids in a list answer: OpenAI's and Anthropic's `data[].id`, Gemini's
/// `models[].name` (both without `models/`, which Google's OpenAI-compatible list adds too).
fn ids_in(body: &Value) -> Vec<String> {
    let openai = body["data"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|m| m["id"].as_str())
        .map(|n| n.strip_prefix("models/").unwrap_or(n));
    let gemini = body["models"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|m| m["name"].as_str())
        .map(|n| n.strip_prefix("models/").unwrap_or(n));
    let mut ids: Vec<String> = openai
        .chain(gemini)
        .map(str::trim)
        .filter(|id| !id.is_empty() && id.len() <= MAX_MODEL_LEN && !id.contains(char::is_control))
        .map(String::from)
        .collect();
    ids.sort();
    ids.dedup();
    ids.truncate(MAX_MODELS);
    ids
}

/// Asks an upstream for its models.
async fn fetch(state: &Services, row: &UpstreamRow) -> Result<Vec<String>, String> {
    let provider: Provider = row
        .provider
        .parse()
        .map_err(|_| "unknown provider".to_string())?;
    let policy = SsrfPolicy {
        allow_private: state.config.allow_private_upstreams,
    };
    let base = validate_url(row.base_url.trim(), policy).map_err(|e| e.to_string())?;
    let base = base.as_str().trim_end_matches('/');
    let key = state
        .cipher
        .decrypt(&row.api_key_encrypted)
        .map_err(|_| "cannot decrypt the upstream's key".to_string())?;
    let mut headers = axum::http::HeaderMap::new();
    // A Google upstream that speaks its own API is asked there (every model, in one page of
    // at most 1000), with its key as that API takes it.
    let native = provider == Provider::Google && row.speaks(provider).contains(&Format::Gemini);
    if native {
        if let Some(credential) = Credential::new(provider, &key) {
            credential.apply_gemini(&mut headers);
        }
    } else {
        apply_upstream_auth(provider, &key, &mut headers, false);
    }
    headers.insert(
        axum::http::header::USER_AGENT,
        axum::http::HeaderValue::from_static(DISCOVERY_AGENT),
    );
    // Once an hour: no reason to keep the connection open after it.
    headers.insert(
        axum::http::header::CONNECTION,
        axum::http::HeaderValue::from_static("close"),
    );
    let url = match provider {
        Provider::Google if native => {
            let target = UpstreamTarget::parse(base).map_err(|e| e.to_string())?;
            let uri = target
                .gemini_uri("v1beta/models", Some("pageSize=1000"))
                .map_err(|e| e.to_string())?;
            format!("{}{uri}", target.origin().as_str())
        }
        Provider::Anthropic => format!("{base}/models?limit=1000"),
        _ => format!("{base}/models"),
    };
    let res = state
        .plane
        .http
        .tester()
        .get(url)
        .headers(headers)
        .timeout(Duration::from_millis(
            row.timeout_ms.clamp(1_000, 30_000) as u64
        ))
        .send()
        .await
        .map_err(|e| {
            if e.is_timeout() {
                "no answer in time".to_string()
            } else {
                "could not connect".to_string()
            }
        })?;
    let status = res.status().as_u16();
    if !(200..300).contains(&status) {
        return Err(format!("the upstream answered HTTP {status}"));
    }
    let body: Value = res
        .json()
        .await
        .map_err(|_| "the answer is not a model list".to_string())?;
    Ok(ids_in(&body))
}

async fn fetch_and_store(state: &Services, row: &UpstreamRow) -> Result<(), ApiError> {
    let fetched = fetch(state, row).await;
    let outcome = fetched.as_deref().map_err(String::as_str);
    if let Err(e) = &outcome {
        tracing::info!(upstream = %row.name, error = %e, "model discovery failed");
    }
    repo::record_fetch(&state.db.pool, &row.id, outcome, state.clock.now_ms())
        .await
        .map_err(db_error)
}

/// Fetches one upstream's models now.
pub(crate) async fn refresh(state: &Services, id: &str) -> Result<DiscoveredModels, ApiError> {
    let row = load(state, id).await?;
    fetch_and_store(state, &row).await?;
    state.routing_changed().await;
    list(state, id).await
}

/// Fetches the models of every active upstream (the interval's pass), or of those never asked
/// yet (`only_new`: after one was created).
pub(crate) async fn refresh_all(state: &Services, only_new: bool) -> Result<(), ApiError> {
    let rows = upstream_repo::list_all(&state.db.pool)
        .await
        .map_err(db_error)?;
    let mut fetched = false;
    for row in rows.iter().filter(|r| r.is_active != 0) {
        if only_new
            && repo::fetch_state(&state.db.pool, &row.id)
                .await
                .map_err(db_error)?
                .0
                .is_some()
        {
            continue;
        }
        fetch_and_store(state, row).await?;
        fetched = true;
    }
    if fetched {
        state.routing_changed().await;
    }
    Ok(())
}

/// What an upstream listed when last asked.
pub(crate) async fn list(state: &Services, id: &str) -> Result<DiscoveredModels, ApiError> {
    load(state, id).await?;
    // The fetch's time first: the models it stored were committed with it.
    let (fetched_at, error) = repo::fetch_state(&state.db.pool, id)
        .await
        .map_err(db_error)?;
    let models = repo::of(&state.db.pool, id).await.map_err(db_error)?;
    Ok(DiscoveredModels {
        models,
        fetched_at: fetched_at.map(to_rfc3339),
        error,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_come_from_openai_anthropic_and_gemini_lists() {
        let openai = serde_json::json!({"object": "list", "data": [{"id": "gpt-4o"}, {"id": "gpt-4o"}, {"id": " "}]});
        assert_eq!(ids_in(&openai), ["gpt-4o"]);
        let anthropic = serde_json::json!({"data": [{"id": "claude-sonnet-4", "type": "model"}], "has_more": false});
        assert_eq!(ids_in(&anthropic), ["claude-sonnet-4"]);
        let gemini = serde_json::json!({"models": [{"name": "models/gemini-2.5-pro"}, {"name": "models/gemini-2.5-flash"}]});
        assert_eq!(ids_in(&gemini), ["gemini-2.5-flash", "gemini-2.5-pro"]);
        let compatible = serde_json::json!({"object": "list", "data": [{"id": "models/gemini-2.5-flash", "object": "model", "owned_by": "google"}]});
        assert_eq!(ids_in(&compatible), ["gemini-2.5-flash"]);
        assert!(ids_in(&serde_json::json!({"error": "x"})).is_empty());
    }
}
