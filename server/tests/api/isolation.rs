//! Tenant isolation at the SQL level, as the application role: with no scope every table
//! reads empty; inside organization A nothing of B can be read, changed, deleted or created;
//! an account-level scope shows one person's own rows only.

use server::tenant::{AccountTx, OrgId, TenantTx, UserId};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{PgPool, Row};
use uuid::Uuid;

use crate::helpers::TestApp;

/// Two organizations with one row in every tenant table each, arranged as the superuser.
struct World {
    a: OrgId,
    b: OrgId,
    /// Member of A and of B.
    both: UserId,
    /// Member of B only.
    only_b: UserId,
}

async fn arrange(admin: &PgPool) -> World {
    let a: Uuid = org(admin, "org-a").await;
    let b: Uuid = org(admin, "org-b").await;
    let both = user(admin, "both@example.com").await;
    let only_b = user(admin, "only-b@example.com").await;
    for (org_id, user_id, role) in [(a, both, "owner"), (b, both, "viewer"), (b, only_b, "owner")] {
        sqlx::query("insert into memberships (org_id, user_id, role) values ($1, $2, $3)")
            .bind(org_id)
            .bind(user_id)
            .bind(role)
            .execute(admin)
            .await
            .unwrap();
    }
    // Models are shared by every organization; scores name one.
    sqlx::query("insert into ml_models (name, version, kind) values ('sentiment-test', '1', 'sentiment')")
        .execute(admin)
        .await
        .unwrap();
    for (org_id, owner) in [(a, both), (b, only_b)] {
        sqlx::raw_sql(sqlx::AssertSqlSafe(tenant_rows(org_id, owner)))
            .execute(admin)
            .await
            .unwrap();
        // The rollups are folded after the writes, as the server's folder does, and the scored
        // customers counted per category, as a scoring run does; one change, one change of a
        // category and one change of segment are logged again, so the folder's queues have
        // rows to hide too.
        app::backend::rollups::fold_on(admin, org_id).await.unwrap();
        for statement in [
            "select count_category_score_cells($1)",
            "insert into category_deltas (org_id, category, day, channel) values ($1, 'Kitchen', current_date, 'web')",
        ] {
            sqlx::query(statement).bind(org_id).execute(admin).await.unwrap();
        }
        sqlx::query(
            "insert into rollup_deltas (org_id, day, channel, customer_id, interactions, orders, revenue, texts,
                                        polarity_sum, polarity_squares, negative_texts, events)
             values ($1, current_date, 'web', null, 0, 0, 0, 0, 0, 0, 0, 0)",
        )
        .bind(org_id)
        .execute(admin)
        .await
        .unwrap();
        sqlx::query("insert into segment_moves (org_id, customer_id, old_segment) values ($1, gen_random_uuid(), null)")
        .bind(org_id)
        .execute(admin)
        .await
        .unwrap();
    }
    World {
        a: OrgId(a),
        b: OrgId(b),
        both: UserId(both),
        only_b: UserId(only_b),
    }
}

