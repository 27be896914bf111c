//! The body of a page whose feature has not landed yet.
use leptos::prelude::*;

use crate::i18n::*;

#[component]
pub fn ComingSoon() -> impl IntoView {
    let i18n = use_i18n();
    view! {
        <div class="card empty-state" data-testid="empty-state">
            <p>{t!(i18n, common.empty)}</p>
        </div>
    }
}
