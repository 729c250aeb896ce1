//! The dashboard page at `/app`: a plain GET form for the range and channel (so every view
//! is a shareable, bookmarkable address and works without JavaScript), the key figures
//! rendered on the server with their change and explanation, and the charts drawn in the
//! browser once the page has hydrated.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::A;
use leptos_router::hooks::use_query_map;
use serde::{Deserialize, Serialize};

use super::charts::ChartBox;
use super::{Change, Dashboard, Kpi, CHANNELS, PRESETS};
use crate::account::{encode_query_value, viewer_resource, Protected};
use crate::data::SEGMENTS;
use crate::ui_error::UiError;

/// The dashboard with the range's top complaints (or why there are none).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DashboardData {
    pub dashboard: Dashboard,
    pub complaints: Result<Vec<(String, usize)>, String>,
}

/// The page's parameters as they stand in the address.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct DashboardParams {
    pub days: Option<String>,
    pub from: Option<String>,
    pub to: Option<String>,
    pub channel: Option<String>,
    pub segment: Option<String>,
    pub category: Option<String>,
}

#[server(prefix = "/rpc", endpoint = "dashboard")]
pub async fn load_dashboard(params: DashboardParams) -> Result<DashboardData, UiError> {
    use crate::backend::dashboard::{dashboard, DashboardQuery};
    use crate::backend::text::insights::{complaints, InsightQuery};
    use crate::backend::web;
    use analytics::Analysis;
    // A preset wins over dates left in the form; "Custom range" sends no `days`.
    let preset = params.days.is_some();
    let query = DashboardQuery {
        from: params.from.filter(|_| !preset),
        to: params.to.filter(|_| !preset),
        days: params.days,
        channel: params.channel,
        segment: params.segment,
        category: params.category,
    };
    let (first, second) = (web::caller(), web::caller());
    let dashboard = dashboard(&mut first.await?, &query).await?;
    let insight = InsightQuery {
        from: Some(dashboard.from.clone()),
        to: Some(dashboard.to.clone()),
        channel: dashboard.channel.clone(),
        limit: Some("5".into()),
    };
    let complaints = match complaints(second.await?, &insight).await? {
        Analysis::Ready(report) => Ok(report.patterns.into_iter().map(|p| (p.label, p.texts)).collect()),
        Analysis::InsufficientData(why) => Err(format!("No {} yet: {}.", why.needed, why.hint)),
    };
    Ok(DashboardData {
        dashboard,
        complaints,
    })
}

#[component]
pub fn DashboardPage() -> impl IntoView {
    view! {
        <Title text="Dashboard" />
        <Protected>
            <DashboardView />
        </Protected>
    }
}

#[component]
fn DashboardView() -> impl IntoView {
    let query = use_query_map();
    let params = move || {
        query.with(|q| {
            let get = |k: &str| q.get(k).filter(|v| !v.is_empty());
            DashboardParams {
                days: get("days"),
                from: get("from"),
                to: get("to"),
                channel: get("channel"),
                segment: get("segment"),
                category: get("category"),
            }
        })
    };
    let data = Resource::new(params, load_dashboard);
    // New activity, orders and scores change every figure: fetch them again as they come.
    crate::live::follow(
        &["interactions_created", "orders_created", "sentiment_scored"],
        move || data.refetch(),
    );
    let viewer = viewer_resource();
    view! {
        <section class="dashboard" aria-labelledby="dashboard-title">
            <p class="dashboard-kicker">"Dashboard"</p>
            <Suspense fallback=|| view! { <h1 id="dashboard-title">"Dashboard"</h1> }>
                {move || Suspend::new(async move {
                    viewer.await.ok().flatten().map_or_else(
                        || view! { <h1 id="dashboard-title">"Dashboard"</h1> }.into_any(),
                        |viewer| view! {
                            <h1 id="dashboard-title">{viewer.organization.name.clone()}</h1>
                            <p class="signed-in-as hint">
                                "Signed in as " <strong>{viewer.email.clone()}</strong>
                                " (" {viewer.role.clone()} ")."
                            </p>
                        }.into_any(),
                    )
                })}
            </Suspense>
            <Filters params=params() data />
            // A transition keeps the figures on screen while live updates fetch new ones.
            <Transition fallback=|| view! { <p class="loading">"Adding up your numbers…"</p> }>
                {move || Suspend::new(async move {
                    match data.await {
                        Err(error) => view! { <p class="form-error" role="alert">{error.to_string()}</p> }.into_any(),
                        Ok(data) => view! { <Figures data /> }.into_any(),
                    }
                })}
            </Transition>
        </section>
    }
}

