//! `/{locale}/alerts`: the alert webhooks (add, edit, delete, send a test alert), the recent
//! deliveries, and when the error-rate alert fires.
use leptos::prelude::*;
use leptos::task::spawn_local;

use crate::api::alerts::{
    alerts_screen, create_webhook, delete_webhook, test_webhook, update_alert_settings,
    update_webhook,
};
use crate::app::components::error_text::{error_text, FieldError, FormError};
use crate::app::components::page_header::PageHeader;
use crate::app::components::toasts::use_toasts;
use crate::i18n::*;
use crate::model::alerts::{
    AlertKind, AlertSettings, CreateWebhook, DeliveryStatus, DeliveryView, UpdateAlertSettings,
    UpdateWebhook, WebhookFormat, WebhookView,
};
use crate::model::errors::{FieldProblem, UiError};

const FORM_FIELDS: &[&str] = &["name", "url", "format", "events", "secret"];

fn short_time(rfc3339: &str) -> String {
    rfc3339.get(..19).unwrap_or(rfc3339).replace('T', " ")
}

fn kind_label(i18n: leptos_i18n::I18nContext<Locale>, k: AlertKind) -> String {
    match k {
        AlertKind::BreakerOpened => t_string!(i18n, pages.alerts.kind_breaker_opened),
        AlertKind::BreakerClosed => t_string!(i18n, pages.alerts.kind_breaker_closed),
        AlertKind::UpstreamUnhealthy => t_string!(i18n, pages.alerts.kind_upstream_unhealthy),
        AlertKind::UpstreamHealthy => t_string!(i18n, pages.alerts.kind_upstream_healthy),
        AlertKind::BudgetWarning => t_string!(i18n, pages.alerts.kind_budget_warning),
        AlertKind::BudgetExhausted => t_string!(i18n, pages.alerts.kind_budget_exhausted),
        AlertKind::ErrorRateHigh => t_string!(i18n, pages.alerts.kind_error_rate_high),
        AlertKind::Test => t_string!(i18n, pages.alerts.kind_test),
    }
    .to_string()
}

fn status_label(i18n: leptos_i18n::I18nContext<Locale>, s: DeliveryStatus) -> String {
    match s {
        DeliveryStatus::Pending => t_string!(i18n, pages.alerts.status_pending),
        DeliveryStatus::Delivered => t_string!(i18n, pages.alerts.status_delivered),
        DeliveryStatus::Failed => t_string!(i18n, pages.alerts.status_failed),
    }
    .to_string()
}

/// Kinds a webhook can subscribe to (the test alert always goes).
fn subscribable() -> Vec<AlertKind> {
    AlertKind::ALL
        .iter()
        .copied()
        .filter(|k| *k != AlertKind::Test)
        .collect()
}

/// The add/edit form's fields; `editing` holds the id of the webhook being changed.
#[derive(Clone, Copy)]
struct Form {
    editing: RwSignal<Option<String>>,
    name: RwSignal<String>,
    url: RwSignal<String>,
    format: RwSignal<String>,
    events: RwSignal<Vec<AlertKind>>,
    secret: RwSignal<String>,
    enabled: RwSignal<bool>,
}

impl Form {
    fn new() -> Self {
        Self {
            editing: RwSignal::new(None),
            name: RwSignal::new(String::new()),
            url: RwSignal::new(String::new()),
            format: RwSignal::new(WebhookFormat::Generic.as_str().into()),
            events: RwSignal::new(Vec::new()),
            secret: RwSignal::new(String::new()),
            enabled: RwSignal::new(true),
        }
    }

    fn clear(&self) {
        self.editing.set(None);
        self.name.set(String::new());
        self.url.set(String::new());
        self.format.set(WebhookFormat::Generic.as_str().into());
        self.events.set(Vec::new());
        self.secret.set(String::new());
        self.enabled.set(true);
    }

    fn load(&self, w: &WebhookView) {
        self.editing.set(Some(w.id.clone()));
        self.name.set(w.name.clone());
        self.url.set(String::new());
        self.format.set(w.format.as_str().into());
        self.events.set(w.events.clone());
        self.secret.set(String::new());
        self.enabled.set(w.enabled);
    }

