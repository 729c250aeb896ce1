//! The WASM bundle: hydrates the HTML the server rendered so pages become interactive.
//! Built by `scripts/build-site.sh` (cargo → wasm-bindgen → wasm-opt), never by the server.

use wasm_bindgen::prelude::wasm_bindgen;

/// Called by the hydration script Leptos puts in every server-rendered page.
#[wasm_bindgen]
pub fn hydrate() {
    console_error_panic_hook::set_once();
    leptos::mount::hydrate_body(app::App);
}
