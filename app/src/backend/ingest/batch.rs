//! Batches of records (SPEC ING-4, ING-5): parse every record, then either write all or
//! nothing (`atomic`, the default) or write the valid ones and report the rest (`partial`).
//! One transaction per batch, recorded in `import_batches` for lineage.

use chrono::Utc;
use domain::records::Interaction;
use domain::Permission;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use uuid::Uuid;

use super::super::caller::Caller;
use super::super::error::{ApiError, FieldError};
use super::super::state::AppState;
use super::interactions::{self, Outcome, Written};

/// Records one batch may hold.
pub const MAX_RECORDS: usize = 1_000;

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    /// Everything or nothing.
    #[default]
    Atomic,
    /// The valid records; the rest are reported.
    Partial,
}

/// What a batch did: how many records were accepted, and why the others were not.
#[derive(Debug, Serialize)]
pub struct BatchResult {
    pub accepted: usize,
    pub rejected: Vec<FieldError>,
    /// The batch these rows trace back to.
    pub batch_id: Uuid,
}

/// Parses and writes a batch of interactions for the caller (who needs `ingest`).
pub async fn ingest_interactions(
    state: &AppState,
    mut caller: Caller,
    records: &[Value],
    mode: Mode,
) -> Result<BatchResult, ApiError> {
    caller
        .require(Permission::Ingest, "interactions.ingested")
        .await?;
    if records.len() > MAX_RECORDS {
        return Err(ApiError::Validation(vec![FieldError::new(
            "records",
            "too_long",
            format!(
                "at most {MAX_RECORDS} records per batch; send more in several batches or as a CSV import"
            ),
        )]));
    }
    let now = Utc::now();
    let mut valid = Vec::with_capacity(records.len());
    let mut rejected = Vec::new();
    for (index, record) in records.iter().enumerate() {
        match Interaction::parse(record, now) {
            Ok(parsed) => valid.push(parsed),
            Err(issues) => rejected.extend(issues.into_iter().map(|i| FieldError::of_record(Some(index), i))),
        }
    }
    if mode == Mode::Atomic && !rejected.is_empty() {
        return Err(ApiError::Validation(rejected));
    }
    let rejected_records = rejected
        .iter()
        .filter_map(|e| e.index)
        .collect::<std::collections::BTreeSet<_>>()
        .len();

    interactions::prepare_months(&state.db, valid.iter().map(|r| r.occurred_at)).await?;
    let org_id = caller.tenant.org_id();
    let batch_id: Uuid = sqlx::query_scalar(
        "insert into import_batches
             (org_id, source, entity, status, rows_total, rows_done, rows_accepted, rows_rejected,
              created_by, created_by_api_key, finished_at)
         values ($1, 'rest', 'interactions', 'succeeded', $2, $2, $3, $4, $5, $6, now())
         returning id",
    )
    .bind(org_id)
    .bind(records.len() as i64)
    .bind(valid.len() as i64)
    .bind(rejected_records as i64)
    .bind(caller.user_id())
    .bind(caller.api_key_id())
    .fetch_one(caller.tenant.conn())
    .await?;
    interactions::write(&mut caller.tenant, &valid, Some(batch_id)).await?;
    caller.tenant.commit().await?;
    Ok(BatchResult {
        accepted: valid.len(),
        rejected,
        batch_id,
    })
}

/// Parses and writes one interaction; answers where it is stored and whether it is new.
pub async fn ingest_interaction(
    state: &AppState,
    mut caller: Caller,
    record: &Value,
) -> Result<Written, ApiError> {
    caller
        .require(Permission::Ingest, "interactions.ingested")
        .await?;
    let parsed = Interaction::parse(record, Utc::now()).map_err(|issues| {
        ApiError::Validation(
            issues
                .into_iter()
                .map(|i| FieldError::of_record(None, i))
                .collect(),
        )
    })?;
    interactions::prepare_months(&state.db, [parsed.occurred_at]).await?;
    let written = interactions::write(&mut caller.tenant, std::slice::from_ref(&parsed), None).await?;
    caller.tenant.commit().await?;
    Ok(written[0])
}

impl Written {
    /// Whether the request stored something (201) or found it already there (200).
    pub fn stored_something(&self) -> bool {
        self.outcome != Outcome::Unchanged
    }
}
