//! The page for paths no route matches (answered with status 404).
use leptos::prelude::*;

use crate::i18n::*;

#[component]
pub fn NotFound() -> impl IntoView {
    #[cfg(feature = "ssr")]
    {
        if let Some(response) = use_context::<leptos_axum::ResponseOptions>() {
            response.set_status(axum::http::StatusCode::NOT_FOUND);
        }
    }
    let i18n = use_i18n();
    view! {
        <div class="login-screen">
            <div class="card login-card" data-testid="not-found">
                <h1>"404"</h1>
                <p class="muted">{t!(i18n, common.not_found)}</p>
                <a class="button" href="/">{t!(i18n, common.go_home)}</a>
            </div>
        </div>
    }
}
