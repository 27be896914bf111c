//! What a key has spent: today and this month against its budgets (a cell of the list), and
//! day by day over two weeks (a dialog).
use leptos::prelude::*;

use crate::api::keys::key_spend;
use crate::app::components::error_text::error_text;
use crate::app::components::load_state::Loading;
use crate::app::components::spend_bar::{usd_text, SpendBar};
use crate::i18n::*;
use crate::model::keys::ApiKeyView;

#[component]
pub fn SpendCell(key: ApiKeyView) -> impl IntoView {
    let i18n = use_i18n();
    view! {
        <SpendBar spent=key.spend.today_usd budget=key.limits.daily_budget_usd
            label=t_string!(i18n, pages.keys.spend_today).to_string() testid="spend-today" />
        <SpendBar spent=key.spend.month_usd budget=key.limits.monthly_budget_usd
            label=t_string!(i18n, pages.keys.spend_month).to_string() testid="spend-month" />
    }
}

#[component]
pub fn SpendByDay(key_id: String) -> impl IntoView {
    let i18n = use_i18n();
    let days = Resource::new(move || key_id.clone(), key_spend);
    view! {
        <Suspense fallback=|| view! { <Loading /> }>
            {move || days.get().map(|r| match r {
                Err(e) => view! { <p class="form-error">{error_text(i18n, &e)}</p> }.into_any(),
                Ok(days) => {
                    let top = days.iter().map(|d| d.cost_usd).fold(0.0, f64::max);
                    view! {
                        <table class="table" data-testid="spend-by-day">
                            <thead><tr>
                                <th>{t!(i18n, pages.keys.day)}</th>
                                <th>{t!(i18n, pages.keys.requests)}</th>
                                <th>{t!(i18n, pages.keys.tokens)}</th>
                                <th>{t!(i18n, pages.keys.cost)}</th>
                            </tr></thead>
                            <tbody>
                                {days.into_iter().rev().map(|d| {
                                    let share = if top > 0.0 { d.cost_usd / top * 100.0 } else { 0.0 };
                                    view! {
                                        <tr>
                                            <td class="nowrap">{d.day}</td>
                                            <td>{d.requests}</td>
                                            <td>{d.tokens}</td>
                                            <td>
                                                <div class="spend">
                                                    <span class="small">{usd_text(d.cost_usd)}</span>
                                                    <div class="spend-bar"><div class="spend-fill" style=format!("width: {share:.1}%")></div></div>
                                                </div>
                                            </td>
                                        </tr>
                                    }
                                }).collect::<Vec<_>>()}
                            </tbody>
                        </table>
                    }.into_any()
                }
            })}
        </Suspense>
    }
}
