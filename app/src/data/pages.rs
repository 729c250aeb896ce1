//! Data pages (SPEC UI-5): the customers list and a customer's page, and the forms to add an
//! interaction or an order by hand. Lists render on the server; forms are real HTML forms
//! (they work without JavaScript, which shows errors without a reload).

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::A;
use leptos_router::hooks::{use_params_map, use_query_map};

use super::server_fns::{
    customer, list_customers, AddInteraction, AddOrder, CustomerFilters, PatternsView, ScoresView,
};
use crate::account::{encode_query_value, feedback, Feedback, FieldAlert, FormAlert, Protected};
use crate::ui_error::UiError;

pub(super) fn load_error(error: UiError) -> AnyView {
    view! { <p class="form-error" role="alert">{error.to_string()}</p> }.into_any()
}

/// Where the data pages link to each other.
#[component]
fn DataNav() -> impl IntoView {
    view! {
        <nav class="settings-nav" aria-label="Data">
            <ul>
                <li><A href="/customers">"Customers"</A></li>
                <li><A href="/insights">"What customers say"</A></li>
                <li><A href="/search">"Search texts"</A></li>
                <li><A href="/data/interaction">"Add an interaction"</A></li>
                <li><A href="/data/order">"Add an order"</A></li>
                <li><A href="/imports/new">"Import a CSV file"</A></li>
            </ul>
        </nav>
    }
}

#[component]
pub(super) fn DataFrame(title: &'static str, children: Children) -> impl IntoView {
    view! {
        <Title text=title />
        <div class="settings">
            <DataNav />
            <section class="card">
                <h1>{title}</h1>
                {children()}
            </section>
        </div>
    }
}

#[component]
pub fn CustomersPage() -> impl IntoView {
    view! {
        <Protected>
            <DataFrame title="Customers">
                <Customers />
            </DataFrame>
        </Protected>
    }
}

