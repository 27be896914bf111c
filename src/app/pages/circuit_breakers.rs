//! `/{locale}/circuit-breakers`: every upstream's breaker and health, with force-open and
//! force-close behind a confirmation.
use leptos::prelude::*;

use crate::api::breakers::{list_breakers, ForceBreaker};
use crate::app::components::page_header::PageHeader;
use crate::app::components::toasts::use_toasts;
use crate::i18n::*;
use crate::model::breakers::{BreakerState, BreakerView};
use crate::model::health::UpstreamHealthView;

fn short_time(rfc3339: &Option<String>) -> String {
    rfc3339
        .as_deref()
        .map(|t| t.get(..19).unwrap_or(t).replace('T', " "))
        .unwrap_or_else(|| "—".into())
}

#[component]
fn BreakerRow(
    b: BreakerView,
    health: Option<UpstreamHealthView>,
    force: ServerAction<ForceBreaker>,
) -> impl IntoView {
    let i18n = use_i18n();
    // Which action waits for confirmation in this row, if any.
    let confirming = RwSignal::new(None::<bool>);
    let id = b.upstream_id.clone();
    let state_label = match b.state {
        BreakerState::Open => t_string!(i18n, pages.circuit_breakers.state_open).to_string(),
        BreakerState::HalfOpen => {
            t_string!(i18n, pages.circuit_breakers.state_half_open).to_string()
        }
        BreakerState::Closed => t_string!(i18n, pages.circuit_breakers.state_closed).to_string(),
    };
    let health_label = match health.as_ref().and_then(|h| h.healthy) {
        Some(true) => t_string!(i18n, pages.circuit_breakers.healthy).to_string(),
        Some(false) => t_string!(i18n, pages.circuit_breakers.unhealthy).to_string(),
        None => t_string!(i18n, pages.circuit_breakers.unknown).to_string(),
    };
    let forced = b.forced.is_some();
    view! {
        <tr data-testid=format!("breaker-{}", b.upstream_name)>
            <td>{b.upstream_name.clone()}</td>
            <td>
                <span class=format!("badge state-{}", b.state) data-testid="breaker-state">{state_label}</span>
                <Show when=move || forced><span class="badge">{t!(i18n, pages.circuit_breakers.forced)}</span></Show>
            </td>
            <td class="num">{b.failure_count}</td>
            <td>{short_time(&b.last_failure_at)}</td>
            <td>{health_label}</td>
            <td class="actions">
                {move || match confirming.get() {
                    None => {
                        view! {
                            <button type="button" class="button" data-testid="force-open" on:click=move |_| confirming.set(Some(true))>{t!(i18n, pages.circuit_breakers.force_open)}</button>
                            <button type="button" class="button" data-testid="force-close" on:click=move |_| confirming.set(Some(false))>{t!(i18n, pages.circuit_breakers.force_close)}</button>
                        }.into_any()
                    }
                    Some(open) => {
                        let upstream_id = id.clone();
                        let question = if open {
                            t_string!(i18n, pages.circuit_breakers.confirm_open).to_string()
                        } else {
                            t_string!(i18n, pages.circuit_breakers.confirm_close).to_string()
                        };
                        view! {
                            <span class="confirm" role="group">
                                <span>{question}</span>
                                <button type="button" class="button primary" data-testid="confirm" autofocus on:click=move |_| {
                                    force.dispatch(ForceBreaker { upstream_id: upstream_id.clone(), open });
                                    confirming.set(None);
                                }>{t!(i18n, pages.circuit_breakers.confirm)}</button>
                                <button type="button" class="button ghost" on:click=move |_| confirming.set(None)>{t!(i18n, pages.circuit_breakers.cancel)}</button>
                            </span>
                        }.into_any()
                    }
                }}
            </td>
        </tr>
    }
}

#[component]
pub fn CircuitBreakersPage() -> impl IntoView {
    let i18n = use_i18n();
    let force = ServerAction::<ForceBreaker>::new();
    let data = Resource::new(move || force.version().get(), |_| list_breakers());
    let toasts = use_toasts();
    Effect::new(move |_| match force.value().get() {
        Some(Ok(b)) => toasts.success(
            t_string!(
                i18n,
                pages.circuit_breakers.done,
                name = b.upstream_name.clone()
            )
            .to_string(),
        ),
        Some(Err(_)) => toasts.error(t_string!(i18n, pages.circuit_breakers.failed).to_string()),
        None => {}
    });
    view! {
        <PageHeader
            title=Signal::derive(move || t_string!(i18n, pages.circuit_breakers.title).to_string())
            subtitle=Signal::derive(move || t_string!(i18n, pages.circuit_breakers.subtitle).to_string())
        />
        <Transition fallback=move || view! { <div class="card muted">{t!(i18n, pages.dashboard.loading)}</div> }>
            {move || data.get().map(|result| match result {
                Ok((breakers, _)) if breakers.is_empty() => view! {
                    <div class="card empty-state" data-testid="empty-state"><p>{t!(i18n, pages.circuit_breakers.empty)}</p></div>
                }.into_any(),
                Ok((breakers, health)) => view! {
                    <div class="card table-wrap">
                        <table class="table" data-testid="breakers-table">
                            <thead><tr>
                                <th>{t!(i18n, pages.circuit_breakers.upstream)}</th>
                                <th>{t!(i18n, pages.circuit_breakers.state)}</th>
                                <th class="num">{t!(i18n, pages.circuit_breakers.failures)}</th>
                                <th>{t!(i18n, pages.circuit_breakers.last_failure)}</th>
                                <th>{t!(i18n, pages.circuit_breakers.health)}</th>
                                <th></th>
                            </tr></thead>
                            <tbody>
                                {breakers.into_iter().map(|b| {
                                    let h = health.iter().find(|h| h.upstream_id == b.upstream_id).cloned();
                                    view! { <BreakerRow b=b health=h force=force /> }
                                }).collect::<Vec<_>>()}
                            </tbody>
                        </table>
                    </div>
                }.into_any(),
                Err(_) => view! {
                    <div class="card form-error" role="alert">
                        <p>{t!(i18n, pages.dashboard.load_failed)}</p>
                        <button type="button" class="button" on:click=move |_| data.refetch()>{t!(i18n, pages.dashboard.retry)}</button>
                    </div>
                }.into_any(),
            })}
        </Transition>
    }
}
