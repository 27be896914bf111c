//! Server errors in the reader's language: a field problem by its reason code, anything else by
//! its kind. The server's English message is shown only for problems without a translation.
use leptos::prelude::*;

use crate::i18n::*;
use crate::model::errors::{FieldProblem, UiError};

/// What is wrong with one field, localized.
pub fn field_text(
    i18n: leptos_i18n::I18nContext<Locale>,
    p: &FieldProblem,
    detail: &str,
) -> String {
    let arg = p.arg.clone().unwrap_or_default();
    match p.reason.as_str() {
        "required" => t_string!(i18n, errors.required).to_string(),
        "too_long" => t_string!(i18n, errors.too_long, arg = arg).to_string(),
        "out_of_range" => t_string!(i18n, errors.out_of_range, arg = arg).to_string(),
        "taken" => t_string!(i18n, errors.taken, arg = arg).to_string(),
        "url_invalid" => t_string!(i18n, errors.url_invalid).to_string(),
        "url_scheme" => t_string!(i18n, errors.url_scheme).to_string(),
        "url_credentials" => t_string!(i18n, errors.url_credentials).to_string(),
        "ssrf_blocked" => t_string!(i18n, errors.ssrf_blocked, arg = arg).to_string(),
        "url_resolve" => t_string!(i18n, errors.url_resolve, arg = arg).to_string(),
        "redirect_cycle" => t_string!(i18n, errors.redirect_cycle, arg = arg).to_string(),
        "redirect_self" => t_string!(i18n, errors.redirect_self, arg = arg).to_string(),
        "past" => t_string!(i18n, errors.past).to_string(),
        "too_precise" => t_string!(i18n, errors.too_precise, arg = arg).to_string(),
        "required_for_new_origin" => t_string!(i18n, errors.required_for_new_origin).to_string(),
        _ => t_string!(i18n, errors.not_valid, arg = detail).to_string(),
    }
}

/// The server's English detail, without the field name it starts with.
fn detail(e: &UiError) -> &str {
    e.message
        .split_once(": ")
        .map_or(e.message.as_str(), |(_, d)| d)
}

/// The whole error as one sentence, for a toast or a form's general message.
pub fn error_text(i18n: leptos_i18n::I18nContext<Locale>, e: &UiError) -> String {
    if let Some(p) = &e.field {
        return format!("{}: {}", p.field, field_text(i18n, p, detail(e)));
    }
    match e.kind.as_str() {
        "network" => t_string!(i18n, errors.network).to_string(),
        "unauthorized" => t_string!(i18n, errors.unauthorized).to_string(),
        "not_found" => t_string!(i18n, errors.not_found).to_string(),
        "forbidden" => t_string!(i18n, errors.forbidden).to_string(),
        "conflict" => t_string!(i18n, errors.conflict).to_string(),
        "invalid_request" => t_string!(i18n, errors.not_valid, arg = e.message.clone()).to_string(),
        _ => t_string!(i18n, errors.internal).to_string(),
    }
}

/// The message under a form field, when the last answer was about that field.
#[component]
pub fn FieldError(error: RwSignal<Option<UiError>>, field: &'static str) -> impl IntoView {
    let i18n = use_i18n();
    move || {
        error.with(|e| {
            e.as_ref().and_then(|e| {
                e.about(field).map(|p| {
                    let text = field_text(i18n, p, detail(e));
                    view! { <span class="field-error" role="alert" data-testid=format!("error-{field}")>{text}</span> }
                })
            })
        })
    }
}

/// The message at the top of a form, for an error about none of the `fields` it shows messages
/// under.
#[component]
pub fn FormError(
    error: RwSignal<Option<UiError>>,
    fields: &'static [&'static str],
) -> impl IntoView {
    let i18n = use_i18n();
    move || {
        error.with(|e| {
            e.as_ref()
                .filter(|e| e.field.as_ref().is_none_or(|p| !fields.contains(&p.field.as_str())))
                .map(|e| view! { <p class="form-error" role="alert" data-testid="form-error">{error_text(i18n, e)}</p> })
        })
    }
}
