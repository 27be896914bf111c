//! `/{locale}/login`: exchanges the admin token for a session cookie.
use leptos::form::ActionForm;
use leptos::prelude::*;

use crate::api::session::Login;
use crate::app::components::{language_switcher::LanguageSwitcher, theme_toggle::ThemeToggle};
use crate::app::layout::use_locale_code;
use crate::i18n::*;
use crate::model::session::LoginOutcome;

#[component]
pub fn LoginPage() -> impl IntoView {
    let i18n = use_i18n();
    let code = use_locale_code();
    let login = ServerAction::<Login>::new();
    let pending = login.pending();

    Effect::new(move |_| {
        if let Some(Ok(LoginOutcome::SignedIn)) = login.value().get() {
            let _ = window()
                .location()
                .set_href(&format!("/{}", code.get_untracked()));
        }
    });

    let error = move || {
        login.value().get().and_then(|result| match result {
            Ok(LoginOutcome::SignedIn) => None,
            Ok(LoginOutcome::InvalidToken) => {
                Some(t_string!(i18n, login.invalid_token).to_string())
            }
            Ok(LoginOutcome::Throttled { retry_after_secs }) => {
                Some(t_string!(i18n, login.throttled, seconds = retry_after_secs).to_string())
            }
            Err(_) => Some(t_string!(i18n, login.network_error).to_string()),
        })
    };

    view! {
        <div class="login-screen">
            <div class="login-tools">
                <LanguageSwitcher />
                <ThemeToggle />
            </div>
            <div class="card login-card">
                <div class="brand login-brand">
                    <span class="brand-mark" aria-hidden="true">"AR"</span>
                    <span class="brand-name">{t!(i18n, app.name)}</span>
                </div>
                <h1>{t!(i18n, login.title)}</h1>
                <p class="muted">{t!(i18n, login.subtitle)}</p>
                <ActionForm action=login attr:class="stack" attr:data-testid="login-form">
                    <label class="field">
                        <span>{t!(i18n, login.token_label)}</span>
                        <input
                            type="password"
                            name="token"
                            required
                            autocomplete="current-password"
                            data-testid="token-input"
                            placeholder=move || t_string!(i18n, login.token_placeholder)
                        />
                    </label>
                    <Show when=move || error().is_some()>
                        <p class="form-error" role="alert" data-testid="login-error">{error}</p>
                    </Show>
                    <button type="submit" class="button primary" data-testid="login-submit" disabled=move || pending.get()>
                        {move || if pending.get() { t_string!(i18n, login.signing_in) } else { t_string!(i18n, login.submit) }}
                    </button>
                </ActionForm>
            </div>
        </div>
    }
}
