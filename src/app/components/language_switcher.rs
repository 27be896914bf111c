//! Links to the same page in each other locale.
use leptos::prelude::*;
use leptos_router::components::A;
use leptos_router::hooks::use_location;

use crate::i18n::*;
use crate::model::locale::switch_locale_path;

#[component]
pub fn LanguageSwitcher() -> impl IntoView {
    let i18n = use_i18n();
    let location = use_location();
    let target = move |to: &'static str| {
        let search = location.search.get();
        let path = switch_locale_path(&location.pathname.get(), to);
        if search.is_empty() {
            path
        } else {
            format!("{path}?{}", search.trim_start_matches('?'))
        }
    };
    view! {
        <div class="lang-switch" role="group" aria-label=move || t_string!(i18n, common.language)>
            <A href=move || target("en") attr:class=move || if i18n.get_locale() == Locale::en { "lang active" } else { "lang" } attr:lang="en" attr:data-testid="lang-en">"EN"</A>
            <A href=move || target("zh") attr:class=move || if i18n.get_locale() == Locale::zh { "lang active" } else { "lang" } attr:lang="zh" attr:data-testid="lang-zh">"中文"</A>
        </div>
    }
}
