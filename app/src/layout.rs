//! The frame around every page: header with navigation and theme switch, main area, footer.

use leptos::prelude::*;
use leptos_router::components::A;

use crate::account::AccountNav;
use crate::theme::{Theme, ThemeToggle};
use crate::PRODUCT_NAME;

/// Page frame. `data-hydrated` turns `true` once the WASM has taken over, so browser tests
/// (and curious users in devtools) can tell a hydrated page from a server-rendered one.
#[component]
pub fn Layout(children: Children) -> impl IntoView {
    let theme = RwSignal::new(Theme::Light);
    let hydrated = RwSignal::new(false);
    Effect::new(move |_| {
        theme.set(Theme::stored_or_preferred());
        hydrated.set(true);
    });

    view! {
        <div
            class="app"
            data-theme=move || theme.get().as_str()
            data-hydrated=move || hydrated.get().to_string()
        >
            <a class="skip-link" href="#content">"Skip to content"</a>
            <header class="site-header">
                <A href="/" attr:class="brand">
                    <span class="brand-mark" aria-hidden="true">"◎"</span>
                    {PRODUCT_NAME}
                </A>
                <nav aria-label="Main" class="main-nav">
                    <AccountNav />
                </nav>
                <ThemeToggle theme />
            </header>
            <main id="content" class="site-main">{children()}</main>
            <footer class="site-footer">
                <p>{PRODUCT_NAME}" — self-hosted customer and commerce insights."</p>
            </footer>
        </div>
    }
}