#[component]
fn Customers() -> impl IntoView {
    let query = use_query_map();
    let filters = move || {
        query.with(|q| {
            let get = |k: &str| q.get(k).filter(|v| !v.is_empty());
            CustomerFilters {
                q: get("q"),
                segment: get("segment"),
                churn: get("churn"),
                clv_min: get("clv_min"),
                clv_max: get("clv_max"),
                seen_within_days: get("seen_within_days"),
                sort: get("sort"),
                cursor: get("cursor"),
            }
        })
    };
    let page = Resource::new(filters, list_customers);
    let current = filters();
    let value = |v: &Option<String>| v.clone().unwrap_or_default();
    let choice = |current: &Option<String>, value: &'static str, label: &'static str| {
        let selected = current.as_deref().unwrap_or("") == value;
        view! { <option value=value selected=selected>{label}</option> }
    };
    let segments = SEGMENTS
        .iter()
        .map(|(key, label)| choice(&current.segment, key, label))
        .collect_view();
    // The export takes the same filters, without the page position: every matching row.
    let export_href = {
        let mut all = current.clone();
        all.cursor = None;
        query_href("/api/v1/customers/export.csv", &all)
    };
    view! {
        <form method="get" action="/customers" class="filters" role="search" aria-label="Find customers">
            <label for="customer-search">"Search"
                <input id="customer-search" name="q" type="search" value=value(&current.q)
                    placeholder="Name, email or external id" />
            </label>
            <label for="customer-segment">"Segment"
                <select id="customer-segment" name="segment">
                    {choice(&current.segment, "", "Any segment")}
                    {segments}
                </select>
            </label>
            <label for="customer-churn">"Churn risk"
                <select id="customer-churn" name="churn">
                    {choice(&current.churn, "", "Any risk")}
                    {choice(&current.churn, "high", "High")}
                    {choice(&current.churn, "medium", "Medium")}
                    {choice(&current.churn, "low", "Low")}
                </select>
            </label>
            <label for="customer-clv-min">"CLV from"
                <input id="customer-clv-min" name="clv_min" type="number" step="any" min="0" value=value(&current.clv_min) />
            </label>
            <label for="customer-clv-max">"to"
                <input id="customer-clv-max" name="clv_max" type="number" step="any" min="0" value=value(&current.clv_max) />
            </label>
            <label for="customer-seen">"Last seen"
                <select id="customer-seen" name="seen_within_days">
                    {choice(&current.seen_within_days, "", "Any time")}
                    {choice(&current.seen_within_days, "7", "Within 7 days")}
                    {choice(&current.seen_within_days, "30", "Within 30 days")}
                    {choice(&current.seen_within_days, "90", "Within 90 days")}
                </select>
            </label>
            <label for="customer-sort">"Sort by"
                <select id="customer-sort" name="sort">
                    {choice(&current.sort, "", "Newest")}
                    {choice(&current.sort, "last_seen", "Last seen")}
                    {choice(&current.sort, "revenue", "Revenue")}
                    {choice(&current.sort, "clv", "Lifetime value")}
                    {choice(&current.sort, "churn", "Churn risk")}
                </select>
            </label>
            <button type="submit" class="button">"Show"</button>
            <a class="button" href=export_href download="customers.csv">"Download CSV"</a>
        </form>
        <Suspense fallback=|| view! { <p class="loading">"Loading customers…"</p> }>
            {move || Suspend::new(async move {
                match page.await {
                    Err(error) => load_error(error),
                    Ok(page) if page.rows.is_empty() && filters().pairs().is_empty() => view! {
                        <p class="empty">"No customers yet. "
                            <A href="/imports/new">"Import a CSV file"</A>", "
                            <A href="/data/interaction">"add an interaction"</A>
                            " or send data through the API, and they appear here."</p>
                    }.into_any(),
                    Ok(page) if page.rows.is_empty() => view! {
                        <p class="empty">"No customer matches these filters."</p>
                    }.into_any(),
                    Ok(page) => {
                        let next = page.next_cursor.map(|cursor| {
                            let mut following = filters();
                            following.cursor = Some(cursor);
                            query_href("/customers", &following)
                        });
                        view! {
                            <table class="data" aria-label="Customers">
                                <thead><tr>
                                    <th>"Customer"</th><th>"Email"</th><th>"Country"</th><th>"Segment"</th>
                                    <th>"Churn risk"</th><th class="number">"CLV"</th>
                                    <th>"Last seen"</th><th class="number">"Interactions"</th>
                                    <th class="number">"Orders"</th><th class="number">"Revenue"</th>
                                </tr></thead>
                                <tbody>
                                    {page.rows.into_iter().map(|c| {
                                        let href = format!("/customers/{}", c.id);
                                        let label = c.name.clone().unwrap_or_else(|| c.external_id.clone());
                                        view! {
                                            <tr data-external-id=c.external_id.clone()>
                                                <td><A href=href>{label}</A><br /><small>{c.external_id.clone()}</small></td>
                                                <td>{c.email.clone()}</td>
                                                <td>{c.country.clone()}</td>
                                                <td>{c.rfm_segment.clone().or(c.segment.clone())}</td>
                                                <td>{c.churn.clone()}</td>
                                                <td class="number">{c.clv.clone()}</td>
                                                <td>{c.last_seen.clone()}</td>
                                                <td class="number">{c.interactions}</td>
                                                <td class="number">{c.orders}</td>
                                                <td class="number">{c.revenue.clone()}</td>
                                            </tr>
                                        }
                                    }).collect_view()}
                                </tbody>
                            </table>
                            {next.map(|href| view! { <p class="pager"><a href=href rel="next">"Next page →"</a></p> })}
                        }.into_any()
                    }
                }
            })}
        </Suspense>
    }
}

/// RFM segments as the filters (customers, dashboard) offer them, keys as the API takes them.
pub(crate) const SEGMENTS: [(&str, &str); 10] = [
    ("champions", "Champions"),
    ("loyal_customers", "Loyal customers"),
    ("potential_loyalists", "Potential loyalists"),
    ("new_customers", "New customers"),
    ("promising", "Promising"),
    ("need_attention", "Need attention"),
    ("about_to_sleep", "About to sleep"),
    ("at_risk", "At risk"),
    ("cant_lose_them", "Can't lose them"),
    ("hibernating", "Hibernating"),
];

