//! Server functions behind Settings: members and invitations, API keys, the audit log. Each
//! acts as the signed-in member through the same backend rules as the REST API (roles,
//! scopes, last owner, 404 and an audit entry for ids of other organizations).

use leptos::prelude::*;
use serde::{Deserialize, Serialize};

use crate::ui_error::UiError;

/// A member as the Members page lists them.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MemberRow {
    pub user_id: String,
    pub email: String,
    pub role: String,
    pub joined_on: String,
}

/// An API key as the API keys page lists it (never the key itself).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiKeyRow {
    pub id: String,
    pub name: String,
    pub scopes: Vec<String>,
    pub prefix: String,
    pub created_on: String,
    pub last_used: Option<String>,
    pub revoked: bool,
}

/// A value shown once, right after it was made.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Flash {
    /// A new API key: shown now, never again.
    ApiKey { name: String, key: String },
    /// The link that lets `email` join.
    Invitation {
        email: String,
        role: String,
        link: String,
    },
}

/// One audit log line as the page shows it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditRow {
    pub occurred_at: String,
    pub actor: String,
    pub action: String,
    pub target: String,
    pub outcome: String,
    pub request_id: String,
}

/// A page of the audit log and the cursor to the next one.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditPage {
    pub rows: Vec<AuditRow>,
    pub next_cursor: Option<String>,
}

#[cfg(feature = "ssr")]
fn when(at: chrono::DateTime<chrono::Utc>) -> String {
    at.format("%Y-%m-%d %H:%M UTC").to_string()
}

#[cfg(feature = "ssr")]
fn parse_id(id: &str) -> Result<uuid::Uuid, UiError> {
    // Not an id at all: nothing by that id exists here.
    uuid::Uuid::parse_str(id).map_err(|_| UiError::NotFound)
}

#[server(prefix = "/rpc", endpoint = "members")]
pub async fn list_members() -> Result<Vec<MemberRow>, UiError> {
    use crate::backend::{members, web};
    let rows = members::list(web::caller().await?).await?;
    Ok(rows
        .into_iter()
        .map(|m| MemberRow {
            user_id: m.user_id.to_string(),
            email: m.email,
            role: m.role,
            joined_on: m.joined_at.format("%Y-%m-%d").to_string(),
        })
        .collect())
}

#[server(prefix = "/rpc", endpoint = "invite-member")]
pub async fn invite_member(email: String, role: String) -> Result<Flash, UiError> {
    use crate::backend::{invitations, web};
    // Read from the request before the first await (see `web::caller`).
    let (caller, origin, plain, session) = (
        web::caller(),
        web::site_origin(),
        web::is_plain_form_post(),
        web::session_now(),
    );
    let result = async {
        let created = invitations::create(caller.await?, &email, &role).await?;
        let flash = Flash::Invitation {
            email: created.email,
            role: created.role.as_str().to_owned(),
            link: format!("{origin}{}", created.accept_url),
        };
        if plain {
            web::set_flash(session, &flash).await?;
        }
        Ok(flash)
    }
    .await;
    web::finish(result)
}

#[server(prefix = "/rpc", endpoint = "change-member-role")]
pub async fn change_member_role(user_id: String, role: String) -> Result<(), UiError> {
    use crate::backend::{members, web};
    let result = async {
        let user_id = parse_id(&user_id)?;
        members::change_role(web::caller().await?, user_id, &role).await?;
        Ok(())
    }
    .await;
    web::finish(result)
}

#[server(prefix = "/rpc", endpoint = "remove-member")]
pub async fn remove_member(user_id: String) -> Result<(), UiError> {
    use crate::backend::{members, web};
    let result = async {
        let user_id = parse_id(&user_id)?;
        members::remove(web::caller().await?, user_id).await?;
        Ok(())
    }
    .await;
    web::finish(result)
}

#[server(prefix = "/rpc", endpoint = "api-keys")]
pub async fn list_api_keys() -> Result<Vec<ApiKeyRow>, UiError> {
    use crate::backend::{api_keys, web};
    let keys = api_keys::list(web::caller().await?).await?;
    Ok(keys
        .into_iter()
        .map(|k| ApiKeyRow {
            id: k.id.to_string(),
            name: k.name,
            scopes: k.scopes,
            prefix: k.prefix,
            created_on: k.created_at.format("%Y-%m-%d").to_string(),
            last_used: k.last_used_at.map(when),
            revoked: k.revoked_at.is_some(),
        })
        .collect())
}

