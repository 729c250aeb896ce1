//! Sightline's user interface: the HTML shell, the router and every page.
//! Compiled twice: with `ssr` into the server, with `hydrate` into the WASM bundle.

#![recursion_limit = "256"]

pub mod account;
#[cfg(feature = "ssr")]
pub mod backend;
pub mod dashboard;
pub mod data;
mod layout;
pub mod live;
mod pages;
pub mod settings;
mod theme;
pub mod ui_error;

use leptos::prelude::*;
use leptos_meta::{provide_meta_context, MetaTags, Stylesheet, Title};
use leptos_router::{
    components::{Route, Router, Routes},
    path, SsrMode,
};

use account::{AcceptInvitationPage, RegisterPage, SignInPage};
use dashboard::DashboardPage;
use data::{
    CustomerPage, CustomersPage, ImportPage, NewInteractionPage, NewOrderPage, SearchPage, VoicePage,
};
use layout::Layout;
use pages::{Landing, NotFound};
use settings::{ApiKeysPage, AuditLogPage, MembersPage};

/// The product name as users see it; tests look for it in server-rendered HTML.
pub const PRODUCT_NAME: &str = "Sightline";

/// The HTML document every page is rendered into on the server.
pub fn shell(options: LeptosOptions) -> impl IntoView {
    view! {
        <!DOCTYPE html>
        <html lang="en">
            <head>
                <meta charset="utf-8" />
                <meta name="viewport" content="width=device-width, initial-scale=1" />
                <meta name="description" content="Sightline: self-hosted customer and commerce insights with a confidence and an explanation on every number." />
                <link rel="icon" href="/favicon.svg" type="image/svg+xml" />
                // ECharts, vendored from npm by the set-up step; `defer` runs it before the
                // hydration module, so the charts find it.
                <script defer src="/echarts.min.js"></script>
                <HydrationScripts options />
                <MetaTags />
            </head>
            <body>
                <App />
            </body>
        </html>
    }
}

/// The root component: meta context, stylesheet and routes.
#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();
    account::provide_viewer();

    view! {
        <Stylesheet id="sightline-css" href="/pkg/sightline.css" />
        <Title formatter=|page: String| {
            if page.is_empty() { PRODUCT_NAME.to_string() } else { format!("{page} · {PRODUCT_NAME}") }
        } />
        <Router>
            <Layout>
                <Routes fallback=NotFound>
                    <Route path=path!("") view=Landing />
                    <Route path=path!("sign-in") view=SignInPage />
                    <Route path=path!("register") view=RegisterPage />
                    <Route path=path!("invitations/accept") view=AcceptInvitationPage />
                    // Async: the page is sent only once the session is known, so a signed-out
                    // visitor gets a real redirect instead of a flash of the page.
                    <Route path=path!("app") view=DashboardPage ssr=SsrMode::Async />
                    <Route path=path!("settings/members") view=MembersPage ssr=SsrMode::Async />
                    <Route path=path!("settings/api-keys") view=ApiKeysPage ssr=SsrMode::Async />
                    <Route path=path!("settings/audit-log") view=AuditLogPage ssr=SsrMode::Async />
                    <Route path=path!("customers") view=CustomersPage ssr=SsrMode::Async />
                    <Route path=path!("customers/:id") view=CustomerPage ssr=SsrMode::Async />
                    <Route path=path!("search") view=SearchPage ssr=SsrMode::Async />
                    <Route path=path!("insights") view=VoicePage ssr=SsrMode::Async />
                    <Route path=path!("data/interaction") view=NewInteractionPage ssr=SsrMode::Async />
                    <Route path=path!("data/order") view=NewOrderPage ssr=SsrMode::Async />
                    <Route path=path!("imports/new") view=ImportPage ssr=SsrMode::Async />
                </Routes>
            </Layout>
        </Router>
    }
}
