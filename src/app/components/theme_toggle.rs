//! Switches between light and dark themes and remembers the choice in localStorage.
use leptos::prelude::*;

use crate::i18n::*;

#[component]
pub fn ThemeToggle() -> impl IntoView {
    let i18n = use_i18n();
    let toggle = move |_| {
        let root = document().document_element();
        if let Some(root) = root {
            let next = if root.get_attribute("data-theme").as_deref() == Some("dark") {
                "light"
            } else {
                "dark"
            };
            let _ = root.set_attribute("data-theme", next);
            if let Ok(Some(storage)) = window().local_storage() {
                let _ = storage.set_item("ar-theme", next);
            }
        }
    };
    view! {
        <button
            type="button"
            class="icon-button theme-toggle"
            data-testid="theme-toggle"
            on:click=toggle
            title=move || t_string!(i18n, common.toggle_theme)
            aria-label=move || t_string!(i18n, common.toggle_theme)
        >
            <span class="icon-sun" aria-hidden="true">"☀"</span>
            <span class="icon-moon" aria-hidden="true">"☾"</span>
        </button>
    }
}