/// `path` with `filters` as its query string.
fn query_href(path: &str, filters: &CustomerFilters) -> String {
    let query: Vec<String> = filters
        .pairs()
        .into_iter()
        .map(|(name, value)| format!("{name}={}", encode_query_value(value)))
        .collect();
    if query.is_empty() {
        path.to_owned()
    } else {
        format!("{path}?{}", query.join("&"))
    }
}

#[component]
pub fn CustomerPage() -> impl IntoView {
    view! {
        <Protected>
            <CustomerProfile />
        </Protected>
    }
}

#[component]
fn CustomerProfile() -> impl IntoView {
    let params = use_params_map();
    let found = Resource::new(move || params.with(|p| p.get("id").unwrap_or_default()), customer);
    // New texts and their scores change the timeline and the trend.
    crate::live::follow(&["interactions_created", "sentiment_scored"], move || {
        found.refetch()
    });
    view! {
        <div class="settings">
            <DataNav />
            <section class="card">
                <Transition fallback=|| view! { <p class="loading">"Loading the customer…"</p> }>
                    {move || Suspend::new(async move {
                        match found.await {
                            Err(error) => view! { <Title text="Customer" /> <h1>"Customer"</h1> {load_error(error)} }.into_any(),
                            Ok(view) => {
                                let c = view.customer;
                                let title = c.name.clone().unwrap_or_else(|| c.external_id.clone());
                                view! {
                                    <Title text=title.clone() />
                                    <h1>{title}</h1>
                                    <dl class="facts">
                                        <dt>"External id"</dt><dd>{c.external_id.clone()}</dd>
                                        <dt>"Email"</dt><dd>{c.email.clone().unwrap_or_else(|| "—".into())}</dd>
                                        <dt>"Country"</dt><dd>{c.country.clone().unwrap_or_else(|| "—".into())}</dd>
                                        <dt>"Segment"</dt><dd>{c.segment.clone().unwrap_or_else(|| "—".into())}</dd>
                                        <dt>"First seen"</dt><dd>{c.first_seen.clone().unwrap_or_else(|| "—".into())}</dd>
                                        <dt>"Last seen"</dt><dd>{c.last_seen.clone().unwrap_or_else(|| "—".into())}</dd>
                                        <dt>"Interactions"</dt><dd>{c.interactions}</dd>
                                        <dt>"Orders"</dt><dd>{c.orders}</dd>
                                        <dt>"Revenue"</dt><dd>{c.revenue.clone()}</dd>
                                    </dl>
                                    <ScoresCard scores=view.scores />
                                    <PatternsCard patterns=view.patterns />
                                    <SentimentTrend weeks=view.sentiment_trend />
                                    <h2>"Timeline"</h2>
                                    {if view.timeline.is_empty() {
                                        view! { <p class="empty">"Nothing recorded yet."</p> }.into_any()
                                    } else {
                                        view! {
                                            <ol class="timeline" aria-label="Timeline">
                                                {view.timeline.into_iter().map(|item| view! {
                                                    <li>
                                                        <span class="badge">{item.kind}</span>
                                                        " " <strong>{item.title}</strong>
                                                        " " <time>{item.at}</time>
                                                        {item.sentiment.map(|label| {
                                                            let class = format!("badge sentiment-{label}");
                                                            let shown = label.clone();
                                                            view! { " " <span class=class data-sentiment=label>{shown}</span> }
                                                        })}
                                                        {item.detail.map(|text| view! { <blockquote>{text}</blockquote> })}
                                                    </li>
                                                }).collect_view()}
                                            </ol>
                                        }.into_any()
                                    }}
                                }.into_any()
                            }
                        }
                    })}
                </Transition>
            </section>
        </div>
    }
}

