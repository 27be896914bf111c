//! Configuration as code: exports the gateway's configuration as a `ConfigDocument`, and plans
//! and applies one through the same services the admin API uses (docs/config-as-code.md).
use std::collections::{BTreeMap, BTreeSet, HashMap};

use serde::Serialize;

use super::{keys, prices, settings, upstreams, validate, Services};
use crate::model::config::{
    ChangeAction, ConfigDocument, EntityKind, ImportResult, IssuedKey, KeySpec, PlannedChange,
    PriceSpec, UpstreamSpec, CONFIG_VERSION,
};
use crate::model::keys::{ApiKeyView, CreateApiKey, UpdateApiKey};
use crate::model::settings::{GatewaySettings, UpdateSettings};
use crate::model::upstreams::{CreateUpstream, UpdateUpstream, UpstreamView};
use crate::server::error::ApiError;
use crate::server::timefmt::parse_rfc3339;

/// How an export names upstream keys.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) enum KeyRefs {
    /// No `api_key_env`: an import keeps the stored keys (and cannot create upstreams).
    #[default]
    Omit,
    /// `api_key_env: AUTOROUTER_UPSTREAM_KEY_<NAME>` for every upstream.
    Env,
}

/// The environment variable an export names for an upstream's key: the name upper-cased, every
/// run of other characters than letters and digits one `_`.
pub(crate) fn key_env_name(upstream: &str) -> String {
    let mut out = String::from("AUTOROUTER_UPSTREAM_KEY_");
    let mut gap = false;
    for c in upstream.chars() {
        if c.is_ascii_alphanumeric() {
            if gap && !out.ends_with('_') {
                out.push('_');
            }
            out.push(c.to_ascii_uppercase());
            gap = false;
        } else {
            gap = true;
        }
    }
    out
}

fn upstream_spec(v: &UpstreamView, refs: KeyRefs) -> UpstreamSpec {
    UpstreamSpec {
        name: v.name.clone(),
        provider: v.provider,
        base_url: v.base_url.clone(),
        api_key_env: (refs == KeyRefs::Env).then(|| key_env_name(&v.name)),
        timeout_ms: v.timeout_ms,
        weight: v.weight,
        priority: v.priority,
        allowed_models: v.allowed_models.clone(),
        model_redirects: v.model_redirects.clone(),
        is_active: v.is_active,
        circuit_breaker: v.circuit_breaker,
        extra_paths: v.extra_paths.clone(),
        api_formats: v.api_formats.clone(),
        limits: v.limits.clone(),
        price_multiplier: v.price_multiplier,
    }
}

fn key_spec(v: &ApiKeyView, upstream_names: &HashMap<String, String>) -> KeySpec {
    let mut names: Vec<String> = v
        .upstream_ids
        .iter()
        .map(|id| {
            upstream_names
                .get(id)
                .cloned()
                .unwrap_or_else(|| id.clone())
        })
        .collect();
    names.sort();
    KeySpec {
        name: v.name.clone(),
        description: v.description.clone(),
        upstreams: names,
        expires_at: v.expires_at.clone(),
        is_active: v.is_active,
        limits: v.limits.clone(),
    }
}

/// The gateway's configuration, every entity sorted by name so that two exports of the same
/// configuration are the same bytes.
pub(crate) async fn export(state: &Services, refs: KeyRefs) -> Result<ConfigDocument, ApiError> {
    let settings = settings::get(state).await?;
    let mut ups = upstreams::all(state).await?;
    ups.sort_by(|a, b| a.name.cmp(&b.name));
    let names: HashMap<String, String> =
        ups.iter().map(|u| (u.id.clone(), u.name.clone())).collect();
    let mut ks: Vec<KeySpec> = keys::all(state)
        .await?
        .iter()
        .map(|k| key_spec(k, &names))
        .collect();
    ks.sort_by(|a, b| {
        a.name
            .cmp(&b.name)
            .then_with(|| a.upstreams.cmp(&b.upstreams))
    });
    let prices = prices::admin_set(state)
        .await?
        .into_iter()
        .map(|(model, price)| PriceSpec { model, price })
        .collect();
    Ok(ConfigDocument {
        version: CONFIG_VERSION,
        prune: false,
        settings: Some(settings),
        upstreams: Some(ups.iter().map(|u| upstream_spec(u, refs)).collect()),
        keys: Some(ks),
        prices: Some(prices),
    })
}

