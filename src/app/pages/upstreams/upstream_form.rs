//! The create / edit form of an upstream, with inline messages for each field and a
//! test-connection button that tries the values as typed.
use std::collections::BTreeMap;

use leptos::prelude::*;
use leptos::task::spawn_local;

use super::discovered::DiscoveredModelsPanel;
use crate::api::upstreams::{create_upstream, test_upstream, update_upstream};
use crate::app::components::error_text::{FieldError, FormError};
use crate::i18n::*;
use crate::model::errors::{FieldProblem, UiError};
use crate::model::limits::UpstreamLimits;
use crate::model::upstreams::{
    ConnectionTestResult, CreateUpstream, Format, Provider, TestUpstreamForm, UpdateUpstream,
    UpstreamView,
};

/// `requested = sent`, one per line (`->` works too); blank lines are skipped.
pub fn parse_redirects(text: &str) -> BTreeMap<String, String> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(|l| {
            let (from, to) = l
                .split_once("->")
                .or_else(|| l.split_once('='))
                .unwrap_or((l, ""));
            (from.trim().to_string(), to.trim().to_string())
        })
        .collect()
}

pub fn format_redirects(map: &BTreeMap<String, String>) -> String {
    map.iter()
        .map(|(k, v)| format!("{k} = {v}"))
        .collect::<Vec<_>>()
        .join("\n")
}

fn lines(text: &str) -> Vec<String> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(String::from)
        .collect()
}

/// A number field, or the same problem the server would report for it.
fn number<T: std::str::FromStr>(field: &str, raw: &str, limits: &str) -> Result<T, UiError> {
    raw.trim().parse::<T>().map_err(|_| UiError {
        kind: "invalid_request".into(),
        message: format!("{field}: must be a number"),
        field: Some(FieldProblem {
            field: field.into(),
            reason: "out_of_range".into(),
            arg: Some(limits.into()),
        }),
    })
}

/// The form's values as the create call takes them.
#[derive(Clone, Copy)]
struct Fields {
    name: RwSignal<String>,
    provider: RwSignal<String>,
    base_url: RwSignal<String>,
    api_key: RwSignal<String>,
    priority: RwSignal<String>,
    weight: RwSignal<String>,
    timeout: RwSignal<String>,
    models: RwSignal<String>,
    redirects: RwSignal<String>,
    extra_paths: RwSignal<String>,
    active: RwSignal<bool>,
    /// The formats ticked; they follow the provider's defaults until the admin ticks one.
    formats: RwSignal<Vec<Format>>,
    formats_touched: RwSignal<bool>,
    max_concurrent: RwSignal<String>,
    rpm: RwSignal<String>,
    monthly_quota: RwSignal<String>,
    multiplier: RwSignal<String>,
}

/// An optional number field: empty is none.
fn optional<T: std::str::FromStr>(
    field: &str,
    raw: &str,
    limits: &str,
) -> Result<Option<T>, UiError> {
    if raw.trim().is_empty() {
        return Ok(None);
    }
    number(field, raw, limits).map(Some)
}

fn shown<T: ToString>(v: Option<T>) -> String {
    v.map(|n| n.to_string()).unwrap_or_default()
}

impl Fields {
    fn new(u: Option<&UpstreamView>) -> Self {
        Self {
            name: RwSignal::new(u.map(|u| u.name.clone()).unwrap_or_default()),
            provider: RwSignal::new(
                u.map_or(Provider::Openai, |u| u.provider)
                    .as_str()
                    .to_string(),
            ),
            base_url: RwSignal::new(u.map(|u| u.base_url.clone()).unwrap_or_default()),
            api_key: RwSignal::new(String::new()),
            priority: RwSignal::new(u.map_or(0, |u| u.priority).to_string()),
            weight: RwSignal::new(u.map_or(1, |u| u.weight).to_string()),
            timeout: RwSignal::new(u.map_or(60_000, |u| u.timeout_ms).to_string()),
            models: RwSignal::new(u.map(|u| u.allowed_models.join("\n")).unwrap_or_default()),
            redirects: RwSignal::new(
                u.map(|u| format_redirects(&u.model_redirects))
                    .unwrap_or_default(),
            ),
            extra_paths: RwSignal::new(u.map(|u| u.extra_paths.join("\n")).unwrap_or_default()),
            active: RwSignal::new(u.is_none_or(|u| u.is_active)),
            formats: RwSignal::new(u.map_or_else(
                || Provider::Openai.default_formats().to_vec(),
                |u| u.speaks.clone(),
            )),
            formats_touched: RwSignal::new(u.is_some_and(|u| !u.api_formats.is_empty())),
            max_concurrent: RwSignal::new(shown(u.and_then(|u| u.limits.max_concurrent))),
            rpm: RwSignal::new(shown(u.and_then(|u| u.limits.rpm))),
            monthly_quota: RwSignal::new(shown(u.and_then(|u| u.limits.monthly_quota_usd))),
            multiplier: RwSignal::new(u.map_or(1.0, |u| u.price_multiplier).to_string()),
        }
    }

