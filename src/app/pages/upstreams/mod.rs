//! `/{locale}/upstreams`: every upstream with its health, breaker and latency; create, edit,
//! test and delete; and the gateway's balancing settings.
mod balancing;
mod discovered;
mod upstream_form;

use crate::app::components::spend_bar::SpendBar;
use leptos::prelude::*;
use leptos::task::spawn_local;

use crate::api::upstreams::{delete_upstream, list_upstreams, test_upstream};
use crate::app::components::confirm::Confirm;
use crate::app::components::error_text::error_text;
use crate::app::components::load_state::{LoadError, Loading};
use crate::app::components::modal::Modal;
use crate::app::components::page_header::PageHeader;
use crate::app::components::pager::Pager;
use crate::app::components::toasts::use_toasts;
use crate::i18n::*;
use crate::model::breakers::{BreakerState, BreakerView};
use crate::model::health::UpstreamHealthView;
use crate::model::upstreams::{TestUpstreamForm, UpstreamView, UpstreamsScreen};
use balancing::Balancing;
use upstream_form::UpstreamForm;

#[derive(Debug, Clone, PartialEq)]
enum Dialog {
    None,
    Create,
    Edit(UpstreamView),
    Delete(UpstreamView),
}

#[component]
fn UpstreamRow(
    u: UpstreamView,
    health: Option<UpstreamHealthView>,
    breaker: Option<BreakerView>,
    dialog: RwSignal<Dialog>,
) -> impl IntoView {
    let i18n = use_i18n();
    let toasts = use_toasts();
    let testing = RwSignal::new(false);
    let health_label = match health.as_ref().and_then(|h| h.healthy) {
        Some(true) => (
            "badge state-closed",
            t_string!(i18n, pages.circuit_breakers.healthy).to_string(),
        ),
        Some(false) => (
            "badge state-open",
            t_string!(i18n, pages.circuit_breakers.unhealthy).to_string(),
        ),
        None => (
            "badge",
            t_string!(i18n, pages.circuit_breakers.unknown).to_string(),
        ),
    };
    let breaker_label = breaker.as_ref().map(|b| {
        let text = match b.state {
            BreakerState::Open => t_string!(i18n, pages.circuit_breakers.state_open).to_string(),
            BreakerState::HalfOpen => {
                t_string!(i18n, pages.circuit_breakers.state_half_open).to_string()
            }
            BreakerState::Closed => t_string!(i18n, pages.circuit_breakers.state_closed).to_string(),
        };
        view! { <span class=format!("badge state-{}", b.state) data-testid="upstream-breaker">{text}</span> }
    });
    // Latency over the last day's requests; before any, the last health check's.
    let latency = health
        .as_ref()
        .and_then(|h| h.window.p50_ms.or(h.latency_ms))
        .map_or_else(|| "—".to_string(), |ms| format!("{ms} ms"));
    let test = {
        let (id, name) = (u.id.clone(), u.name.clone());
        move |_| {
            let (id, name) = (id.clone(), name.clone());
            testing.set(true);
            spawn_local(async move {
                match test_upstream(Some(id), TestUpstreamForm::default()).await {
                    Ok(r) if r.success => toasts.success(format!(
                        "{name}: {}",
                        t_string!(
                            i18n,
                            pages.upstreams.test_ok,
                            ms = r.latency_ms.unwrap_or(0)
                        )
                    )),
                    Ok(r) => toasts.error(format!(
                        "{name}: {}",
                        t_string!(i18n, pages.upstreams.test_failed, message = r.message)
                    )),
                    Err(e) => toasts.error(error_text(i18n, &e)),
                }
                testing.set(false);
            });
        }
    };
    // Formats set on the upstream (not the provider's defaults) are worth seeing in the list: a
    // request in any other format never reaches it.
    let speaks = (!u.api_formats.is_empty()).then(|| {
        let formats = u.speaks.iter().map(|f| f.as_str()).collect::<Vec<_>>().join(", ");
        view! { <div class="muted small" data-testid="upstream-speaks">{t_string!(i18n, pages.upstreams.speaks, formats = formats).to_string()}</div> }
    });
    let (edit_u, delete_u) = (u.clone(), u.clone());
    let inactive = !u.is_active;
    view! {
        <tr data-testid=format!("upstream-{}", u.name)>
            <td>
                <strong>{u.name.clone()}</strong>
                <Show when=move || inactive><span class="badge">{t!(i18n, pages.upstreams.disabled)}</span></Show>
            </td>
            <td>{u.provider.as_str()}{speaks}</td>
            <td class="url">{u.base_url.clone()}</td>
            <td class="num">{u.priority}</td>
            <td class="num">{u.weight}</td>
            <td><span class=health_label.0 data-testid="upstream-health">{health_label.1}</span></td>
            <td>{breaker_label}</td>
            <td class="num">{latency}</td>
            <td>
                <SpendBar spent=u.spend_month_usd budget=u.limits.monthly_quota_usd
                    label=String::new() testid="upstream-spend" />
            </td>
            <td class="actions">
                <button type="button" class="button" data-testid="test" disabled=move || testing.get() on:click=test>
                    {move || if testing.get() { t_string!(i18n, pages.upstreams.testing) } else { t_string!(i18n, pages.upstreams.test_short) }}
                </button>
                <button type="button" class="button" data-testid="edit" on:click=move |_| dialog.set(Dialog::Edit(edit_u.clone()))>{t!(i18n, common.edit)}</button>
                <button type="button" class="button danger" data-testid="delete" on:click=move |_| dialog.set(Dialog::Delete(delete_u.clone()))>{t!(i18n, common.delete)}</button>
            </td>
        </tr>
    }
}

