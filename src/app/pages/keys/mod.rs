//! `/{locale}/keys`: the searchable, paginated list of client keys, with create (the key shown
//! once), edit, enable/disable, delete and, when the server allows it, reveal.
mod key_form;
mod key_spend;
mod new_key;

use leptos::prelude::*;
use leptos::task::spawn_local;

use crate::api::keys::{delete_key, list_keys, reveal_key, update_key};
use crate::app::components::confirm::Confirm;
use crate::app::components::error_text::error_text;
use crate::app::components::load_state::{LoadError, Loading};
use crate::app::components::modal::Modal;
use crate::app::components::page_header::PageHeader;
use crate::app::components::pager::Pager;
use crate::app::components::toasts::use_toasts;
use crate::app::time::{browser_zone, local_time, Zone};
use crate::i18n::*;
use crate::model::keys::{ApiKeyView, KeysScreen, UpdateApiKey};
use crate::model::named::{name_of, Named};
use key_form::{KeyForm, SavedKey};
use key_spend::{SpendByDay, SpendCell};
use new_key::NewKey;

/// Which dialog is open, and for which key.
#[derive(Debug, Clone, PartialEq)]
enum Dialog {
    None,
    Create,
    Edit(ApiKeyView),
    Created(String),
    Delete(ApiKeyView),
    Spend(ApiKeyView),
}

#[component]
fn KeyRow(
    key: ApiKeyView,
    upstreams: Vec<Named>,
    reveal_allowed: bool,
    tz: Zone,
    dialog: RwSignal<Dialog>,
    changed: RwSignal<u32>,
) -> impl IntoView {
    let i18n = use_i18n();
    let toasts = use_toasts();
    let revealed = RwSignal::new(None::<String>);
    let names = key
        .upstream_ids
        .iter()
        .map(|id| name_of(&upstreams, id).to_string())
        .collect::<Vec<_>>()
        .join(", ");
    let (status_class, status) = if !key.is_active {
        ("badge", t_string!(i18n, pages.keys.disabled).to_string())
    } else if key.is_expired {
        (
            "badge state-open",
            t_string!(i18n, pages.keys.expired).to_string(),
        )
    } else {
        (
            "badge state-closed",
            t_string!(i18n, pages.keys.active).to_string(),
        )
    };
    let expiry = match &key.expires_at {
        Some(e) => local_time(Some(e), tz),
        None => t_string!(i18n, pages.keys.no_expiry).to_string(),
    };
    let last_used = match &key.last_used_at {
        Some(t) => local_time(Some(t), tz),
        None => t_string!(i18n, common.never).to_string(),
    };
    let toggle = {
        let key = key.clone();
        move |_| {
            let (id, name, active) = (key.id.clone(), key.name.clone(), key.is_active);
            spawn_local(async move {
                let change = UpdateApiKey {
                    is_active: Some(!active),
                    ..Default::default()
                };
                match update_key(id, change).await {
                    Ok(_) => toasts.success(
                        t_string!(i18n, pages.keys.updated_toast, name = name).to_string(),
                    ),
                    Err(e) => toasts.error(error_text(i18n, &e)),
                }
                changed.update(|c| *c += 1);
            });
        }
    };
    let reveal = {
        let id = key.id.clone();
        move |_| {
            if revealed.get_untracked().is_some() {
                revealed.set(None);
                return;
            }
            let id = id.clone();
            spawn_local(async move {
                match reveal_key(id).await {
                    Ok(r) => revealed.set(Some(r.key_value)),
                    Err(e) => toasts.error(error_text(i18n, &e)),
                }
            });
        }
    };
    let (edit_key, delete_key, spend_key) = (key.clone(), key.clone(), key.clone());
    let active = key.is_active;
    view! {
        <tr data-testid=format!("key-{}", key.name)>
            <td>
                <strong>{key.name.clone()}</strong>
                {key.description.clone().map(|d| view! { <div class="muted small">{d}</div> })}
            </td>
            <td>
                <code data-testid="key-prefix">{format!("{}…", key.key_prefix)}</code>
                {move || revealed.get().map(|k| view! { <div><code class="secret" data-testid="revealed-key">{k}</code></div> })}
            </td>
            <td>{names}</td>
            <td><span class=status_class data-testid="key-status">{status}</span></td>
            <td>
                <button type="button" class="link-button" data-testid="spend" title=t_string!(i18n, pages.keys.spend_by_day).to_string()
                    on:click=move |_| dialog.set(Dialog::Spend(spend_key.clone()))>
                    <SpendCell key=key.clone() />
                </button>
            </td>
            <td class="nowrap">{expiry}</td>
            <td class="nowrap">{local_time(Some(&key.created_at), tz)}</td>
            <td class="nowrap">{last_used}</td>
            <td class="actions">
                <button type="button" class="button" data-testid="edit" on:click=move |_| dialog.set(Dialog::Edit(edit_key.clone()))>{t!(i18n, common.edit)}</button>
                <button type="button" class="button" data-testid="toggle" on:click=toggle>
                    {if active { t_string!(i18n, pages.keys.disable) } else { t_string!(i18n, pages.keys.enable) }}
                </button>
                <Show when=move || reveal_allowed>
                    <button type="button" class="button" data-testid="reveal" on:click=reveal.clone()>
                        {move || if revealed.get().is_some() { t_string!(i18n, pages.keys.hide) } else { t_string!(i18n, pages.keys.reveal) }}
                    </button>
                </Show>
                <button type="button" class="button danger" data-testid="delete" on:click=move |_| dialog.set(Dialog::Delete(delete_key.clone()))>{t!(i18n, common.delete)}</button>
            </td>
        </tr>
    }
}

