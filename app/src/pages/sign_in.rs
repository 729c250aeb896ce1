//! Sign-in page. The form is shown as it will be; browser sessions are not enabled yet, so it
//! says so instead of pretending to work (API clients can already sign in).

use leptos::prelude::*;
use leptos_meta::Title;

#[component]
pub fn SignIn() -> impl IntoView {
    view! {
        <Title text="Sign in" />
        <section class="card narrow">
            <h1>"Sign in"</h1>
            <p class="notice" role="status">
                "Signing in from the browser is not enabled on this server yet. API clients can already sign in (POST /api/v1/auth/login), and the demo login printed by the set-up command will work here as soon as browser sign-in is."
            </p>
            <form class="stacked" aria-describedby="sign-in-disabled">
                <label for="email">"Email"</label>
                <input id="email" name="email" type="email" autocomplete="username" required disabled />
                <label for="password">"Password"</label>
                <input id="password" name="password" type="password" autocomplete="current-password" required disabled />
                <button type="submit" class="button primary" disabled>"Sign in"</button>
                <p id="sign-in-disabled" class="hint">"Browser sign-in is disabled for now."</p>
            </form>
        </section>
    }
}
