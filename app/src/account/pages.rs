//! Account pages: sign in, register, accept an invitation, the signed-in home, and the parts
//! of the header that depend on who is signed in. Every form is a real HTML form: it works
//! without JavaScript and is enhanced by it.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::{Redirect, A};
use leptos_router::hooks::{use_location, use_query_map};

use super::forms::{encode_query_value, feedback, FieldAlert, FormAlert};
use super::server_fns::{AcceptInvitation, Register, SignIn, SignOut, SwitchOrganization, Viewer};
use crate::ui_error::UiError;

/// After an action that changed the session succeeds, loads the page it names from scratch,
/// so nothing rendered for the old session (the header, cached lists) survives.
pub fn navigate_after(result: impl Get<Value = Option<Result<String, UiError>>> + Send + Sync + 'static) {
    Effect::new(move |_| {
        if let Some(Ok(to)) = result.get() {
            #[cfg(feature = "hydrate")]
            {
                let _ = window().location().set_href(&to);
            }
            #[cfg(not(feature = "hydrate"))]
            let _ = to;
        }
    });
}

/// Who is signed in, loaded once per page load and shared through context.
pub type ViewerResource = Resource<Result<Option<Viewer>, UiError>>;

/// Loads the viewer and provides it to every page.
pub fn provide_viewer() {
    let viewer: ViewerResource = Resource::new(|| (), |_| super::server_fns::current_viewer());
    provide_context(viewer);
}

/// The signed-in person and organization, loaded once per page.
pub fn viewer_resource() -> ViewerResource {
    expect_context::<ViewerResource>()
}

/// Renders `children` for a signed-in visitor; sends anyone else to sign in, with the way
/// back in `next`.
#[component]
pub fn Protected(children: ChildrenFn) -> impl IntoView {
    let viewer = viewer_resource();
    let location = use_location();
    let children = StoredValue::new(children);
    view! {
        <Suspense fallback=|| view! { <p class="loading">"Loading…"</p> }>
            {move || Suspend::new(async move {
                match viewer.await {
                    Ok(Some(_)) => children.read_value()().into_any(),
                    _ => {
                        let path = location.pathname.get_untracked();
                        let search = location.search.get_untracked();
                        let search = search.trim_start_matches('?');
                        let here = if search.is_empty() { path } else { format!("{path}?{search}") };
                        let to = format!("/sign-in?next={}", encode_query_value(&here));
                        view! { <Redirect path=to /> }.into_any()
                    }
                }
            })}
        </Suspense>
    }
}

/// The signed-in person's corner of the header: organization switcher, settings, sign out;
/// or the way in for visitors.
#[component]
pub fn AccountNav() -> impl IntoView {
    let viewer = viewer_resource();
    view! {
        <Transition fallback=|| ()>
            {move || Suspend::new(async move {
                match viewer.await {
                    Ok(Some(viewer)) => view! { <SignedInNav viewer /> }.into_any(),
                    _ => view! {
                        <ul class="nav-links">
                            <li><A href="/sign-in">"Sign in"</A></li>
                            <li><A href="/register">"Create account"</A></li>
                        </ul>
                    }
                    .into_any(),
                }
            })}
        </Transition>
    }
}

#[component]
fn SignedInNav(viewer: Viewer) -> impl IntoView {
    let sign_out = ServerAction::<SignOut>::new();
    navigate_after(sign_out.value());
    let switch = ServerAction::<SwitchOrganization>::new();
    navigate_after(switch.value());
    let current = viewer.organization.slug.clone();
    let several = viewer.organizations.len() > 1;
    view! {
        <ul class="nav-links">
            <li><A href="/app">"Dashboard"</A></li>
            <li><A href="/customers">"Customers"</A></li>
            <li><A href="/imports/new">"Import"</A></li>
            <li><A href="/settings/members">"Settings"</A></li>
        </ul>
        <div class="account">
            {several.then(|| view! {
                <ActionForm action=switch attr:class="org-switcher">
                    <label for="org-switch" class="visually-hidden">"Organization"</label>
                    <select id="org-switch" name="slug">
                        {viewer.organizations.iter().map(|o| {
                            let selected = o.slug == current;
                            view! { <option value=o.slug.clone() selected=selected>{o.name.clone()}</option> }
                        }).collect_view()}
                    </select>
                    <button type="submit" class="button">"Switch"</button>
                </ActionForm>
            })}
            {(!several).then(|| view! { <span class="org-name">{viewer.organization.name.clone()}</span> })}
            <span class="who" title=viewer.role.clone()>{viewer.email.clone()}</span>
            <ActionForm action=sign_out attr:class="inline">
                <button type="submit" class="button">"Sign out"</button>
            </ActionForm>
        </div>
    }
}