/// Range presets, custom dates and the channel, segment and category filters: a GET form to
/// `/app`. The categories are the organization's, so that select waits for the figures.
#[component]
fn Filters(params: DashboardParams, data: Resource<Result<DashboardData, UiError>>) -> impl IntoView {
    let custom = params.days.is_none() && (params.from.is_some() || params.to.is_some());
    let days = params.days.clone().unwrap_or_else(|| "30".into());
    let channel = params.channel.clone().unwrap_or_default();
    let segment = params.segment.clone().unwrap_or_default();
    let category = params.category.clone().unwrap_or_default();
    let category_select = move |categories: Vec<String>| {
        let chosen = category.clone();
        // A bookmarked category no product has any more stays chosen (its figures are zero).
        let missing = (!chosen.is_empty() && !categories.contains(&chosen)).then(|| chosen.clone());
        view! {
            <select id="dashboard-category" name="category">
                <option value="" selected=chosen.is_empty()>"All categories"</option>
                {missing.into_iter().chain(categories).map(|c| {
                    let (selected, label) = (c == chosen, c.clone());
                    view! { <option value=c selected=selected>{label}</option> }
                }).collect_view()}
            </select>
        }
    };
    let waiting = category_select.clone();
    view! {
        <form method="get" action="/app" class="filters dashboard-filters" aria-label="Range and filters">
            <label for="dashboard-days">"Range"</label>
            <select id="dashboard-days" name="days">
                {PRESETS
                    .iter()
                    .map(|d| {
                        let value = d.to_string();
                        let selected = !custom && value == days;
                        view! { <option value=value selected=selected>{format!("Last {d} days")}</option> }
                    })
                    .collect_view()}
                <option value="" selected=custom>"Custom range"</option>
            </select>
            <label for="dashboard-from">"From"</label>
            <input id="dashboard-from" type="date" name="from" value=params.from.clone().unwrap_or_default() />
            <label for="dashboard-to">"to"</label>
            <input id="dashboard-to" type="date" name="to" value=params.to.clone().unwrap_or_default() />
            <label for="dashboard-channel">"Channel"</label>
            <select id="dashboard-channel" name="channel">
                <option value="" selected=channel.is_empty()>"All channels"</option>
                {CHANNELS
                    .iter()
                    .map(|c| view! { <option value=*c selected=channel == *c>{*c}</option> })
                    .collect_view()}
            </select>
            <label for="dashboard-segment">"Segment"</label>
            <select id="dashboard-segment" name="segment">
                <option value="" selected=segment.is_empty()>"All customers"</option>
                {SEGMENTS
                    .iter()
                    .map(|(key, label)| view! { <option value=*key selected=segment == *key>{*label}</option> })
                    .collect_view()}
            </select>
            <label for="dashboard-category">"Category"</label>
            <Suspense fallback=move || waiting(Vec::new())>
                {move || {
                    let category_select = category_select.clone();
                    Suspend::new(async move {
                        category_select(data.await.map(|d| d.dashboard.categories).unwrap_or_default())
                    })
                }}
            </Suspense>
            <button type="submit" class="button">"Apply"</button>
        </form>
    }
}