#[component]
fn UpstreamsTable(screen: UpstreamsScreen, dialog: RwSignal<Dialog>) -> impl IntoView {
    let i18n = use_i18n();
    if screen.page.items.is_empty() {
        return view! { <div class="card empty-state" data-testid="empty-state"><p>{t!(i18n, pages.upstreams.empty)}</p></div> }.into_any();
    }
    let UpstreamsScreen {
        page,
        health,
        breakers,
        ..
    } = screen;
    view! {
        <div class="card table-wrap">
            <table class="table" data-testid="upstreams-table">
                <thead><tr>
                    <th>{t!(i18n, pages.upstreams.name)}</th>
                    <th>{t!(i18n, pages.upstreams.provider)}</th>
                    <th>{t!(i18n, pages.upstreams.base_url)}</th>
                    <th class="num">{t!(i18n, pages.upstreams.priority)}</th>
                    <th class="num">{t!(i18n, pages.upstreams.weight)}</th>
                    <th>{t!(i18n, pages.upstreams.health)}</th>
                    <th>{t!(i18n, pages.upstreams.breaker)}</th>
                    <th class="num">{t!(i18n, pages.upstreams.latency)}</th>
                    <th>{t!(i18n, pages.upstreams.spend_month)}</th>
                    <th><span class="visually-hidden">{t!(i18n, common.actions)}</span></th>
                </tr></thead>
                <tbody>
                    {page.items.into_iter().map(|u| {
                        let h = health.iter().find(|h| h.upstream_id == u.id).cloned();
                        let b = breakers.iter().find(|b| b.upstream_id == u.id).cloned();
                        view! { <UpstreamRow u=u health=h breaker=b dialog=dialog /> }
                    }).collect::<Vec<_>>()}
                </tbody>
            </table>
        </div>
    }
    .into_any()
}

#[component]
pub fn UpstreamsPage() -> impl IntoView {
    let i18n = use_i18n();
    let toasts = use_toasts();
    let page = RwSignal::new(1u32);
    let changed = RwSignal::new(0u32);
    let data = Resource::new(
        move || (page.get(), changed.get()),
        |(p, _)| list_upstreams(p),
    );
    let dialog = RwSignal::new(Dialog::None);
    // Each dialog is open while `dialog` names it; closing one (Escape included) clears it.
    let form_open =
        Signal::derive(move || matches!(dialog.get(), Dialog::Create | Dialog::Edit(_)));
    let delete_open = Signal::derive(move || matches!(dialog.get(), Dialog::Delete(_)));
    let close = move |_| dialog.set(Dialog::None);
    let on_saved = move |u: UpstreamView| {
        let text = if matches!(dialog.get_untracked(), Dialog::Edit(_)) {
            t_string!(i18n, pages.upstreams.updated_toast, name = u.name.clone()).to_string()
        } else {
            t_string!(i18n, pages.upstreams.created_toast, name = u.name.clone()).to_string()
        };
        toasts.success(text);
        dialog.set(Dialog::None);
        changed.update(|c| *c += 1);
    };
    let confirm_delete = move |_| {
        if let Dialog::Delete(u) = dialog.get_untracked() {
            spawn_local(async move {
                match delete_upstream(u.id.clone()).await {
                    Ok(()) => toasts.success(
                        t_string!(i18n, pages.upstreams.deleted_toast, name = u.name.clone())
                            .to_string(),
                    ),
                    Err(e) => toasts.error(error_text(i18n, &e)),
                }
                changed.update(|c| *c += 1);
            });
        }
    };
    let form_title = Signal::derive(move || match dialog.get() {
        Dialog::Edit(u) => t_string!(i18n, pages.upstreams.edit_title, name = u.name).to_string(),
        _ => t_string!(i18n, pages.upstreams.create_title).to_string(),
    });
    let delete_question = Signal::derive(move || match dialog.get() {
        Dialog::Delete(u) => {
            t_string!(i18n, pages.upstreams.delete_confirm, name = u.name).to_string()
        }
        _ => String::new(),
    });
    view! {
        <PageHeader
            title=Signal::derive(move || t_string!(i18n, pages.upstreams.title).to_string())
            subtitle=Signal::derive(move || t_string!(i18n, pages.upstreams.subtitle).to_string())
        />
        <div class="toolbar">
            <div class="topbar-spacer"></div>
            <button type="button" class="button primary" data-testid="new-upstream" on:click=move |_| dialog.set(Dialog::Create)>{t!(i18n, pages.upstreams.new_upstream)}</button>
        </div>
        <Transition fallback=Loading>
            {move || data.get().map(|result| match result {
                Ok(screen) => {
                    let (total_pages, total) = (screen.page.total_pages, screen.page.total);
                    let settings = screen.settings.clone();
                    view! {
                        <UpstreamsTable screen=screen dialog=dialog />
                        <Pager page=page total_pages=total_pages total=total />
                        <Balancing settings=settings />
                    }.into_any()
                }
                Err(e) => view! { <LoadError error=e on_retry=move |_| data.refetch() /> }.into_any(),
            })}
        </Transition>
        <Modal open=form_open on_close=close title=form_title testid="upstream-dialog">
            {move || {
                let existing = match dialog.get_untracked() {
                    Dialog::Edit(u) => Some(u),
                    _ => None,
                };
                view! { <UpstreamForm existing=existing on_saved=on_saved on_cancel=close /> }
            }}
        </Modal>
        <Confirm open=delete_open on_close=close
            title=Signal::derive(move || t_string!(i18n, common.delete).to_string())
            question=delete_question
            action=Signal::derive(move || t_string!(i18n, common.delete).to_string())
            on_confirm=confirm_delete />
    }
}
