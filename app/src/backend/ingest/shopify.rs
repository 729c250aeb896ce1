//! Shopify's `orders/create` webhook (SPEC ING-4): verified with `X-Shopify-Hmac-Sha256` (the
//! base64 HMAC-SHA256 of the raw body under the organization's webhook secret), mapped onto an
//! order record and written through the same parser and write path as the REST API. A
//! delivery that does not verify writes nothing; Shopify's retries of one order are
//! idempotent because the order's Shopify id is its external id.

use base64::Engine;
use chrono::Utc;
use domain::records::Order;
use domain::Permission;
use hmac::{Hmac, Mac};
use serde_json::{json, Map, Value};
use sha2::Sha256;
use sqlx::PgPool;
use uuid::Uuid;

use super::super::caller::Caller;
use super::super::error::{ApiError, FieldError};
use super::super::quota;
use super::super::tenant::{OrgId, TenantTx};
use super::{orders, Lineage};

/// Whether `signature` (base64, as Shopify sends it) is the HMAC-SHA256 of `body` under
/// `secret`; compared in constant time.
pub fn signature_matches(secret: &[u8], body: &[u8], signature: &str) -> bool {
    let Ok(expected) = base64::engine::general_purpose::STANDARD.decode(signature.trim()) else {
        return false;
    };
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("HMAC takes keys of any length");
    mac.update(body);
    mac.verify_slice(&expected).is_ok()
}

