//! `/{locale}/prices`: what each model costs. The searchable list of prices (shipped, overridden
//! or custom) with edit, reset to default and delete; adding a price for a model or pattern; and
//! the models requested lately that no price matches, each a click away from getting one.
mod price_form;

use leptos::prelude::*;
use leptos::task::spawn_local;

use crate::api::prices::{list_prices, reset_price};
use crate::app::components::confirm::Confirm;
use crate::app::components::error_text::error_text;
use crate::app::components::load_state::{LoadError, Loading};
use crate::app::components::modal::Modal;
use crate::app::components::page_header::PageHeader;
use crate::app::components::pager::Pager;
use crate::app::components::toasts::use_toasts;
use crate::i18n::*;
use crate::model::prices::{PriceSource, PriceView, PricesScreen, UnpricedModel};
use price_form::{Draft, PriceForm};

/// Which dialog is open, and for which price.
#[derive(Debug, Clone, PartialEq)]
enum Dialog {
    None,
    Edit(Draft),
    Remove(PriceView),
}

/// A rate in USD per million tokens, with at least two decimals (`2.50`, `0.075`).
fn usd(v: f64) -> String {
    let plain = v.to_string();
    match plain.split_once('.') {
        Some((_, decimals)) if decimals.len() >= 2 => plain,
        _ => format!("{v:.2}"),
    }
}

/// An optional rate: its value, or (muted) the rate it falls back to.
fn optional_rate(v: Option<f64>, fallback: String) -> AnyView {
    match v {
        Some(v) => view! { <span>{usd(v)}</span> }.into_any(),
        None => view! { <span class="muted small">{fallback}</span> }.into_any(),
    }
}

#[component]
fn PriceRow(p: PriceView, dialog: RwSignal<Dialog>) -> impl IntoView {
    let i18n = use_i18n();
    let r = p.price;
    let (badge, source) = match p.source {
        PriceSource::Default => (
            "badge",
            t_string!(i18n, pages.prices.source_default).to_string(),
        ),
        PriceSource::Override => (
            "badge state-half_open",
            t_string!(i18n, pages.prices.source_override).to_string(),
        ),
        PriceSource::Custom => (
            "badge state-closed",
            t_string!(i18n, pages.prices.source_custom).to_string(),
        ),
    };
    let as_input = t_string!(i18n, pages.prices.as_input).to_string();
    let as_write_5m = t_string!(i18n, pages.prices.as_write_5m).to_string();
    let default_title = p.default.map(|d| {
        t_string!(
            i18n,
            pages.prices.default_was,
            input = usd(d.input),
            output = usd(d.output)
        )
        .to_string()
    });
    let edit = {
        let draft = Draft {
            model: p.model.clone(),
            fixed: true,
            rates: Some(p.price),
        };
        move |_| dialog.set(Dialog::Edit(draft.clone()))
    };
    let remove = {
        let p = p.clone();
        move |_| dialog.set(Dialog::Remove(p.clone()))
    };
    let remove_button = match p.source {
        PriceSource::Default => None,
        PriceSource::Override => Some(view! {
            <button type="button" class="button" data-testid="reset" on:click=remove>{t!(i18n, pages.prices.reset)}</button>
        }.into_any()),
        PriceSource::Custom => Some(view! {
            <button type="button" class="button danger" data-testid="delete" on:click=remove>{t!(i18n, common.delete)}</button>
        }.into_any()),
    };
    view! {
        <tr data-testid=format!("price-{}", p.model)>
            <td><code>{p.model.clone()}</code></td>
            <td class="num" data-testid="price-input">{usd(r.input)}</td>
            <td class="num" data-testid="price-output">{usd(r.output)}</td>
            <td class="num">{optional_rate(r.cached_input, as_input.clone())}</td>
            <td class="num">{optional_rate(r.cache_write_5m, as_input)}</td>
            <td class="num">{optional_rate(r.cache_write_1h, as_write_5m)}</td>
            <td><span class=badge title=default_title data-testid="price-source">{source}</span></td>
            <td class="actions">
                <button type="button" class="button" data-testid="edit" on:click=edit>{t!(i18n, common.edit)}</button>
                {remove_button}
            </td>
        </tr>
    }
}

