//! A confirmation dialog for destructive actions: the question, Cancel (focused) and the action.
use leptos::prelude::*;

use super::modal::Modal;
use crate::i18n::*;

#[component]
pub fn Confirm(
    #[prop(into)] open: Signal<bool>,
    /// Cancelled, or confirmed (after `on_confirm`): either way the dialog should close.
    #[prop(into)]
    on_close: Callback<()>,
    #[prop(into)] title: Signal<String>,
    #[prop(into)] question: Signal<String>,
    #[prop(into)] action: Signal<String>,
    #[prop(into)] on_confirm: Callback<()>,
) -> impl IntoView {
    let i18n = use_i18n();
    view! {
        <Modal open=open on_close=on_close title=title testid="confirm-dialog">
            <p>{move || question.get()}</p>
            <div class="dialog-actions">
                <button type="button" class="button ghost" autofocus on:click=move |_| on_close.run(())>{t!(i18n, common.cancel)}</button>
                <button type="button" class="button danger" data-testid="confirm" on:click=move |_| {
                    on_confirm.run(());
                    on_close.run(());
                }>{move || action.get()}</button>
            </div>
        </Modal>
    }
}