/// One step of an import: what the plan shows, and what applying it does.
enum Step {
    Settings(UpdateSettings),
    CreateUpstream(Box<CreateUpstream>),
    UpdateUpstream(String, Box<UpdateUpstream>),
    DeleteUpstream(String),
    /// Upstreams by name: resolved to ids when applied (a new upstream has none before).
    CreateKey(Box<KeySpec>),
    UpdateKey(String, Box<KeySpec>, Vec<String>),
    DeleteKey(String),
    SetPrice(PriceSpec),
    ResetPrice(String),
}

struct Planned {
    change: PlannedChange,
    step: Step,
}

fn change(
    action: ChangeAction,
    kind: EntityKind,
    name: &str,
    fields: Vec<String>,
) -> PlannedChange {
    PlannedChange {
        action,
        kind,
        name: name.to_string(),
        fields,
    }
}

/// The fields whose JSON differs between two values of the same struct, leaving out `skip`.
fn changed_fields<T: Serialize>(current: &T, desired: &T, skip: &[&str]) -> Vec<String> {
    let (serde_json::Value::Object(a), serde_json::Value::Object(b)) = (
        serde_json::to_value(current).unwrap_or_default(),
        serde_json::to_value(desired).unwrap_or_default(),
    ) else {
        return Vec::new();
    };
    b.iter()
        .filter(|(k, _)| !skip.contains(&k.as_str()))
        .filter(|(k, v)| a.get(*k) != Some(*v))
        .map(|(k, _)| k.clone())
        .collect()
}

/// Where the problem is, before the field's own message.
fn at(place: String, e: ApiError) -> ApiError {
    match e {
        ApiError::Field { problem, detail } => {
            ApiError::Invalid(format!("{place}: {}: {detail}", problem.field))
        }
        ApiError::Invalid(m) => ApiError::Invalid(format!("{place}: {m}")),
        ApiError::Conflict(m) => ApiError::Conflict(format!("{place}: {m}")),
        ApiError::NotFound(m) => ApiError::Invalid(format!("{place}: {m}")),
        other => other,
    }
}

fn env_key(spec: &UpstreamSpec) -> Result<Option<String>, ApiError> {
    let Some(var) = spec.api_key_env.as_deref() else {
        return Ok(None);
    };
    match std::env::var(var) {
        Ok(v) if !v.trim().is_empty() => Ok(Some(v.trim().to_string())),
        _ => Err(ApiError::Invalid(format!(
            "upstream {:?}: api_key_env: the environment variable {var} is not set",
            spec.name
        ))),
    }
}

/// The spec as the service stores it, so that a value written differently is no change.
fn normalized_upstream(mut s: UpstreamSpec) -> UpstreamSpec {
    s.name = s.name.trim().to_string();
    s.base_url = s.base_url.trim().trim_end_matches('/').to_string();
    s
}

fn normalized_key(mut k: KeySpec) -> KeySpec {
    k.name = k.name.trim().to_string();
    k.description = k
        .description
        .map(|d| d.trim().to_string())
        .filter(|d| !d.is_empty());
    let mut names: Vec<String> = k.upstreams.iter().map(|n| n.trim().to_string()).collect();
    names.sort();
    names.dedup();
    k.upstreams = names;
    k.expires_at = k
        .expires_at
        .map(|e| e.trim().to_string())
        .filter(|e| !e.is_empty());
    k
}

