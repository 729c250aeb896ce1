use server::database::{self, APP_ROLE, OWNER_ROLE};
use server::tenant::{OrgId, TenantTx};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use uuid::Uuid;

use crate::helpers::TestApp;

#[sqlx::test(migrations = false)]
async fn the_role_serving_requests_is_not_superuser_nor_bypassrls_nor_owner_of_any_table(
    _: PgPoolOptions,
    admin: PgConnectOptions,
) {
    let app = TestApp::spawn(admin).await;

    let (name, is_super, bypasses_rls): (String, bool, bool) = sqlx::query_as(
        "select rolname::text, rolsuper, rolbypassrls from pg_roles where rolname = current_user",
    )
    .fetch_one(&app.app_db)
    .await
    .unwrap();
    let owned_by_app: i64 = sqlx::query_scalar(
        "select count(*) from pg_class c join pg_namespace n on n.oid = c.relnamespace
         where n.nspname = 'public' and pg_get_userbyid(c.relowner) = current_user",
    )
    .fetch_one(&app.app_db)
    .await
    .unwrap();
    let owners: Vec<String> = sqlx::query_scalar(
        "select distinct pg_get_userbyid(c.relowner)::text from pg_class c
         join pg_namespace n on n.oid = c.relnamespace
         where n.nspname = 'public' and c.relkind in ('r', 'p')",
    )
    .fetch_all(&app.app_db)
    .await
    .unwrap();

    assert_eq!(name, APP_ROLE);
    assert!(!is_super, "the request role must not be a superuser");
    assert!(
        !bypasses_rls,
        "the request role must not bypass row-level security"
    );
    assert_eq!(owned_by_app, 0, "the request role must own no table");
    assert_eq!(
        owners,
        vec![OWNER_ROLE.to_string()],
        "every table belongs to the owner role"
    );
}

#[sqlx::test(migrations = false)]
async fn every_table_with_an_org_id_has_forced_row_level_security(_: PgPoolOptions, admin: PgConnectOptions) {
    let app = TestApp::spawn(admin).await;
    // A month of interactions exists, as it would after the first write.
    sqlx::query("select ensure_interactions_partition(now())")
        .execute(&app.app_db)
        .await
        .unwrap();

    let unprotected: Vec<String> = sqlx::query_scalar(
        "select c.relname::text from pg_class c
         join pg_namespace n on n.oid = c.relnamespace
         where n.nspname = 'public' and c.relkind in ('r', 'p') and not c.relispartition
           and exists (select 1 from pg_attribute a where a.attrelid = c.oid and a.attname = 'org_id')
           and not (c.relrowsecurity and c.relforcerowsecurity)",
    )
    .fetch_all(&app.admin_db)
    .await
    .unwrap();
    // Partitions are reached through their parent (whose policies apply), never directly.
    let reachable_partitions: Vec<String> = sqlx::query_scalar(
        "select c.relname::text from pg_class c
         join pg_namespace n on n.oid = c.relnamespace
         where n.nspname = 'public' and c.relispartition
           and (has_table_privilege('sightline_app', c.oid, 'select')
                or has_table_privilege('sightline_app', c.oid, 'insert')
                or has_table_privilege('sightline_app', c.oid, 'update')
                or has_table_privilege('sightline_app', c.oid, 'delete'))",
    )
    .fetch_all(&app.admin_db)
    .await
    .unwrap();
    let partitions: i64 = sqlx::query_scalar("select count(*) from pg_class where relispartition")
        .fetch_one(&app.admin_db)
        .await
        .unwrap();

    assert!(
        unprotected.is_empty(),
        "tenant tables without forced RLS: {unprotected:?}"
    );
    assert!(partitions >= 2, "the default partition and this month");
    assert!(
        reachable_partitions.is_empty(),
        "partitions the application can reach directly: {reachable_partitions:?}"
    );
}

