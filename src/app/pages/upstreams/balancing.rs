//! The gateway's balancing settings: strategy and how many upstreams a request may try.
use leptos::prelude::*;
use leptos::task::spawn_local;

use crate::api::upstreams::update_settings;
use crate::app::components::error_text::{error_text, FieldError};
use crate::app::components::toasts::use_toasts;
use crate::i18n::*;
use crate::model::errors::UiError;
use crate::model::settings::{GatewaySettings, Strategy, UpdateSettings};

#[component]
pub fn Balancing(settings: GatewaySettings) -> impl IntoView {
    let i18n = use_i18n();
    let toasts = use_toasts();
    let strategy = RwSignal::new(settings.lb_strategy.as_str().to_string());
    let attempts = RwSignal::new(settings.max_attempts.to_string());
    let error = RwSignal::new(None::<UiError>);
    let pending = RwSignal::new(false);
    let label = move |s: Strategy| match s {
        Strategy::RoundRobin => t_string!(i18n, pages.upstreams.strategy_round_robin).to_string(),
        Strategy::LeastConnections => {
            t_string!(i18n, pages.upstreams.strategy_least_connections).to_string()
        }
        Strategy::Weighted => t_string!(i18n, pages.upstreams.strategy_weighted).to_string(),
    };
    let save = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        error.set(None);
        let max_attempts = match attempts.get_untracked().trim().parse::<u32>() {
            Ok(n) => Some(n),
            Err(_) => {
                error.set(Some(UiError {
                    kind: "invalid_request".into(),
                    message: "max_attempts: not a number".into(),
                    field: Some(crate::model::errors::FieldProblem {
                        field: "max_attempts".into(),
                        reason: "out_of_range".into(),
                        arg: Some("1–10".into()),
                    }),
                }));
                return;
            }
        };
        pending.set(true);
        spawn_local(async move {
            let change = UpdateSettings {
                lb_strategy: Some(strategy.get_untracked()),
                max_attempts,
                health_check_interval_seconds: None,
            };
            match update_settings(change).await {
                Ok(_) => {
                    toasts.success(t_string!(i18n, pages.upstreams.settings_saved).to_string())
                }
                Err(e) => {
                    if e.field.is_none() {
                        toasts.error(error_text(i18n, &e));
                    }
                    error.set(Some(e));
                }
            }
            pending.set(false);
        });
    };
    view! {
        <form class="card inline-form" on:submit=save novalidate data-testid="balancing">
            <label class="field">
                <span>{t!(i18n, pages.upstreams.strategy)}</span>
                <select name="lb_strategy" data-testid="strategy" on:change=move |ev| strategy.set(event_target_value(&ev))>
                    {Strategy::ALL.iter().map(|&s| {
                        let selected = s == settings.lb_strategy;
                        view! { <option value=s.as_str() selected=selected>{label(s)}</option> }
                    }).collect::<Vec<_>>()}
                </select>
                <FieldError error=error field="lb_strategy" />
            </label>
            <label class="field">
                <span>{t!(i18n, pages.upstreams.max_attempts)}</span>
                <input type="number" name="max_attempts" min="1" max="10" data-testid="max-attempts"
                    prop:value=move || attempts.get() on:input=move |ev| attempts.set(event_target_value(&ev)) />
                <FieldError error=error field="max_attempts" />
            </label>
            <button type="submit" class="button" data-testid="save-balancing" disabled=move || pending.get()>{t!(i18n, common.save)}</button>
        </form>
    }
}
