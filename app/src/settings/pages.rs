//! Settings → Members, API keys, Audit log. Lists are rendered on the server; every change
//! is a real form (works without JavaScript, which only saves the page reload).

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::A;
use leptos_router::hooks::use_query_map;

use super::server_fns::{
    audit_entries, list_api_keys, list_members, take_flash, ChangeMemberRole, CreateApiKey, Flash,
    InviteMember, RemoveMember, RevokeApiKey,
};
use crate::account::{feedback, FieldAlert, FormAlert, Protected, ViewerResource};
use crate::ui_error::UiError;

const ROLES: [&str; 4] = ["owner", "admin", "analyst", "viewer"];

/// The frame of every settings page: its own navigation beside the content.
#[component]
fn SettingsFrame(title: &'static str, children: Children) -> impl IntoView {
    view! {
        <Title text=title />
        <div class="settings">
            <nav class="settings-nav" aria-label="Settings">
                <ul>
                    <li><A href="/settings/members">"Members"</A></li>
                    <li><A href="/settings/api-keys">"API keys"</A></li>
                    <li><A href="/settings/audit-log">"Audit log"</A></li>
                </ul>
            </nav>
            <section class="card">
                <h1>{title}</h1>
                {children()}
            </section>
        </div>
    }
}

/// What a failed load shows instead of the list.
fn load_error(error: UiError) -> AnyView {
    view! { <p class="form-error" role="alert">{error.to_string()}</p> }.into_any()
}

/// A one-time value: from the latest action (JavaScript) or left in the session by a plain
/// form post. The session's value is taken (and so removed) when read, so it is awaited inside
/// `Suspense`: the server's HTML then always carries it, however slowly the read answers.
#[component]
fn FlashNotice(action_value: Signal<Option<Flash>>) -> impl IntoView {
    let kept = Resource::new(|| (), |_| take_flash());
    view! {
        <Suspense fallback=|| ()>
            {move || {
                let latest = action_value.get();
                Suspend::new(async move {
                    let flash = latest.or(kept.await.ok().flatten());
                    flash.map(flash_view)
                })
            }}
        </Suspense>
    }
}

fn flash_view(flash: Flash) -> AnyView {
    match flash {
        Flash::ApiKey { name, key } => view! {
            <div class="notice" role="status">
                <p>"Your new key “" {name} "”. Copy it now: it will not be shown again."</p>
                <p class="secret" data-testid="new-api-key">{key}</p>
            </div>
        }
        .into_any(),
        Flash::Invitation { email, role, link } => view! {
            <div class="notice" role="status">
                <p>"Send this link to " <strong>{email}</strong> " to join as " {role} ". It works once, for 7 days."</p>
                <p class="secret" data-testid="invitation-link">{link}</p>
            </div>
        }
        .into_any(),
    }
}

#[component]
pub fn MembersPage() -> impl IntoView {
    view! {
        <Protected>
            <SettingsFrame title="Members">
                <Members />
            </SettingsFrame>
        </Protected>
    }
}

