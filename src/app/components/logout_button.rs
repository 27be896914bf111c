//! Signs the admin out (this browser, or every browser) and returns to the login page.
use leptos::prelude::*;

use crate::api::session::{Logout, LogoutEverywhere};
use crate::app::layout::use_locale_code;
use crate::i18n::*;

#[component]
pub fn LogoutButton() -> impl IntoView {
    let i18n = use_i18n();
    let code = use_locale_code();
    let logout = ServerAction::<Logout>::new();
    let everywhere = ServerAction::<LogoutEverywhere>::new();
    Effect::new(move |_| {
        let done = matches!(logout.value().get(), Some(Ok(())))
            || matches!(everywhere.value().get(), Some(Ok(())));
        if done {
            // A full navigation, so the server sees the cleared cookie.
            let _ = window()
                .location()
                .set_href(&format!("/{}/login", code.get_untracked()));
        }
    });
    view! {
        <button type="button" class="button ghost" data-testid="logout" on:click=move |_| { logout.dispatch(Logout {}); }>
            {t!(i18n, common.logout)}
        </button>
        <button type="button" class="button ghost" data-testid="logout-everywhere" on:click=move |_| { everywhere.dispatch(LogoutEverywhere {}); }>
            {t!(i18n, common.logout_everywhere)}
        </button>
    }
}