#[component]
fn KeysTable(
    screen: KeysScreen,
    searching: bool,
    tz: Zone,
    dialog: RwSignal<Dialog>,
    changed: RwSignal<u32>,
) -> impl IntoView {
    let i18n = use_i18n();
    if screen.page.items.is_empty() {
        let text = if searching {
            t_string!(i18n, pages.keys.no_match).to_string()
        } else {
            t_string!(i18n, pages.keys.empty).to_string()
        };
        return view! { <div class="card empty-state" data-testid="empty-state"><p>{text}</p></div> }.into_any();
    }
    let KeysScreen {
        page,
        upstreams,
        reveal_allowed,
    } = screen;
    view! {
        <div class="card table-wrap">
            <table class="table" data-testid="keys-table">
                <thead><tr>
                    <th>{t!(i18n, pages.keys.name)}</th>
                    <th>{t!(i18n, pages.keys.prefix)}</th>
                    <th>{t!(i18n, pages.keys.upstreams)}</th>
                    <th>{t!(i18n, pages.keys.status)}</th>
                    <th>{t!(i18n, pages.keys.spend)}</th>
                    <th>{t!(i18n, pages.keys.expiry)}</th>
                    <th>{t!(i18n, pages.keys.created)}</th>
                    <th>{t!(i18n, pages.keys.last_used)}</th>
                    <th><span class="visually-hidden">{t!(i18n, common.actions)}</span></th>
                </tr></thead>
                <tbody>
                    {page.items.into_iter().map(|k| view! {
                        <KeyRow key=k upstreams=upstreams.clone() reveal_allowed=reveal_allowed tz=tz dialog=dialog changed=changed />
                    }).collect::<Vec<_>>()}
                </tbody>
            </table>
        </div>
    }.into_any()
}