#[component]
fn PricesTable(page: Vec<PriceView>, searching: bool, dialog: RwSignal<Dialog>) -> impl IntoView {
    let i18n = use_i18n();
    if page.is_empty() {
        let text = if searching {
            t_string!(i18n, pages.prices.no_match).to_string()
        } else {
            t_string!(i18n, pages.prices.empty).to_string()
        };
        return view! { <div class="card empty-state" data-testid="empty-state"><p>{text}</p></div> }.into_any();
    }
    view! {
        <div class="card table-wrap">
            <table class="table prices-table" data-testid="prices-table">
                <thead><tr>
                    <th>{t!(i18n, pages.prices.model)}</th>
                    <th class="num">{t!(i18n, pages.prices.input)}</th>
                    <th class="num">{t!(i18n, pages.prices.output)}</th>
                    <th class="num">{t!(i18n, pages.prices.cached_input)}</th>
                    <th class="num">{t!(i18n, pages.prices.cache_write_5m)}</th>
                    <th class="num">{t!(i18n, pages.prices.cache_write_1h)}</th>
                    <th>{t!(i18n, pages.prices.source)}</th>
                    <th><span class="visually-hidden">{t!(i18n, common.actions)}</span></th>
                </tr></thead>
                <tbody>
                    {page.into_iter().map(|p| view! { <PriceRow p=p dialog=dialog /> }).collect::<Vec<_>>()}
                </tbody>
            </table>
        </div>
    }
    .into_any()
}

#[component]
fn Unpriced(models: Vec<UnpricedModel>, dialog: RwSignal<Dialog>) -> impl IntoView {
    let i18n = use_i18n();
    let body = if models.is_empty() {
        view! { <p class="muted" data-testid="unpriced-none">{t!(i18n, pages.prices.unpriced_none)}</p> }.into_any()
    } else {
        view! {
            <p class="muted">{t!(i18n, pages.prices.unpriced_hint)}</p>
            <table class="table" data-testid="unpriced-table">
                <thead><tr>
                    <th>{t!(i18n, pages.prices.model)}</th>
                    <th class="num">{t!(i18n, pages.prices.requests)}</th>
                    <th class="num">{t!(i18n, pages.prices.tokens)}</th>
                    <th><span class="visually-hidden">{t!(i18n, common.actions)}</span></th>
                </tr></thead>
                <tbody>
                    {models.into_iter().map(|m| {
                        let draft = Draft { model: m.model.clone(), fixed: false, rates: None };
                        view! {
                            <tr data-testid=format!("unpriced-{}", m.model)>
                                <td><code>{m.model.clone()}</code></td>
                                <td class="num">{m.requests}</td>
                                <td class="num">{m.tokens}</td>
                                <td class="actions">
                                    <button type="button" class="button primary" data-testid="set-price"
                                        on:click=move |_| dialog.set(Dialog::Edit(draft.clone()))>
                                        {t!(i18n, pages.prices.set_price)}
                                    </button>
                                </td>
                            </tr>
                        }
                    }).collect::<Vec<_>>()}
                </tbody>
            </table>
        }
        .into_any()
    };
    view! {
        <section class="card unpriced" data-testid="unpriced-panel">
            <h2>{t!(i18n, pages.prices.unpriced_title)}</h2>
            {body}
        </section>
    }
}

