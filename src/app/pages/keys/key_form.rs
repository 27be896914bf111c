//! The create / edit form of a client key: name, description, expiry, the upstreams it may use
//! and its limits.
use leptos::prelude::*;
use leptos::task::spawn_local;

use crate::api::keys::{create_key, update_key};
use crate::app::components::error_text::{FieldError, FormError};
use crate::i18n::*;
use crate::model::errors::UiError;
use crate::model::keys::{ApiKeyView, CreateApiKey, CreatedApiKey, UpdateApiKey};
use crate::model::limits::KeyLimits;
use crate::model::named::Named;

/// Fields this form shows a message under; a problem with any other goes to the top.
const FORM_FIELDS: &[&str] = &[
    "name",
    "description",
    "expires_at",
    "upstream_ids",
    "limits.allowed_models",
    "limits.rpm",
    "limits.tpm",
    "limits.max_concurrent",
    "limits.daily_budget_usd",
    "limits.monthly_budget_usd",
];

/// What a successful submit produced.
#[derive(Debug, Clone)]
pub enum SavedKey {
    Created(CreatedApiKey),
    Updated(ApiKeyView),
}

/// `YYYY-MM-DDTHH:MM` (a `datetime-local` input) read as UTC, as RFC 3339; empty stays empty.
fn expiry_to_rfc3339(local: &str) -> Option<String> {
    let v = local.trim();
    (!v.is_empty()).then(|| format!("{}:00Z", v.get(..16).unwrap_or(v)))
}

/// A number field: empty is none; what does not parse is sent as an impossible value so the
/// server names the field.
fn number<T: std::str::FromStr>(v: &str, impossible: T) -> Option<T> {
    let t = v.trim();
    (!t.is_empty()).then(|| t.parse().unwrap_or(impossible))
}

/// The allow-list as typed: one pattern per comma or line.
fn patterns(v: &str) -> Vec<String> {
    v.split([',', '\n'])
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(String::from)
        .collect()
}

fn shown<T: ToString>(v: Option<T>) -> String {
    v.map(|n| n.to_string()).unwrap_or_default()
}

fn nonempty(v: String) -> Option<String> {
    let t = v.trim();
    (!t.is_empty()).then(|| t.to_string())
}

/// One optional limit: a number input for the field `field` (`limits.<name>`), named `<name>`.
#[component]
fn LimitField(
    label: String,
    field: &'static str,
    step: &'static str,
    value: RwSignal<String>,
    error: RwSignal<Option<UiError>>,
) -> impl IntoView {
    let name = field.trim_start_matches("limits.");
    view! {
        <label class="field">
            <span>{label}</span>
            <input type="number" name=name min="0" step=step
                prop:value=move || value.get() on:input=move |ev| value.set(event_target_value(&ev)) />
            <FieldError error=error field=field />
        </label>
    }
}

