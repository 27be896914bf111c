//! Money as the admin reads it, and a bar of what has been spent against a budget.
use leptos::prelude::*;

/// `$1.23`, or more decimals below a dollar so small spend does not read as nothing.
pub fn usd_text(usd: f64) -> String {
    if usd == 0.0 {
        "$0".into()
    } else if usd.abs() < 0.01 {
        format!("${usd:.6}")
    } else if usd.abs() < 1.0 {
        format!("${usd:.4}")
    } else {
        format!("${usd:.2}")
    }
}

/// What has been spent, with a bar filled to the share of `budget` (red once it is used up);
/// without a budget, the amount alone.
#[component]
pub fn SpendBar(
    spent: f64,
    budget: Option<f64>,
    label: String,
    testid: &'static str,
) -> impl IntoView {
    let share = budget.map(|b| if b > 0.0 { (spent / b).min(1.0) } else { 1.0 });
    let over = budget.is_some_and(|b| spent >= b);
    let text = match budget {
        Some(b) => format!("{label} {} / {}", usd_text(spent), usd_text(b)),
        None => format!("{label} {}", usd_text(spent)),
    };
    view! {
        <div class="spend" data-testid=testid>
            <span class="small">{text}</span>
            {share.map(|s| view! {
                <div class=if over { "spend-bar over" } else { "spend-bar" } role="meter"
                    aria-valuemin="0" aria-valuemax="100" aria-valuenow=format!("{:.0}", s * 100.0)>
                    <div class="spend-fill" style=format!("width: {:.1}%", s * 100.0)></div>
                </div>
            })}
        </div>
    }
}
