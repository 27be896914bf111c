//! The one time a new key is shown: the full key, a copy button and the warning.
use leptos::prelude::*;

use crate::i18n::*;

#[component]
pub fn NewKey(key: String, #[prop(into)] on_done: Callback<()>) -> impl IntoView {
    let i18n = use_i18n();
    let copied = RwSignal::new(false);
    let value = key.clone();
    let copy = move |_| {
        let _ = window().navigator().clipboard().write_text(&value);
        copied.set(true);
    };
    view! {
        <div class="stack">
            <p class="form-error" role="alert">{t!(i18n, pages.keys.created_warning)}</p>
            <div class="secret-row">
                <input class="secret" type="text" readonly value=key data-testid="new-key-value"
                    on:focus=move |ev| {
                        use wasm_bindgen::JsCast;
                        if let Some(input) = ev.target().and_then(|t| t.dyn_into::<web_sys::HtmlInputElement>().ok()) {
                            input.select();
                        }
                    } />
                <button type="button" class="button" data-testid="copy-key" on:click=copy>
                    {move || if copied.get() { t_string!(i18n, pages.keys.copied) } else { t_string!(i18n, pages.keys.copy) }}
                </button>
            </div>
            <div class="dialog-actions">
                <button type="button" class="button primary" data-testid="new-key-done" on:click=move |_| on_done.run(())>{t!(i18n, pages.keys.done)}</button>
            </div>
        </div>
    }
}