#[component]
pub fn SignInPage() -> impl IntoView {
    let action = ServerAction::<SignIn>::new();
    navigate_after(action.value());
    let feedback = feedback(action.value());
    let query = use_query_map();
    let next = move || query.with(|q| q.get("next")).unwrap_or_default();
    view! {
        <Title text="Sign in" />
        <section class="card narrow">
            <h1>"Sign in"</h1>
            <ActionForm action attr:class="stacked" attr:novalidate=true>
                <FormAlert feedback />
                <input type="hidden" name="next" value=next />
                <label for="email">"Email"</label>
                <input id="email" name="email" type="email" autocomplete="username" required />
                <FieldAlert feedback field="email" />
                <label for="password">"Password"</label>
                <input id="password" name="password" type="password" autocomplete="current-password" required />
                <FieldAlert feedback field="password" />
                <button type="submit" class="button primary" disabled=move || action.pending().get()>
                    "Sign in"
                </button>
            </ActionForm>
            <p class="hint">"New here? " <A href="/register">"Create an account"</A></p>
        </section>
    }
}

#[component]
pub fn RegisterPage() -> impl IntoView {
    let action = ServerAction::<Register>::new();
    navigate_after(action.value());
    let feedback = feedback(action.value());
    view! {
        <Title text="Create account" />
        <section class="card narrow">
            <h1>"Create your account"</h1>
            <p>"You become the owner of a new organization; invite your team from Settings."</p>
            <ActionForm action attr:class="stacked" attr:novalidate=true>
                <FormAlert feedback />
                <label for="organization">"Organization name"</label>
                <input id="organization" name="organization" type="text" autocomplete="organization" required />
                <FieldAlert feedback field="organization" />
                <label for="email">"Email"</label>
                <input id="email" name="email" type="email" autocomplete="username" required />
                <FieldAlert feedback field="email" />
                <label for="password">"Password"</label>
                <input id="password" name="password" type="password" autocomplete="new-password" minlength="12" required aria-describedby="password-hint" />
                <p id="password-hint" class="hint">"At least 12 characters, and not a commonly used password."</p>
                <FieldAlert feedback field="password" />
                <button type="submit" class="button primary" disabled=move || action.pending().get()>
                    "Create account"
                </button>
            </ActionForm>
            <p class="hint">"Already have an account? " <A href="/sign-in">"Sign in"</A></p>
        </section>
    }
}

#[component]
pub fn AcceptInvitationPage() -> impl IntoView {
    let action = ServerAction::<AcceptInvitation>::new();
    navigate_after(action.value());
    let feedback = feedback(action.value());
    let query = use_query_map();
    let token = move || query.with(|q| q.get("token")).unwrap_or_default();
    view! {
        <Title text="Accept invitation" />
        <section class="card narrow">
            <h1>"Join your team on Sightline"</h1>
            <p>"New to Sightline? Choose a password for your account. Already have one? Enter its password."</p>
            <ActionForm action attr:class="stacked" attr:novalidate=true>
                <FormAlert feedback />
                <input type="hidden" name="token" value=token />
                <label for="password">"Password"</label>
                <input id="password" name="password" type="password" autocomplete="new-password" required />
                <FieldAlert feedback field="password" />
                <button type="submit" class="button primary" disabled=move || action.pending().get()>
                    "Accept invitation"
                </button>
            </ActionForm>
        </section>
    }
}
