//! Monthly event quotas (SPEC TEN-4): interactions, orders and reviews accepted per
//! organization and calendar month (UTC). Writes are refused with 429 `quota_exceeded` once
//! they would pass the quota; from 80 % on, answers carry `X-Sightline-Quota-Warning`.
//!
//! Usage lives in `usage_counters`, spread over `SHARDS` rows per month so concurrent writers
//! seldom queue on one row lock; it is read before a write and added to in the write's own
//! transaction, so a rolled-back write never counts. Two writers checking at once may both
//! pass and overshoot by at most their own records — the quota is a budget, not a lock.

use chrono::{DateTime, Datelike, NaiveDate, Utc};

use super::error::ApiError;
use super::tenant::TenantTx;

/// Rows a month's usage is spread over.
const SHARDS: i16 = 16;

/// Share of the quota from which answers carry a warning.
const WARNING_SHARE: f64 = 0.8;

/// The header carrying the warning.
pub const WARNING_HEADER: &str = "x-sightline-quota-warning";

/// The organization's usage this month against its quota.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Usage {
    pub used: i64,
    pub limit: i64,
}

impl Usage {
    /// Usage once `events` more are recorded.
    pub fn after(self, events: i64) -> Self {
        Usage {
            used: self.used + events,
            ..self
        }
    }

    /// The warning to send once usage reaches 80 % of the quota.
    pub fn warning(&self) -> Option<String> {
        (self.used as f64 >= self.limit as f64 * WARNING_SHARE).then(|| {
            format!(
                "{:.0}% of this month's {} events used",
                (self.used as f64 * 100.0 / self.limit as f64).floor(),
                self.limit
            )
        })
    }
}

fn month_of(now: DateTime<Utc>) -> NaiveDate {
    NaiveDate::from_ymd_opt(now.year(), now.month(), 1).expect("the first of a month exists")
}

/// Seconds until the next month starts (when the quota renews).
fn until_next_month(now: DateTime<Utc>) -> u64 {
    let first = month_of(now);
    let next = first
        .checked_add_months(chrono::Months::new(1))
        .expect("next month exists")
        .and_time(chrono::NaiveTime::MIN)
        .and_utc();
    (next - now).num_seconds().max(1) as u64
}

/// Usage this month; 429 when `adding` more events would pass the quota.
pub async fn check(tenant: &mut TenantTx, adding: i64) -> Result<Usage, ApiError> {
    let now = Utc::now();
    let (used, limit): (i64, i64) = sqlx::query_as(
        "select coalesce((select sum(events)::bigint from usage_counters where org_id = $1 and month = $2), 0),
                (select quota_events_per_month from organizations where id = $1)",
    )
    .bind(tenant.org_id())
    .bind(month_of(now))
    .fetch_one(tenant.conn())
    .await?;
    if adding > 0 && used + adding > limit {
        return Err(ApiError::QuotaExceeded {
            limit,
            used,
            retry_after_secs: until_next_month(now),
        });
    }
    Ok(Usage { used, limit })
}

/// Adds `events` to this month's usage, in the tenant's transaction.
pub async fn record(tenant: &mut TenantTx, events: i64) -> Result<(), ApiError> {
    if events <= 0 {
        return Ok(());
    }
    let shard = (uuid::Uuid::new_v4().as_u128() % SHARDS as u128) as i16;
    sqlx::query(
        "insert into usage_counters (org_id, month, shard, events) values ($1, $2, $3, $4)
         on conflict (org_id, month, shard) do update set events = usage_counters.events + excluded.events",
    )
    .bind(tenant.org_id())
    .bind(month_of(Utc::now()))
    .bind(shard)
    .bind(events)
    .execute(tenant.conn())
    .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Timelike;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn a_warning_appears_exactly_from_eighty_percent(limit in 1i64..10_000_000, share in 0.0f64..1.2) {
            let used = (limit as f64 * share) as i64;
            let usage = Usage { used, limit };
            prop_assert_eq!(usage.warning().is_some(), used as f64 >= limit as f64 * 0.8);
        }

        #[test]
        fn the_quota_renews_within_a_month(secs in 0i64..4_000_000_000) {
            let now = DateTime::from_timestamp(secs, 0).unwrap();
            let wait = until_next_month(now);
            prop_assert!((1..=31 * 86_400).contains(&wait));
            let renewal = now + chrono::Duration::seconds(wait as i64);
            prop_assert_eq!((renewal.day(), renewal.num_seconds_from_midnight()), (1, 0));
        }
    }
}
