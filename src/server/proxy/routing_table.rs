//! An in-memory snapshot of keys, permissions and upstreams, so the proxy's hot path never
//! touches the database. Reloaded after every admin change and on an interval (other instances).
//! The gateway settings ride along, so a changed strategy applies to the next request, and so
//! do the model prices (the shipped list with the admin's prices over it).
use parking_lot::RwLock;
use std::collections::BTreeMap;
use std::sync::Arc;

use super::model_rules::{
    glob_match, parse_model_list, parse_redirects, resolve_redirect, serves, Provider,
};
use super::provider_auth::Credential;
use super::upstream_target::{TargetError, UpstreamTarget};
use crate::model::prices::PriceTable;
use crate::model::upstreams::{BreakerConfig, Format};
use crate::server::crypto::Cipher;
use crate::server::db::keys::KeyLimitColumns;
use crate::server::db::request_stats::{self, hour_of, Dimension};
use crate::server::db::settings::{load_runtime, Runtime};
use crate::server::db::upstreams::UpstreamLimitColumns;
use crate::server::db::{
    keys as key_repo, prices as price_repo, upstreams as upstream_repo, Database,
};
use crate::server::fast_map::FastMap;
use crate::server::http::ssrf::{validate_url, SsrfPolicy};
use crate::server::periods::CurrentPeriods;
use crate::server::secret::Secret;

#[derive(Debug)]
pub(crate) struct UpstreamEntry {
    pub id: String,
    pub name: String,
    pub provider: Provider,
    pub base_url: String,
    /// `base_url` parsed once per load, so a request only joins its path and query.
    pub target: Result<UpstreamTarget, TargetError>,
    pub api_key: Secret<String>,
    /// `api_key` as the header the proxy sends, prepared once per load.
    pub credential: Option<Credential>,
    pub timeout_ms: u64,
    pub weight: u32,
    pub priority: i64,
    pub allowed_models: Vec<String>,
    pub model_redirects: BTreeMap<String, String>,
    pub is_active: bool,
    pub breaker: BreakerConfig,
    /// Paths below `/v1/` beyond the endpoint table that the admin let this upstream forward.
    pub extra_paths: Vec<String>,
    /// Why the SSRF policy refuses `base_url`, checked once per load rather than per request.
    pub address_refusal: Option<String>,
    /// The API formats it is sent (its own list, or the provider's defaults).
    pub speaks: Vec<Format>,
    /// The models it listed when last asked (model discovery).
    pub discovered: Vec<String>,
    /// What list prices are multiplied by for this upstream, in parts per million.
    pub price_multiplier_ppm: i64,
    /// Its caps; `None` when it has none, so an uncapped upstream costs no counting.
    pub caps: Option<UpstreamCaps>,
}

/// An upstream's concurrency, rate and monthly spend caps.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct UpstreamCaps {
    /// Its counters' name (`u:<id>`).
    pub counter: Arc<str>,
    pub max_concurrent: Option<u32>,
    pub rpm: Option<u32>,
    pub monthly_quota_nanos: Option<i64>,
}

/// A key's counted limits (the allow-list is `KeyEntry::allowed_models`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct KeyCounters {
    /// Its counters' name (`k:<id>`).
    pub counter: Arc<str>,
    pub rpm: Option<u32>,
    pub tpm: Option<u64>,
    pub max_concurrent: Option<u32>,
    pub daily_budget_nanos: Option<i64>,
    pub monthly_budget_nanos: Option<i64>,
}

impl UpstreamEntry {
    pub(crate) fn serves(&self, model: &str) -> bool {
        serves(self.provider, &self.allowed_models, model)
    }

    pub(crate) fn sent_model(&self, model: &str) -> String {
        resolve_redirect(&self.model_redirects, model)
    }
}

#[derive(Debug, Clone)]
pub(crate) struct KeyEntry {
    pub id: String,
    pub hash: String,
    /// The key's SHA-256, when it was stored (every key made since migration 0005).
    pub digest: Option<[u8; 32]>,
    pub is_active: bool,
    pub expires_at: Option<i64>,
    pub upstream_ids: Vec<String>,
    /// Model names or globs the key may use; empty: any.
    pub allowed_models: Vec<String>,
    /// Its counted limits; `None` when it has none, so an unlimited key costs no counting.
    pub counters: Option<KeyCounters>,
}

