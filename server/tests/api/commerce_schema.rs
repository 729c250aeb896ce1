//! The commerce tables' storage rules (migration 0004): month partitions for interactions,
//! created on demand by the one function the application may call for DDL, and reachable
//! only through the parent table, where row-level security applies.

use server::tenant::{OrgId, TenantTx};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use uuid::Uuid;

use crate::helpers::TestApp;

#[sqlx::test(migrations = false)]
async fn interactions_land_in_month_partitions_reachable_only_through_the_parent(
    _: PgPoolOptions,
    admin: PgConnectOptions,
) {
    let app = TestApp::spawn(admin).await;
    let org: Uuid =
        sqlx::query_scalar("insert into organizations (slug, name) values ('acme', 'Acme') returning id")
            .fetch_one(&app.admin_db)
            .await
            .unwrap();

    let made: String = sqlx::query_scalar("select ensure_interactions_partition('2026-03-10T08:00:00Z')")
        .fetch_one(&app.app_db)
        .await
        .unwrap();
    let again: String = sqlx::query_scalar("select ensure_interactions_partition('2026-03-31T23:59:59Z')")
        .fetch_one(&app.app_db)
        .await
        .unwrap();
    let mut tenant = TenantTx::begin(&app.app_db, OrgId(org)).await.unwrap();
    let customer: Uuid =
        sqlx::query_scalar("insert into customers (org_id, external_id) values ($1, 'c1') returning id")
            .bind(org)
            .fetch_one(tenant.conn())
            .await
            .unwrap();
    sqlx::query(
        "insert into interactions (org_id, customer_id, external_id, occurred_at, channel, event_type)
         values ($1, $2, 'i1', '2026-03-10T08:00:00Z', 'web', 'page_view')",
    )
    .bind(org)
    .bind(customer)
    .execute(tenant.conn())
    .await
    .unwrap();
    let through_parent: i64 = sqlx::query_scalar("select count(*) from interactions")
        .fetch_one(tenant.conn())
        .await
        .unwrap();
    tenant.commit().await.unwrap();
    let in_march: i64 = sqlx::query_scalar("select count(*) from interactions_2026_03")
        .fetch_one(&app.admin_db)
        .await
        .unwrap();
    let direct = sqlx::query("select count(*) from interactions_2026_03")
        .fetch_one(&app.app_db)
        .await;
    let default = sqlx::query("select count(*) from interactions_default")
        .fetch_one(&app.app_db)
        .await;
    let out_of_range = sqlx::query("select ensure_interactions_partition('2500-01-01T00:00:00Z')")
        .fetch_one(&app.app_db)
        .await;

    assert_eq!(made, "interactions_2026_03");
    assert_eq!(again, made, "asking twice makes one partition");
    assert_eq!(through_parent, 1);
    assert_eq!(in_march, 1, "the row is stored in its month");
    assert!(direct.unwrap_err().to_string().contains("permission denied"));
    assert!(default.unwrap_err().to_string().contains("permission denied"));
    assert!(out_of_range.is_err());
}