    fn events(&self) -> Vec<String> {
        self.events
            .get_untracked()
            .iter()
            .map(|k| k.as_str().to_string())
            .collect()
    }
}

#[component]
fn WebhookForm(form: Form, #[prop(into)] on_saved: Callback<()>) -> impl IntoView {
    let i18n = use_i18n();
    let toasts = use_toasts();
    let error = RwSignal::new(None::<UiError>);
    let pending = RwSignal::new(false);
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        error.set(None);
        pending.set(true);
        let editing = form.editing.get_untracked();
        let (url, secret) = (form.url.get_untracked(), form.secret.get_untracked());
        spawn_local(async move {
            let result = match editing {
                None => create_webhook(CreateWebhook {
                    name: form.name.get_untracked(),
                    url,
                    format: form.format.get_untracked(),
                    events: Some(form.events()),
                    enabled: Some(form.enabled.get_untracked()),
                    secret: (!secret.trim().is_empty()).then_some(secret),
                })
                .await
                .map(|_| ()),
                Some(id) => update_webhook(
                    id,
                    UpdateWebhook {
                        name: Some(form.name.get_untracked()),
                        // Left empty: the saved URL and secret stay.
                        url: (!url.trim().is_empty()).then_some(url),
                        format: Some(form.format.get_untracked()),
                        events: Some(form.events()),
                        enabled: Some(form.enabled.get_untracked()),
                        secret: (!secret.trim().is_empty()).then_some(secret),
                    },
                )
                .await
                .map(|_| ()),
            };
            pending.set(false);
            match result {
                Ok(()) => {
                    toasts.success(t_string!(i18n, pages.alerts.saved).to_string());
                    form.clear();
                    on_saved.run(());
                }
                Err(e) => error.set(Some(e)),
            }
        });
    };
    let invalid = move |field: &'static str| {
        move || {
            error
                .with(|e| e.as_ref().is_some_and(|e| e.about(field).is_some()))
                .to_string()
        }
    };
    view! {
        <form class="card stack" on:submit=submit novalidate data-testid="webhook-form">
            <h2>{move || if form.editing.get().is_some() { t_string!(i18n, pages.alerts.edit_webhook) } else { t_string!(i18n, pages.alerts.new_webhook) }}</h2>
            <FormError error=error fields=FORM_FIELDS />
            <div class="form-grid two">
                <label class="field">
                    <span>{t!(i18n, pages.alerts.name)}</span>
                    <input type="text" name="name" aria-invalid=invalid("name")
                        prop:value=move || form.name.get() on:input=move |ev| form.name.set(event_target_value(&ev)) />
                    <FieldError error=error field="name" />
                </label>
                <label class="field">
                    <span>{t!(i18n, pages.alerts.format)}</span>
                    <select name="format" on:change=move |ev| form.format.set(event_target_value(&ev))>
                        {WebhookFormat::ALL.iter().map(|f| f.as_str()).map(|f| view! {
                            <option value=f selected=move || form.format.get() == f>{f}</option>
                        }).collect::<Vec<_>>()}
                    </select>
                    <FieldError error=error field="format" />
                </label>
            </div>
            <label class="field">
                <span>{t!(i18n, pages.alerts.url)}</span>
                <input type="url" name="url" autocomplete="off" aria-invalid=invalid("url")
                    placeholder=move || if form.editing.get().is_some() { t_string!(i18n, pages.alerts.url_keep).to_string() } else { "https://".to_string() }
                    prop:value=move || form.url.get() on:input=move |ev| form.url.set(event_target_value(&ev)) />
                <span class="muted small">{t!(i18n, pages.alerts.url_hint)}</span>
                <FieldError error=error field="url" />
            </label>
            <label class="field">
                <span>{t!(i18n, pages.alerts.secret)}</span>
                <input type="password" name="secret" autocomplete="off"
                    placeholder=move || if form.editing.get().is_some() { t_string!(i18n, pages.alerts.secret_keep).to_string() } else { String::new() }
                    prop:value=move || form.secret.get() on:input=move |ev| form.secret.set(event_target_value(&ev)) />
                <span class="muted small">{t!(i18n, pages.alerts.secret_hint)}</span>
                <FieldError error=error field="secret" />
            </label>
            <fieldset class="field checklist" data-testid="webhook-events">
                <legend>{t!(i18n, pages.alerts.events)}</legend>
                <span class="muted small">{t!(i18n, pages.alerts.events_hint)}</span>
                <div class="format-grid">
                    {subscribable().into_iter().map(|kind| view! {
                        <label class="check">
                            <input type="checkbox" name="event" value=kind.as_str()
                                prop:checked=move || form.events.with(|e| e.contains(&kind))
                                on:change=move |ev| {
                                    let on = event_target_checked(&ev);
                                    form.events.update(|e| {
                                        e.retain(|x| *x != kind);
                                        if on { e.push(kind); }
                                    });
                                } />
                            <span>{kind_label(i18n, kind)}</span>
                        </label>
                    }).collect::<Vec<_>>()}
                </div>
                <FieldError error=error field="events" />
            </fieldset>
            <label class="check">
                <input type="checkbox" name="enabled" prop:checked=move || form.enabled.get() on:change=move |ev| form.enabled.set(event_target_checked(&ev)) />
                <span>{t!(i18n, pages.alerts.enabled)}</span>
            </label>
            <div class="dialog-actions">
                <Show when=move || form.editing.get().is_some()>
                    <button type="button" class="button ghost" on:click=move |_| form.clear()>{t!(i18n, common.cancel)}</button>
                </Show>
                <button type="submit" class="button primary" data-testid="save-webhook" disabled=move || pending.get()>
                    {move || if pending.get() { t_string!(i18n, common.saving) } else { t_string!(i18n, common.save) }}
                </button>
            </div>
        </form>
    }
}

