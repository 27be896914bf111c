//! One request log row, and the detail it expands to: models, routing and failover history.
use crate::app::components::spend_bar::usd_text;
use leptos::prelude::*;

use crate::app::time::{local_time, Zone};
use crate::i18n::*;
use crate::model::logs::RequestLogView;
use crate::model::named::{name_of, Named};

const COLUMNS: usize = 12;

fn status_class(code: Option<i64>) -> &'static str {
    match code {
        Some(200..=399) => "badge state-closed",
        Some(400..=499) => "badge state-half_open",
        _ => "badge state-open",
    }
}

fn ms(v: Option<i64>) -> String {
    v.map_or_else(|| "—".into(), |v| format!("{v} ms"))
}

/// One failover attempt as the history records it.
fn attempt_line(a: &serde_json::Value) -> String {
    let text = |k: &str| a.get(k).and_then(|v| v.as_str()).unwrap_or("");
    let status = a
        .get("status_code")
        .and_then(|v| v.as_u64())
        .map(|s| format!(" {s}"))
        .unwrap_or_default();
    format!(
        "{} — {}{} {}",
        text("upstream_name"),
        text("error_type"),
        status,
        text("message")
    )
}

#[component]
pub fn LogRow(
    log: RequestLogView,
    keys: Vec<Named>,
    upstreams: Vec<Named>,
    tz: Zone,
    /// Filters the page by a session's digest (a click on the one a row shows).
    #[prop(into)]
    on_session: Callback<String>,
) -> impl IntoView {
    let i18n = use_i18n();
    let open = RwSignal::new(false);
    let key = log
        .api_key_id
        .as_deref()
        .map_or("—".to_string(), |id| name_of(&keys, id).to_string());
    let upstream = log
        .upstream_id
        .as_deref()
        .map_or("—".to_string(), |id| name_of(&upstreams, id).to_string());
    let attempts: Vec<String> = log
        .failover_history
        .as_ref()
        .and_then(|h| h.as_array())
        .map(|a| a.iter().map(attempt_line).collect())
        .unwrap_or_default();
    let detail_id = format!("log-detail-{}", log.id);
    let l = log.clone();
    view! {
        <tr data-testid="log-row" class="log-row">
            <td>
                <button type="button" class="icon-button small" data-testid="expand"
                    aria-expanded=move || open.get().to_string() aria-controls=detail_id.clone()
                    aria-label=move || t_string!(i18n, pages.logs.details)
                    on:click=move |_| open.update(|o| *o = !*o)>
                    {move || if open.get() { "▾" } else { "▸" }}
                </button>
            </td>
            <td class="nowrap">{local_time(Some(&log.created_at), tz)}</td>
            <td>{key}</td>
            <td>{upstream}</td>
            <td data-testid="log-model">{log.model_requested.clone().unwrap_or_default()}</td>
            <td><span class=status_class(log.status_code) data-testid="log-status">{log.status_code.map_or("—".into(), |c| c.to_string())}</span></td>
            <td>{if log.is_stream { t_string!(i18n, common.yes) } else { t_string!(i18n, common.no) }}</td>
            <td class="num">{log.total_tokens}</td>
            <td class="num">{ms(log.ttfb_ms)}</td>
            <td class="num">{ms(log.ttft_ms)}</td>
            <td class="num">{ms(log.duration_ms)}</td>
            <td class="num" data-testid="log-cost">{log.cost_usd.map_or_else(|| "—".into(), usd_text)}</td>
        </tr>
        <Show when=move || open.get()>
            <LogDetail log=l.clone() attempts=attempts.clone() on_session=on_session />
        </Show>
    }
}

#[component]
fn LogDetail(
    log: RequestLogView,
    attempts: Vec<String>,
    on_session: Callback<String>,
) -> impl IntoView {
    let i18n = use_i18n();
    let l = log;
    let history = if attempts.is_empty() {
        view! { <span class="muted">{t!(i18n, pages.logs.no_history)}</span> }.into_any()
    } else {
        view! {
            <ol class="history">
                {attempts.into_iter().map(|a| view! { <li>{a}</li> }).collect::<Vec<_>>()}
            </ol>
        }
        .into_any()
    };
    view! {
        <tr class="log-detail" id=format!("log-detail-{}", l.id) data-testid="log-detail">
            <td colspan=COLUMNS.to_string()>
                <dl class="details">
                    <dt>{t!(i18n, pages.logs.request_id)}</dt><dd><code>{l.request_id.clone()}</code></dd>
                    <dt>{t!(i18n, pages.logs.path)}</dt><dd><code>{format!("{} {}", l.method, l.path)}</code></dd>
                    <dt>{t!(i18n, pages.logs.model_requested)}</dt><dd data-testid="detail-model-requested">{l.model_requested.clone().unwrap_or_else(|| "—".into())}</dd>
                    <dt>{t!(i18n, pages.logs.model_sent)}</dt><dd data-testid="detail-model-sent">{l.model_sent.clone().unwrap_or_else(|| "—".into())}</dd>
                    <dt>{t!(i18n, pages.logs.strategy)}</dt><dd>{l.lb_strategy.clone().unwrap_or_else(|| "—".into())}</dd>
                    <dt>{t!(i18n, pages.logs.tokens)}</dt>
                    <dd>{t_string!(i18n, pages.logs.tokens_detail, prompt = l.prompt_tokens, completion = l.completion_tokens, cached = l.cached_tokens + l.cache_read_tokens).to_string()}</dd>
                    <dt>{t!(i18n, pages.logs.attempts)}</dt><dd>{l.failover_attempts}</dd>
                    {l.session_id.clone().map(|id| {
                        let how = if l.sticky == Some(true) { t_string!(i18n, pages.logs.sticky_hit) } else { t_string!(i18n, pages.logs.sticky_new) };
                        let shown = id.clone();
                        view! {
                            <dt>{t!(i18n, pages.logs.session)}</dt>
                            <dd data-testid="detail-session">
                                <button type="button" class="link-button session-link" data-testid="show-session"
                                    title=move || t_string!(i18n, pages.logs.show_session)
                                    on:click=move |_| on_session.run(id.clone())><code>{shown}</code></button>
                                " "<span class="muted small">{how}</span>
                            </dd>
                        }
                    })}
                    {l.refused_by.clone().map(|r| view! { <dt>{t!(i18n, pages.logs.refused_by)}</dt><dd data-testid="detail-refused-by"><code>{r}</code></dd> })}
                    {l.error_message.clone().map(|e| view! { <dt>{t!(i18n, pages.logs.error)}</dt><dd class="error-text">{e}</dd> })}
                    <dt>{t!(i18n, pages.logs.history)}</dt>
                    <dd data-testid="failover-history">{history}</dd>
                </dl>
            </td>
        </tr>
    }
}