#[component]
fn Members() -> impl IntoView {
    let viewer = expect_context::<ViewerResource>();
    let invite = ServerAction::<InviteMember>::new();
    let change = ServerAction::<ChangeMemberRole>::new();
    let remove = ServerAction::<RemoveMember>::new();
    let members = Resource::new(
        move || {
            (
                invite.version().get(),
                change.version().get(),
                remove.version().get(),
            )
        },
        |_| list_members(),
    );
    let invite_feedback = feedback(invite.value());
    let change_feedback = feedback(change.value());
    let remove_feedback = feedback(remove.value());
    let flash = Signal::derive(move || invite.value().get().and_then(Result::ok));

    view! {
        <FlashNotice action_value=flash />
        <FormAlert feedback=change_feedback />
        <FormAlert feedback=remove_feedback />
        <Suspense fallback=|| view! { <p class="loading">"Loading members…"</p> }>
            {move || Suspend::new(async move {
                let me = viewer.await.ok().flatten();
                let can_manage = me.as_ref().is_some_and(|v| v.can_manage_members);
                let my_email = me.map(|v| v.email).unwrap_or_default();
                match members.await {
                    Err(error) => load_error(error),
                    Ok(rows) => view! {
                        <table class="data" aria-label="Members">
                            <thead><tr><th>"Email"</th><th>"Role"</th><th>"Joined"</th><th></th></tr></thead>
                            <tbody>
                                {rows.into_iter().map(|m| {
                                    let you = m.email == my_email;
                                    let user_id = m.user_id.clone();
                                    let remove_id = m.user_id.clone();
                                    let role_field = format!("role-{}", m.user_id);
                                    view! {
                                        <tr data-email=m.email.clone()>
                                            <td>{m.email.clone()}{you.then_some(" (you)")}</td>
                                            <td>
                                                {if can_manage {
                                                    let current = m.role.clone();
                                                    view! {
                                                        <ActionForm action=change attr:class="row-actions">
                                                            <input type="hidden" name="user_id" value=user_id.clone() />
                                                            <label class="visually-hidden" for=role_field.clone()>"Role"</label>
                                                            <select name="role" id=role_field.clone()>
                                                                {ROLES.iter().map(|r| view! {
                                                                    <option value=*r selected=*r == current>{*r}</option>
                                                                }).collect_view()}
                                                            </select>
                                                            <button type="submit" class="button">"Change role"</button>
                                                        </ActionForm>
                                                    }.into_any()
                                                } else {
                                                    view! { <span>{m.role.clone()}</span> }.into_any()
                                                }}
                                            </td>
                                            <td>{m.joined_on.clone()}</td>
                                            <td>
                                                {can_manage.then(|| view! {
                                                    <ActionForm action=remove attr:class="inline">
                                                        <input type="hidden" name="user_id" value=remove_id.clone() />
                                                        <button type="submit" class="button">"Remove"</button>
                                                    </ActionForm>
                                                })}
                                            </td>
                                        </tr>
                                    }
                                }).collect_view()}
                            </tbody>
                        </table>
                        {can_manage.then(|| view! {
                            <h2>"Invite someone"</h2>
                            <ActionForm action=invite attr:class="stacked" attr:novalidate=true>
                                <FormAlert feedback=invite_feedback />
                                <label for="invite-email">"Email"</label>
                                <input id="invite-email" name="email" type="email" required />
                                <FieldAlert feedback=invite_feedback field="email" />
                                <label for="invite-role">"Role"</label>
                                <select id="invite-role" name="role">
                                    {ROLES.iter().map(|r| view! {
                                        <option value=*r selected=*r == "analyst">{*r}</option>
                                    }).collect_view()}
                                </select>
                                <FieldAlert feedback=invite_feedback field="role" />
                                <button type="submit" class="button primary">"Create invitation link"</button>
                            </ActionForm>
                        })}
                    }
                    .into_any(),
                }
            })}
        </Suspense>
    }
}

#[component]
pub fn ApiKeysPage() -> impl IntoView {
    view! {
        <Protected>
            <SettingsFrame title="API keys">
                <ApiKeys />
            </SettingsFrame>
        </Protected>
    }
}

#[component]
fn ApiKeys() -> impl IntoView {
    let create = ServerAction::<CreateApiKey>::new();
    let revoke = ServerAction::<RevokeApiKey>::new();
    let keys = Resource::new(
        move || (create.version().get(), revoke.version().get()),
        |_| list_api_keys(),
    );
    let create_feedback = feedback(create.value());
    let revoke_feedback = feedback(revoke.value());
    let flash = Signal::derive(move || create.value().get().and_then(Result::ok));

    view! {
        <p>"Keys let programs send data and read insights as this organization, within their scopes. Send one as " <code>"Authorization: Bearer <key>"</code> "."</p>
        <FlashNotice action_value=flash />
        <FormAlert feedback=revoke_feedback />
        <Suspense fallback=|| view! { <p class="loading">"Loading keys…"</p> }>
            {move || Suspend::new(async move {
                match keys.await {
                    Err(error) => load_error(error),
                    Ok(rows) if rows.is_empty() => view! { <p>"No keys yet."</p> }.into_any(),
                    Ok(rows) => view! {
                        <table class="data" aria-label="API keys">
                            <thead><tr><th>"Name"</th><th>"Key"</th><th>"Scopes"</th><th>"Created"</th><th>"Last used"</th><th></th></tr></thead>
                            <tbody>
                                {rows.into_iter().map(|k| view! {
                                    <tr data-key-name=k.name.clone()>
                                        <td>{k.name.clone()}</td>
                                        <td><code>{k.prefix.clone()}</code></td>
                                        <td>{k.scopes.join(", ")}</td>
                                        <td>{k.created_on.clone()}</td>
                                        <td>{k.last_used.clone().unwrap_or_else(|| "never".into())}</td>
                                        <td>
                                            {if k.revoked {
                                                view! { <span class="hint">"revoked"</span> }.into_any()
                                            } else {
                                                view! {
                                                    <ActionForm action=revoke attr:class="inline">
                                                        <input type="hidden" name="id" value=k.id.clone() />
                                                        <button type="submit" class="button">"Revoke"</button>
                                                    </ActionForm>
                                                }.into_any()
                                            }}
                                        </td>
                                    </tr>
                                }).collect_view()}
                            </tbody>
                        </table>
                    }
                    .into_any(),
                }
            })}
        </Suspense>
        <h2>"Create a key"</h2>
        <ActionForm action=create attr:class="stacked" attr:novalidate=true>
            <FormAlert feedback=create_feedback />
            <label for="key-name">"Name"</label>
            <input id="key-name" name="name" type="text" required placeholder="e.g. Shop webhook" />
            <FieldAlert feedback=create_feedback field="name" />
            <fieldset class="scopes">
                <legend>"Scopes"</legend>
                <label><input type="checkbox" name="scope_ingest" checked=true /> " ingest"</label>
                <label><input type="checkbox" name="scope_read" /> " read"</label>
                <label><input type="checkbox" name="scope_admin" /> " admin"</label>
            </fieldset>
            <FieldAlert feedback=create_feedback field="scopes" />
            <button type="submit" class="button primary">"Create key"</button>
        </ActionForm>
    }
}