/// One row in every table of people or tenant data for `org_id` (ids derived from it).
fn tenant_rows(org_id: Uuid, owner: Uuid) -> String {
    format!(
        "insert into invitations (org_id, email, role, token_hash, invited_by, expires_at)
             values ('{org_id}', 'new-{org_id}@example.com', 'viewer', sha256(gen_random_uuid()::text::bytea), '{owner}', now() + interval '7 days');
         insert into refresh_tokens (org_id, user_id, family_id, token_hash, expires_at)
             values ('{org_id}', '{owner}', gen_random_uuid(), sha256(gen_random_uuid()::text::bytea), now() + interval '7 days');
         insert into api_keys (org_id, name, prefix, key_hash, scopes, created_by)
             values ('{org_id}', 'ci', 'slk_abcd', sha256(gen_random_uuid()::text::bytea), array['ingest'], '{owner}');
         insert into audit_log (org_id, actor_user_id, action, outcome)
             values ('{org_id}', '{owner}', 'api_key.created', 'success');
         insert into sessions (id_hash, user_id, data, expires_at)
             values (sha256(gen_random_uuid()::text::bytea), '{owner}', '{{}}', now() + interval '7 days');
         insert into import_batches (org_id, id, source, entity)
             values ('{org_id}', md5('{org_id}batch')::uuid, 'rest', 'interactions');
         insert into import_errors (org_id, batch_id, line, code, message)
             values ('{org_id}', md5('{org_id}batch')::uuid, 2, 'invalid', 'bad row');
         insert into customers (org_id, id, external_id)
             values ('{org_id}', md5('{org_id}customer')::uuid, 'c1');
         insert into interactions (org_id, customer_id, external_id, occurred_at, channel, event_type)
             values ('{org_id}', md5('{org_id}customer')::uuid, 'i1', '2026-01-15T10:00:00Z', 'web', 'page_view');
         insert into interaction_keys (org_id, external_id, id, occurred_at)
             values ('{org_id}', 'i1', gen_random_uuid(), '2026-01-15T10:00:00Z');
         insert into products (org_id, id, sku, normalized_sku, name, category)
             values ('{org_id}', md5('{org_id}product')::uuid, 'S1', 'S1', 'Mug', 'Kitchen');
         insert into orders (org_id, id, external_id, customer_id, ordered_at, status, currency, total)
             values ('{org_id}', md5('{org_id}order')::uuid, 'o1', md5('{org_id}customer')::uuid, now(), 'paid', 'EUR', 10);
         insert into order_lines (org_id, order_id, line_no, product_id, sku, quantity, unit_price)
             values ('{org_id}', md5('{org_id}order')::uuid, 1, md5('{org_id}product')::uuid, 'S1', 1, 10);
         insert into reviews (org_id, id, external_id, product_id, sku, rating, content, reviewed_at)
             values ('{org_id}', md5('{org_id}review')::uuid, 'r1', md5('{org_id}product')::uuid, 'S1', 5, 'Lovely', now());
         insert into competitor_prices (org_id, sku, competitor, price, currency, observed_at)
             values ('{org_id}', 'S1', 'Rival', 9, 'EUR', now());
         insert into inventory_levels (org_id, sku, observed_at, on_hand)
             values ('{org_id}', 'S1', now(), 3);
         insert into scoring_queue (org_id, subject, subject_id)
             values ('{org_id}', 'review', gen_random_uuid());
         insert into jobs (org_id, kind, payload) values ('{org_id}', 'import', '{{}}');
         insert into dead_jobs (org_id, id, kind, payload, attempts, created_at)
             values ('{org_id}', gen_random_uuid(), 'import', '{{}}', 3, now());
         insert into import_chunks (org_id, batch_id, seq, data)
             values ('{org_id}', md5('{org_id}batch')::uuid, 0, 'a,b');
         insert into usage_counters (org_id, month, shard, events) values ('{org_id}', '2026-11-01', 0, 5);
         insert into idempotency_keys (org_id, key, request_hash, response)
             values ('{org_id}', 'k1', 'h', '{{}}');
         insert into webhook_secrets (org_id, provider, secret)
             values ('{org_id}', 'shopify', 'a-secret-of-sixteen-chars');
         insert into customer_scores (org_id, customer_id, computed_at, model_version, recency_days, frequency,
                 monetary, r_score, f_score, m_score, segment, horizon_days, p_alive, expected_purchases,
                 expected_purchases_low, expected_purchases_high, churn_probability, churn_band, churn_method)
             values ('{org_id}', md5('{org_id}customer')::uuid, now(), 'scores/1', 3, 1, 10, 5, 1, 1,
                     'new_customers', 365, 1, 0.5, 0.2, 0.9, 0.1, 'low', 'p_alive');
         insert into analytics_results (org_id, kind, computed_at, model_version, result)
             values ('{org_id}', 'rfm', now(), 'scores/1', '{{}}');
         insert into product_forecasts (org_id, product_id, computed_at, model_version, first_day, result)
             values ('{org_id}', md5('{org_id}product')::uuid, now(), 'scores/1', current_date, '{{}}');
         insert into text_scores (org_id, subject, subject_id, customer_id, written_at, channel, label, positive,
                 neutral, negative, confidence, scorer, model_name, model_version)
             values ('{org_id}', 'review', md5('{org_id}review')::uuid, md5('{org_id}customer')::uuid, now(), 'review',
                     'positive', 0.8, 0.15, 0.05, 0.8, 'lexicon', 'sentiment-test', '1');"
    )
}

async fn org(admin: &PgPool, slug: &str) -> Uuid {
    sqlx::query_scalar("insert into organizations (slug, name) values ($1, $1) returning id")
        .bind(slug)
        .fetch_one(admin)
        .await
        .unwrap()
}

async fn user(admin: &PgPool, email: &str) -> Uuid {
    sqlx::query_scalar("insert into users (email, password_hash) values ($1, 'x') returning id")
        .bind(email)
        .fetch_one(admin)
        .await
        .unwrap()
}