impl KeyEntry {
    /// Whether the key's allow-list lets it use `model`.
    pub(crate) fn may_use(&self, model: &str) -> bool {
        self.allowed_models.is_empty() || self.allowed_models.iter().any(|p| glob_match(p, model))
    }

    pub(crate) fn usable_at(&self, now_ms: i64) -> bool {
        self.is_active && self.expires_at.is_none_or(|e| e > now_ms)
    }
}

#[derive(Debug, Default)]
pub(crate) struct Snapshot {
    pub keys: FastMap<String, Arc<KeyEntry>>,
    pub keys_by_prefix: FastMap<String, Vec<String>>,
    /// Keys by their SHA-256 (see `KeyEntry::digest`).
    pub keys_by_digest: FastMap<[u8; 32], String>,
    pub upstreams: FastMap<String, Arc<UpstreamEntry>>,
    pub settings: Runtime,
    /// What keys with budgets and upstreams with quotas have spent, as the database had it at
    /// this load (the limiter adds what it counted since).
    pub spend: DurableSpend,
    /// What each model costs; a model it has no price for is logged without a cost.
    pub prices: Arc<PriceTable>,
}

/// Spend in the current day and month (budget zone) per key and per upstream, in nano-USD,
/// read from the statistics only when some key has a budget or some upstream a quota.
#[derive(Debug, Default)]
pub(crate) struct DurableSpend {
    pub day: String,
    pub month: String,
    pub key_day: FastMap<String, i64>,
    pub key_month: FastMap<String, i64>,
    pub upstream_month: FastMap<String, i64>,
}

impl DurableSpend {
    async fn load(
        pool: &sqlx::AnyPool,
        periods: &CurrentPeriods,
        now_ms: i64,
    ) -> Result<Self, sqlx::Error> {
        let now = periods.at(now_ms);
        let (day, month) = (&now.0, &now.1);
        let costs = |dimension: Dimension, since: i64| async move {
            request_stats::totals_by_value(pool, hour_of(since), now_ms, dimension)
                .await
                .map(|rows| {
                    rows.into_iter()
                        .map(|(value, t)| (value, t.cost_nanos))
                        .collect::<FastMap<String, i64>>()
                })
        };
        Ok(Self {
            day: day.id.clone(),
            month: month.id.clone(),
            key_day: costs(Dimension::Key, day.start_ms).await?,
            key_month: costs(Dimension::Key, month.start_ms).await?,
            upstream_month: costs(Dimension::Upstream, month.start_ms).await?,
        })
    }

    /// What the database had for this key or upstream in this period (0 for a period other
    /// than the one loaded: a day that turned since).
    pub(crate) fn of(map: &FastMap<String, i64>, loaded: &str, period: &str, id: &str) -> i64 {
        if loaded == period {
            map.get(id).copied().unwrap_or(0)
        } else {
            0
        }
    }
}

impl Snapshot {
    /// Active upstreams this key may use that serve `model` and speak `format` (any format
    /// when `None`), lowest priority number first.
    /// One of the key's upstreams, by id, while it is active and speaks the Responses API:
    /// where a stored response made there is looked up.
    pub(crate) fn key_upstream(&self, key: &KeyEntry, id: &str) -> Option<Arc<UpstreamEntry>> {
        if !key.upstream_ids.iter().any(|k| k == id) {
            return None;
        }
        self.upstreams
            .get(id)
            .filter(|u| u.is_active && u.speaks.contains(&Format::Responses))
            .cloned()
    }

    pub(crate) fn candidates(
        &self,
        key: &KeyEntry,
        model: &str,
        format: Option<Format>,
    ) -> Vec<Arc<UpstreamEntry>> {
        let mut out: Vec<Arc<UpstreamEntry>> = key
            .upstream_ids
            .iter()
            .filter_map(|id| self.upstreams.get(id))
            .filter(|u| u.is_active && u.serves(model))
            .filter(|u| format.is_none_or(|f| u.speaks.contains(&f)))
            .cloned()
            .collect();
        out.sort_by(|a, b| {
            a.priority
                .cmp(&b.priority)
                .then_with(|| a.name.cmp(&b.name))
        });
        out
    }