fn same_instant(a: Option<&str>, b: Option<&str>) -> bool {
    match (a, b) {
        (None, None) => true,
        (Some(a), Some(b)) => match (parse_rfc3339(a), parse_rfc3339(b)) {
            (Ok(x), Ok(y)) => x == y,
            _ => a == b,
        },
        _ => false,
    }
}

fn create_upstream_input(spec: &UpstreamSpec, api_key: String) -> CreateUpstream {
    CreateUpstream {
        name: spec.name.clone(),
        provider: spec.provider.as_str().to_string(),
        base_url: spec.base_url.clone(),
        api_key,
        timeout_ms: Some(spec.timeout_ms),
        weight: Some(spec.weight),
        priority: Some(spec.priority),
        allowed_models: Some(spec.allowed_models.clone()),
        model_redirects: Some(spec.model_redirects.clone()),
        is_active: Some(spec.is_active),
        circuit_breaker: Some(spec.circuit_breaker),
        extra_paths: Some(spec.extra_paths.clone()),
        api_formats: Some(
            spec.api_formats
                .iter()
                .map(|f| f.as_str().to_string())
                .collect(),
        ),
        limits: spec.limits.clone(),
        price_multiplier: Some(spec.price_multiplier),
        ..CreateUpstream::default()
    }
}

fn update_upstream_input(spec: &UpstreamSpec, api_key: Option<String>) -> UpdateUpstream {
    let c = create_upstream_input(spec, String::new());
    UpdateUpstream {
        name: Some(c.name),
        provider: Some(c.provider),
        base_url: Some(c.base_url),
        api_key,
        timeout_ms: c.timeout_ms,
        weight: c.weight,
        priority: c.priority,
        allowed_models: c.allowed_models,
        model_redirects: c.model_redirects,
        is_active: c.is_active,
        circuit_breaker: c.circuit_breaker,
        extra_paths: c.extra_paths,
        api_formats: c.api_formats,
        limits: Some(c.limits),
        price_multiplier: c.price_multiplier,
        ..UpdateUpstream::default()
    }
}

fn plan_settings(current: &GatewaySettings, desired: &GatewaySettings, out: &mut Vec<Planned>) {
    let fields = changed_fields(current, desired, &[]);
    if fields.is_empty() {
        return;
    }
    let has = |f: &str| fields.iter().any(|x| x == f);
    let input = UpdateSettings {
        lb_strategy: has("lb_strategy").then(|| desired.lb_strategy.as_str().to_string()),
        max_attempts: has("max_attempts").then_some(desired.max_attempts),
        health_check_interval_seconds: has("health_check_interval_seconds")
            .then_some(desired.health_check_interval_seconds),
    };
    out.push(Planned {
        change: change(
            ChangeAction::Update,
            EntityKind::Settings,
            "settings",
            fields,
        ),
        step: Step::Settings(input),
    });
}