/// The customer's weekly sentiment as a chart (drawn in the browser) and in words.
#[component]
fn SentimentTrend(weeks: Vec<(String, f64, i64)>) -> impl IntoView {
    if weeks.is_empty() {
        return view! {
            <h2>"Sentiment"</h2>
            <p class="empty">"No scored texts yet: the trend appears once this customer has written."</p>
        }
        .into_any();
    }
    let texts: i64 = weeks.iter().map(|w| w.2).sum();
    let (first, last) = (&weeks[0], &weeks[weeks.len() - 1]);
    let summary = format!(
        "Average sentiment per week (−1 all negative, 1 all positive) over {texts} scored texts: {:+.2} in the week of {}, {:+.2} in the week of {}.",
        first.1, first.0, last.1, last.0
    );
    view! {
        <crate::dashboard::TrendChart id="customer-sentiment" title="Sentiment" points=weeks summary />
    }
    .into_any()
}

/// A customer's segment, value and churn risk with their ranges and reasons, or what is
/// missing before there can be any.
#[component]
fn ScoresCard(scores: ScoresView) -> impl IntoView {
    let body = match scores {
        ScoresView::Missing { needed, hint } => view! {
            <p class="empty">"No scores yet: " {needed} ". " {hint}</p>
        }
        .into_any(),
        ScoresView::Ready(s) => {
            let band_class = format!("badge risk-{}", s.churn_band);
            view! {
                <dl class="facts">
                    <dt>"RFM segment"</dt><dd><strong>{s.segment}</strong><br /><small>{s.rfm}</small></dd>
                    <dt>"Chance still active"</dt><dd>{s.p_alive}</dd>
                    <dt>"Expected orders"</dt><dd>{s.expected_purchases}</dd>
                    <dt>"Lifetime value"</dt><dd>{s.clv.unwrap_or_else(|| "— (needs repeat buyers with spend to model)".into())}</dd>
                    <dt>"Churn risk"</dt>
                    <dd><span class=band_class>{s.churn_band}</span> " " {s.churn}
                        {if s.churn_reasons.is_empty() {
                            view! { <p class="reasons">"Nothing about them raises the risk above the average customer's."</p> }.into_any()
                        } else {
                            view! {
                                <ul class="reasons">
                                    {s.churn_reasons.into_iter().map(|r| view! { <li>{r}</li> }).collect_view()}
                                </ul>
                            }.into_any()
                        }}
                    </dd>
                </dl>
                <p><small>"Computed " {s.computed}</small></p>
            }
            .into_any()
        }
    };
    view! {
        <section data-testid="customer-scores" aria-labelledby="scores-heading">
            <h2 id="scores-heading">"Scores"</h2>
            {body}
        </section>
    }
}

/// What stands out in the customer's last 30 days, with how sure each pattern is.
#[component]
fn PatternsCard(patterns: PatternsView) -> impl IntoView {
    let body = match patterns {
        PatternsView::Missing { needed, have, hint } => view! {
            <p class="empty">"No patterns yet: they need " {needed} " (this customer has " {have} "). " {hint} "."</p>
        }
        .into_any(),
        PatternsView::Ready { engagement, patterns } => view! {
            <p>"Engagement: " <strong>{engagement}</strong></p>
            {if patterns.is_empty() {
                view! { <p class="empty">"Nothing stands out with 70 % confidence or more."</p> }.into_any()
            } else {
                view! {
                    <ul class="patterns">
                        {patterns.into_iter().map(|(description, confidence)| view! {
                            <li>{description} " " <small>"(" {confidence} ")"</small></li>
                        }).collect_view()}
                    </ul>
                }.into_any()
            }}
        }
        .into_any(),
    };
    view! {
        <section data-testid="customer-patterns" aria-labelledby="patterns-heading">
            <h2 id="patterns-heading">"Behaviour, last 30 days"</h2>
            {body}
        </section>
    }
}

/// The saved record's confirmation, with a link to look at it.
#[component]
fn Saved(message: &'static str, link: Option<(String, &'static str)>) -> impl IntoView {
    view! {
        <div class="notice" role="status">
            <p>{message} " " {link.map(|(href, label)| view! { <A href=href>{label}</A> })}</p>
        </div>
    }
}

/// A labelled input named like its field, with that field's error beneath it.
#[component]
fn Field(
    id: &'static str,
    label: &'static str,
    feedback: Memo<Feedback>,
    #[prop(default = "text")] kind: &'static str,
    #[prop(optional)] value: &'static str,
    #[prop(optional)] required: bool,
) -> impl IntoView {
    view! {
        <label for=id>{label}</label>
        <input id=id name=id type=kind value=value required=required />
        <FieldAlert feedback field=id />
    }
}

