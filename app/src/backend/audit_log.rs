//! `GET /api/v1/audit-log` (SPEC AUTH-6): the organization's audit trail, newest first,
//! filtered by action, actor and time, paged by cursor, or downloaded as CSV.

use chrono::{DateTime, Utc};
use domain::Permission;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use std::collections::HashMap;

use super::caller::Caller;
use super::cursor;
use super::error::{ApiError, FieldError};

/// Rows in one CSV download; a larger log is exported in time windows (`from`/`to`).
const CSV_MAX_ROWS: i64 = 50_000;

/// What to list; every field optional.
#[derive(Debug, Default, Deserialize)]
pub struct Filters {
    pub action: Option<String>,
    pub actor: Option<Uuid>,
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
    pub limit: Option<i64>,
    pub cursor: Option<String>,
    /// `json` (the default) or `csv`.
    pub format: Option<String>,
}

#[derive(Serialize, sqlx::FromRow)]
pub struct Entry {
    pub id: i64,
    pub occurred_at: DateTime<Utc>,
    pub actor_user_id: Option<Uuid>,
    pub actor_api_key_id: Option<Uuid>,
    pub action: String,
    pub target_type: Option<String>,
    pub target_id: Option<String>,
    pub outcome: String,
    pub request_id: Option<String>,
}

/// One page of entries, newest first, or the whole selection as CSV.
pub enum Listing {
    Page {
        data: Vec<Entry>,
        next_cursor: Option<String>,
    },
    Csv(Vec<u8>),
}

fn invalid(field: &str, message: &str) -> ApiError {
    ApiError::Validation(vec![FieldError::new(field, "invalid", message)])
}

/// The entries `filters` select, if the caller may read the audit log.
pub async fn list(mut caller: Caller, filters: &Filters) -> Result<Listing, ApiError> {
    let listing = select(&mut caller, filters).await?;
    caller.tenant.commit().await?;
    Ok(listing)
}

/// As `list`, with the email of every acting person who is still a member, for pages that
/// name people rather than ids.
pub async fn list_with_emails(
    mut caller: Caller,
    filters: &Filters,
) -> Result<(Listing, HashMap<Uuid, String>), ApiError> {
    let listing = select(&mut caller, filters).await?;
    let actors: Vec<Uuid> = match &listing {
        Listing::Page { data, .. } => data.iter().filter_map(|e| e.actor_user_id).collect(),
        Listing::Csv(_) => Vec::new(),
    };
    // Inside the tenant, only current members' rows of `users` are visible.
    let emails: Vec<(Uuid, String)> = sqlx::query_as("select id, email from users where id = any($1)")
        .bind(&actors)
        .fetch_all(caller.tenant.conn())
        .await?;
    caller.tenant.commit().await?;
    Ok((listing, emails.into_iter().collect()))
}

async fn select(caller: &mut Caller, filters: &Filters) -> Result<Listing, ApiError> {
    caller.require(Permission::ReadAuditLog, "audit_log.read").await?;
    let csv = match filters.format.as_deref() {
        None | Some("json") => false,
        Some("csv") => true,
        Some(_) => return Err(invalid("format", "json or csv")),
    };
    let limit = cursor::page_limit(filters.limit)?;
    let after = cursor::start::<i64>(filters.cursor.as_deref())?;
    let fetch = if csv { CSV_MAX_ROWS } else { limit + 1 };
    let org_id = caller.tenant.org_id();
    let mut entries: Vec<Entry> = sqlx::query_as(
        "select id, occurred_at, actor_user_id, actor_api_key_id, action, target_type, target_id, outcome, request_id
         from audit_log
         where org_id = $1
           and ($2::text is null or action = $2)
           and ($3::uuid is null or actor_user_id = $3)
           and ($4::timestamptz is null or occurred_at >= $4)
           and ($5::timestamptz is null or occurred_at < $5)
           and ($6::timestamptz is null or (occurred_at, id) < ($6, $7))
         order by occurred_at desc, id desc
         limit $8",
    )
    .bind(org_id)
    .bind(filters.action.as_deref())
    .bind(filters.actor)
    .bind(filters.from)
    .bind(filters.to)
    .bind(after.map(|(time, _)| time))
    .bind(after.map_or(0, |(_, id)| id))
    .bind(fetch)
    .fetch_all(caller.tenant.conn())
    .await?;

    if csv {
        return to_csv(&entries).map(Listing::Csv);
    }
    let next_cursor = if entries.len() as i64 > limit {
        entries.truncate(limit as usize);
        entries.last().map(|e| cursor::encode(e.occurred_at, e.id))
    } else {
        None
    };
    Ok(Listing::Page {
        data: entries,
        next_cursor,
    })
}

fn to_csv(entries: &[Entry]) -> Result<Vec<u8>, ApiError> {
    let mut writer = csv::Writer::from_writer(Vec::new());
    for entry in entries {
        writer.serialize(entry).map_err(ApiError::internal)?;
    }
    writer
        .into_inner()
        .map_err(|e| ApiError::internal(e.into_error()))
}