#[component]
fn Figures(data: DashboardData) -> impl IntoView {
    let DashboardData {
        dashboard,
        complaints,
    } = data;
    let comparison = format!(
        "Compared with {} to {}, the {} days before.",
        dashboard.previous_from, dashboard.previous_to, dashboard.days
    );
    let currency = dashboard.currency.clone();
    let tiles = dashboard
        .kpis
        .iter()
        .map(|kpi| view! { <KpiTile kpi=kpi.clone() currency=currency.clone() /> })
        .collect_view();
    let shared = StoredValue::new(dashboard.clone());
    view! {
        <p class="hint" id="dashboard-range">
            {format!("{} to {} (UTC){}{}{}. ", dashboard.from, dashboard.to,
                dashboard.channel.as_ref().map(|c| format!(", channel {c}")).unwrap_or_default(),
                segment_label(dashboard.segment.as_deref()).map(|s| format!(", customers now in {s}")).unwrap_or_default(),
                dashboard.category.as_ref().map(|c| format!(", products in category “{c}”")).unwrap_or_default())}
            {comparison}
        </p>
        <ul class="kpi-grid" aria-label="Key figures">{tiles}</ul>
        <noscript><p class="hint">"Charts need JavaScript; the figures above do not."</p></noscript>
        <div class="chart-grid">
            <ChartBox id="chart-sentiment" title="Sentiment and volume" dashboard=shared
                summary=sentiment_summary(&dashboard) />
            <ChartBox id="chart-revenue" title="Revenue and orders" dashboard=shared
                summary=revenue_summary(&dashboard) />
            <ChartBox id="chart-channels" title="Channels" dashboard=shared
                summary=channel_summary(&dashboard) />
            <ChartBox id="chart-segments" title="RFM segments" dashboard=shared
                summary=segment_summary(&dashboard) />
        </div>
        <p class="hint chart-images">
            "Chart images for reports (drawn by the server, this range and channel): "
            {chart_image_links(&dashboard)}
        </p>
        <section class="card dashboard-complaints" aria-labelledby="complaints-title">
            <h2 id="complaints-title">"Top complaints"</h2>
            {(dashboard.segment.is_some() || dashboard.category.is_some()).then(|| view! {
                <p class="hint">"From all customers' texts in the range: complaints are not split by segment or category yet."</p>
            })}
            {match complaints {
                Ok(rows) if !rows.is_empty() => view! {
                    <ol>
                        {rows.into_iter().map(|(label, texts)| view! {
                            <li>{label}" — "{texts}" texts"</li>
                        }).collect_view()}
                    </ol>
                }.into_any(),
                Ok(_) => view! { <p class="hint">"No complaint patterns in this range."</p> }.into_any(),
                Err(why) => view! { <p class="hint">{why}</p> }.into_any(),
            }}
            <p><A href="/insights">"Everything customers say"</A></p>
        </section>
    }
}

#[component]
fn KpiTile(kpi: Kpi, currency: Option<String>) -> impl IntoView {
    let value = match kpi.value {
        None => "—".to_owned(),
        Some(v) => format_value(&kpi.key, v, currency.as_deref()),
    };
    let change = kpi.change().map(|change| {
        let (text, direction) = match change {
            Change::Relative(r) => (format!("{:+.1} %", r * 100.0), r),
            Change::Points(p) => (format!("{p:+.2}"), p),
        };
        let class = if direction > 0.0 {
            "kpi-change up"
        } else if direction < 0.0 {
            "kpi-change down"
        } else {
            "kpi-change"
        };
        let arrow = if direction > 0.0 {
            "▲ "
        } else if direction < 0.0 {
            "▼ "
        } else {
            ""
        };
        view! { <span class=class>{arrow}{text}" vs previous period"</span> }
    });
    let interval = kpi
        .interval
        .map(|(low, high)| view! { <span class="kpi-interval">{format!("90 % interval {low:+.2} to {high:+.2}")}</span> });
    let hint = kpi
        .empty_hint
        .clone()
        .map(|h| view! { <span class="kpi-hint">{h}</span> });
    view! {
        <li class="kpi" data-kpi=kpi.key.clone()>
            <span class="kpi-label">{kpi.label.clone()}</span>
            <span class="kpi-value" data-value=kpi.value.map(|v| v.to_string()).unwrap_or_default()>{value}</span>
            {change}
            {interval}
            <span class="kpi-explanation">{kpi.explanation.clone()}</span>
            {hint}
        </li>
    }
}

/// A figure as people read it: money with its currency and thousands separators, counts as
/// whole numbers, sentiment with two decimals and a sign.
pub fn format_value(key: &str, value: f64, currency: Option<&str>) -> String {
    match key {
        "revenue" => {
            let amount = group_thousands(&format!("{value:.2}"));
            match currency {
                Some(c) => format!("{amount} {c}"),
                None => amount,
            }
        }
        "sentiment" => format!("{value:+.2}"),
        _ => group_thousands(&format!("{value:.0}")),
    }
}

/// "1234567.89" → "1,234,567.89".
fn group_thousands(number: &str) -> String {
    let (sign, rest) = number.strip_prefix('-').map_or(("", number), |r| ("-", r));
    let (whole, fraction) = rest.split_once('.').map_or((rest, None), |(w, f)| (w, Some(f)));
    let mut grouped = String::new();
    for (i, digit) in whole.chars().enumerate() {
        if i > 0 && (whole.len() - i) % 3 == 0 {
            grouped.push(',');
        }
        grouped.push(digit);
    }
    match fraction {
        Some(f) => format!("{sign}{grouped}.{f}"),
        None => format!("{sign}{grouped}"),
    }
}