#[component]
pub fn KeysPage() -> impl IntoView {
    let i18n = use_i18n();
    let toasts = use_toasts();
    let page = RwSignal::new(1u32);
    let search = RwSignal::new(String::new());
    let changed = RwSignal::new(0u32);
    let tz = RwSignal::new(Zone::Utc);
    Effect::new(move |_| tz.set(browser_zone()));
    let data = Resource::new(
        move || (page.get(), search.get(), changed.get()),
        |(p, s, _)| list_keys(p, s),
    );
    let dialog = RwSignal::new(Dialog::None);
    // Each dialog is open while `dialog` names it; closing one (Escape included) clears it.
    let form_open =
        Signal::derive(move || matches!(dialog.get(), Dialog::Create | Dialog::Edit(_)));
    let created_open = Signal::derive(move || matches!(dialog.get(), Dialog::Created(_)));
    let delete_open = Signal::derive(move || matches!(dialog.get(), Dialog::Delete(_)));
    let spend_open = Signal::derive(move || matches!(dialog.get(), Dialog::Spend(_)));
    let close = move |_| dialog.set(Dialog::None);
    let upstreams = move || {
        data.get_untracked()
            .and_then(|r| r.ok())
            .map(|s| s.upstreams)
            .unwrap_or_default()
    };
    let on_saved = move |saved: SavedKey| {
        changed.update(|c| *c += 1);
        match saved {
            SavedKey::Created(k) => {
                toasts.success(
                    t_string!(i18n, pages.keys.created_toast, name = k.key.name.clone())
                        .to_string(),
                );
                dialog.set(Dialog::Created(k.key_value));
            }
            SavedKey::Updated(k) => {
                toasts.success(
                    t_string!(i18n, pages.keys.updated_toast, name = k.name.clone()).to_string(),
                );
                dialog.set(Dialog::None);
            }
        }
    };
    let confirm_delete = move |_| {
        if let Dialog::Delete(k) = dialog.get_untracked() {
            spawn_local(async move {
                match delete_key(k.id.clone()).await {
                    Ok(()) => toasts.success(
                        t_string!(i18n, pages.keys.deleted_toast, name = k.name.clone())
                            .to_string(),
                    ),
                    Err(e) => toasts.error(error_text(i18n, &e)),
                }
                changed.update(|c| *c += 1);
            });
        }
    };
    let form_title = Signal::derive(move || match dialog.get() {
        Dialog::Edit(k) => t_string!(i18n, pages.keys.edit_title, name = k.name).to_string(),
        _ => t_string!(i18n, pages.keys.create_title).to_string(),
    });
    let delete_question = Signal::derive(move || match dialog.get() {
        Dialog::Delete(k) => t_string!(i18n, pages.keys.delete_confirm, name = k.name).to_string(),
        _ => String::new(),
    });
    view! {
        <PageHeader
            title=Signal::derive(move || t_string!(i18n, pages.keys.title).to_string())
            subtitle=Signal::derive(move || t_string!(i18n, pages.keys.subtitle).to_string())
        />
        <div class="toolbar">
            <input type="search" class="search" data-testid="key-search"
                placeholder=move || t_string!(i18n, pages.keys.search)
                aria-label=move || t_string!(i18n, pages.keys.search)
                prop:value=move || search.get()
                on:input=move |ev| { search.set(event_target_value(&ev)); page.set(1); } />
            <div class="topbar-spacer"></div>
            <button type="button" class="button primary" data-testid="new-key" on:click=move |_| dialog.set(Dialog::Create)>{t!(i18n, pages.keys.new_key)}</button>
        </div>
        <Transition fallback=Loading>
            {move || data.get().map(|result| match result {
                Ok(screen) => {
                    let (total_pages, total) = (screen.page.total_pages, screen.page.total);
                    view! {
                        <KeysTable screen=screen searching=!search.get_untracked().trim().is_empty() tz=tz.get() dialog=dialog changed=changed />
                        <Pager page=page total_pages=total_pages total=total />
                    }.into_any()
                }
                Err(e) => view! { <LoadError error=e on_retry=move |_| data.refetch() /> }.into_any(),
            })}
        </Transition>
        <Modal open=form_open on_close=close title=form_title testid="key-dialog">
            {move || {
                let existing = match dialog.get_untracked() {
                    Dialog::Edit(k) => Some(k),
                    _ => None,
                };
                view! { <KeyForm existing=existing upstreams=upstreams() on_saved=on_saved on_cancel=close /> }
            }}
        </Modal>
        <Modal open=created_open on_close=close title=Signal::derive(move || t_string!(i18n, pages.keys.created_title).to_string()) testid="new-key-dialog">
            {move || match dialog.get_untracked() {
                Dialog::Created(key) => view! { <NewKey key=key on_done=close /> }.into_any(),
                _ => ().into_any(),
            }}
        </Modal>
        <Modal open=spend_open on_close=close testid="spend-dialog"
            title=Signal::derive(move || match dialog.get() {
                Dialog::Spend(k) => t_string!(i18n, pages.keys.days_title, name = k.name).to_string(),
                _ => String::new(),
            })>
            {move || match dialog.get() {
                Dialog::Spend(k) => view! {
                    <SpendByDay key_id=k.id />
                    <div class="dialog-actions">
                        <button type="button" class="button" on:click=move |_| dialog.set(Dialog::None)>{t!(i18n, pages.keys.done)}</button>
                    </div>
                }.into_any(),
                _ => ().into_any(),
            }}
        </Modal>
        <Confirm open=delete_open on_close=close
            title=Signal::derive(move || t_string!(i18n, common.delete).to_string())
            question=delete_question
            action=Signal::derive(move || t_string!(i18n, common.delete).to_string())
            on_confirm=confirm_delete />
    }
}