const CHANNELS: [&str; 5] = ["web", "mobile", "email", "chat", "phone"];

#[component]
pub fn NewInteractionPage() -> impl IntoView {
    let add = ServerAction::<AddInteraction>::new();
    let feedback = feedback(add.value());
    let saved = move || {
        add.value().get().and_then(Result::ok).map(|customer_id| {
            view! { <Saved message="Interaction saved." link=Some((format!("/customers/{customer_id}"), "View the customer")) /> }
        })
    };
    view! {
        <Protected>
            <DataFrame title="Add an interaction">
                {saved}
                <ActionForm action=add attr:class="stacked" attr:novalidate=true>
                    <FormAlert feedback />
                    <Field id="customer_external_id" label="Customer (their id in your systems)" feedback required=true />
                    <Field id="occurred_at" label="When (UTC)" feedback kind="datetime-local" required=true />
                    <label for="channel">"Channel"</label>
                    <select id="channel" name="channel">
                        {CHANNELS.iter().map(|c| view! { <option value=*c>{*c}</option> }).collect_view()}
                    </select>
                    <FieldAlert feedback field="channel" />
                    <Field id="event_type" label="Event type" feedback required=true />
                    <label for="interaction-content">"What was said (required for email, chat and phone)"</label>
                    <textarea id="interaction-content" name="content" rows="4" aria-describedby="content-error"></textarea>
                    <FieldAlert feedback field="content" />
                    <Field id="external_id" label="Interaction id (optional; one is made if blank)" feedback  />
                    <button type="submit" class="button primary">"Save interaction"</button>
                </ActionForm>
            </DataFrame>
        </Protected>
    }
}

const STATUSES: [&str; 5] = ["paid", "pending", "fulfilled", "refunded", "cancelled"];

#[component]
pub fn NewOrderPage() -> impl IntoView {
    let add = ServerAction::<AddOrder>::new();
    let feedback = feedback(add.value());
    let saved = move || {
        add.value()
            .get()
            .and_then(Result::ok)
            .map(|_| view! { <Saved message="Order saved." link=Some(("/customers".to_owned(), "See customers")) /> })
    };
    view! {
        <Protected>
            <DataFrame title="Add an order">
                {saved}
                <ActionForm action=add attr:class="stacked" attr:novalidate=true>
                    <FormAlert feedback />
                    <Field id="customer_external_id" label="Customer (their id in your systems)" feedback required=true />
                    <Field id="ordered_at" label="Ordered at (UTC)" feedback kind="datetime-local" required=true />
                    <label for="status">"Status"</label>
                    <select id="status" name="status">
                        {STATUSES.iter().map(|s| view! { <option value=*s>{*s}</option> }).collect_view()}
                    </select>
                    <Field id="currency" label="Currency (ISO 4217)" feedback value="EUR" required=true />
                    <Field id="total" label="Total" feedback required=true />
                    <Field id="country" label="Country (ISO 3166 code, optional)" feedback  />
                    <fieldset>
                        <legend>"Line"</legend>
                        <Field id="sku" label="SKU" feedback required=true />
                        <Field id="quantity" label="Quantity" feedback kind="number" value="1" />
                        <Field id="unit_price" label="Unit price" feedback required=true />
                    </fieldset>
                    <Field id="external_id" label="Order id (optional; one is made if blank)" feedback  />
                    <button type="submit" class="button primary">"Save order"</button>
                </ActionForm>
            </DataFrame>
        </Protected>
    }
}

#[cfg(all(test, feature = "ssr"))]
mod tests {
    #[test]
    fn the_segment_filter_offers_every_rfm_segment_with_its_key_and_label() {
        let offered: Vec<(&str, &str)> = super::SEGMENTS.to_vec();
        let known: Vec<(&str, &str)> = analytics::rfm::Segment::ALL
            .iter()
            .map(|s| (s.key(), s.label()))
            .collect();
        assert_eq!(offered, known);
    }
}