    /// The ticked formats, or none when they are the provider's defaults (so the upstream keeps
    /// following them).
    fn chosen_formats(&self) -> Vec<String> {
        let chosen = self.formats.get_untracked();
        let defaults = self
            .provider
            .get_untracked()
            .parse::<Provider>()
            .map(|p| p.default_formats().to_vec())
            .unwrap_or_default();
        let same = chosen.len() == defaults.len() && chosen.iter().all(|f| defaults.contains(f));
        if same {
            Vec::new()
        } else {
            Format::ALL
                .iter()
                .filter(|f| chosen.contains(f))
                .map(|f| f.as_str().to_string())
                .collect()
        }
    }

    fn read(&self) -> Result<CreateUpstream, UiError> {
        Ok(CreateUpstream {
            name: self.name.get_untracked(),
            provider: self.provider.get_untracked(),
            base_url: self.base_url.get_untracked(),
            api_key: self.api_key.get_untracked(),
            timeout_ms: Some(number(
                "timeout_ms",
                &self.timeout.get_untracked(),
                "1000–600000",
            )?),
            weight: Some(number("weight", &self.weight.get_untracked(), "1–100")?),
            priority: Some(number(
                "priority",
                &self.priority.get_untracked(),
                "0–1000",
            )?),
            allowed_models: Some(lines(&self.models.get_untracked())),
            model_redirects: Some(parse_redirects(&self.redirects.get_untracked())),
            is_active: Some(self.active.get_untracked()),
            circuit_breaker: None,
            extra_paths: Some(lines(&self.extra_paths.get_untracked())),
            api_formats: Some(self.chosen_formats()),
            limits: UpstreamLimits {
                max_concurrent: optional(
                    "limits.max_concurrent",
                    &self.max_concurrent.get_untracked(),
                    "1–100000",
                )?,
                rpm: optional("limits.rpm", &self.rpm.get_untracked(), "1–1000000")?,
                monthly_quota_usd: optional(
                    "limits.monthly_quota_usd",
                    &self.monthly_quota.get_untracked(),
                    "0–10000000",
                )?,
            },
            price_multiplier: Some(number(
                "price_multiplier",
                &self.multiplier.get_untracked(),
                "0–100",
            )?),
            ..CreateUpstream::default()
        })
    }
}

/// An edit changes everything the form shows; an empty API key keeps the stored one.
fn as_update(c: CreateUpstream) -> UpdateUpstream {
    UpdateUpstream {
        name: Some(c.name),
        provider: Some(c.provider),
        base_url: Some(c.base_url),
        api_key: Some(c.api_key).filter(|k| !k.trim().is_empty()),
        timeout_ms: c.timeout_ms,
        weight: c.weight,
        priority: c.priority,
        allowed_models: c.allowed_models,
        model_redirects: c.model_redirects,
        is_active: c.is_active,
        circuit_breaker: None,
        extra_paths: c.extra_paths,
        api_formats: c.api_formats,
        limits: Some(c.limits),
        price_multiplier: c.price_multiplier,
        ..UpdateUpstream::default()
    }
}

#[component]
fn TextField(
    label: String,
    field: &'static str,
    value: RwSignal<String>,
    error: RwSignal<Option<UiError>>,
    #[prop(optional)] kind: Option<&'static str>,
    #[prop(optional)] hint: Option<String>,
) -> impl IntoView {
    view! {
        <label class="field">
            <span>{label}</span>
            <input type=kind.unwrap_or("text") name=field
                aria-invalid=move || error.with(|e| e.as_ref().is_some_and(|e| e.about(field).is_some())).to_string()
                prop:value=move || value.get() on:input=move |ev| value.set(event_target_value(&ev)) />
            {hint.map(|h| view! { <span class="muted small">{h}</span> })}
            <FieldError error=error field=field />
        </label>
    }
}