fn text(value: &Value) -> Option<String> {
    match value {
        Value::String(s) if !s.trim().is_empty() => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// Maps Shopify's order onto an order record (its fields as the REST API takes them).
pub fn order_record(payload: &Value) -> Value {
    let order_id = text(&payload["id"]);
    let customer = &payload["customer"];
    let customer_id = text(&customer["id"])
        .or_else(|| text(&payload["email"]))
        .or_else(|| order_id.as_ref().map(|id| format!("shopify-guest-{id}")));
    let status = if !payload["cancelled_at"].is_null() {
        "cancelled"
    } else {
        match payload["financial_status"].as_str().unwrap_or("paid") {
            "refunded" => "refunded",
            "voided" => "cancelled",
            "pending" | "authorized" | "partially_paid" | "expired" => "pending",
            _ if payload["fulfillment_status"].as_str() == Some("fulfilled") => "fulfilled",
            _ => "paid",
        }
    };
    let address = if payload["shipping_address"].is_object() {
        &payload["shipping_address"]
    } else {
        &payload["billing_address"]
    };
    let channel = match payload["source_name"].as_str() {
        Some("web") => Some("web"),
        Some("iphone" | "android" | "mobile_app") => Some("mobile"),
        _ => None,
    };
    let payment = payload["payment_gateway_names"]
        .as_array()
        .and_then(|names| names.first())
        .and_then(text)
        .or_else(|| text(&payload["gateway"]));
    let lines: Vec<Value> = payload["line_items"]
        .as_array()
        .map(|items| {
            items
                .iter()
                .map(|item| {
                    let sku = text(&item["sku"])
                        .or_else(|| text(&item["variant_id"]).map(|v| format!("shopify-variant-{v}")));
                    json!({ "sku": sku, "quantity": item["quantity"], "unit_price": item["price"] })
                })
                .collect()
        })
        .unwrap_or_default();
    let mut record = Map::new();
    let mut put = |field: &str, value: Option<String>| {
        if let Some(value) = value {
            record.insert(field.to_owned(), Value::String(value));
        }
    };
    put("external_id", order_id);
    put("customer_external_id", customer_id);
    put("ordered_at", text(&payload["created_at"]));
    put("status", Some(status.to_owned()));
    put("currency", text(&payload["currency"]));
    put("total", text(&payload["total_price"]));
    put("payment_method", payment);
    put("country", text(&address["country_code"]));
    put("region", text(&address["province_code"]));
    put("channel", channel.map(str::to_owned));
    record.insert("lines".into(), Value::Array(lines));
    Value::Object(record)
}

/// Receives one delivery for the organization `slug`: 401 unless it is signed with that
/// organization's Shopify secret; 422 if the order does not read; else the order is written
/// (with its import batch for lineage) and its external id answered.
pub async fn receive_order(
    db: &PgPool,
    slug: &str,
    signature: Option<&str>,
    body: &[u8],
) -> Result<String, ApiError> {
    let org_id: Option<Uuid> = sqlx::query_scalar("select webhook_organization($1)")
        .bind(slug)
        .fetch_one(db)
        .await?;
    let org_id = OrgId(org_id.ok_or(ApiError::Unauthorized)?);
    let mut tenant = TenantTx::begin(db, org_id).await?;
    let secret: Option<String> =
        sqlx::query_scalar("select secret from webhook_secrets where org_id = $1 and provider = 'shopify'")
            .bind(org_id)
            .fetch_optional(tenant.conn())
            .await?;
    let (Some(secret), Some(signature)) = (secret, signature) else {
        return Err(ApiError::Unauthorized);
    };
    if !signature_matches(secret.as_bytes(), body, signature) {
        tracing::warn!(%org_id, "Shopify webhook with a bad signature refused");
        return Err(ApiError::Unauthorized);
    }
    let payload: Value = serde_json::from_slice(body)
        .map_err(|error| ApiError::BadRequest(format!("the body is not JSON: {error}")))?;
    let order = Order::parse(&order_record(&payload), Utc::now()).map_err(FieldError::invalid_record)?;
    quota::check(&mut tenant, 1).await?;
    let batch_id: Uuid = sqlx::query_scalar(
        "insert into import_batches
             (org_id, source, entity, status, file_name, rows_total, rows_done, rows_accepted, finished_at)
         values ($1, 'webhook', 'orders', 'succeeded', 'shopify orders/create', 1, 1, 1, now())
         returning id",
    )
    .bind(org_id)
    .fetch_one(tenant.conn())
    .await?;
    orders::write(
        &mut tenant,
        std::slice::from_ref(&order),
        Lineage::batch(batch_id),
    )
    .await?;
    quota::record(&mut tenant, 1).await?;
    tenant.commit().await?;
    Ok(order.external_id)
}

/// Sets the organization's Shopify webhook secret (admins: `ManageSettings`).
pub async fn set_secret(mut caller: Caller, secret: &str) -> Result<(), ApiError> {
    caller
        .require(Permission::ManageSettings, "webhook_secret.changed")
        .await?;
    let secret = secret.trim();
    if !(16..=500).contains(&secret.len()) {
        return Err(ApiError::Validation(vec![FieldError::new(
            "secret",
            "invalid",
            "the secret Shopify shows for the app, 16 to 500 characters",
        )]));
    }
    sqlx::query(
        "insert into webhook_secrets (org_id, provider, secret) values ($1, 'shopify', $2)
         on conflict (org_id, provider) do update set secret = excluded.secret, updated_at = now()",
    )
    .bind(caller.tenant.org_id())
    .bind(secret)
    .execute(caller.tenant.conn())
    .await?;
    caller
        .audit("webhook_secret.changed", "webhook", "shopify".into())
        .await?;
    caller.tenant.commit().await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn sign(secret: &[u8], body: &[u8]) -> String {
        let mut mac = Hmac::<Sha256>::new_from_slice(secret).unwrap();
        mac.update(body);
        base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
    }

    proptest! {
        /// Only the exact body under the exact secret verifies.
        #[test]
        fn a_signature_verifies_only_its_body_and_secret(
            secret in prop::collection::vec(any::<u8>(), 16..64),
            body in prop::collection::vec(any::<u8>(), 0..256),
            flip in any::<prop::sample::Index>(),
        ) {
            let signature = sign(&secret, &body);
            prop_assert!(signature_matches(&secret, &body, &signature));
            if !body.is_empty() {
                let mut tampered = body.clone();
                tampered[flip.index(body.len())] ^= 1;
                prop_assert!(!signature_matches(&secret, &tampered, &signature));
            }
            let mut other = secret.clone();
            other[0] ^= 1;
            prop_assert!(!signature_matches(&other, &body, &signature));
        }
    }

    #[test]
    fn shopify_order_maps_onto_an_order_record() {
        let payload = json!({
            "id": 5208334008572u64, "email": "jane@example.com", "created_at": "2026-05-13T12:00:00-04:00",
            "currency": "USD", "total_price": "59.95", "financial_status": "paid", "fulfillment_status": null,
            "cancelled_at": null, "source_name": "web", "payment_gateway_names": ["shopify_payments"],
            "line_items": [{"sku": "HS-TSHIRT-L", "quantity": 2, "price": "29.95", "variant_id": 1}],
            "customer": {"id": 7777777777u64, "email": "jane@example.com"},
            "shipping_address": {"country_code": "US", "province_code": "NY"}
        });
        let order = Order::parse(&order_record(&payload), Utc::now()).unwrap();
        assert_eq!(order.external_id, "5208334008572");
        assert_eq!(order.customer_external_id, "7777777777");
        assert_eq!(order.status.as_str(), "paid");
        assert_eq!(order.lines.len(), 2 - 1);
        assert_eq!(order.lines[0].quantity, 2);
        assert_eq!(
            order.country.as_ref().map(|c| c.code().to_owned()),
            Some("US".into())
        );
    }
}
