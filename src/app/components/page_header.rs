//! A page title with an optional subtitle.
use leptos::prelude::*;

#[component]
pub fn PageHeader(
    #[prop(into)] title: Signal<String>,
    #[prop(into)] subtitle: Signal<String>,
) -> impl IntoView {
    view! {
        <div class="page-header">
            <h1>{move || title.get()}</h1>
            <p class="muted">{move || subtitle.get()}</p>
        </div>
    }
}