/// The last test alert's outcome, by webhook id: kept by the page, since the rows are
/// rendered anew when the list reloads after a test.
type LastTest = RwSignal<Option<(String, Result<DeliveryView, UiError>)>>;

#[component]
fn WebhookRow(
    w: WebhookView,
    form: Form,
    last_test: LastTest,
    #[prop(into)] on_change: Callback<()>,
) -> impl IntoView {
    let i18n = use_i18n();
    let toasts = use_toasts();
    let row_id = w.id.clone();
    let result = Signal::derive(move || {
        last_test.with(|t| {
            t.as_ref()
                .filter(|(id, _)| *id == row_id)
                .map(|(_, r)| r.clone())
        })
    });
    let testing = RwSignal::new(false);
    let confirming = RwSignal::new(false);
    let id = w.id.clone();
    let test = {
        let id = id.clone();
        move |_| {
            let id = id.clone();
            testing.set(true);
            last_test.set(None);
            spawn_local(async move {
                let r = test_webhook(id.clone()).await;
                testing.set(false);
                last_test.set(Some((id, r)));
                on_change.run(());
            });
        }
    };
    let remove = move |_| {
        let id = id.clone();
        spawn_local(async move {
            match delete_webhook(id).await {
                Ok(()) => on_change.run(()),
                Err(e) => toasts.error(error_text(i18n, &e)),
            }
        });
    };
    let events = if w.events.is_empty() {
        t_string!(i18n, pages.alerts.all_events).to_string()
    } else {
        w.events
            .iter()
            .map(|k| kind_label(i18n, *k))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let edit = {
        let w = w.clone();
        move |_| form.load(&w)
    };
    view! {
        <tr data-testid=format!("webhook-{}", w.name)>
            <td>{w.name.clone()}</td>
            <td><code>{w.format.as_str()}</code></td>
            <td><code data-testid="webhook-url">{w.url_masked.clone()}</code></td>
            <td class="small">{events}</td>
            <td>{if w.enabled { t_string!(i18n, pages.alerts.on) } else { t_string!(i18n, pages.alerts.off) }}</td>
            <td class="actions">
                <button type="button" class="button" data-testid="send-test" disabled=move || testing.get() on:click=test>
                    {move || if testing.get() { t_string!(i18n, pages.alerts.sending) } else { t_string!(i18n, pages.alerts.send_test) }}
                </button>
                <button type="button" class="button" data-testid="edit-webhook" on:click=edit>{t!(i18n, pages.alerts.edit)}</button>
                {move || if confirming.get() {
                    let remove = remove.clone();
                    view! {
                        <span class="confirm" role="group">
                            <span>{t!(i18n, pages.alerts.confirm_delete)}</span>
                            <button type="button" class="button primary" data-testid="confirm" on:click=remove>{t!(i18n, pages.alerts.delete)}</button>
                            <button type="button" class="button ghost" on:click=move |_| confirming.set(false)>{t!(i18n, common.cancel)}</button>
                        </span>
                    }.into_any()
                } else {
                    view! { <button type="button" class="button" data-testid="delete-webhook" on:click=move |_| confirming.set(true)>{t!(i18n, pages.alerts.delete)}</button> }.into_any()
                }}
                {move || result.get().map(|r| match r {
                    Ok(d) if d.status == DeliveryStatus::Delivered => view! {
                        <p class="test-result ok" role="status" data-testid="test-result">{t!(i18n, pages.alerts.test_delivered)}</p>
                    }.into_any(),
                    Ok(d) => {
                        let why = d.last_error.unwrap_or_default();
                        view! {
                            <p class="test-result form-error" role="alert" data-testid="test-result">{t_string!(i18n, pages.alerts.test_failed, error = why).to_string()}</p>
                        }.into_any()
                    }
                    Err(e) => view! {
                        <p class="test-result form-error" role="alert" data-testid="test-result">{error_text(i18n, &e)}</p>
                    }.into_any(),
                })}
            </td>
        </tr>
    }
}

#[component]
fn Deliveries(list: Vec<DeliveryView>) -> impl IntoView {
    let i18n = use_i18n();
    if list.is_empty() {
        return view! { <div class="card muted" data-testid="no-deliveries">{t!(i18n, pages.alerts.no_deliveries)}</div> }.into_any();
    }
    view! {
        <div class="card table-wrap">
            <table class="table" data-testid="deliveries-table">
                <thead><tr>
                    <th>{t!(i18n, pages.alerts.time)}</th>
                    <th>{t!(i18n, pages.alerts.webhook)}</th>
                    <th>{t!(i18n, pages.alerts.kind)}</th>
                    <th>{t!(i18n, pages.alerts.status)}</th>
                    <th class="num">{t!(i18n, pages.alerts.attempts)}</th>
                    <th>{t!(i18n, pages.alerts.message)}</th>
                </tr></thead>
                <tbody>
                    {list.into_iter().map(|d| view! {
                        <tr data-testid="delivery">
                            <td>{short_time(&d.created_at)}</td>
                            <td>{d.webhook_name.clone()}</td>
                            <td>{kind_label(i18n, d.kind)}</td>
                            <td><span class=format!("badge delivery-{}", d.status) data-testid="delivery-status">{status_label(i18n, d.status)}</span></td>
                            <td class="num">{d.attempts}</td>
                            <td class="small">{d.summary.clone()}{d.last_error.map(|e| view! { <span class="muted">" — "{e}</span> })}</td>
                        </tr>
                    }).collect::<Vec<_>>()}
                </tbody>
            </table>
        </div>
    }
    .into_any()
}

fn number(field: &str, raw: &str) -> Result<u32, UiError> {
    raw.trim().parse().map_err(|_| UiError {
        kind: "invalid_request".into(),
        message: format!("{field}: must be a whole number"),
        field: Some(FieldProblem {
            field: field.into(),
            reason: "invalid".into(),
            arg: None,
        }),
    })
}

#[component]
fn Settings(settings: AlertSettings) -> impl IntoView {
    let i18n = use_i18n();
    let toasts = use_toasts();
    let percent = RwSignal::new(settings.error_rate_percent.to_string());
    let min = RwSignal::new(settings.error_rate_min_requests.to_string());
    let language = RwSignal::new(settings.language.as_str().to_string());
    let error = RwSignal::new(None::<UiError>);
    let save = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        error.set(None);
        let input = match (|| {
            Ok::<_, UiError>(UpdateAlertSettings {
                error_rate_percent: Some(number("error_rate_percent", &percent.get_untracked())?),
                error_rate_min_requests: Some(number(
                    "error_rate_min_requests",
                    &min.get_untracked(),
                )?),
                language: Some(language.get_untracked()),
            })
        })() {
            Ok(i) => i,
            Err(e) => return error.set(Some(e)),
        };
        spawn_local(async move {
            match update_alert_settings(input).await {
                Ok(_) => toasts.success(t_string!(i18n, pages.alerts.settings_saved).to_string()),
                Err(e) => error.set(Some(e)),
            }
        });
    };
    view! {
        <form class="card stack" on:submit=save novalidate data-testid="alert-settings">
            <h2>{t!(i18n, pages.alerts.settings)}</h2>
            <FormError error=error fields=&["error_rate_percent", "error_rate_min_requests"] />
            <div class="form-grid three">
                <label class="field">
                    <span>{t!(i18n, pages.alerts.error_rate_percent)}</span>
                    <input type="number" name="error_rate_percent" min="0" max="100"
                        prop:value=move || percent.get() on:input=move |ev| percent.set(event_target_value(&ev)) />
                    <FieldError error=error field="error_rate_percent" />
                </label>
                <label class="field">
                    <span>{t!(i18n, pages.alerts.error_rate_min_requests)}</span>
                    <input type="number" name="error_rate_min_requests" min="1"
                        prop:value=move || min.get() on:input=move |ev| min.set(event_target_value(&ev)) />
                    <FieldError error=error field="error_rate_min_requests" />
                </label>
                <label class="field">
                    <span>{t!(i18n, pages.alerts.language)}</span>
                    <select name="language" on:change=move |ev| language.set(event_target_value(&ev))>
                        <option value="en" selected=move || language.get() == "en">"English"</option>
                        <option value="zh" selected=move || language.get() == "zh">"中文"</option>
                    </select>
                </label>
            </div>
            <span class="muted small">{t!(i18n, pages.alerts.error_rate_hint)}</span>
            <div class="dialog-actions">
                <button type="submit" class="button primary" data-testid="save-settings">{t!(i18n, common.save)}</button>
            </div>
        </form>
    }
}