/// Every table in the schema that has row-level security, with whether it has an `org_id`.
async fn protected_tables(pool: &PgPool) -> Vec<(String, bool)> {
    sqlx::query(
        "select c.relname::text as name,
                exists (select 1 from pg_attribute a
                        where a.attrelid = c.oid and a.attname = 'org_id' and not a.attisdropped) as tenant
         from pg_class c join pg_namespace n on n.oid = c.relnamespace
         where n.nspname = 'public' and c.relkind in ('r', 'p') and c.relrowsecurity
         order by 1",
    )
    .fetch_all(pool)
    .await
    .unwrap()
    .into_iter()
    .map(|row| (row.get("name"), row.get("tenant")))
    .collect()
}

fn count_sql(table: &str, filter: &str) -> sqlx::AssertSqlSafe<String> {
    sqlx::AssertSqlSafe(format!("select count(*) from \"{table}\" {filter}"))
}

#[sqlx::test(migrations = false)]
async fn with_no_scope_every_protected_table_reads_empty(_: PgPoolOptions, admin: PgConnectOptions) {
    let app = TestApp::spawn(admin).await;
    arrange(&app.admin_db).await;
    let tables = protected_tables(&app.admin_db).await;

    let mut visible = Vec::new();
    for (table, _) in &tables {
        let count: i64 = sqlx::query_scalar(count_sql(table, ""))
            .fetch_one(&app.app_db)
            .await
            .unwrap();
        let total: i64 = sqlx::query_scalar(count_sql(table, ""))
            .fetch_one(&app.admin_db)
            .await
            .unwrap();
        assert!(total > 0, "{table} has rows to hide");
        visible.push((table.clone(), count));
    }

    assert!(
        tables.len() >= 7,
        "organizations, users and every tenant table: {tables:?}"
    );
    assert!(visible.iter().all(|(_, count)| *count == 0), "{visible:?}");
}

#[sqlx::test(migrations = false)]
async fn inside_organization_a_nothing_of_b_can_be_read_changed_or_deleted(
    _: PgPoolOptions,
    admin: PgConnectOptions,
) {
    let app = TestApp::spawn(admin).await;
    let world = arrange(&app.admin_db).await;
    let tenant_tables: Vec<String> = protected_tables(&app.admin_db)
        .await
        .into_iter()
        .filter(|(_, t)| *t)
        .map(|(n, _)| n)
        .collect();

    let mut tx = TenantTx::begin(&app.app_db, world.a).await.unwrap();
    for table in &tenant_tables {
        let own: i64 = sqlx::query_scalar(count_sql(table, &format!("where org_id = '{}'", world.a)))
            .fetch_one(tx.conn())
            .await
            .unwrap();
        let theirs: i64 = sqlx::query_scalar(count_sql(table, &format!("where org_id = '{}'", world.b)))
            .fetch_one(tx.conn())
            .await
            .unwrap();
        assert!(own > 0, "{table}: A sees its own rows");
        assert_eq!(theirs, 0, "{table}: A sees none of B's rows");
        if table == "audit_log" {
            continue; // append-only: see the test below
        }
        let updated = sqlx::query(sqlx::AssertSqlSafe(format!(
            "update \"{table}\" set org_id = org_id where org_id = '{}'",
            world.b
        )))
        .execute(tx.conn())
        .await
        .unwrap();
        let deleted = sqlx::query(sqlx::AssertSqlSafe(format!(
            "delete from \"{table}\" where org_id = '{}'",
            world.b
        )))
        .execute(tx.conn())
        .await
        .unwrap();
        assert_eq!(
            (updated.rows_affected(), deleted.rows_affected()),
            (0, 0),
            "{table}"
        );
    }
    let other_org: i64 = sqlx::query_scalar("select count(*) from organizations where id <> $1")
        .bind(world.a)
        .fetch_one(tx.conn())
        .await
        .unwrap();
    let renamed = sqlx::query("update organizations set name = 'taken' where id = $1")
        .bind(world.b)
        .execute(tx.conn())
        .await
        .unwrap();
    let people: Vec<Uuid> = sqlx::query_scalar("select id from users")
        .fetch_all(tx.conn())
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let b_name: String = sqlx::query_scalar("select name from organizations where id = $1")
        .bind(world.b)
        .fetch_one(&app.admin_db)
        .await
        .unwrap();

    assert_eq!(other_org, 0);
    assert_eq!(renamed.rows_affected(), 0);
    assert_eq!(b_name, "org-b", "B's data is unchanged");
    assert_eq!(
        people,
        vec![world.both.0],
        "only A's members are visible inside A"
    );
    assert!(!people.contains(&world.only_b.0));
}

