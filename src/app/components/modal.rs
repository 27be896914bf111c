//! A modal dialog on the native `<dialog>`: focus moves in and stays in, Escape closes it, and
//! focus returns to what opened it. Its content is rendered only while open, so forms start fresh.
//! Whether it is open is the page's state; the dialog only reports that the user closed it.
use leptos::html::Dialog;
use leptos::prelude::*;

#[component]
pub fn Modal(
    #[prop(into)] open: Signal<bool>,
    /// The user closed it (Escape); not called when `open` turned false.
    #[prop(into)]
    on_close: Callback<()>,
    #[prop(into)] title: Signal<String>,
    testid: &'static str,
    children: ChildrenFn,
) -> impl IntoView {
    let node = NodeRef::<Dialog>::new();
    Effect::new(move |_| {
        let want = open.get();
        if let Some(d) = node.get() {
            if want && !d.open() {
                let _ = d.show_modal();
            } else if !want && d.open() {
                d.close();
            }
        }
    });
    let title_id = format!("{testid}-title");
    let labelled_by = title_id.clone();
    view! {
        <dialog node_ref=node class="modal" data-testid=testid aria-labelledby=labelled_by
            on:close=move |_| {
                if open.get_untracked() {
                    on_close.run(());
                }
            }>
            <h2 id=title_id>{move || title.get()}</h2>
            <Show when=move || open.get()>{children()}</Show>
        </dialog>
    }
}
