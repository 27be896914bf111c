//! What a page shows while its data loads, and when loading failed (with a retry).
use leptos::prelude::*;

use super::error_text::error_text;
use crate::i18n::*;
use crate::model::errors::UiError;

#[component]
pub fn Loading() -> impl IntoView {
    let i18n = use_i18n();
    view! { <div class="card muted" data-testid="loading">{t!(i18n, common.loading)}</div> }
}

#[component]
pub fn LoadError(error: UiError, #[prop(into)] on_retry: Callback<()>) -> impl IntoView {
    let i18n = use_i18n();
    view! {
        <div class="card form-error" role="alert" data-testid="load-error">
            <p>{t!(i18n, common.load_failed)}" "{error_text(i18n, &error)}</p>
            <button type="button" class="button" on:click=move |_| on_retry.run(())>{t!(i18n, common.retry)}</button>
        </div>
    }
}