async fn plan_upstreams(
    state: &Services,
    current: &[UpstreamView],
    desired: Vec<UpstreamSpec>,
    prune: bool,
    out: &mut Vec<Planned>,
    deletions: &mut Vec<Planned>,
) -> Result<(), ApiError> {
    let by_name: HashMap<&str, &UpstreamView> =
        current.iter().map(|u| (u.name.as_str(), u)).collect();
    let mut seen = BTreeSet::new();
    for spec in desired.into_iter().map(normalized_upstream) {
        if !seen.insert(spec.name.clone()) {
            return Err(ApiError::Invalid(format!(
                "upstream {:?} appears twice in the document",
                spec.name
            )));
        }
        let key = env_key(&spec)?;
        match by_name.get(spec.name.as_str()) {
            None => {
                let Some(key) = key else {
                    return Err(ApiError::Invalid(format!(
                        "upstream {:?}: api_key_env is required to create an upstream",
                        spec.name
                    )));
                };
                let name = spec.name.clone();
                out.push(Planned {
                    change: change(
                        ChangeAction::Create,
                        EntityKind::Upstream,
                        &name,
                        Vec::new(),
                    ),
                    step: Step::CreateUpstream(Box::new(create_upstream_input(&spec, key))),
                });
            }
            Some(existing) => {
                let mut fields = changed_fields(
                    &upstream_spec(existing, KeyRefs::Omit),
                    &UpstreamSpec {
                        api_key_env: None,
                        ..spec.clone()
                    },
                    &["name", "api_key_env"],
                );
                let key_differs = match &key {
                    Some(k) => !upstreams::stored_key_is(state, &existing.id, k).await?,
                    None => false,
                };
                if key_differs {
                    fields.push("api_key".into());
                }
                // A moved base URL (to another origin) needs the key given again.
                let key = key.filter(|_| key_differs || fields.iter().any(|f| f == "base_url"));
                if !fields.is_empty() {
                    out.push(Planned {
                        change: change(
                            ChangeAction::Update,
                            EntityKind::Upstream,
                            &spec.name,
                            fields,
                        ),
                        step: Step::UpdateUpstream(
                            existing.id.clone(),
                            Box::new(update_upstream_input(&spec, key)),
                        ),
                    });
                }
            }
        }
    }
    if prune {
        for u in current.iter().filter(|u| !seen.contains(&u.name)) {
            deletions.push(Planned {
                change: change(
                    ChangeAction::Delete,
                    EntityKind::Upstream,
                    &u.name,
                    Vec::new(),
                ),
                step: Step::DeleteUpstream(u.id.clone()),
            });
        }
    }
    Ok(())
}

fn plan_keys(
    current: &[ApiKeyView],
    upstream_names: &HashMap<String, String>,
    known_upstreams: &BTreeSet<String>,
    desired: Vec<KeySpec>,
    prune: bool,
    out: &mut Vec<Planned>,
    deletions: &mut Vec<Planned>,
) -> Result<(), ApiError> {
    let mut by_name: HashMap<&str, Vec<&ApiKeyView>> = HashMap::new();
    for k in current {
        by_name.entry(k.name.as_str()).or_default().push(k);
    }
    let mut seen = BTreeSet::new();
    for spec in desired.into_iter().map(normalized_key) {
        if !seen.insert(spec.name.clone()) {
            return Err(ApiError::Invalid(format!(
                "key {:?} appears twice in the document (keys are matched by name)",
                spec.name
            )));
        }
        if let Some(missing) = spec
            .upstreams
            .iter()
            .find(|n| !known_upstreams.contains(*n))
        {
            return Err(ApiError::Invalid(format!(
                "key {:?}: upstreams: no upstream named {missing:?} here or in the document",
                spec.name
            )));
        }
        match by_name.get(spec.name.as_str()).map(Vec::as_slice) {
            None | Some([]) => out.push(Planned {
                change: change(
                    ChangeAction::Create,
                    EntityKind::Key,
                    &spec.name,
                    Vec::new(),
                ),
                step: Step::CreateKey(Box::new(spec)),
            }),
            Some([existing]) => {
                let now = key_spec(existing, upstream_names);
                let mut fields = changed_fields(&now, &spec, &["name", "expires_at"]);
                if !same_instant(now.expires_at.as_deref(), spec.expires_at.as_deref()) {
                    fields.push("expires_at".into());
                }
                if !fields.is_empty() {
                    let name = spec.name.clone();
                    out.push(Planned {
                        change: change(
                            ChangeAction::Update,
                            EntityKind::Key,
                            &name,
                            fields.clone(),
                        ),
                        step: Step::UpdateKey(existing.id.clone(), Box::new(spec), fields),
                    });
                }
            }
            Some(_) => {
                return Err(ApiError::Conflict(format!(
                "key {:?}: several keys here have this name; rename them so each name is unique",
                spec.name
            )))
            }
        }
    }
    if prune {
        for k in current.iter().filter(|k| !seen.contains(&k.name)) {
            deletions.push(Planned {
                change: change(ChangeAction::Delete, EntityKind::Key, &k.name, Vec::new()),
                step: Step::DeleteKey(k.id.clone()),
            });
        }
    }
    Ok(())
}

