//! `/{locale}/keys`.
use leptos::prelude::*;

use crate::app::components::page_header::PageHeader;
use crate::app::pages::placeholder::ComingSoon;
use crate::i18n::*;

#[component]
pub fn KeysPage() -> impl IntoView {
    let i18n = use_i18n();
    view! {
        <PageHeader
            title=Signal::derive(move || t_string!(i18n, pages.keys.title).to_string())
            subtitle=Signal::derive(move || t_string!(i18n, pages.keys.subtitle).to_string())
        />
        <ComingSoon />
    }
}