#[component]
pub fn UpstreamForm(
    existing: Option<UpstreamView>,
    #[prop(into)] on_saved: Callback<UpstreamView>,
    #[prop(into)] on_cancel: Callback<()>,
) -> impl IntoView {
    let i18n = use_i18n();
    let f = Fields::new(existing.as_ref());
    let error = RwSignal::new(None::<UiError>);
    let pending = RwSignal::new(false);
    let testing = RwSignal::new(false);
    let tested = RwSignal::new(None::<ConnectionTestResult>);
    let id = existing.as_ref().map(|u| u.id.clone());
    let editing = id.is_some();
    let discovered_for = id.clone();
    let test_id = id.clone();

    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        error.set(None);
        let input = match f.read() {
            Ok(i) => i,
            Err(e) => return error.set(Some(e)),
        };
        pending.set(true);
        let id = id.clone();
        spawn_local(async move {
            let result = match id {
                None => create_upstream(input).await,
                Some(id) => update_upstream(id, as_update(input)).await,
            };
            pending.set(false);
            match result {
                Ok(u) => on_saved.run(u),
                Err(e) => error.set(Some(e)),
            }
        });
    };
    let test = move |_| {
        tested.set(None);
        error.set(None);
        testing.set(true);
        let form = TestUpstreamForm {
            provider: f.provider.get_untracked(),
            base_url: f.base_url.get_untracked(),
            api_key: f.api_key.get_untracked(),
            timeout_ms: f.timeout.get_untracked().trim().parse().ok(),
        };
        let id = test_id.clone();
        spawn_local(async move {
            match test_upstream(id, form).await {
                Ok(r) => tested.set(Some(r)),
                Err(e) => error.set(Some(e)),
            }
            testing.set(false);
        });
    };
    let test_result = move || {
        tested.get().map(|r| {
            let text = if r.success {
                t_string!(i18n, pages.upstreams.test_ok, ms = r.latency_ms.unwrap_or(0)).to_string()
            } else {
                t_string!(i18n, pages.upstreams.test_failed, message = r.message.clone()).to_string()
            };
            view! { <p class=if r.success { "test-result ok" } else { "test-result form-error" } role="status" data-testid="test-result">{text}</p> }
        })
    };
    let key_hint = editing.then(|| t_string!(i18n, pages.upstreams.api_key_keep).to_string());
    view! {
        <form class="stack" on:submit=submit novalidate data-testid="upstream-form">
            <FormError error=error fields=FORM_FIELDS />
            <div class="form-grid">
                <TextField label=t_string!(i18n, pages.upstreams.name).to_string() field="name" value=f.name error=error />
                <label class="field">
                    <span>{t!(i18n, pages.upstreams.provider)}</span>
                    <select name="provider" on:change=move |ev| {
                        let provider = event_target_value(&ev);
                        if !f.formats_touched.get_untracked() {
                            if let Ok(p) = provider.parse::<Provider>() {
                                f.formats.set(p.default_formats().to_vec());
                            }
                        }
                        f.provider.set(provider);
                    }>
                        {Provider::ALL.iter().map(|p| p.as_str()).map(|p| view! { <option value=p selected=move || f.provider.get() == p>{p}</option> }).collect::<Vec<_>>()}
                    </select>
                    <FieldError error=error field="provider" />
                </label>
            </div>
            <TextField label=t_string!(i18n, pages.upstreams.base_url).to_string() field="base_url" value=f.base_url error=error kind="url" />
            <TextField label=t_string!(i18n, pages.upstreams.api_key).to_string() field="api_key" value=f.api_key error=error kind="password" hint=key_hint.unwrap_or_default() />
            <div class="form-grid three">
                <TextField label=t_string!(i18n, pages.upstreams.priority).to_string() field="priority" value=f.priority error=error kind="number" hint=t_string!(i18n, pages.upstreams.priority_hint).to_string() />
                <TextField label=t_string!(i18n, pages.upstreams.weight).to_string() field="weight" value=f.weight error=error kind="number" />
                <TextField label=t_string!(i18n, pages.upstreams.timeout).to_string() field="timeout_ms" value=f.timeout error=error kind="number" />
            </div>
            <label class="field">
                <span>{t!(i18n, pages.upstreams.allowed_models)}</span>
                <textarea name="allowed_models" rows="2" prop:value=move || f.models.get() on:input=move |ev| f.models.set(event_target_value(&ev))></textarea>
                <span class="muted small">{t!(i18n, pages.upstreams.allowed_models_hint)}</span>
                <FieldError error=error field="allowed_models" />
            </label>
            {discovered_for.map(|id| view! { <DiscoveredModelsPanel upstream_id=id allowed=f.models /> })}
            <label class="field">
                <span>{t!(i18n, pages.upstreams.redirects)}</span>
                <textarea name="model_redirects" rows="2" prop:value=move || f.redirects.get() on:input=move |ev| f.redirects.set(event_target_value(&ev))></textarea>
                <span class="muted small">{t!(i18n, pages.upstreams.redirects_hint)}</span>
                <FieldError error=error field="model_redirects" />
            </label>
            <label class="field">
                <span>{t!(i18n, pages.upstreams.extra_paths)}</span>
                <textarea name="extra_paths" rows="2" prop:value=move || f.extra_paths.get() on:input=move |ev| f.extra_paths.set(event_target_value(&ev))></textarea>
                <span class="muted small">{t!(i18n, pages.upstreams.extra_paths_hint)}</span>
                <FieldError error=error field="extra_paths" />
            </label>
            <fieldset class="field checklist" data-testid="upstream-formats">
                <legend>{t!(i18n, pages.upstreams.formats)}</legend>
                <span class="muted small">{t!(i18n, pages.upstreams.formats_hint)}</span>
                <div class="format-grid">
                    {Format::ALL.iter().map(|&format| view! {
                        <label class="check">
                            <input type="checkbox" name="api_format" value=format.as_str()
                                prop:checked=move || f.formats.with(|c| c.contains(&format))
                                on:change=move |ev| {
                                    let on = event_target_checked(&ev);
                                    f.formats_touched.set(true);
                                    f.formats.update(|c| {
                                        c.retain(|x| *x != format);
                                        if on { c.push(format); }
                                    });
                                } />
                            <code>{format.as_str()}</code>
                        </label>
                    }).collect::<Vec<_>>()}
                </div>
                <FieldError error=error field="api_formats" />
            </fieldset>
            <div class="form-grid four" data-testid="upstream-limits">
                <TextField label=t_string!(i18n, pages.upstreams.max_concurrent).to_string() field="limits.max_concurrent" value=f.max_concurrent error=error kind="number" />
                <TextField label=t_string!(i18n, pages.upstreams.rpm).to_string() field="limits.rpm" value=f.rpm error=error kind="number" />
                <TextField label=t_string!(i18n, pages.upstreams.monthly_quota).to_string() field="limits.monthly_quota_usd" value=f.monthly_quota error=error kind="number" />
                <TextField label=t_string!(i18n, pages.upstreams.price_multiplier).to_string() field="price_multiplier" value=f.multiplier error=error kind="number" />
            </div>
            <span class="muted small">{t!(i18n, pages.upstreams.limits_hint)}</span>
            <label class="check">
                <input type="checkbox" name="is_active" prop:checked=move || f.active.get() on:change=move |ev| f.active.set(event_target_checked(&ev)) />
                <span>{t!(i18n, pages.upstreams.active)}</span>
            </label>
            {test_result}
            <div class="dialog-actions">
                <button type="button" class="button" data-testid="test-form" disabled=move || testing.get() on:click=test>
                    {move || if testing.get() { t_string!(i18n, pages.upstreams.testing) } else { t_string!(i18n, pages.upstreams.test) }}
                </button>
                <div class="topbar-spacer"></div>
                <button type="button" class="button ghost" on:click=move |_| on_cancel.run(())>{t!(i18n, common.cancel)}</button>
                <button type="submit" class="button primary" data-testid="save" disabled=move || pending.get()>
                    {move || if pending.get() { t_string!(i18n, common.saving) } else { t_string!(i18n, common.save) }}
                </button>
            </div>
        </form>
    }
}

/// Fields this form shows a message under; a problem with any other goes to the top.
const FORM_FIELDS: &[&str] = &[
    "name",
    "provider",
    "base_url",
    "api_key",
    "priority",
    "weight",
    "timeout_ms",
    "allowed_models",
    "model_redirects",
    "extra_paths",
    "api_formats",
    "limits.max_concurrent",
    "limits.rpm",
    "limits.monthly_quota_usd",
    "price_multiplier",
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redirect_lines_round_trip() {
        let map = parse_redirects("gpt-4 = gpt-4o\n\n  claude -> claude-3-5-sonnet \nbad");
        assert_eq!(map.get("gpt-4").map(String::as_str), Some("gpt-4o"));
        assert_eq!(
            map.get("claude").map(String::as_str),
            Some("claude-3-5-sonnet")
        );
        assert_eq!(
            map.get("bad").map(String::as_str),
            Some(""),
            "the server reports it"
        );
        assert_eq!(parse_redirects(&format_redirects(&map)), map);
    }
}
