//! `GET /api/v1/audit-log` (SPEC AUTH-6): the organization's audit trail, newest first,
//! filtered by action, actor and time, paged by cursor, or downloaded as CSV.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use chrono::{DateTime, Utc};
use domain::Permission;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::caller::Caller;
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

/// The position after an entry, as an opaque string.
fn encode_cursor(entry: &Entry) -> String {
    URL_SAFE_NO_PAD.encode(format!("{}|{}", entry.occurred_at.to_rfc3339(), entry.id))
}

fn decode_cursor(cursor: &str) -> Option<(DateTime<Utc>, i64)> {
    let text = String::from_utf8(URL_SAFE_NO_PAD.decode(cursor).ok()?).ok()?;
    let (time, id) = text.split_once('|')?;
    Some((
        DateTime::parse_from_rfc3339(time).ok()?.with_timezone(&Utc),
        id.parse().ok()?,
    ))
}

/// The entries `filters` select, if the caller may read the audit log.
pub async fn list(mut caller: Caller, filters: &Filters) -> Result<Listing, ApiError> {
    caller.require(Permission::ReadAuditLog, "audit_log.read").await?;
    let csv = match filters.format.as_deref() {
        None | Some("json") => false,
        Some("csv") => true,
        Some(_) => return Err(invalid("format", "json or csv")),
    };
    let limit = match filters.limit {
        None => 50,
        Some(n @ 1..=100) => n,
        Some(_) => return Err(invalid("limit", "between 1 and 100")),
    };
    let after = match filters.cursor.as_deref() {
        None => None,
        Some(cursor) => {
            Some(decode_cursor(cursor).ok_or_else(|| invalid("cursor", "not a cursor from this list"))?)
        }
    };
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
    caller.tenant.commit().await?;

    if csv {
        return to_csv(&entries).map(Listing::Csv);
    }
    let next_cursor = if entries.len() as i64 > limit {
        entries.truncate(limit as usize);
        entries.last().map(encode_cursor)
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

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn cursors_round_trip(seconds in 0i64..4_000_000_000, nanos in 0u32..1_000_000_000, id in 1i64..i64::MAX) {
            let occurred_at = DateTime::from_timestamp(seconds, nanos).unwrap();
            let entry = Entry {
                id,
                occurred_at,
                actor_user_id: None,
                actor_api_key_id: None,
                action: "x".into(),
                target_type: None,
                target_id: None,
                outcome: "success".into(),
                request_id: None,
            };
            prop_assert_eq!(decode_cursor(&encode_cursor(&entry)), Some((occurred_at, id)));
        }

        #[test]
        fn garbage_is_not_a_cursor(text in "\\PC{0,40}") {
            let _ = decode_cursor(&text);
        }
    }
}