#[component]
pub fn AlertsPage() -> impl IntoView {
    let i18n = use_i18n();
    let version = RwSignal::new(0u32);
    let data = Resource::new(move || version.get(), |_| alerts_screen());
    let reload = Callback::new(move |_| version.update(|v| *v += 1));
    let form = Form::new();
    let last_test: LastTest = RwSignal::new(None);
    view! {
        <PageHeader
            title=Signal::derive(move || t_string!(i18n, pages.alerts.title).to_string())
            subtitle=Signal::derive(move || t_string!(i18n, pages.alerts.subtitle).to_string())
        />
        <Transition fallback=move || view! { <div class="card muted">{t!(i18n, pages.dashboard.loading)}</div> }>
            {move || data.get().map(|result| match result {
                Ok(screen) => view! {
                    {if screen.webhooks.is_empty() {
                        view! { <div class="card empty-state" data-testid="empty-state"><p>{t!(i18n, pages.alerts.empty)}</p></div> }.into_any()
                    } else {
                        view! {
                            <div class="card table-wrap">
                                <table class="table" data-testid="webhooks-table">
                                    <thead><tr>
                                        <th>{t!(i18n, pages.alerts.name)}</th>
                                        <th>{t!(i18n, pages.alerts.format)}</th>
                                        <th>{t!(i18n, pages.alerts.url)}</th>
                                        <th>{t!(i18n, pages.alerts.events)}</th>
                                        <th>{t!(i18n, pages.alerts.enabled)}</th>
                                        <th></th>
                                    </tr></thead>
                                    <tbody>
                                        {screen.webhooks.into_iter().map(|w| view! { <WebhookRow w=w form=form last_test=last_test on_change=reload /> }).collect::<Vec<_>>()}
                                    </tbody>
                                </table>
                            </div>
                        }.into_any()
                    }}
                    <h2>{t!(i18n, pages.alerts.deliveries)}</h2>
                    <Deliveries list=screen.deliveries />
                    <Settings settings=screen.settings />
                }.into_any(),
                Err(_) => view! {
                    <div class="card form-error" role="alert">
                        <p>{t!(i18n, pages.dashboard.load_failed)}</p>
                        <button type="button" class="button" on:click=move |_| data.refetch()>{t!(i18n, pages.dashboard.retry)}</button>
                    </div>
                }.into_any(),
            })}
        </Transition>
        <WebhookForm form=form on_saved=reload />
    }
}
