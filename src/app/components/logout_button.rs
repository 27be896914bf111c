//! Signs the admin out and returns to the login page.
use leptos::prelude::*;

use crate::api::session::Logout;
use crate::app::layout::use_locale_code;
use crate::i18n::*;

#[component]
pub fn LogoutButton() -> impl IntoView {
    let i18n = use_i18n();
    let code = use_locale_code();
    let logout = ServerAction::<Logout>::new();
    Effect::new(move |_| {
        if let Some(Ok(())) = logout.value().get() {
            // A full navigation, so the server sees the cleared cookie.
            let _ = window()
                .location()
                .set_href(&format!("/{}/login", code.get_untracked()));
        }
    });
    view! {
        <button type="button" class="button ghost" data-testid="logout" on:click=move |_| { logout.dispatch(crate::api::session::Logout {}); }>
            {t!(i18n, common.logout)}
        </button>
    }
}
