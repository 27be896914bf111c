//! Toasts: short notes on the result of an action, announced to screen readers, gone after 5 s.
use std::time::Duration;

use leptos::prelude::*;

const SHOWN_FOR: Duration = Duration::from_secs(5);

#[derive(Debug, Clone, PartialEq)]
struct Toast {
    id: u64,
    ok: bool,
    text: String,
}

/// The page frame's toast list; pages get it with [`use_toasts`].
#[derive(Clone, Copy)]
pub struct Toasts {
    list: RwSignal<Vec<Toast>>,
    next: StoredValue<u64>,
}

impl Toasts {
    fn new() -> Self {
        Self {
            list: RwSignal::new(Vec::new()),
            next: StoredValue::new(0),
        }
    }

    pub fn success(&self, text: String) {
        self.push(true, text);
    }

    pub fn error(&self, text: String) {
        self.push(false, text);
    }

    fn push(&self, ok: bool, text: String) {
        let id = self.next.get_value();
        self.next.set_value(id + 1);
        self.list.update(|l| l.push(Toast { id, ok, text }));
        let list = self.list;
        set_timeout(move || list.update(|l| l.retain(|t| t.id != id)), SHOWN_FOR);
    }
}

pub fn use_toasts() -> Toasts {
    expect_context::<Toasts>()
}

/// Gives the pages below a toast list; call it in the frame before its children.
pub fn provide_toasts() -> Toasts {
    let toasts = Toasts::new();
    provide_context(toasts);
    toasts
}

/// Shows the toast list.
#[component]
pub fn ToastRegion(toasts: Toasts) -> impl IntoView {
    view! {
        <div class="toasts" role="status" aria-live="polite">
            <For each=move || toasts.list.get() key=|t| t.id let:t>
                <div class=if t.ok { "toast" } else { "toast error" } data-testid="toast">{t.text}</div>
            </For>
        </div>
    }
}