#[component]
pub fn KeyForm(
    existing: Option<ApiKeyView>,
    upstreams: Vec<Named>,
    #[prop(into)] on_saved: Callback<SavedKey>,
    #[prop(into)] on_cancel: Callback<()>,
) -> impl IntoView {
    let i18n = use_i18n();
    let name = RwSignal::new(
        existing
            .as_ref()
            .map(|k| k.name.clone())
            .unwrap_or_default(),
    );
    let description = RwSignal::new(
        existing
            .as_ref()
            .and_then(|k| k.description.clone())
            .unwrap_or_default(),
    );
    let expires = RwSignal::new(
        existing
            .as_ref()
            .and_then(|k| {
                k.expires_at
                    .as_deref()
                    .and_then(|e| e.get(..16))
                    .map(String::from)
            })
            .unwrap_or_default(),
    );
    // A new key gets every upstream ticked when there is just one to choose.
    let chosen = RwSignal::new(match &existing {
        Some(k) => k.upstream_ids.clone(),
        None if upstreams.len() == 1 => vec![upstreams[0].id.clone()],
        None => Vec::new(),
    });
    let limits = existing
        .as_ref()
        .map(|k| k.limits.clone())
        .unwrap_or_default();
    let allowed = RwSignal::new(limits.allowed_models.join(", "));
    let rpm = RwSignal::new(shown(limits.rpm));
    let tpm = RwSignal::new(shown(limits.tpm));
    let concurrent = RwSignal::new(shown(limits.max_concurrent));
    let daily = RwSignal::new(shown(limits.daily_budget_usd));
    let monthly = RwSignal::new(shown(limits.monthly_budget_usd));
    let typed_limits = move || KeyLimits {
        allowed_models: patterns(&allowed.get_untracked()),
        rpm: number(&rpm.get_untracked(), 0),
        tpm: number(&tpm.get_untracked(), 0),
        max_concurrent: number(&concurrent.get_untracked(), 0),
        daily_budget_usd: number(&daily.get_untracked(), -1.0),
        monthly_budget_usd: number(&monthly.get_untracked(), -1.0),
    };
    let error = RwSignal::new(None::<UiError>);
    let pending = RwSignal::new(false);
    let id = existing.as_ref().map(|k| k.id.clone());

    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        pending.set(true);
        error.set(None);
        let id = id.clone();
        spawn_local(async move {
            let result = match id {
                None => create_key(CreateApiKey {
                    name: name.get_untracked(),
                    description: nonempty(description.get_untracked()),
                    upstream_ids: chosen.get_untracked(),
                    expires_at: expiry_to_rfc3339(&expires.get_untracked()),
                    is_active: None,
                    limits: typed_limits(),
                })
                .await
                .map(SavedKey::Created),
                Some(id) => update_key(
                    id,
                    UpdateApiKey {
                        name: Some(name.get_untracked()),
                        description: Some(nonempty(description.get_untracked())),
                        upstream_ids: Some(chosen.get_untracked()),
                        expires_at: Some(expiry_to_rfc3339(&expires.get_untracked())),
                        is_active: None,
                        limits: Some(typed_limits()),
                    },
                )
                .await
                .map(SavedKey::Updated),
            };
            pending.set(false);
            match result {
                Ok(saved) => on_saved.run(saved),
                Err(e) => error.set(Some(e)),
            }
        });
    };
    let no_upstreams = upstreams.is_empty();
    view! {
        <form class="stack" on:submit=submit novalidate data-testid="key-form">
            <FormError error=error fields=FORM_FIELDS />
            <label class="field">
                <span>{t!(i18n, pages.keys.name)}</span>
                <input type="text" name="name" maxlength="100" required autofocus
                    prop:value=move || name.get() on:input=move |ev| name.set(event_target_value(&ev)) />
                <FieldError error=error field="name" />
            </label>
            <label class="field">
                <span>{t!(i18n, pages.keys.description)}</span>
                <textarea name="description" rows="2" maxlength="500"
                    prop:value=move || description.get() on:input=move |ev| description.set(event_target_value(&ev))></textarea>
                <FieldError error=error field="description" />
            </label>
            <label class="field">
                <span>{t!(i18n, pages.keys.expires_at)}</span>
                <input type="datetime-local" name="expires_at"
                    prop:value=move || expires.get() on:input=move |ev| expires.set(event_target_value(&ev)) />
                <FieldError error=error field="expires_at" />
            </label>
            <fieldset class="field checklist">
                <legend>{t!(i18n, pages.keys.upstreams)}</legend>
                <span class="muted">{t!(i18n, pages.keys.upstreams_hint)}</span>
                <Show when=move || no_upstreams>
                    <p class="form-error">{t!(i18n, pages.keys.no_upstreams)}</p>
                </Show>
                {upstreams.into_iter().map(|u| {
                    let uid = u.id.clone();
                    let uid2 = u.id.clone();
                    view! {
                        <label class="check">
                            <input type="checkbox" name="upstream" value=u.id.clone()
                                prop:checked=move || chosen.with(|c| c.contains(&uid))
                                on:change=move |ev| {
                                    let on = event_target_checked(&ev);
                                    chosen.update(|c| {
                                        c.retain(|x| x != &uid2);
                                        if on { c.push(uid2.clone()); }
                                    });
                                } />
                            <span>{u.name}</span>
                        </label>
                    }
                }).collect::<Vec<_>>()}
                <FieldError error=error field="upstream_ids" />
            </fieldset>
            <fieldset class="field limits" data-testid="key-limits">
                <legend>{t!(i18n, pages.keys.limits)}</legend>
                <span class="muted">{t!(i18n, pages.keys.limits_hint)}</span>
                <label class="field">
                    <span>{t!(i18n, pages.keys.allowed_models)}</span>
                    <input type="text" name="allowed_models" placeholder="claude-*, gpt-4o-mini"
                        prop:value=move || allowed.get() on:input=move |ev| allowed.set(event_target_value(&ev)) />
                    <FieldError error=error field="limits.allowed_models" />
                </label>
                <div class="field-row">
                    <LimitField label=t_string!(i18n, pages.keys.rpm).to_string() field="limits.rpm" step="1" value=rpm error=error />
                    <LimitField label=t_string!(i18n, pages.keys.tpm).to_string() field="limits.tpm" step="1" value=tpm error=error />
                    <LimitField label=t_string!(i18n, pages.keys.max_concurrent).to_string() field="limits.max_concurrent" step="1" value=concurrent error=error />
                </div>
                <div class="field-row">
                    <LimitField label=t_string!(i18n, pages.keys.daily_budget).to_string() field="limits.daily_budget_usd" step="0.01" value=daily error=error />
                    <LimitField label=t_string!(i18n, pages.keys.monthly_budget).to_string() field="limits.monthly_budget_usd" step="0.01" value=monthly error=error />
                </div>
            </fieldset>
            <div class="dialog-actions">
                <button type="button" class="button ghost" on:click=move |_| on_cancel.run(())>{t!(i18n, common.cancel)}</button>
                <button type="submit" class="button primary" data-testid="save" disabled=move || pending.get()>
                    {move || if pending.get() { t_string!(i18n, common.saving) } else { t_string!(i18n, common.save) }}
                </button>
            </div>
        </form>
    }
}
