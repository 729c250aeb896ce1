//! `Idempotency-Key` for single-record requests (SPEC ING-6): a client that retries after a
//! lost response gets the first answer again, and nothing new is written. The key is claimed
//! in the request's own transaction, so a concurrent retry waits for the first to commit (and
//! then reads its answer) or to roll back (and then runs itself).

use serde_json::Value;
use sha2::{Digest, Sha256};
use uuid::Uuid;

use super::super::error::{ApiError, FieldError};
use super::super::tenant::TenantTx;
use super::interactions::{Outcome, Written};

/// Longest accepted key.
const MAX_KEY_LEN: usize = 200;

fn fingerprint(record: &Value) -> Vec<u8> {
    Sha256::digest(record.to_string().as_bytes()).to_vec()
}

/// Claims `key` for this request; when it was used before for the same record, answers what
/// that request stored (nothing is to be written). A key used for a different record: 409.
pub async fn claim(tenant: &mut TenantTx, key: &str, record: &Value) -> Result<Option<Written>, ApiError> {
    if key.is_empty() || key.len() > MAX_KEY_LEN || !key.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(ApiError::Validation(vec![FieldError::new(
            "Idempotency-Key",
            "invalid",
            format!("1 to {MAX_KEY_LEN} visible ASCII characters"),
        )]));
    }
    let hash = fingerprint(record);
    let claimed = sqlx::query(
        "insert into idempotency_keys (org_id, key, request_hash, response) values ($1, $2, $3, 'null')
         on conflict (org_id, key) do nothing",
    )
    .bind(tenant.org_id())
    .bind(key)
    .bind(&hash)
    .execute(tenant.conn())
    .await?;
    if claimed.rows_affected() == 1 {
        return Ok(None);
    }
    let (earlier_hash, response): (Vec<u8>, Value) =
        sqlx::query_as("select request_hash, response from idempotency_keys where org_id = $1 and key = $2")
            .bind(tenant.org_id())
            .bind(key)
            .fetch_one(tenant.conn())
            .await?;
    if earlier_hash != hash {
        return Err(ApiError::Conflict(
            "this Idempotency-Key was already used for a different request; use a new key".into(),
        ));
    }
    let id = |name: &str| {
        response[name]
            .as_str()
            .and_then(|s| s.parse::<Uuid>().ok())
            .ok_or_else(|| {
                ApiError::internal(std::io::Error::other("a stored idempotent answer is unreadable"))
            })
    };
    Ok(Some(Written {
        id: id("id")?,
        customer_id: id("customer_id")?,
        outcome: Outcome::Unchanged,
    }))
}

/// Stores the answer for a claimed key, in the same transaction as the write.
pub async fn remember(tenant: &mut TenantTx, key: &str, written: &Written) -> Result<(), ApiError> {
    sqlx::query("update idempotency_keys set response = $3 where org_id = $1 and key = $2")
        .bind(tenant.org_id())
        .bind(key)
        .bind(serde_json::json!({ "id": written.id, "customer_id": written.customer_id }))
        .execute(tenant.conn())
        .await?;
    Ok(())
}
