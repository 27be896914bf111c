//! The form that sets one model's price: the model (fixed when editing) and the five rates in
//! USD per million tokens, with a message under each field.
use leptos::prelude::*;
use leptos::task::spawn_local;

use crate::api::prices::set_price;
use crate::app::components::error_text::{FieldError, FormError};
use crate::i18n::*;
use crate::model::errors::{FieldProblem, UiError};
use crate::model::prices::{PriceRates, PriceView};

/// Fields this form shows a message under; a problem with any other goes to the top.
const FORM_FIELDS: &[&str] = &[
    "model",
    "input",
    "output",
    "cached_input",
    "cache_write_5m",
    "cache_write_1h",
];

/// What the dialog starts from: a model to price (maybe new, maybe prefilled) and its rates.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Draft {
    pub model: String,
    /// The model is the one being edited, not a new one typed in.
    pub fixed: bool,
    pub rates: Option<PriceRates>,
}

fn text(v: Option<f64>) -> String {
    v.map(|v| v.to_string()).unwrap_or_default()
}

/// A rate as typed: empty is `None`; anything else must be a number, or it is the same problem
/// the server would report.
fn rate(field: &str, raw: &str) -> Result<Option<f64>, UiError> {
    let raw = raw.trim();
    if raw.is_empty() {
        return Ok(None);
    }
    raw.parse::<f64>().map(Some).map_err(|_| UiError {
        kind: "invalid_request".into(),
        message: format!("{field}: must be a number"),
        field: Some(FieldProblem {
            field: field.into(),
            reason: "out_of_range".into(),
            arg: Some("0–10000".into()),
        }),
    })
}

fn required(field: &str, raw: &str) -> Result<f64, UiError> {
    rate(field, raw)?.ok_or_else(|| UiError {
        kind: "invalid_request".into(),
        message: format!("{field}: must not be empty"),
        field: Some(FieldProblem {
            field: field.into(),
            reason: "required".into(),
            arg: None,
        }),
    })
}

#[component]
fn RateField(
    label: String,
    field: &'static str,
    value: RwSignal<String>,
    error: RwSignal<Option<UiError>>,
) -> impl IntoView {
    view! {
        <label class="field">
            <span>{label}</span>
            <input type="text" inputmode="decimal" name=field
                aria-invalid=move || error.with(|e| e.as_ref().is_some_and(|e| e.about(field).is_some())).to_string()
                prop:value=move || value.get() on:input=move |ev| value.set(event_target_value(&ev)) />
            <FieldError error=error field=field />
        </label>
    }
}

#[component]
pub fn PriceForm(
    draft: Draft,
    #[prop(into)] on_saved: Callback<PriceView>,
    #[prop(into)] on_cancel: Callback<()>,
) -> impl IntoView {
    let i18n = use_i18n();
    let rates = draft.rates.unwrap_or_default();
    let has_rates = draft.rates.is_some();
    let model = RwSignal::new(draft.model.clone());
    let input = RwSignal::new(if has_rates {
        text(Some(rates.input))
    } else {
        String::new()
    });
    let output = RwSignal::new(if has_rates {
        text(Some(rates.output))
    } else {
        String::new()
    });
    let cached = RwSignal::new(text(rates.cached_input));
    let write_5m = RwSignal::new(text(rates.cache_write_5m));
    let write_1h = RwSignal::new(text(rates.cache_write_1h));
    let error = RwSignal::new(None::<UiError>);
    let pending = RwSignal::new(false);
    let fixed = draft.fixed;

    let read = move || -> Result<PriceRates, UiError> {
        Ok(PriceRates {
            input: required("input", &input.get_untracked())?,
            output: required("output", &output.get_untracked())?,
            cached_input: rate("cached_input", &cached.get_untracked())?,
            cache_write_5m: rate("cache_write_5m", &write_5m.get_untracked())?,
            cache_write_1h: rate("cache_write_1h", &write_1h.get_untracked())?,
        })
    };
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        error.set(None);
        let rates = match read() {
            Ok(r) => r,
            Err(e) => return error.set(Some(e)),
        };
        pending.set(true);
        let model = model.get_untracked();
        spawn_local(async move {
            let result = set_price(model, rates).await;
            pending.set(false);
            match result {
                Ok(view) => on_saved.run(view),
                Err(e) => error.set(Some(e)),
            }
        });
    };
    view! {
        <form class="stack" on:submit=submit novalidate data-testid="price-form">
            <FormError error=error fields=FORM_FIELDS />
            <label class="field">
                <span>{t!(i18n, pages.prices.model)}</span>
                <input type="text" name="model" autofocus=!fixed readonly=fixed
                    aria-invalid=move || error.with(|e| e.as_ref().is_some_and(|e| e.about("model").is_some())).to_string()
                    prop:value=move || model.get() on:input=move |ev| model.set(event_target_value(&ev)) />
                <span class="muted small">{t!(i18n, pages.prices.model_hint)}</span>
                <FieldError error=error field="model" />
            </label>
            <p class="muted small">{t!(i18n, pages.prices.rates_hint)}</p>
            <div class="form-grid two">
                <RateField label=t_string!(i18n, pages.prices.input).to_string() field="input" value=input error=error />
                <RateField label=t_string!(i18n, pages.prices.output).to_string() field="output" value=output error=error />
            </div>
            <div class="form-grid three">
                <RateField label=t_string!(i18n, pages.prices.cached_input).to_string() field="cached_input" value=cached error=error />
                <RateField label=t_string!(i18n, pages.prices.cache_write_5m).to_string() field="cache_write_5m" value=write_5m error=error />
                <RateField label=t_string!(i18n, pages.prices.cache_write_1h).to_string() field="cache_write_1h" value=write_1h error=error />
            </div>
            <div class="dialog-actions">
                <button type="button" class="button ghost" on:click=move |_| on_cancel.run(())>{t!(i18n, common.cancel)}</button>
                <button type="submit" class="button primary" data-testid="save" disabled=move || pending.get()>
                    {move || if pending.get() { t_string!(i18n, common.saving) } else { t_string!(i18n, common.save) }}
                </button>
            </div>
        </form>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_are_read_as_typed() {
        assert_eq!(rate("input", " 2.5 ").unwrap(), Some(2.5));
        assert_eq!(rate("input", "").unwrap(), None);
        let e = rate("cached_input", "two").unwrap_err();
        assert_eq!(e.about("cached_input").unwrap().reason, "out_of_range");
        assert_eq!(
            required("output", "")
                .unwrap_err()
                .about("output")
                .unwrap()
                .reason,
            "required"
        );
        assert_eq!(text(Some(0.075)), "0.075");
        assert_eq!(text(None), "");
    }
}