#[sqlx::test(migrations = false)]
async fn inside_organization_a_no_row_can_be_created_for_b(_: PgPoolOptions, admin: PgConnectOptions) {
    let app = TestApp::spawn(admin).await;
    let world = arrange(&app.admin_db).await;
    let b = world.b.0;
    let owner = world.only_b.0;
    let attempts = [
        format!(
            "insert into memberships (org_id, user_id, role) values ('{b}', '{}', 'owner')",
            world.both.0
        ),
        format!("insert into organizations (id, slug, name) values ('{b}', 'again', 'again')"),
        tenant_rows(b, owner),
    ];

    for attempt in attempts {
        for statement in attempt.split(';').map(str::trim).filter(|s| !s.is_empty()) {
            let mut tx = TenantTx::begin(&app.app_db, world.a).await.unwrap();
            let error = sqlx::query(sqlx::AssertSqlSafe(statement.to_owned()))
                .execute(tx.conn())
                .await
                .expect_err(statement);
            let message = error.to_string();
            assert!(message.contains("row-level security"), "{statement}: {message}");
        }
    }
}

#[sqlx::test(migrations = false)]
async fn an_account_scope_shows_one_persons_own_rows_only(_: PgPoolOptions, admin: PgConnectOptions) {
    let app = TestApp::spawn(admin).await;
    let world = arrange(&app.admin_db).await;

    let mut account = AccountTx::for_user(&app.app_db, world.both).await.unwrap();
    let mut orgs: Vec<Uuid> = sqlx::query_scalar("select id from organizations")
        .fetch_all(account.conn())
        .await
        .unwrap();
    let memberships: Vec<Uuid> = sqlx::query_scalar("select user_id from memberships")
        .fetch_all(account.conn())
        .await
        .unwrap();
    let people: Vec<Uuid> = sqlx::query_scalar("select id from users")
        .fetch_all(account.conn())
        .await
        .unwrap();
    let tokens: i64 = sqlx::query_scalar("select count(*) from refresh_tokens")
        .fetch_one(account.conn())
        .await
        .unwrap();
    drop(account);
    let email = domain::Email::parse("ONLY-B@example.com").unwrap();
    let mut sign_in = AccountTx::for_sign_in(&app.app_db, &email).await.unwrap();
    let found: Vec<Uuid> = sqlx::query_scalar("select id from users")
        .fetch_all(sign_in.conn())
        .await
        .unwrap();
    let sign_in_orgs: i64 = sqlx::query_scalar("select count(*) from organizations")
        .fetch_one(sign_in.conn())
        .await
        .unwrap();

    orgs.sort();
    let mut expected = vec![world.a.0, world.b.0];
    expected.sort();
    assert_eq!(orgs, expected, "both of their organizations, for the switcher");
    assert_eq!(
        memberships,
        vec![world.both.0, world.both.0],
        "their own memberships, not only_b's"
    );
    assert_eq!(people, vec![world.both.0]);
    assert_eq!(tokens, 0, "tenant rows need a tenant scope");
    assert_eq!(
        found,
        vec![world.only_b.0],
        "a sign-in sees exactly the user its email names"
    );
    assert_eq!(sign_in_orgs, 0);
}

#[sqlx::test(migrations = false)]
async fn the_audit_log_is_append_only_for_the_application(_: PgPoolOptions, admin: PgConnectOptions) {
    let app = TestApp::spawn(admin).await;
    let world = arrange(&app.admin_db).await;
    let mut tx = TenantTx::begin(&app.app_db, world.a).await.unwrap();

    sqlx::query("insert into audit_log (org_id, action, outcome) values ($1, 'member.invited', 'success')")
        .bind(world.a)
        .execute(tx.conn())
        .await
        .unwrap();
    let entries: i64 = sqlx::query_scalar("select count(*) from audit_log")
        .fetch_one(tx.conn())
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let mut tx = TenantTx::begin(&app.app_db, world.a).await.unwrap();
    let update = sqlx::query("update audit_log set outcome = 'failure'")
        .execute(tx.conn())
        .await;
    drop(tx);
    let mut tx = TenantTx::begin(&app.app_db, world.a).await.unwrap();
    let delete = sqlx::query("delete from audit_log").execute(tx.conn()).await;
    drop(tx);

    assert_eq!(entries, 2);
    assert!(update.unwrap_err().to_string().contains("permission denied"));
    assert!(delete.unwrap_err().to_string().contains("permission denied"));
}