fn plan_prices(
    current: Vec<(String, crate::model::prices::PriceRates)>,
    desired: Vec<PriceSpec>,
    prune: bool,
    out: &mut Vec<Planned>,
    deletions: &mut Vec<Planned>,
) -> Result<(), ApiError> {
    let current: BTreeMap<String, _> = current.into_iter().collect();
    let mut seen = BTreeSet::new();
    for spec in desired {
        let (model, price) = prices::normalized(&spec.model, &spec.price)
            .map_err(|e| at(format!("price {:?}", spec.model), e))?;
        if !seen.insert(model.clone()) {
            return Err(ApiError::Invalid(format!(
                "price {model:?} appears twice in the document"
            )));
        }
        let action = match current.get(&model) {
            None => ChangeAction::Create,
            Some(now) if *now != price => ChangeAction::Update,
            Some(_) => continue,
        };
        let fields = match current.get(&model) {
            Some(now) => changed_fields(now, &price, &[]),
            None => Vec::new(),
        };
        out.push(Planned {
            change: change(action, EntityKind::Price, &model, fields),
            step: Step::SetPrice(PriceSpec { model, price }),
        });
    }
    if prune {
        for model in current.keys().filter(|m| !seen.contains(*m)) {
            deletions.push(Planned {
                change: change(ChangeAction::Delete, EntityKind::Price, model, Vec::new()),
                step: Step::ResetPrice(model.clone()),
            });
        }
    }
    Ok(())
}

/// Plans `doc` against the gateway and, unless `dry_run`, applies it: settings, upstreams,
/// prices and keys created or updated first, then keys, prices and upstreams deleted (with
/// `prune`). Every change goes through its service, so it is checked as an admin's would be.
/// A document that plans nothing changes nothing.
pub(crate) async fn import(
    state: &Services,
    doc: ConfigDocument,
    dry_run: bool,
    prune: bool,
) -> Result<ImportResult, ApiError> {
    if doc.version != CONFIG_VERSION {
        return Err(validate::invalid(
            "version",
            format!(
                "must be {CONFIG_VERSION} (this gateway reads version {CONFIG_VERSION} documents)"
            ),
        ));
    }
    let prune = prune || doc.prune;
    let current_upstreams = upstreams::all(state).await?;
    let upstream_names: HashMap<String, String> = current_upstreams
        .iter()
        .map(|u| (u.id.clone(), u.name.clone()))
        .collect();
    let mut steps = Vec::new();
    let mut deletions = Vec::new();
    if let Some(desired) = &doc.settings {
        plan_settings(&settings::get(state).await?, desired, &mut steps);
    }
    // Upstreams a key may name: those the document keeps, and (without a section or prune)
    // those that stay.
    let mut known: BTreeSet<String> = BTreeSet::new();
    match doc.upstreams {
        Some(desired) => {
            known.extend(desired.iter().map(|u| u.name.trim().to_string()));
            if !prune {
                known.extend(current_upstreams.iter().map(|u| u.name.clone()));
            }
            plan_upstreams(
                state,
                &current_upstreams,
                desired,
                prune,
                &mut steps,
                &mut deletions,
            )
            .await?;
        }
        None => known.extend(current_upstreams.iter().map(|u| u.name.clone())),
    }
    if let Some(desired) = doc.prices {
        plan_prices(
            prices::admin_set(state).await?,
            desired,
            prune,
            &mut steps,
            &mut deletions,
        )?;
    }
    let mut key_deletions = Vec::new();
    if let Some(desired) = doc.keys {
        let current = keys::all(state).await?;
        plan_keys(
            &current,
            &upstream_names,
            &known,
            desired,
            prune,
            &mut steps,
            &mut key_deletions,
        )?;
    }
    // Keys go before the upstreams they use.
    key_deletions.extend(deletions);
    steps.extend(key_deletions);

    let changes = steps.iter().map(|p| p.change.clone()).collect();
    let mut issued = Vec::new();
    if !dry_run {
        for planned in steps {
            apply(state, planned, &mut issued).await?;
        }
    }
    Ok(ImportResult {
        dry_run,
        changes,
        issued_keys: issued,
    })
}

