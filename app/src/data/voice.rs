//! "What customers say" (SPEC TXT-2): the complaint patterns and feature requests of a chosen
//! period, ranked by frequency and recency, each with its recurring words and newest example
//! linking to the customer. A plain GET form: it works without JavaScript and every view has
//! a shareable address.

use leptos::prelude::*;
use leptos_router::components::A;
use leptos_router::hooks::use_query_map;
use serde::{Deserialize, Serialize};

use super::pages::{load_error, DataFrame};
use crate::account::Protected;
use crate::ui_error::UiError;

/// One pattern as a table row.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PatternRow {
    pub label: String,
    pub texts: usize,
    pub customers: usize,
    /// "42 % (31–53 %)": share of the texts read, with its 90 % interval.
    pub share: String,
    /// Texts in the earlier and later half of the period.
    pub earlier: usize,
    pub later: usize,
    /// "late (4), slow (3)".
    pub words: String,
    pub example: Option<String>,
    pub example_href: Option<String>,
}

/// A ranked list, or why there is none.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Ranked {
    Rows { read: usize, rows: Vec<PatternRow> },
    Missing(String),
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Voice {
    pub period: String,
    pub complaints: Ranked,
    pub requests: Ranked,
}

#[server(prefix = "/rpc", endpoint = "customer_voice")]
pub async fn customer_voice(days: Option<u32>) -> Result<Voice, UiError> {
    use crate::backend::text::insights::{complaints, feature_requests, InsightQuery, PatternReport};
    use crate::backend::web;
    use analytics::Analysis;
    let days = days.filter(|d| [30, 90, 365].contains(d)).unwrap_or(90);
    let to = chrono::Utc::now().date_naive();
    let from = to - chrono::Duration::days(i64::from(days) - 1);
    let query = InsightQuery {
        from: Some(from.to_string()),
        to: Some(to.to_string()),
        ..InsightQuery::default()
    };
    let ranked = |answer: Analysis<PatternReport>| match answer {
        Analysis::InsufficientData(why) => Ranked::Missing(format!("No {} yet: {}.", why.needed, why.hint)),
        Analysis::Ready(report) => Ranked::Rows {
            read: report.texts_read,
            rows: report
                .patterns
                .into_iter()
                .map(|p| PatternRow {
                    label: p.label,
                    texts: p.texts,
                    customers: p.customers,
                    share: format!(
                        "{:.0} % ({:.0}–{:.0} %)",
                        p.share.estimate * 100.0,
                        p.share.low * 100.0,
                        p.share.high * 100.0
                    ),
                    earlier: p.earlier_half,
                    later: p.later_half,
                    words: p
                        .phrases
                        .iter()
                        .take(4)
                        .map(|w| format!("{} ({})", w.text, w.texts))
                        .collect::<Vec<_>>()
                        .join(", "),
                    example_href: p
                        .examples
                        .first()
                        .and_then(|e| e.customer_id)
                        .map(|id| format!("/customers/{id}")),
                    example: p.examples.into_iter().next().map(|e| e.text),
                })
                .collect(),
        },
    };
    let (first, second) = (web::caller(), web::caller());
    let complaints = ranked(complaints(first.await?, &query).await?);
    let requests = ranked(feature_requests(second.await?, &query).await?);
    Ok(Voice {
        period: format!("{from} to {to}"),
        complaints,
        requests,
    })
}

#[component]
pub fn VoicePage() -> impl IntoView {
    view! {
        <Protected>
            <DataFrame title="What customers say">
                <VoiceOfCustomers />
            </DataFrame>
        </Protected>
    }
}

#[component]
fn VoiceOfCustomers() -> impl IntoView {
    let query = use_query_map();
    let days = move || query.with(|q| q.get("days").and_then(|d| d.parse::<u32>().ok()));
    let voice = Resource::new(days, customer_voice);
    let option = move |value: u32, label: &'static str| {
        view! { <option value=value.to_string() selected=move || days().unwrap_or(90) == value>{label}</option> }
    };
    view! {
        <form method="get" action="/insights" class="filters">
            <label for="voice-days">"Period"</label>
            <select id="voice-days" name="days">
                {option(30, "Last 30 days")}
                {option(90, "Last 90 days")}
                {option(365, "Last 365 days")}
            </select>
            <button type="submit" class="button">"Show"</button>
        </form>
        <Suspense fallback=|| view! { <p class="loading">"Reading what customers wrote…"</p> }>
            {move || Suspend::new(async move {
                match voice.await {
                    Err(error) => load_error(error),
                    Ok(voice) => view! {
                        <p class="hint">{format!("{}. Ranked by how often and how recently each comes up (a text from 30 days ago counts half).", voice.period)}</p>
                        <h2>"Complaints"</h2>
                        {ranked_table(voice.complaints, "Complaints", "Negative texts read")}
                        <h2>"Feature requests"</h2>
                        {ranked_table(voice.requests, "Feature requests", "Texts read that ask for something")}
                    }.into_any(),
                }
            })}
        </Suspense>
    }
}

fn ranked_table(ranked: Ranked, name: &'static str, read_what: &'static str) -> AnyView {
    match ranked {
        Ranked::Missing(why) => view! { <p class="empty">{why}</p> }.into_any(),
        Ranked::Rows { read, rows } => view! {
            <table aria-label=name class="data patterns">
                <caption class="hint">{format!("{read_what}: {read}")}</caption>
                <thead><tr>
                    <th scope="col">"What"</th>
                    <th scope="col">"Texts"</th>
                    <th scope="col">"Customers"</th>
                    <th scope="col">"Share (90 % range)"</th>
                    <th scope="col">"Earlier → later half"</th>
                    <th scope="col">"Recurring words"</th>
                    <th scope="col">"Newest example"</th>
                </tr></thead>
                <tbody>
                    {rows.into_iter().map(|row| {
                        let example = match (row.example, row.example_href) {
                            (Some(text), Some(href)) => view! { <A href=href>{text}</A> }.into_any(),
                            (Some(text), None) => view! { <span>{text}</span> }.into_any(),
                            _ => ().into_any(),
                        };
                        let trend = if row.later > row.earlier { "rising" } else if row.later < row.earlier { "falling" } else { "steady" };
                        view! {
                            <tr>
                                <th scope="row">{row.label}</th>
                                <td>{row.texts}</td>
                                <td>{row.customers}</td>
                                <td>{row.share}</td>
                                <td title=trend>{format!("{} → {}", row.earlier, row.later)}</td>
                                <td>{row.words}</td>
                                <td class="example">{example}</td>
                            </tr>
                        }
                    }).collect_view()}
                </tbody>
            </table>
        }.into_any(),
    }
}