#[sqlx::test(migrations = false)]
async fn tenant_rows_are_invisible_and_unwritable_without_the_matching_org_setting(
    _: PgPoolOptions,
    admin: PgConnectOptions,
) {
    let app = TestApp::spawn(admin).await;
    let org_a = insert_org(&app, "alpha").await;
    let org_b = insert_org(&app, "beta").await;
    let user = insert_user(&app, "a@example.com").await;
    let mut tx = TenantTx::begin(&app.app_db, org_a).await.unwrap();
    insert_owner(&mut tx, user).await;
    tx.commit().await.unwrap();

    let without_setting: i64 = sqlx::query_scalar("select count(*) from memberships")
        .fetch_one(&app.app_db)
        .await
        .unwrap();
    let mut as_b = TenantTx::begin(&app.app_db, org_b).await.unwrap();
    let seen_by_b: i64 = sqlx::query_scalar("select count(*) from memberships")
        .fetch_one(as_b.conn())
        .await
        .unwrap();
    let updated_by_b = sqlx::query("update memberships set role = 'viewer'")
        .execute(as_b.conn())
        .await
        .unwrap();
    let insert_into_a =
        sqlx::query("insert into memberships (org_id, user_id, role) values ($1, $2, 'viewer')")
            .bind(org_a)
            .bind(user)
            .execute(as_b.conn())
            .await;
    drop(as_b);
    let mut as_a = TenantTx::begin(&app.app_db, org_a).await.unwrap();
    let seen_by_a: i64 = sqlx::query_scalar("select count(*) from memberships")
        .fetch_one(as_a.conn())
        .await
        .unwrap();

    assert_eq!(without_setting, 0, "a query that forgets its tenant sees nothing");
    assert_eq!(seen_by_b, 0);
    assert_eq!(updated_by_b.rows_affected(), 0);
    let error = insert_into_a.expect_err("writing into another tenant is refused");
    assert!(error.to_string().contains("row-level security"), "{error}");
    assert_eq!(seen_by_a, 1);
}

#[sqlx::test(migrations = false)]
async fn preparing_again_and_concurrently_changes_nothing_and_fails_nowhere(
    _: PgPoolOptions,
    admin: PgConnectOptions,
) {
    database::prepare(&admin, None).await.unwrap();

    let (first, second) = tokio::join!(database::prepare(&admin, None), database::prepare(&admin, None));

    first.unwrap();
    second.unwrap();
    let pool = PgPoolOptions::new().connect_with(admin).await.unwrap();
    let applied: i64 = sqlx::query_scalar("select count(*) from _sqlx_migrations")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(applied as usize, database::MIGRATOR.iter().count());
}

#[sqlx::test(migrations = false)]
async fn the_application_role_cannot_rewrite_migration_history(_: PgPoolOptions, admin: PgConnectOptions) {
    let app = TestApp::spawn(admin).await;

    let deleted = sqlx::query("delete from _sqlx_migrations")
        .execute(&app.app_db)
        .await;
    let pending = database::pending_migrations(&app.app_db).await.unwrap();

    assert!(deleted.unwrap_err().to_string().contains("permission denied"));
    assert!(pending.is_empty());
}

#[sqlx::test(migrations = false)]
async fn the_tenant_setting_never_outlives_its_transaction_on_a_pooled_connection(
    _: PgPoolOptions,
    admin: PgConnectOptions,
) {
    let app = TestApp::spawn(admin.clone()).await;
    let org = insert_org(&app, "gamma").await;
    // One connection, so the next query is sure to reuse the tenant transaction's.
    let single = PgPoolOptions::new()
        .max_connections(1)
        .connect_with(database::app_connect_options(&admin, None))
        .await
        .unwrap();

    let mut tx = TenantTx::begin(&single, org).await.unwrap();
    let inside: String = sqlx::query_scalar("select current_setting('app.org_id')")
        .fetch_one(tx.conn())
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let after: Option<String> = sqlx::query_scalar("select nullif(current_setting('app.org_id', true), '')")
        .fetch_one(&single)
        .await
        .unwrap();

    assert_eq!(inside, org.to_string());
    assert_eq!(after, None);
}

#[sqlx::test(migrations = false)]
async fn a_tenant_transaction_dropped_without_commit_writes_nothing(
    _: PgPoolOptions,
    admin: PgConnectOptions,
) {
    let app = TestApp::spawn(admin).await;
    let org = insert_org(&app, "delta").await;
    let user = insert_user(&app, "d@example.com").await;

    let mut tx = TenantTx::begin(&app.app_db, org).await.unwrap();
    insert_owner(&mut tx, user).await;
    drop(tx);

    let count: i64 = sqlx::query_scalar("select count(*) from memberships")
        .fetch_one(&app.admin_db)
        .await
        .unwrap();
    assert_eq!(count, 0);
}

async fn insert_org(app: &TestApp, slug: &str) -> OrgId {
    let id: Uuid = sqlx::query_scalar("insert into organizations (slug, name) values ($1, $1) returning id")
        .bind(slug)
        .fetch_one(&app.admin_db)
        .await
        .unwrap();
    OrgId(id)
}

async fn insert_user(app: &TestApp, email: &str) -> Uuid {
    sqlx::query_scalar("insert into users (email, password_hash) values ($1, 'x') returning id")
        .bind(email)
        .fetch_one(&app.admin_db)
        .await
        .unwrap()
}

/// Makes `user` an owner of the transaction's organization.
async fn insert_owner(tx: &mut TenantTx, user: Uuid) {
    let org = tx.org_id();
    sqlx::query("insert into memberships (org_id, user_id, role) values ($1, $2, 'owner')")
        .bind(org)
        .bind(user)
        .execute(tx.conn())
        .await
        .unwrap();
}
