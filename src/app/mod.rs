//! Everything the browser sees: the HTML shell, `<App/>` and the route table.
pub mod components;
pub mod layout;
pub mod pages;
pub mod time;

use leptos::prelude::*;
use leptos_meta::{provide_meta_context, MetaTags, Stylesheet, Title};
use leptos_router::components::{ParentRoute, Route, Router, Routes};
use leptos_router::{ParamSegment, StaticSegment};

use crate::i18n::I18nContextProvider;
use layout::{DashboardLayout, LocaleLayout};
use pages::{
    alerts::AlertsPage, circuit_breakers::CircuitBreakersPage, dashboard::DashboardPage,
    keys::KeysPage, login::LoginPage, logs::LogsPage, not_found::NotFound, prices::PricesPage,
    upstreams::UpstreamsPage,
};

/// Applies the saved theme before first paint, so a dark-mode user never sees a light flash.
const THEME_BOOT: &str = "try{var t=localStorage.getItem('ar-theme');if(!t){t=window.matchMedia&&matchMedia('(prefers-color-scheme: dark)').matches?'dark':'light'}document.documentElement.dataset.theme=t}catch(e){}";

pub fn shell(options: LeptosOptions) -> impl IntoView {
    view! {
        <!DOCTYPE html>
        <html>
            <head>
                <meta charset="utf-8" />
                <meta name="viewport" content="width=device-width, initial-scale=1" />
                <link rel="icon" href="/favicon.svg" type="image/svg+xml" />
                <script nonce=leptos::nonce::use_nonce() inner_html=THEME_BOOT></script>
                <AutoReload options=options.clone() />
                <HydrationScripts options />
                <MetaTags />
            </head>
            <body>
                <App />
            </body>
        </html>
    }
}

#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();
    // Marks the page interactive; browser tests wait for it before clicking.
    Effect::new(move |_| {
        if let Some(body) = document().body() {
            let _ = body.set_attribute("data-hydrated", "true");
        }
    });

    view! {
        <Stylesheet id="leptos" href="/pkg/autorouter.css" />
        <Title text="AutoRouter" />
        <I18nContextProvider>
            <Router>
                <Routes fallback=NotFound>
                    <ParentRoute path=ParamSegment("locale") view=LocaleLayout>
                        <Route path=StaticSegment("login") view=LoginPage />
                        <ParentRoute path=StaticSegment("") view=DashboardLayout>
                            <Route path=StaticSegment("") view=DashboardPage />
                            <Route path=StaticSegment("keys") view=KeysPage />
                            <Route path=StaticSegment("upstreams") view=UpstreamsPage />
                            <Route path=StaticSegment("logs") view=LogsPage />
                            <Route path=StaticSegment("circuit-breakers") view=CircuitBreakersPage />
                            <Route path=StaticSegment("prices") view=PricesPage />
                            <Route path=StaticSegment("alerts") view=AlertsPage />
                        </ParentRoute>
                    </ParentRoute>
                </Routes>
            </Router>
        </I18nContextProvider>
    }
}
