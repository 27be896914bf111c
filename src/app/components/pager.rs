//! Previous / next page buttons with "page X of Y"; nothing when everything fits one page.
use leptos::prelude::*;

use crate::i18n::*;

#[component]
pub fn Pager(
    page: RwSignal<u32>,
    total_pages: u32,
    total: u64,
    /// False when `total` is a lower bound: the list was counted only that far.
    #[prop(default = true)]
    exact: bool,
) -> impl IntoView {
    let i18n = use_i18n();
    let pages = total_pages.max(1);
    if pages == 1 {
        return ().into_any();
    }
    let label = move || {
        if exact {
            t_string!(
                i18n,
                common.page_of,
                page = page.get(),
                pages = pages,
                total = total
            )
            .to_string()
        } else {
            t_string!(
                i18n,
                common.page_of_at_least,
                page = page.get(),
                pages = pages,
                total = total
            )
            .to_string()
        }
    };
    view! {
        <nav class="pager" aria-label=label>
            <button type="button" class="button" data-testid="page-prev"
                disabled=move || { page.get() <= 1 }
                on:click=move |_| page.update(|p| *p = p.saturating_sub(1).max(1))>
                {t!(i18n, common.previous)}
            </button>
            <span class="muted" data-testid="page-info">{label}</span>
            <button type="button" class="button" data-testid="page-next"
                disabled=move || { page.get() >= pages }
                on:click=move |_| page.update(|p| *p += 1)>
                {t!(i18n, common.next)}
            </button>
        </nav>
    }
    .into_any()
}