    /// Like `candidates`, for a path outside the endpoint table: only the upstreams that opted
    /// in to `path`.
    pub(crate) fn extra_path_candidates(
        &self,
        key: &KeyEntry,
        model: &str,
        path: &str,
    ) -> Vec<Arc<UpstreamEntry>> {
        let mut out = self.candidates(key, model, None);
        out.retain(|u| u.extra_paths.iter().any(|p| p == path));
        out
    }

    /// Whether any upstream this key may use opted in to `path`.
    pub(crate) fn opted_in(&self, key: &KeyEntry, path: &str) -> bool {
        key.upstream_ids
            .iter()
            .filter_map(|id| self.upstreams.get(id))
            .any(|u| u.is_active && u.extra_paths.iter().any(|p| p == path))
    }

    /// The model names the key can reach: what its upstreams listed (model discovery) that
    /// their patterns let them serve, their exact allowed names and their redirects, less what
    /// the key's allow-list excludes (globs cannot be listed).
    pub(crate) fn listable_models(&self, key: &KeyEntry) -> Vec<(String, String)> {
        self.listable_models_speaking(key, None)
    }

    /// Like `listable_models`, from the upstreams that speak `format` only (any when `None`):
    /// what the key can reach over that API.
    pub(crate) fn listable_models_speaking(
        &self,
        key: &KeyEntry,
        format: Option<Format>,
    ) -> Vec<(String, String)> {
        let mut names: BTreeMap<String, String> = BTreeMap::new();
        for u in key
            .upstream_ids
            .iter()
            .filter_map(|id| self.upstreams.get(id))
        {
            if !u.is_active || format.is_some_and(|f| !u.speaks.contains(&f)) {
                continue;
            }
            let owner = u.provider.as_str().to_string();
            let listed = u.discovered.iter().filter(|m| u.serves(m));
            let exact = u.allowed_models.iter().filter(|m| !m.contains('*'));
            for m in listed.chain(exact) {
                if key.may_use(m) {
                    names.entry(m.clone()).or_insert_with(|| owner.clone());
                }
            }
            for m in u.model_redirects.keys() {
                if u.serves(m) && key.may_use(m) {
                    names.entry(m.clone()).or_insert_with(|| owner.clone());
                }
            }
        }
        names.into_iter().collect()
    }
}

fn count(v: Option<i64>) -> Option<u32> {
    v.map(|n| n.clamp(1, u32::MAX as i64) as u32)
}

fn key_counters(id: &str, c: &KeyLimitColumns) -> Option<KeyCounters> {
    let any = c.rpm_limit.is_some()
        || c.tpm_limit.is_some()
        || c.concurrency_limit.is_some()
        || c.daily_budget_nanos.is_some()
        || c.monthly_budget_nanos.is_some();
    any.then(|| KeyCounters {
        counter: super::spend::counter('k', id),
        rpm: count(c.rpm_limit),
        tpm: c.tpm_limit.map(|n| n.max(1) as u64),
        max_concurrent: count(c.concurrency_limit),
        daily_budget_nanos: c.daily_budget_nanos,
        monthly_budget_nanos: c.monthly_budget_nanos,
    })
}

fn upstream_caps(id: &str, c: &UpstreamLimitColumns) -> Option<UpstreamCaps> {
    let any =
        c.concurrency_limit.is_some() || c.rpm_limit.is_some() || c.monthly_quota_nanos.is_some();
    any.then(|| UpstreamCaps {
        counter: super::spend::counter('u', id),
        max_concurrent: count(c.concurrency_limit),
        rpm: count(c.rpm_limit),
        monthly_quota_nanos: c.monthly_quota_nanos,
    })
}

#[derive(Debug, thiserror::Error)]
pub(crate) enum ReloadError {
    #[error("database: {0}")]
    Db(#[from] sqlx::Error),
}

pub(crate) struct RoutingTable {
    current: RwLock<Arc<Snapshot>>,
    reload_lock: tokio::sync::Mutex<()>,
    policy: SsrfPolicy,
}

impl RoutingTable {
    pub(crate) fn new(policy: SsrfPolicy) -> Self {
        Self {
            current: RwLock::new(Arc::new(Snapshot::default())),
            reload_lock: tokio::sync::Mutex::new(()),
            policy,
        }
    }

    pub(crate) fn snapshot(&self) -> Arc<Snapshot> {
        self.current.read().clone()
    }

