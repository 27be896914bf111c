//! Route layouts: the locale wrapper and the signed-in dashboard frame with its sidebar.
use leptos::prelude::*;
use leptos_router::components::{Outlet, A};
use leptos_router::hooks::use_params_map;

use crate::app::components::{
    language_switcher::LanguageSwitcher,
    logout_button::LogoutButton,
    theme_toggle::ThemeToggle,
    toasts::{provide_toasts, ToastRegion},
};
use crate::app::pages::not_found::NotFound;
use crate::i18n::*;

/// The locale named by the first path segment, if it is one we speak.
pub fn parse_locale(code: &str) -> Option<Locale> {
    Locale::get_all()
        .iter()
        .copied()
        .find(|l| l.as_str() == code)
}

/// The current route's locale code, for building links.
pub fn use_locale_code() -> Signal<&'static str> {
    let i18n = use_i18n();
    Signal::derive(move || i18n.get_locale().as_str())
}

/// Sets the UI locale from `/{locale}/...`; unknown locales get the not-found page.
#[component]
pub fn LocaleLayout() -> impl IntoView {
    let params = use_params_map();
    let i18n = use_i18n();
    let locale = Memo::new(move |_| params.read().get("locale").and_then(|l| parse_locale(&l)));
    // Applied before children render, on the server and in the browser alike, so both agree.
    if let Some(l) = locale.get_untracked() {
        if i18n.get_locale_untracked() != l {
            i18n.set_locale(l);
        }
    }
    Effect::new(move |_| {
        if let Some(l) = locale.get() {
            if i18n.get_locale_untracked() != l {
                i18n.set_locale(l);
            }
        }
    });
    view! {
        <Show when=move || locale.get().is_some() fallback=NotFound>
            <Outlet />
        </Show>
    }
}

#[component]
pub fn DashboardLayout() -> impl IntoView {
    let i18n = use_i18n();
    let toasts = provide_toasts();
    let code = use_locale_code();
    let href = move |page: &'static str| {
        let code = code.get();
        if page.is_empty() {
            format!("/{code}")
        } else {
            format!("/{code}/{page}")
        }
    };
    view! {
        <div class="app-frame">
            <aside class="sidebar" aria-label=move || t_string!(i18n, nav.label)>
                <div class="brand">
                    <span class="brand-mark" aria-hidden="true">"AR"</span>
                    <span class="brand-name">{t!(i18n, app.name)}</span>
                </div>
                <nav class="nav">
                    <A href=move || href("") exact=true>{t!(i18n, nav.dashboard)}</A>
                    <A href=move || href("keys")>{t!(i18n, nav.keys)}</A>
                    <A href=move || href("upstreams")>{t!(i18n, nav.upstreams)}</A>
                    <A href=move || href("logs")>{t!(i18n, nav.logs)}</A>
                    <A href=move || href("circuit-breakers")>{t!(i18n, nav.circuit_breakers)}</A>
                    <A href=move || href("prices")>{t!(i18n, nav.prices)}</A>
                    <A href=move || href("alerts")>{t!(i18n, nav.alerts)}</A>
                </nav>
            </aside>
            <div class="main-column">
                <header class="topbar">
                    <div class="topbar-spacer"></div>
                    <LanguageSwitcher />
                    <ThemeToggle />
                    <LogoutButton />
                </header>
                <main class="content">
                    <Outlet />
                </main>
                <ToastRegion toasts=toasts />
            </div>
        </div>
    }
}