/// What each chart shows, in words, for screen readers and for anyone without JavaScript.
/// The label of segment `key`.
fn segment_label(key: Option<&str>) -> Option<&'static str> {
    SEGMENTS
        .iter()
        .find(|(k, _)| Some(*k) == key)
        .map(|(_, label)| *label)
}

/// Links to `GET /api/v1/charts/{name}.{png|svg}` for the range and filters on screen; they
/// work without JavaScript.
fn chart_image_links(d: &Dashboard) -> impl IntoView {
    let mut query = format!("from={}&to={}", d.from, d.to);
    for (name, value) in [
        ("channel", &d.channel),
        ("segment", &d.segment),
        ("category", &d.category),
    ] {
        if let Some(value) = value {
            query.push_str(&format!("&{name}={}", encode_query_value(value)));
        }
    }
    [
        ("sentiment", "Sentiment"),
        ("revenue", "Revenue"),
        ("channels", "Channels"),
    ]
    .into_iter()
    .enumerate()
    .map(|(n, (name, label))| {
        let (png, svg) = (
            format!("/api/v1/charts/{name}.png?{query}"),
            format!("/api/v1/charts/{name}.svg?{query}"),
        );
        view! {
            {(n > 0).then_some(" · ")}
            {label}" ("
            <a href=png download aria-label=format!("{label} chart as PNG")>"PNG"</a>", "
            <a href=svg download aria-label=format!("{label} chart as SVG")>"SVG"</a>")"
        }
    })
    .collect_view()
}

fn sentiment_summary(d: &Dashboard) -> String {
    let texts: i64 = d.series.iter().map(|b| b.texts).sum();
    let interactions: i64 = d.series.iter().map(|b| b.interactions).sum();
    if let Some(category) = &d.category {
        return format!(
            "Average sentiment of the reviews of products in category “{category}” per {}: {} scored \
             reviews in the range (interactions are not tied to products).",
            d.bucket,
            group_thousands(&texts.to_string())
        );
    }
    format!(
        "Average sentiment per {} and the number of interactions: {} interactions and {} scored texts in the range.",
        d.bucket,
        group_thousands(&interactions.to_string()),
        group_thousands(&texts.to_string())
    )
}

fn revenue_summary(d: &Dashboard) -> String {
    let best = d
        .series
        .iter()
        .max_by(|a, b| a.revenue.total_cmp(&b.revenue))
        .filter(|b| b.revenue > 0.0);
    match best {
        Some(b) => format!(
            "Revenue and orders per {}; the highest {} starts {} with {}.",
            d.bucket,
            d.bucket,
            b.start,
            format_value("revenue", b.revenue, d.currency.as_deref())
        ),
        None => "No revenue in the range: import orders to see it.".to_owned(),
    }
}

fn channel_summary(d: &Dashboard) -> String {
    if d.channels.is_empty() {
        return "No activity in the range.".to_owned();
    }
    let parts: Vec<String> = d
        .channels
        .iter()
        .map(|c| {
            format!(
                "{} {} interactions, {} orders",
                c.channel,
                group_thousands(&c.interactions.to_string()),
                group_thousands(&c.orders.to_string())
            )
        })
        .collect();
    format!("By channel: {}.", parts.join("; "))
}

fn segment_summary(d: &Dashboard) -> String {
    if d.segments.is_empty() {
        return "Customers are put in RFM segments by the scoring run, after orders are imported.".to_owned();
    }
    let parts: Vec<String> = d
        .segments
        .iter()
        .map(|s| format!("{} {}", s.label, s.customers))
        .collect();
    format!("Customers per segment: {}.", parts.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn figures_read_as_people_write_them() {
        assert_eq!(
            format_value("revenue", 1234567.891, Some("EUR")),
            "1,234,567.89 EUR"
        );
        assert_eq!(format_value("revenue", 12.5, None), "12.50");
        assert_eq!(format_value("orders", 999.0, None), "999");
        assert_eq!(format_value("orders", 1000.0, None), "1,000");
        assert_eq!(format_value("sentiment", 0.1234, None), "+0.12");
        assert_eq!(format_value("sentiment", -0.5, None), "-0.50");
    }

    proptest! {
        #[test]
        fn grouping_thousands_only_adds_commas_every_three_digits(n in 0u64..10_000_000_000_000) {
            let grouped = group_thousands(&n.to_string());
            prop_assert_eq!(grouped.replace(',', ""), n.to_string());
            for part in grouped.split(',').skip(1) {
                prop_assert_eq!(part.len(), 3);
            }
            let first = grouped.split(',').next().unwrap().len();
            prop_assert!((1..=3).contains(&first));
        }
    }
}
