//! The front page: what Sightline is and why a merchant would run it.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::A;

use crate::PRODUCT_NAME;

/// What a first-time visitor reads. Plain HTML, readable with JavaScript off.
#[component]
pub fn Landing() -> impl IntoView {
    view! {
        <Title text="" />
        <section class="hero">
            <h1>{PRODUCT_NAME}</h1>
            <p class="tagline">
                "Customer and commerce insights you run yourself: what your customers say, buy and are about to do — with a confidence and an explanation on every number."
            </p>
            <p class="hero-actions">
                <A href="/sign-in" attr:class="button primary">"Sign in"</A>
            </p>
        </section>
        <section class="features" aria-label="What Sightline does">
            <Feature title="Every channel in one place">
                "Interactions, orders, products, reviews and competitor prices arrive through a REST API, signed webhooks and CSV uploads, validated row by row and never duplicated."
            </Feature>
            <Feature title="Insights that show their work">
                "Sentiment, RFM segments, lifetime value, churn risk, fraud alerts, demand forecasts and pricing suggestions — each with its sample size, an interval and the reasons behind it."
            </Feature>
            <Feature title="Live, and fast on one machine">
                "Dashboards update as data lands and stay interactive at a hundred million events on a single PostgreSQL."
            </Feature>
            <Feature title="Yours to host">
                "One binary, PostgreSQL and optionally Redis. Each organization's data is walled off by the database itself, and nothing leaves your server — not even to score sentiment."
            </Feature>
        </section>
    }
}

#[component]
fn Feature(title: &'static str, children: Children) -> impl IntoView {
    view! {
        <article class="feature">
            <h2>{title}</h2>
            <p>{children()}</p>
        </article>
    }
}