    pub(crate) async fn reload(
        &self,
        db: &Database,
        cipher: &Cipher,
        periods: &CurrentPeriods,
        now_ms: i64,
    ) -> Result<(), ReloadError> {
        // One reload at a time, so an older read never replaces a newer one.
        let _guard = self.reload_lock.lock().await;
        let upstream_rows = upstream_repo::list_all(&db.pool).await?;
        let mut discovered = crate::server::db::upstream_models::all(&db.pool).await?;
        let key_rows = key_repo::list_all(&db.pool).await?;
        let mut perms = key_repo::all_permissions(&db.pool).await?;
        let settings = load_runtime(&db.pool).await?;
        let prices = Arc::new(price_repo::load_table(&db.pool).await?);

        let mut upstreams = FastMap::default();
        for row in upstream_rows {
            let Ok(provider) = row.provider.parse::<Provider>() else {
                tracing::warn!(upstream_id = %row.id, "skipping upstream with unknown provider");
                continue;
            };
            let Ok(api_key) = cipher.decrypt(&row.api_key_encrypted) else {
                tracing::error!(upstream_id = %row.id, "cannot decrypt upstream key (wrong ENCRYPTION_KEY?); upstream skipped");
                continue;
            };
            let breaker = row.breaker();
            let caps = upstream_caps(&row.id, &row.limits);
            let speaks = row.speaks(provider);
            let listed = discovered.remove(&row.id).unwrap_or_default();
            let extra_paths = row.extra_path_list();
            let address_refusal = validate_url(&row.base_url, self.policy)
                .err()
                .map(|e| e.to_string());
            upstreams.insert(
                row.id.clone(),
                Arc::new(UpstreamEntry {
                    id: row.id,
                    name: row.name,
                    provider,
                    target: UpstreamTarget::parse(&row.base_url),
                    base_url: row.base_url,
                    credential: Credential::new(provider, &api_key),
                    api_key: Secret::new(api_key),
                    timeout_ms: row.timeout_ms.max(1) as u64,
                    weight: row.weight.clamp(1, 100) as u32,
                    priority: row.priority,
                    allowed_models: parse_model_list(row.allowed_models.as_deref()),
                    model_redirects: parse_redirects(row.model_redirects.as_deref()),
                    is_active: row.is_active != 0,
                    breaker,
                    extra_paths,
                    address_refusal,
                    speaks,
                    discovered: listed,
                    price_multiplier_ppm: row.limits.price_multiplier_ppm.max(0),
                    caps,
                }),
            );
        }
        let mut keys = FastMap::default();
        let mut keys_by_prefix: FastMap<String, Vec<String>> = FastMap::default();
        let mut keys_by_digest: FastMap<[u8; 32], String> = FastMap::default();
        for row in key_rows {
            let digest = row
                .key_digest
                .as_deref()
                .and_then(crate::server::crypto::digest_from_hex);
            if let Some(d) = digest {
                keys_by_digest.insert(d, row.id.clone());
            }
            let counters = key_counters(&row.id, &row.limits);
            keys_by_prefix
                .entry(row.key_prefix.clone())
                .or_default()
                .push(row.id.clone());
            keys.insert(
                row.id.clone(),
                Arc::new(KeyEntry {
                    upstream_ids: perms.remove(&row.id).unwrap_or_default(),
                    id: row.id,
                    hash: row.key_hash,
                    digest,
                    is_active: row.is_active != 0,
                    expires_at: row.expires_at,
                    allowed_models: row.limits.allowed_models(),
                    counters,
                }),
            );
        }
        let spend = if keys.values().any(|k| {
            k.counters
                .as_ref()
                .is_some_and(|c| c.daily_budget_nanos.is_some() || c.monthly_budget_nanos.is_some())
        }) || upstreams.values().any(|u| {
            u.caps
                .as_ref()
                .is_some_and(|c| c.monthly_quota_nanos.is_some())
        }) {
            DurableSpend::load(&db.pool, periods, now_ms).await?
        } else {
            DurableSpend::default()
        };
        let mut current = self.current.write();
        *current = Arc::new(Snapshot {
            keys,
            keys_by_prefix,
            keys_by_digest,
            upstreams,
            settings,
            spend,
            prices,
        });
        Ok(())
    }
}