#[component]
pub fn PricesPage() -> impl IntoView {
    let i18n = use_i18n();
    let toasts = use_toasts();
    let page = RwSignal::new(1u32);
    let search = RwSignal::new(String::new());
    let changed = RwSignal::new(0u32);
    let data = Resource::new(
        move || (page.get(), search.get(), changed.get()),
        |(p, s, _)| list_prices(p, s),
    );
    let dialog = RwSignal::new(Dialog::None);
    // Each dialog is open while `dialog` names it; closing one (Escape included) clears it.
    let form_open = Signal::derive(move || matches!(dialog.get(), Dialog::Edit(_)));
    let remove_open = Signal::derive(move || matches!(dialog.get(), Dialog::Remove(_)));
    let close = move |_| dialog.set(Dialog::None);
    let on_saved = move |p: PriceView| {
        toasts.success(t_string!(i18n, pages.prices.saved_toast, model = p.model).to_string());
        dialog.set(Dialog::None);
        changed.update(|c| *c += 1);
    };
    let confirm_remove = move |_| {
        if let Dialog::Remove(p) = dialog.get_untracked() {
            spawn_local(async move {
                match reset_price(p.model.clone()).await {
                    Ok(()) if p.source == PriceSource::Override => toasts.success(
                        t_string!(i18n, pages.prices.reset_toast, model = p.model.clone())
                            .to_string(),
                    ),
                    Ok(()) => toasts.success(
                        t_string!(i18n, pages.prices.deleted_toast, model = p.model.clone())
                            .to_string(),
                    ),
                    Err(e) => toasts.error(error_text(i18n, &e)),
                }
                changed.update(|c| *c += 1);
            });
        }
    };
    let form_title = Signal::derive(move || match dialog.get() {
        Dialog::Edit(d) if d.fixed => {
            t_string!(i18n, pages.prices.edit_title, model = d.model).to_string()
        }
        _ => t_string!(i18n, pages.prices.create_title).to_string(),
    });
    let remove_question = Signal::derive(move || match dialog.get() {
        Dialog::Remove(p) if p.source == PriceSource::Override => {
            t_string!(i18n, pages.prices.reset_confirm, model = p.model).to_string()
        }
        Dialog::Remove(p) => {
            t_string!(i18n, pages.prices.delete_confirm, model = p.model).to_string()
        }
        _ => String::new(),
    });
    let remove_action = Signal::derive(move || match dialog.get() {
        Dialog::Remove(p) if p.source == PriceSource::Override => {
            t_string!(i18n, pages.prices.reset).to_string()
        }
        _ => t_string!(i18n, common.delete).to_string(),
    });
    view! {
        <PageHeader
            title=Signal::derive(move || t_string!(i18n, pages.prices.title).to_string())
            subtitle=Signal::derive(move || t_string!(i18n, pages.prices.subtitle).to_string())
        />
        <div class="toolbar">
            <input type="search" class="search" data-testid="price-search"
                placeholder=move || t_string!(i18n, pages.prices.search)
                aria-label=move || t_string!(i18n, pages.prices.search)
                prop:value=move || search.get()
                on:input=move |ev| { search.set(event_target_value(&ev)); page.set(1); } />
            <div class="topbar-spacer"></div>
            <button type="button" class="button primary" data-testid="new-price"
                on:click=move |_| dialog.set(Dialog::Edit(Draft::default()))>
                {t!(i18n, pages.prices.new_price)}
            </button>
        </div>
        <Transition fallback=Loading>
            {move || data.get().map(|result| match result {
                Ok(screen) => {
                    let PricesScreen { page: list, unpriced, defaults_source } = screen;
                    let (total_pages, total) = (list.total_pages, list.total);
                    let source = t_string!(i18n, pages.prices.defaults_source, source = defaults_source).to_string();
                    view! {
                        <Unpriced models=unpriced dialog=dialog />
                        <PricesTable page=list.items searching=!search.get_untracked().trim().is_empty() dialog=dialog />
                        <Pager page=page total_pages=total_pages total=total />
                        <p class="muted small" data-testid="defaults-source">{source}</p>
                    }.into_any()
                }
                Err(e) => view! { <LoadError error=e on_retry=move |_| data.refetch() /> }.into_any(),
            })}
        </Transition>
        <Modal open=form_open on_close=close title=form_title testid="price-dialog">
            {move || match dialog.get_untracked() {
                Dialog::Edit(draft) => view! { <PriceForm draft=draft on_saved=on_saved on_cancel=close /> }.into_any(),
                _ => ().into_any(),
            }}
        </Modal>
        <Confirm open=remove_open on_close=close
            title=remove_action
            question=remove_question
            action=remove_action
            on_confirm=confirm_remove />
    }
}

#[cfg(test)]
mod tests {
    use super::usd;

    #[test]
    fn rates_show_at_least_two_decimals() {
        assert_eq!(usd(2.5), "2.50");
        assert_eq!(usd(10.0), "10.00");
        assert_eq!(usd(0.075), "0.075");
        assert_eq!(usd(0.000125), "0.000125");
        assert_eq!(usd(0.0), "0.00");
    }
}
