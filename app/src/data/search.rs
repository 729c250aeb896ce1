//! The search page (SPEC TXT-3): what customers wrote, found by words, phrases and prefixes,
//! filtered by kind and sentiment, each hit linking to its customer. A plain GET form: it
//! works without JavaScript and every search has a shareable address.

use leptos::prelude::*;
use leptos_router::components::A;
use leptos_router::hooks::use_query_map;
use serde::{Deserialize, Serialize};

use super::pages::{load_error, DataFrame};
use crate::account::{encode_query_value, Protected};
use crate::ui_error::UiError;

/// One found text as the page shows it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FoundText {
    pub kind: String,
    pub at: String,
    /// Where the hit links: the customer's page, when the text has a customer.
    pub customer_href: Option<String>,
    pub who: String,
    /// "chat · message" or "Mug (MUG) · 5★".
    pub context: String,
    /// (text, matched) pieces of the snippet.
    pub snippet: Vec<(String, bool)>,
    pub sentiment: Option<(String, String)>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FoundPage {
    pub hits: Vec<FoundText>,
    pub next_cursor: Option<String>,
}

#[server(prefix = "/rpc", endpoint = "search")]
pub async fn search_texts(
    q: String,
    kind: Option<String>,
    sentiment: Option<String>,
    cursor: Option<String>,
) -> Result<FoundPage, UiError> {
    use crate::backend::text::search::{search, SearchQuery};
    use crate::backend::web;
    let query = SearchQuery {
        q: Some(q),
        kind: kind.filter(|k| !k.is_empty()),
        sentiment: sentiment.filter(|s| !s.is_empty()),
        limit: Some(20),
        cursor: cursor.filter(|c| !c.is_empty()),
        ..SearchQuery::default()
    };
    let (hits, next_cursor) = search(web::caller().await?, &query).await?;
    let hits = hits
        .into_iter()
        .map(|h| {
            let context = match (&h.channel, &h.event_type, &h.product_name, &h.sku, h.rating) {
                (Some(channel), Some(event), ..) => format!("{channel} · {}", event.replace('_', " ")),
                (_, _, name, Some(sku), Some(rating)) => {
                    format!(
                        "{} ({sku}) · {rating}★",
                        name.clone().unwrap_or_else(|| sku.clone())
                    )
                }
                _ => String::new(),
            };
            FoundText {
                kind: h.kind.to_owned(),
                at: h.written_at.format("%Y-%m-%d %H:%M UTC").to_string(),
                customer_href: h.customer_id.map(|id| format!("/customers/{id}")),
                who: h
                    .customer_name
                    .or(h.customer_external_id)
                    .unwrap_or_else(|| "anonymous".into()),
                context,
                snippet: h.snippet.into_iter().map(|p| (p.text, p.matched)).collect(),
                sentiment: h
                    .sentiment
                    .map(|s| (s.label, format!("{:.0} %", s.confidence * 100.0))),
            }
        })
        .collect();
    Ok(FoundPage { hits, next_cursor })
}

#[component]
pub fn SearchPage() -> impl IntoView {
    view! {
        <Protected>
            <DataFrame title="Search what customers wrote">
                <Search />
            </DataFrame>
        </Protected>
    }
}

#[component]
fn Search() -> impl IntoView {
    let query = use_query_map();
    let param = move |name: &'static str| query.with(|q| q.get(name).unwrap_or_default());
    let page = Resource::new(
        move || (param("q"), param("type"), param("sentiment"), param("cursor")),
        |(q, kind, sentiment, cursor)| async move {
            if q.trim().is_empty() {
                return Ok(None);
            }
            search_texts(q, Some(kind), Some(sentiment), Some(cursor))
                .await
                .map(Some)
        },
    );
    let option = move |field: &'static str, value: &'static str, label: &'static str| {
        view! { <option value=value selected=move || param(field) == value>{label}</option> }
    };
    view! {
        <form method="get" action="/search" class="filters" role="search">
            <label for="text-search" class="visually-hidden">"Search texts"</label>
            <input id="text-search" name="q" type="search" value=move || param("q")
                placeholder="late delivery, \"arrived broken\", refund*" />
            <label for="text-kind" class="visually-hidden">"Kind of text"</label>
            <select id="text-kind" name="type">
                {option("type", "interactions", "Conversations")}
                {option("type", "reviews", "Reviews")}
            </select>
            <label for="text-sentiment" class="visually-hidden">"Sentiment"</label>
            <select id="text-sentiment" name="sentiment">
                {option("sentiment", "", "Any sentiment")}
                {option("sentiment", "negative", "Negative")}
                {option("sentiment", "neutral", "Neutral")}
                {option("sentiment", "positive", "Positive")}
            </select>
            <button type="submit" class="button">"Search"</button>
        </form>
        <p class="hint">"All words must match. Quote a phrase, put "<code>"-"</code>" before a word to leave it out, or "<code>"*"</code>" after the start of a word."</p>
        <Suspense fallback=|| view! { <p class="loading">"Searching…"</p> }>
            {move || Suspend::new(async move {
                match page.await {
                    Err(error) => load_error(error),
                    Ok(None) => ().into_any(),
                    Ok(Some(found)) if found.hits.is_empty() => view! {
                        <p class="empty">"Nothing matches. Texts become searchable a moment after they arrive, once they are scored."</p>
                    }.into_any(),
                    Ok(Some(found)) => {
                        let next = found.next_cursor.map(|cursor| format!(
                            "/search?q={}&type={}&sentiment={}&cursor={}",
                            encode_query_value(&param("q")), encode_query_value(&param("type")),
                            encode_query_value(&param("sentiment")), encode_query_value(&cursor)));
                        view! {
                            <ol class="hits" aria-label="Search results">
                                {found.hits.into_iter().map(hit).collect_view()}
                            </ol>
                            {next.map(|href| view! { <p class="pager"><a href=href rel="next">"More results →"</a></p> })}
                        }.into_any()
                    }
                }
            })}
        </Suspense>
    }
}

fn hit(found: FoundText) -> impl IntoView {
    let who = match found.customer_href {
        Some(href) => view! { <A href=href>{found.who}</A> }.into_any(),
        None => view! { <span>{found.who}</span> }.into_any(),
    };
    view! {
        <li class="hit">
            <p class="hit-meta">
                {who}" · "{found.context}" · "<time>{found.at}</time>
                {found.sentiment.map(|(label, confidence)| {
                    let class = format!("badge sentiment-{label}");
                    view! { " "<span class=class title=format!("{confidence} sure")>{label}</span> }
                })}
            </p>
            <p class="snippet">
                {found.snippet.into_iter().map(|(text, matched)| if matched {
                    view! { <mark>{text}</mark> }.into_any()
                } else {
                    view! { <span>{text}</span> }.into_any()
                }).collect_view()}
            </p>
        </li>
    }
}
