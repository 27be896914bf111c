//! The models an upstream lists (model discovery), shown in its edit dialog: refresh them, and
//! pick one into the allowed models.
use leptos::prelude::*;
use leptos::task::spawn_local;

use crate::api::upstreams::upstream_models;
use crate::app::components::error_text::error_text;
use crate::i18n::*;
use crate::model::upstreams::DiscoveredModels;

#[component]
pub fn DiscoveredModelsPanel(
    upstream_id: String,
    /// The allowed-models text (one pattern per line) a picked model is added to.
    allowed: RwSignal<String>,
) -> impl IntoView {
    let i18n = use_i18n();
    let found = RwSignal::new(None::<DiscoveredModels>);
    let failed = RwSignal::new(None::<String>);
    let busy = RwSignal::new(false);
    let load = move |id: String, refresh: bool| {
        busy.set(true);
        spawn_local(async move {
            match upstream_models(id, refresh).await {
                Ok(d) => {
                    found.set(Some(d));
                    failed.set(None);
                }
                Err(e) => failed.set(Some(error_text(i18n, &e))),
            }
            busy.set(false);
        });
    };
    let first = upstream_id.clone();
    Effect::new(move |_| load(first.clone(), false));
    let pick = move |model: String| {
        allowed.update(|text| {
            if !text.lines().any(|l| l.trim() == model) {
                if !text.trim().is_empty() && !text.ends_with('\n') {
                    text.push('\n');
                }
                text.push_str(&model);
            }
        })
    };
    view! {
        <div class="field discovered" data-testid="discovered-models">
            <div class="discovered-head">
                <span>{t!(i18n, pages.upstreams.discovered)}</span>
                <button type="button" class="button small" data-testid="refresh-models" disabled=move || busy.get()
                    on:click=move |_| load(upstream_id.clone(), true)>
                    {t!(i18n, pages.upstreams.refresh_models)}
                </button>
            </div>
            {move || failed.get().map(|e| view! { <p class="form-error">{e}</p> })}
            {move || found.get().map(|d| {
                let note = match (&d.fetched_at, &d.error) {
                    (None, _) => t_string!(i18n, pages.upstreams.models_never).to_string(),
                    (Some(_), Some(e)) => t_string!(i18n, pages.upstreams.models_failed, error = e.clone()).to_string(),
                    (Some(_), None) => t_string!(i18n, pages.upstreams.models_count, count = d.models.len()).to_string(),
                };
                view! {
                    <span class="muted small" data-testid="models-note">{note}</span>
                    <div class="chips">
                        {d.models.into_iter().map(|m| {
                            let label = m.clone();
                            view! {
                                <button type="button" class="chip" title=t_string!(i18n, pages.upstreams.pick_model).to_string()
                                    on:click=move |_| pick(m.clone())>{label}</button>
                            }
                        }).collect::<Vec<_>>()}
                    </div>
                }
            })}
        </div>
    }
}