/// Checkboxes send `on` when ticked and nothing otherwise, hence one field per scope.
#[server(prefix = "/rpc", endpoint = "create-api-key")]
pub async fn create_api_key(
    name: String,
    scope_ingest: Option<String>,
    scope_read: Option<String>,
    scope_admin: Option<String>,
) -> Result<Flash, UiError> {
    use crate::backend::{api_keys, web};
    // Read from the request before the first await (see `web::caller`).
    let (caller, plain, session) = (web::caller(), web::is_plain_form_post(), web::session_now());
    let result = async {
        let scopes: Vec<String> = [
            ("ingest", scope_ingest),
            ("read", scope_read),
            ("admin", scope_admin),
        ]
        .into_iter()
        .filter(|(_, ticked)| ticked.is_some())
        .map(|(scope, _)| scope.to_owned())
        .collect();
        let created = api_keys::create(caller.await?, &name, &scopes).await?;
        let flash = Flash::ApiKey {
            name: created.name,
            key: created.key,
        };
        if plain {
            web::set_flash(session, &flash).await?;
        }
        Ok(flash)
    }
    .await;
    web::finish(result)
}

#[server(prefix = "/rpc", endpoint = "revoke-api-key")]
pub async fn revoke_api_key(id: String) -> Result<(), UiError> {
    use crate::backend::{api_keys, web};
    let result = async {
        let id = parse_id(&id)?;
        api_keys::revoke(web::caller().await?, id).await?;
        Ok(())
    }
    .await;
    web::finish(result)
}

/// The value a plain form post left for this render, if any (removed as it is read).
#[server(prefix = "/rpc", endpoint = "take-flash")]
pub async fn take_flash() -> Result<Option<Flash>, UiError> {
    crate::backend::web::take_flash().await
}

/// The audit log page the filters select. Empty filters mean "any"; dates are days (UTC).
#[server(prefix = "/rpc", endpoint = "audit-log")]
pub async fn audit_entries(
    action: Option<String>,
    from: Option<String>,
    to: Option<String>,
    cursor: Option<String>,
) -> Result<AuditPage, UiError> {
    use crate::backend::audit_log::{self, Filters, Listing};
    use crate::backend::web;
    use crate::ui_error::FieldProblem;

    let day = |field: &str, value: Option<String>, shift: i64| -> Result<_, UiError> {
        match value.filter(|v| !v.trim().is_empty()) {
            None => Ok(None),
            Some(text) => chrono::NaiveDate::parse_from_str(text.trim(), "%Y-%m-%d")
                .map(|d| {
                    Some(
                        (d + chrono::Days::new(shift as u64))
                            .and_time(chrono::NaiveTime::MIN)
                            .and_utc(),
                    )
                })
                .map_err(|_| {
                    UiError::Invalid(vec![FieldProblem {
                        field: field.to_owned(),
                        message: "a date like 2026-11-22".into(),
                    }])
                }),
        }
    };
    let filters = Filters {
        action: action
            .filter(|a| !a.trim().is_empty())
            .map(|a| a.trim().to_owned()),
        actor: None,
        // `to` is inclusive on the page: up to the end of that day.
        from: day("from", from, 0)?,
        to: day("to", to, 1)?,
        limit: Some(50),
        cursor: cursor.filter(|c| !c.is_empty()),
        format: None,
    };
    let (listing, names) = audit_log::list_with_emails(web::caller().await?, &filters).await?;
    let Listing::Page { data, next_cursor } = listing else {
        return Err(UiError::Internal { request_id: None });
    };
    let rows = data
        .into_iter()
        .map(|e| AuditRow {
            occurred_at: e.occurred_at.format("%Y-%m-%d %H:%M:%S UTC").to_string(),
            actor: match (e.actor_user_id, e.actor_api_key_id) {
                (Some(user), _) => names.get(&user).cloned().unwrap_or_else(|| user.to_string()),
                (None, Some(key)) => format!("API key {key}"),
                (None, None) => "—".to_owned(),
            },
            action: e.action,
            target: match (e.target_type, e.target_id) {
                (Some(kind), Some(id)) => format!("{kind} {id}"),
                (None, Some(id)) => id,
                _ => String::new(),
            },
            outcome: e.outcome,
            request_id: e.request_id.unwrap_or_default(),
        })
        .collect();
    Ok(AuditPage { rows, next_cursor })
}
