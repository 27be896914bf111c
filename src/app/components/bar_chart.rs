//! A stacked bar chart in plain SVG: one bar per bucket, one colour per series. No JavaScript.
use leptos::prelude::*;

/// Colours for series, repeated when there are more series than colours.
const PALETTE: &[&str] = &[
    "#4f7cff", "#22b07d", "#f2a93b", "#e5534b", "#8e6cef", "#2bb3c0", "#c8619b", "#7a8699",
];

#[derive(Debug, Clone, PartialEq)]
pub struct ChartSeries {
    pub name: String,
    pub values: Vec<u64>,
}

const WIDTH: f64 = 720.0;
const HEIGHT: f64 = 220.0;
const PAD_LEFT: f64 = 44.0;
const PAD_BOTTOM: f64 = 24.0;

#[component]
pub fn BarChart(
    /// One label per bucket (shown under every few bars).
    labels: Vec<String>,
    series: Vec<ChartSeries>,
    #[prop(into)] aria_label: String,
    /// How a value reads (the axis and the tooltips); plain numbers by default.
    #[prop(optional)]
    format: Option<fn(u64) -> String>,
    /// `requests-chart` by default.
    #[prop(optional)]
    testid: Option<&'static str>,
) -> impl IntoView {
    let format = format.unwrap_or(|v| v.to_string());
    let buckets = labels.len().max(1);
    let totals: Vec<u64> = (0..buckets)
        .map(|i| {
            series
                .iter()
                .map(|s| s.values.get(i).copied().unwrap_or(0))
                .sum()
        })
        .collect();
    let max = totals.iter().copied().max().unwrap_or(0).max(1) as f64;
    let plot_w = WIDTH - PAD_LEFT;
    let plot_h = HEIGHT - PAD_BOTTOM;
    let slot = plot_w / buckets as f64;
    let bar = (slot * 0.7).max(1.0);
    let label_every = buckets.div_ceil(8).max(1);
    let mut rects = Vec::new();
    for i in 0..buckets {
        let mut y = plot_h;
        for (n, s) in series.iter().enumerate() {
            let v = s.values.get(i).copied().unwrap_or(0);
            if v == 0 {
                continue;
            }
            let h = v as f64 / max * (plot_h - 8.0);
            y -= h;
            let x = PAD_LEFT + i as f64 * slot + (slot - bar) / 2.0;
            let tip = format!(
                "{} · {}: {}",
                labels.get(i).cloned().unwrap_or_default(),
                s.name,
                format(v)
            );
            rects.push(view! {
                <rect x=format!("{x:.1}") y=format!("{y:.1}") width=format!("{bar:.1}") height=format!("{h:.1}")
                    fill=PALETTE[n % PALETTE.len()]>
                    <title>{tip}</title>
                </rect>
            });
        }
    }
    let ticks: Vec<_> = labels
        .iter()
        .enumerate()
        .filter(|(i, _)| i % label_every == 0)
        .map(|(i, l)| {
            let x = PAD_LEFT + i as f64 * slot + slot / 2.0;
            view! { <text x=format!("{x:.1}") y=format!("{:.1}", HEIGHT - 6.0) class="chart-tick" text-anchor="middle">{l.clone()}</text> }
        })
        .collect();
    let legend: Vec<_> = series
        .iter()
        .enumerate()
        .map(|(n, s)| {
            view! {
                <li><span class="legend-swatch" style=format!("background:{}", PALETTE[n % PALETTE.len()])></span>{s.name.clone()}</li>
            }
        })
        .collect();
    view! {
        <figure class="chart" data-testid=testid.unwrap_or("requests-chart") data-buckets=buckets.to_string()>
            <svg viewBox=format!("0 0 {WIDTH} {HEIGHT}") role="img" aria-label=aria_label preserveAspectRatio="none">
                <line x1=PAD_LEFT y1=plot_h x2=WIDTH y2=plot_h class="chart-axis" />
                <text x="4" y="14" class="chart-tick">{format(max as u64)}</text>
                <text x="4" y=format!("{plot_h:.1}") class="chart-tick">"0"</text>
                {rects}
                {ticks}
            </svg>
            <ul class="chart-legend">{legend}</ul>
        </figure>
    }
}