async fn upstream_ids(state: &Services, names: &[String]) -> Result<Vec<String>, ApiError> {
    let all: HashMap<String, String> = upstreams::all(state)
        .await?
        .into_iter()
        .map(|u| (u.name, u.id))
        .collect();
    names
        .iter()
        .map(|n| {
            all.get(n)
                .cloned()
                .ok_or_else(|| ApiError::Invalid(format!("no upstream named {n:?}")))
        })
        .collect()
}

async fn apply(
    state: &Services,
    planned: Planned,
    issued: &mut Vec<IssuedKey>,
) -> Result<(), ApiError> {
    let c = &planned.change;
    let place = format!("{} {:?}", c.kind, c.name);
    let done = match planned.step {
        Step::Settings(input) => settings::update(state, input).await.map(drop),
        Step::CreateUpstream(input) => upstreams::create(state, *input).await.map(drop),
        Step::UpdateUpstream(id, input) => upstreams::update(state, &id, *input).await.map(drop),
        Step::DeleteUpstream(id) => upstreams::delete(state, &id).await,
        Step::CreateKey(spec) => {
            let input = CreateApiKey {
                name: spec.name.clone(),
                description: spec.description.clone(),
                upstream_ids: upstream_ids(state, &spec.upstreams).await?,
                expires_at: spec.expires_at.clone(),
                is_active: Some(spec.is_active),
                limits: spec.limits.clone(),
            };
            keys::create(state, input).await.map(|created| {
                issued.push(IssuedKey {
                    name: spec.name.clone(),
                    key_value: created.key_value,
                })
            })
        }
        Step::UpdateKey(id, spec, fields) => {
            let has = |f: &str| fields.iter().any(|x| x == f);
            let input = UpdateApiKey {
                name: None,
                description: has("description").then(|| spec.description.clone()),
                upstream_ids: if has("upstreams") {
                    Some(upstream_ids(state, &spec.upstreams).await?)
                } else {
                    None
                },
                expires_at: has("expires_at").then(|| spec.expires_at.clone()),
                is_active: has("is_active").then_some(spec.is_active),
                limits: has("limits").then(|| spec.limits.clone()),
            };
            keys::update(state, &id, input).await.map(drop)
        }
        Step::DeleteKey(id) => keys::delete(state, &id).await,
        Step::SetPrice(spec) => prices::set(state, &spec.model, spec.price).await.map(drop),
        Step::ResetPrice(model) => prices::reset(state, &model).await,
    };
    done.map_err(|e| at(place, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_names_are_shell_safe() {
        assert_eq!(
            key_env_name("openai-main"),
            "AUTOROUTER_UPSTREAM_KEY_OPENAI_MAIN"
        );
        assert_eq!(
            key_env_name(" Claude (EU) 2 "),
            "AUTOROUTER_UPSTREAM_KEY_CLAUDE_EU_2"
        );
    }

    #[test]
    fn only_differing_fields_are_named() {
        let a = GatewaySettings::default();
        let mut b = a.clone();
        b.max_attempts = 5;
        assert_eq!(
            changed_fields(&a, &b, &[]),
            vec!["max_attempts".to_string()]
        );
        assert!(changed_fields(&a, &a, &[]).is_empty());
    }

    #[test]
    fn instants_compare_across_offsets() {
        assert!(same_instant(
            Some("2030-01-01T08:00:00+08:00"),
            Some("2030-01-01T00:00:00Z")
        ));
        assert!(!same_instant(Some("2030-01-01T00:00:00Z"), None));
    }
}
