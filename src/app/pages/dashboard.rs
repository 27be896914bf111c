//! `/{locale}`: the overview.
use leptos::prelude::*;

use crate::app::components::page_header::PageHeader;
use crate::i18n::*;

#[component]
pub fn DashboardPage() -> impl IntoView {
    let i18n = use_i18n();
    view! {
        <PageHeader
            title=Signal::derive(move || t_string!(i18n, pages.dashboard.title).to_string())
            subtitle=Signal::derive(move || t_string!(i18n, pages.dashboard.subtitle).to_string())
        />
        <div class="cards" data-testid="dashboard-cards">
            <div class="card stat"><span class="stat-label">{t!(i18n, pages.dashboard.requests)}</span><span class="stat-value">"—"</span></div>
            <div class="card stat"><span class="stat-label">{t!(i18n, pages.dashboard.success_rate)}</span><span class="stat-value">"—"</span></div>
            <div class="card stat"><span class="stat-label">{t!(i18n, pages.dashboard.avg_latency)}</span><span class="stat-value">"—"</span></div>
            <div class="card stat"><span class="stat-label">{t!(i18n, pages.dashboard.tokens)}</span><span class="stat-value">"—"</span></div>
        </div>
        <div class="card empty-state" data-testid="empty-state">
            <p>{t!(i18n, pages.dashboard.no_traffic)}</p>
        </div>
    }
}