#[component]
pub fn AuditLogPage() -> impl IntoView {
    view! {
        <Protected>
            <SettingsFrame title="Audit log">
                <AuditLog />
            </SettingsFrame>
        </Protected>
    }
}

/// Filters are a GET form: the view lives in the address, so it can be bookmarked.
#[component]
fn AuditLog() -> impl IntoView {
    let query = use_query_map();
    let param = move |name: &str| query.with(|q| q.get(name)).filter(|v| !v.is_empty());
    let entries = Resource::new(
        move || (param("action"), param("from"), param("to"), param("cursor")),
        |(action, from, to, cursor)| audit_entries(action, from, to, cursor),
    );
    let csv_href = move || {
        let mut href = "/api/v1/audit-log?format=csv".to_owned();
        if let Some(action) = param("action") {
            href.push_str(&format!(
                "&action={}",
                crate::account::encode_query_value(&action)
            ));
        }
        for (name, suffix) in [("from", "T00:00:00Z"), ("to", "T23:59:59Z")] {
            if let Some(day) = param(name) {
                href.push_str(&format!(
                    "&{name}={}",
                    crate::account::encode_query_value(&format!("{day}{suffix}"))
                ));
            }
        }
        href
    };
    view! {
        <form method="get" action="/settings/audit-log" class="filters">
            <label>"Action"<input type="text" name="action" placeholder="e.g. member.invited" value=move || param("action").unwrap_or_default() /></label>
            <label>"From"<input type="date" name="from" value=move || param("from").unwrap_or_default() /></label>
            <label>"To"<input type="date" name="to" value=move || param("to").unwrap_or_default() /></label>
            <button type="submit" class="button">"Filter"</button>
            <a class="button" href=csv_href download="audit-log.csv">"Download CSV"</a>
        </form>
        <Suspense fallback=|| view! { <p class="loading">"Loading entries…"</p> }>
            {move || Suspend::new(async move {
                match entries.await {
                    Err(error) => load_error(error),
                    Ok(page) if page.rows.is_empty() => view! { <p>"No entries match."</p> }.into_any(),
                    Ok(page) => {
                        let next = page.next_cursor.clone().map(|cursor| {
                            let mut href = format!("/settings/audit-log?cursor={}", crate::account::encode_query_value(&cursor));
                            for name in ["action", "from", "to"] {
                                if let Some(value) = param(name) {
                                    href.push_str(&format!("&{name}={}", crate::account::encode_query_value(&value)));
                                }
                            }
                            href
                        });
                        view! {
                            <table class="data" aria-label="Audit log">
                                <thead><tr><th>"When"</th><th>"Who"</th><th>"Action"</th><th>"Target"</th><th>"Outcome"</th></tr></thead>
                                <tbody>
                                    {page.rows.into_iter().map(|r| view! {
                                        <tr>
                                            <td>{r.occurred_at}</td>
                                            <td>{r.actor}</td>
                                            <td><code>{r.action}</code></td>
                                            <td>{r.target}</td>
                                            <td title=r.request_id>{r.outcome}</td>
                                        </tr>
                                    }).collect_view()}
                                </tbody>
                            </table>
                            {next.map(|href| view! { <p><a href=href>"Older entries →"</a></p> })}
                        }
                        .into_any()
                    }
                }
            })}
        </Suspense>
    }
}
