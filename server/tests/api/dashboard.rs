//! The dashboard's rollups and endpoint (SPEC UI-2): rollups stay equal to a recomputation
//! from the raw rows whatever is written, resent, replaced or deleted; the endpoint's figures
//! equal the same questions asked of the raw tables; parameters are checked; organizations
//! never see each other's figures.

use chrono::{DateTime, Duration, NaiveDate, TimeZone, Utc};
use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::{Config, TestRunner};
use serde_json::{json, Value};
use server::tenant::{OrgId, TenantTx};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::PgPool;
use uuid::Uuid;

use crate::helpers::{get_as, register, send, TestApp};

fn base() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 1, 0, 0, 0).unwrap()
}

/// One generated write.
#[derive(Clone, Debug)]
enum Write {
    /// An interaction (external id, customer, hour after `base`, channel).
    Interaction(u8, u8, u16, u8),
    /// An order (external id, customer, hour, refunded, cents, channel or none, which of
    /// `SKUS` its lines hold as bits; none: one line of another product).
    Order(u8, u8, u16, bool, u32, Option<u8>, u8),
    /// A product of `SKUS` put in a category of `CATEGORIES`, or in none.
    Categorize(u8, Option<u8>),
    /// An order's status changed alone (its external id; refunded or paid), as a refund does.
    Refund(u8, bool),
    /// A sentiment score for an interaction already written (its external id), as the
    /// scoring worker stores it: inserted, or replaced on a rescore.
    Score(u8, u8),
    /// An interaction deleted.
    Forget(u8),
    /// A scoring run puts a customer in an RFM segment (one of `SEGMENTS`) with a score (which
    /// picks its RFM cell, spend and churn band), or drops its score (none).
    Segment(u8, Option<(u8, u8)>),
    /// A review (external id, customer, product of `SKUS`, hour) written with its score, or
    /// rewritten, which can move it to another product and day and rescores it.
    Review(u8, u8, u8, u16, u8),
    /// A review removed (its score stays, as the scores of deleted texts do).
    Unreview(u8),
}

const SEGMENTS: [&str; 3] = ["champions", "at_risk", "hibernating"];

const CHANNELS: [&str; 5] = ["web", "mobile", "email", "chat", "phone"];

const SKUS: [&str; 3] = ["A-1", "B-2", "C-3"];

const CATEGORIES: [&str; 2] = ["Shoes", "Bags"];

fn write_strategy() -> impl Strategy<Value = Vec<Vec<Write>>> {
    let write = prop_oneof![
        4 => (0u8..12, 0u8..4, 0u16..600, 0u8..5).prop_map(|(e, c, h, ch)| Write::Interaction(e, c, h, ch)),
        3 => (0u8..6, 0u8..4, 0u16..600, any::<bool>(), 100u32..50_000, proptest::option::of(0u8..5), 0u8..8)
            .prop_map(|(e, c, h, r, cents, ch, skus)| Write::Order(e, c, h, r, cents, ch, skus)),
        1 => (0u8..3, proptest::option::of(0u8..2)).prop_map(|(p, c)| Write::Categorize(p, c)),
        1 => (0u8..6, any::<bool>()).prop_map(|(e, r)| Write::Refund(e, r)),
        2 => (0u8..12, 0u8..=100).prop_map(|(e, p)| Write::Score(e, p)),
        1 => (0u8..12).prop_map(Write::Forget),
        2 => (0u8..4, proptest::option::of((0u8..3, 0u8..50))).prop_map(|(c, s)| Write::Segment(c, s)),
        2 => (0u8..4, 0u8..4, 0u8..3, 0u16..600, 0u8..=100).prop_map(|(e, c, p, h, s)| Write::Review(e, c, p, h, s)),
        1 => (0u8..4).prop_map(Write::Unreview),
    ];
    proptest::collection::vec(proptest::collection::vec(write, 1..8), 1..6)
}

/// Rows of (day, channel, interactions, orders, revenue, texts, polarity, squares, negatives)
/// where some figure is not zero, from the rollups or computed here from the raw rows.
type Figures = Vec<(NaiveDate, String, i64, i64, String, i64, f64, f64, i64)>;

async fn rolled_up(db: &PgPool, org: Uuid) -> Figures {
    fold(db, org).await;
    sqlx::query_as(
        "select day, channel, sum(interactions)::int8, sum(orders)::int8, sum(revenue)::numeric(24, 4)::text,
                sum(texts)::int8, round(sum(polarity_sum)::numeric, 6)::float8,
                round(sum(polarity_squares)::numeric, 6)::float8, sum(negative_texts)::int8
         from daily_rollups where org_id = $1 group by 1, 2
         having sum(interactions) <> 0 or sum(orders) <> 0 or sum(revenue) <> 0 or sum(texts) <> 0
         order by 1, 2",
    )
    .bind(org)
    .fetch_all(db)
    .await
    .unwrap()
}

/// The same figures from scratch, written independently of the triggers' SQL.
async fn recomputed(db: &PgPool, org: Uuid) -> Figures {
    sqlx::query_as(
        "select day, channel, sum(i)::int8, sum(o)::int8, sum(r)::numeric(24, 4)::text, sum(t)::int8,
                round(sum(p)::numeric, 6)::float8, round(sum(q)::numeric, 6)::float8, sum(n)::int8
         from (
             select (occurred_at at time zone 'UTC')::date as day, channel, count(*) as i, 0 as o, 0 as r,
                    0 as t, 0 as p, 0 as q, 0 as n
             from interactions where org_id = $1 group by 1, 2
             union all
             select (ordered_at at time zone 'UTC')::date, coalesce(channel, 'unknown'), 0,
                    count(*) filter (where status not in ('refunded', 'cancelled')),
                    coalesce(sum(total) filter (where status not in ('refunded', 'cancelled')), 0), 0, 0, 0, 0
             from orders where org_id = $1 group by 1, 2
             union all
             select (written_at at time zone 'UTC')::date, channel, 0, 0, 0, count(*),
                    sum(positive::float8 - negative::float8), sum((positive::float8 - negative::float8) ^ 2),
                    count(*) filter (where label = 'negative')
             from text_scores where org_id = $1 group by 1, 2
         ) x
         group by 1, 2
         having sum(i) <> 0 or sum(o) <> 0 or sum(r) <> 0 or sum(t) <> 0
         order by 1, 2",
    )
    .bind(org)
    .fetch_all(db)
    .await
    .unwrap()
}

/// Each customer's days from the raw rows: (day, channel, customer, events, interactions,
/// orders, revenue, texts, polarity), for each channel and for all channels ('*', which the
/// gaps count and `customer_days` leaves to its channels' rows). A day with only a scored text
/// has no events.
const RAW_DAYS: &str = "with changes as (
         select (occurred_at at time zone 'UTC')::date as day, channel, customer_id, 1 as e, 1 as i, 0 as o,
                0::numeric as r, 0 as t, 0::float8 as p
         from interactions where org_id = $1
         union all
         select (ordered_at at time zone 'UTC')::date, coalesce(channel, 'unknown'), customer_id, 1, 0,
                case when status in ('refunded', 'cancelled') then 0 else 1 end,
                case when status in ('refunded', 'cancelled') then 0 else total end, 0, 0
         from orders where org_id = $1
         union all
         select (written_at at time zone 'UTC')::date, channel, customer_id, 0, 0, 0, 0, 1,
                positive::float8 - negative::float8
         from text_scores where org_id = $1 and customer_id is not null
     ),
     both_ways as (select day, channel, customer_id, e, i, o, r, t, p from changes
                   union all select day, '*', customer_id, e, i, o, r, t, p from changes)
     select day, channel, customer_id, sum(e)::int8 as events, sum(i)::int8, sum(o)::int8,
            sum(r)::numeric(24, 4)::text, sum(t)::int8, round(sum(p)::numeric, 6)::float8
     from both_ways group by 1, 2, 3";

/// A customer's day: (day, channel, customer, events, interactions, orders, revenue, texts,
/// polarity).
type Day = (NaiveDate, String, Uuid, i64, i64, i64, String, i64, f64);

/// Who was active when, with what, from the rollup and from the raw rows.
async fn activity(db: &PgPool, org: Uuid) -> (Vec<Day>, Vec<Day>) {
    fold(db, org).await;
    let kept = sqlx::query_as(
        "select day, channel, customer_id, events, interactions, orders, revenue::numeric(24, 4)::text, texts,
                round(polarity_sum::numeric, 6)::float8
         from customer_days where org_id = $1 order by 1, 2, 3",
    )
    .bind(org)
    .fetch_all(db)
    .await
    .unwrap();
    let raw = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "select * from ({RAW_DAYS}) d where channel <> '*' order by 1, 2, 3"
    )))
    .bind(org)
    .fetch_all(db)
    .await
    .unwrap();
    (kept, raw)
}

/// (channel, day, previous active day, customers) from `active_gaps` and from the raw rows.
type Gaps = Vec<(String, NaiveDate, Option<NaiveDate>, i64)>;

async fn gaps(db: &PgPool, org: Uuid) -> (Gaps, Gaps) {
    fold(db, org).await;
    let kept = sqlx::query_as(
        "select channel, day, nullif(previous_day, '-infinity'), sum(customers)::int8 from active_gaps
         where org_id = $1 group by 1, 2, 3 having sum(customers) <> 0 order by 1, 2, 3 nulls first",
    )
    .bind(org)
    .fetch_all(db)
    .await
    .unwrap();
    let raw = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "select channel, day, previous, count(*)::int8 from (
             select channel, day, lag(day) over (partition by channel, customer_id order by day) as previous
             from ({RAW_DAYS}) d where events > 0
         ) g group by 1, 2, 3 order by 1, 2, 3 nulls first"
    )))
    .bind(org)
    .fetch_all(db)
    .await
    .unwrap();
    (kept, raw)
}

/// Per segment: (segment, day, channel, interactions, orders, revenue, texts, polarity).
type SegmentDays = Vec<(String, NaiveDate, String, i64, i64, String, i64, f64)>;
/// Per segment: (segment, channel, day, previous active day, customers).
type SegmentGaps = Vec<(String, String, NaiveDate, Option<NaiveDate>, i64)>;

/// Each segment's days and gaps, from the rollups and from the raw rows of the customers each
/// segment holds now.
async fn segments(db: &PgPool, org: Uuid) -> ((SegmentDays, SegmentDays), (SegmentGaps, SegmentGaps)) {
    fold(db, org).await;
    let figures = "sum(interactions)::int8, sum(orders)::int8, sum(revenue::numeric)::numeric(24, 4)::text,
                   sum(texts)::int8, round(sum(polarity)::numeric, 4)::float8";
    let nonzero =
        "having sum(interactions) <> 0 or sum(orders) <> 0 or sum(revenue::numeric) <> 0 or sum(texts) <> 0";
    let kept_days = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "select segment, day, channel, {figures}
         from (select segment, day, channel, interactions, orders, revenue, texts, polarity_sum as polarity
               from segment_days where org_id = $1) s
         group by 1, 2, 3 {nonzero} order by 1, 2, 3"
    )))
    .bind(org)
    .fetch_all(db)
    .await
    .unwrap();
    let raw_days = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "select segment, day, channel, {figures}
         from ({RAW_DAYS}) d (day, channel, customer_id, events, interactions, orders, revenue, texts, polarity)
         join customer_scores s on s.org_id = $1 and s.customer_id = d.customer_id
         where d.channel <> '*'
         group by 1, 2, 3 {nonzero} order by 1, 2, 3"
    )))
    .bind(org)
    .fetch_all(db)
    .await
    .unwrap();
    let kept_gaps = sqlx::query_as(
        "select segment, channel, day, nullif(previous_day, '-infinity'), sum(customers)::int8 from segment_gaps
         where org_id = $1 group by 1, 2, 3, 4 having sum(customers) <> 0 order by 1, 2, 3, 4 nulls first",
    )
    .bind(org)
    .fetch_all(db)
    .await
    .unwrap();
    let raw_gaps = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "select segment, channel, day, previous, count(*)::int8 from (
             select s.segment, d.channel, d.day,
                    lag(d.day) over (partition by d.channel, d.customer_id order by d.day) as previous
             from ({RAW_DAYS}) d (day, channel, customer_id, events, interactions, orders, revenue, texts, polarity)
             join customer_scores s on s.org_id = $1 and s.customer_id = d.customer_id
             where d.events > 0
         ) g group by 1, 2, 3, 4 order by 1, 2, 3, 4 nulls first"
    )))
    .bind(org)
    .fetch_all(db)
    .await
    .unwrap();
    ((kept_days, raw_days), (kept_gaps, raw_gaps))
}

/// Per RFM cell: (segment, r, f, customers, spend, customers at high churn risk).
type Cells = Vec<(String, i16, i16, i64, String, i64)>;

/// The scored customers per segment and RFM cell, from `score_cells` and counted from
/// `customer_scores`.
async fn cells(db: &PgPool, org: Uuid) -> (Cells, Cells) {
    let kept = sqlx::query_as(
        "select segment, r_score, f_score, customers, round(monetary, 6)::text, high_churn
         from score_cells where org_id = $1 order by 1, 2, 3",
    )
    .bind(org)
    .fetch_all(db)
    .await
    .unwrap();
    let raw = sqlx::query_as(
        "select segment, r_score, f_score, count(*), round(sum(monetary::numeric), 6)::text,
                count(*) filter (where churn_band = 'high')
         from customer_scores where org_id = $1 group by 1, 2, 3 order by 1, 2, 3",
    )
    .bind(org)
    .fetch_all(db)
    .await
    .unwrap();
    (kept, raw)
}

/// Rows of (order, category, day, channel, customer, revenue).
type OrderCategories = Vec<(Uuid, String, NaiveDate, String, Uuid, String)>;

/// Each counted order's revenue per category of its lines' products, from the raw rows: (order,
/// category, day, channel, customer, revenue).
const RAW_ORDER_CATEGORIES: &str = "
    select o.id as order_id, p.category, (o.ordered_at at time zone 'UTC')::date as day,
           coalesce(o.channel, 'unknown') as channel, o.customer_id, sum(l.quantity * l.unit_price) as revenue
    from orders o
    join order_lines l on l.org_id = o.org_id and l.order_id = o.id
    join products p on p.org_id = l.org_id and p.id = l.product_id
    where o.org_id = $1 and p.category is not null and o.status not in ('cancelled', 'refunded')
    group by o.org_id, o.id, p.category";

/// Each counted order's revenue per category: as kept (migration 0023), and computed here
/// from the orders, their lines and the products' categories.
async fn order_categories(db: &PgPool, org: Uuid) -> (OrderCategories, OrderCategories) {
    let kept = sqlx::query_as(
        "select order_id, category, day, channel, customer_id, revenue::numeric(24, 4)::text
         from order_categories where org_id = $1 order by 1, 2",
    )
    .bind(org)
    .fetch_all(db)
    .await
    .unwrap();
    let raw = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "select order_id, category, day, channel, customer_id, revenue::numeric(24, 4)::text
         from ({RAW_ORDER_CATEGORIES}) c order by 1, 2"
    )))
    .bind(org)
    .fetch_all(db)
    .await
    .unwrap();
    (kept, raw)
}

/// Per category: (category, day, channel, orders, revenue, texts, polarity, squares).
type CategoryDays = Vec<(String, NaiveDate, String, i64, String, i64, f64, f64)>;
/// Per category: (category, channel, day, previous order day, buyers).
type CategoryGaps = Vec<(String, String, NaiveDate, Option<NaiveDate>, i64)>;

/// Each category's days and its buyers' gaps (migration 0025), from the rollups and from the
/// raw orders, lines, products, reviews and scores.
async fn categories(db: &PgPool, org: Uuid) -> ((CategoryDays, CategoryDays), (CategoryGaps, CategoryGaps)) {
    fold(db, org).await;
    let kept_days = sqlx::query_as(
        "select category, day, channel, orders, revenue::numeric(24, 4)::text, texts,
                round(polarity_sum::numeric, 6)::float8, round(polarity_squares::numeric, 6)::float8
         from category_days where org_id = $1 order by 1, 2, 3",
    )
    .bind(org)
    .fetch_all(db)
    .await
    .unwrap();
    let raw_days = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "select category, day, channel, sum(o)::int8, sum(r)::numeric(24, 4)::text, sum(t)::int8,
                round(sum(p)::numeric, 6)::float8, round(sum(q)::numeric, 6)::float8
         from (select category, day, channel, 1 as o, revenue as r, 0 as t, 0::float8 as p, 0::float8 as q
               from ({RAW_ORDER_CATEGORIES}) c
               union all
               select p.category, (t.written_at at time zone 'UTC')::date, 'review', 0, 0, 1,
                      t.positive::float8 - t.negative::float8, (t.positive::float8 - t.negative::float8) ^ 2
               from text_scores t
               join reviews r on r.org_id = t.org_id and r.id = t.subject_id
               join products p on p.org_id = r.org_id and p.id = r.product_id
               where t.org_id = $1 and t.subject = 'review' and p.category is not null) x
         group by 1, 2, 3 order by 1, 2, 3"
    )))
    .bind(org)
    .fetch_all(db)
    .await
    .unwrap();
    let kept_gaps = sqlx::query_as(
        "select category, channel, day, nullif(previous_day, '-infinity'), customers
         from category_gaps where org_id = $1 order by 1, 2, 3, 4 nulls first",
    )
    .bind(org)
    .fetch_all(db)
    .await
    .unwrap();
    let raw_gaps = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "with days as (select distinct customer_id, category, channel, day from ({RAW_ORDER_CATEGORIES}) c
                       union
                       select distinct customer_id, category, '*', day from ({RAW_ORDER_CATEGORIES}) c)
         select category, channel, day, previous, count(*)::int8 from (
             select category, channel, day,
                    lag(day) over (partition by customer_id, category, channel order by day) as previous
             from days
         ) g group by 1, 2, 3, 4 order by 1, 2, 3, 4 nulls first"
    )))
    .bind(org)
    .fetch_all(db)
    .await
    .unwrap();
    ((kept_days, raw_days), (kept_gaps, raw_gaps))
}

/// A database migrated up to `version`, as a server of that version left it, and a pool on it
/// past the tenant scope.
async fn database_at(admin: &PgConnectOptions, version: i64) -> PgPool {
    server::database::prepare_up_to(admin, None, Some(version))
        .await
        .unwrap();
    PgPoolOptions::new().connect_with(admin.clone()).await.unwrap()
}

/// Two new organizations `{prefix}-a` and `-b`, each given `seed` (bound to the organization
/// and its index, so the two differ).
async fn two_organizations(db: &PgPool, prefix: &str, seed: &'static str) -> [Uuid; 2] {
    let orgs = [
        organization(db, &format!("{prefix}-a")).await,
        organization(db, &format!("{prefix}-b")).await,
    ];
    for (index, org) in orgs.iter().enumerate() {
        sqlx::query(seed)
            .bind(org)
            .bind(index as i32)
            .execute(db)
            .await
            .unwrap();
    }
    orgs
}

/// A new organization with nothing in it, made past the tenant scope.
async fn organization(db: &PgPool, slug: &str) -> Uuid {
    sqlx::query_scalar("insert into organizations (slug, name) values ($1, 'x') returning id")
        .bind(slug)
        .fetch_one(db)
        .await
        .unwrap()
}

/// Folds the writes' logged deltas into the rollups and the noted customers into
/// `active_gaps`, as the dashboard does before it reads; answers how many (channel, customer)
/// pairs had their gaps moved.
async fn fold(db: &PgPool, org: Uuid) -> i64 {
    app::backend::rollups::fold_on(db, org).await.unwrap()
}

/// Folds with the function an older schema has (`fold_rollups(org)`, before migration 0021).
async fn fold_before_0021(db: &PgPool, org: Uuid) {
    sqlx::query("select fold_rollups($1)")
        .bind(org)
        .execute(db)
        .await
        .unwrap();
}

/// Active customers of every range within the generated days, for every channel and all
/// channels: the dashboard's sum over `active_gaps` against a distinct count of the raw rows.
async fn active_counts_match(db: &PgPool, org: Uuid, case: usize) {
    fold(db, org).await;
    let rows: Vec<(String, NaiveDate, NaiveDate, i64, i64)> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "with raw as ({RAW_DAYS}),
              ranges as (
                  select channel, f::date as from_day, t::date as to_day
                  from (select distinct channel from raw) c,
                       generate_series(date '2026-02-28', date '2026-03-27', interval '3 days') f,
                       generate_series(date '2026-02-28', date '2026-03-27', interval '2 days') t
                  where f <= t
              )
         select r.channel, r.from_day, r.to_day,
                (select coalesce(sum(customers), 0)::int8 from active_gaps g
                 where g.org_id = $1 and g.channel = r.channel and g.day between r.from_day and r.to_day
                   and g.previous_day < r.from_day),
                (select count(distinct customer_id)::int8 from raw
                 where raw.channel = r.channel and raw.day between r.from_day and r.to_day and raw.events > 0)
         from ranges r"
    )))
    .bind(org)
    .fetch_all(db)
    .await
    .unwrap();
    let mismatches: Vec<_> = rows.into_iter().filter(|row| row.3 != row.4).collect();
    assert!(
        mismatches.is_empty(),
        "case {case}: active customers (channel, from, to, from gaps, distinct) differ: {mismatches:?}"
    );
}

/// 40 generated sequences of batches — interactions resent with earlier and later versions
/// (late events), orders replaced, refunded or moved, texts scored and rescored, interactions
/// deleted, customers put in segments, moved between them and unscored, orders refunded alone,
/// products moved between categories — leave the rollups, the active-customer days, each
/// segment's days and gaps and the orders' categories equal to a recomputation from the raw
/// rows, and the RFM cells equal to a count of the stored scores; `rebuild_rollups` gives the
/// same again.
#[sqlx::test(migrations = false)]
async fn rollups_equal_a_recomputation_after_any_mix_of_writes(_: PgPoolOptions, admin: PgConnectOptions) {
    let app = TestApp::spawn(admin).await;
    let mut runner = TestRunner::new(Config {
        cases: 40,
        ..Config::default()
    });
    let strategy = write_strategy();
    // Models are shared by every organization; the generated scores name this one.
    sqlx::query("insert into ml_models (name, version, kind) values ('rollup-test', '1', 'sentiment')")
        .execute(&app.admin_db)
        .await
        .unwrap();
    for case in 0..40 {
        let batches = strategy.new_tree(&mut runner).unwrap().current();
        let org = organization(&app.admin_db, &format!("rollups-{case}")).await;
        // The products exist with categories from the start, so most orders have
        // categorized lines for the writes to change.
        apply(&app, org, &[Write::Order(0, 0, 0, false, 100, None, 0b111)]).await;
        apply(
            &app,
            org,
            &[Write::Categorize(0, Some(0)), Write::Categorize(1, Some(1))],
        )
        .await;
        // Folds at varying points between the batches: everything; as the background folder
        // does, moving one changed customer at most; as a dashboard request does, moving none.
        for (index, batch) in batches.iter().enumerate() {
            apply(&app, org, batch).await;
            match (case + index) % 4 {
                0 => {
                    fold(&app.admin_db, org).await;
                }
                1 | 2 => {
                    sqlx::query("select fold_rollups($1, $2)")
                        .bind(org)
                        .bind(((case + index) % 4 == 1) as i32)
                        .execute(&app.admin_db)
                        .await
                        .unwrap();
                }
                _ => {}
            }
        }
        let (rolled, raw) = (
            rolled_up(&app.admin_db, org).await,
            recomputed(&app.admin_db, org).await,
        );
        assert_eq!(
            rolled, raw,
            "case {case}: rollups equal a recomputation after {batches:?}"
        );
        let (kept, raw_days) = activity(&app.admin_db, org).await;
        assert_eq!(
            kept, raw_days,
            "case {case}: active days equal a recomputation after {batches:?}"
        );
        let (kept_gaps, raw_gaps) = gaps(&app.admin_db, org).await;
        assert_eq!(
            kept_gaps, raw_gaps,
            "case {case}: gaps between active days equal a recomputation after {batches:?}"
        );
        active_counts_match(&app.admin_db, org, case).await;
        let ((kept_segment_days, raw_segment_days), (kept_segment_gaps, raw_segment_gaps)) =
            segments(&app.admin_db, org).await;
        assert_eq!(
            kept_segment_days, raw_segment_days,
            "case {case}: each segment's days equal its customers' after {batches:?}"
        );
        assert_eq!(
            kept_segment_gaps, raw_segment_gaps,
            "case {case}: each segment's gaps equal its customers' after {batches:?}"
        );

        let (kept_cells, raw_cells) = cells(&app.admin_db, org).await;
        assert_eq!(
            kept_cells, raw_cells,
            "case {case}: the RFM cells count the stored scores after {batches:?}"
        );
        let (kept_categories, raw_categories) = order_categories(&app.admin_db, org).await;
        assert_eq!(
            kept_categories, raw_categories,
            "case {case}: the orders' categories equal their lines' after {batches:?}"
        );
        let ((kept_category_days, raw_category_days), (kept_category_gaps, raw_category_gaps)) =
            categories(&app.admin_db, org).await;
        assert_eq!(
            kept_category_days, raw_category_days,
            "case {case}: each category's days equal its orders' and reviews' after {batches:?}"
        );
        assert_eq!(
            kept_category_gaps, raw_category_gaps,
            "case {case}: each category's gaps equal its buyers' after {batches:?}"
        );

        sqlx::query("select rebuild_rollups($1)")
            .bind(org)
            .execute(&app.admin_db)
            .await
            .unwrap();
        assert_eq!(
            rolled_up(&app.admin_db, org).await,
            raw,
            "case {case}: a rebuild gives the same"
        );
        assert_eq!(
            activity(&app.admin_db, org).await.0,
            raw_days,
            "case {case}: a rebuilt activity too"
        );
        assert_eq!(
            gaps(&app.admin_db, org).await.0,
            raw_gaps,
            "case {case}: rebuilt gaps too"
        );
        let (rebuilt_days, rebuilt_gaps) = segments(&app.admin_db, org).await;
        assert_eq!(
            (rebuilt_days.0, rebuilt_gaps.0),
            (raw_segment_days, raw_segment_gaps),
            "case {case}: rebuilt segments too"
        );
        assert_eq!(
            order_categories(&app.admin_db, org).await.0,
            raw_categories,
            "case {case}: rebuilt orders' categories too"
        );
        let (rebuilt_days, rebuilt_gaps) = categories(&app.admin_db, org).await;
        assert_eq!(
            (rebuilt_days.0, rebuilt_gaps.0),
            (raw_category_days, raw_category_gaps),
            "case {case}: rebuilt categories too"
        );
    }
}

/// Concurrent writers adding days of the same customers (each in its own transaction, as
/// concurrent API requests are), with folders racing them, leave the rollups and the gaps
/// exact: no fold works from a snapshot that misses another's days, and each logged delta is
/// applied exactly once.
#[sqlx::test(migrations = false)]
async fn concurrent_writers_and_folders_keep_the_rollups_exact(_: PgPoolOptions, admin: PgConnectOptions) {
    let app = TestApp::spawn(admin).await;
    let org = organization(&app.admin_db, "gaps").await;
    for round in 0..4u16 {
        // Eight writers, each adding one customer-day on a different day of the same two
        // customers, interleaved with the others' days.
        let batches: Vec<Vec<Write>> = (0..8u16)
            .map(|w| {
                let hour = (w * 2 + round * 17) % 24 * 24 + round;
                vec![Write::Interaction(
                    (w + 8 * round) as u8,
                    (w % 2) as u8,
                    hour,
                    (w % 3) as u8,
                )]
            })
            .collect();
        // Folders racing the writers, on the app's role as the server's folder and the
        // dashboard run them.
        let writes = futures_util::future::join_all(batches.iter().map(|b| apply(&app, org, b)));
        let folds = futures_util::future::join_all((0..4).map(|_| async {
            let mut tenant = TenantTx::begin(&app.app_db, OrgId(org)).await.unwrap();
            app::backend::rollups::fold(&mut tenant).await.unwrap();
            tenant.commit().await.unwrap();
        }));
        futures_util::future::join(writes, folds).await;
        let (kept, raw) = gaps(&app.admin_db, org).await;
        assert_eq!(kept, raw, "round {round}: gaps equal a recomputation");
        // Each logged delta was applied exactly once, whichever folder drained it.
        assert_eq!(
            rolled_up(&app.admin_db, org).await,
            recomputed(&app.admin_db, org).await,
            "round {round}: rollups equal a recomputation"
        );
        let (kept, raw) = activity(&app.admin_db, org).await;
        assert_eq!(kept, raw, "round {round}: active days equal a recomputation");
    }
    active_counts_match(&app.admin_db, org, 0).await;
}

/// Orders written and rewritten while their products change category, each in its own
/// transaction as concurrent API requests and imports are, leave every order's categories
/// equal to its lines': whichever writer recomputes an order last sees the others' lines and
/// categories (migration 0023).
#[sqlx::test(migrations = false)]
async fn concurrent_order_writers_and_category_changes_keep_the_orders_categories_exact(
    _: PgPoolOptions,
    admin: PgConnectOptions,
) {
    let app = TestApp::spawn(admin).await;
    let org = organization(&app.admin_db, "categories").await;
    // Every product exists and has a category before the races.
    apply(&app, org, &[Write::Order(9, 0, 0, false, 100, None, 0b111)]).await;
    for (product, category) in [(0, 0), (1, 1), (2, 0)] {
        apply(&app, org, &[Write::Categorize(product, Some(category))]).await;
    }
    for round in 0..6u16 {
        // Six writers of three orders (each written twice, with other lines, days and
        // statuses), and two moving products between the categories.
        let batches: Vec<Vec<Write>> = (0..8u16)
            .map(|w| match w {
                0 | 1 => vec![Write::Categorize(
                    ((w + round) % 3) as u8,
                    Some(((w + round) % 2) as u8),
                )],
                _ => vec![Write::Order(
                    (w % 3) as u8,
                    (w % 2) as u8,
                    w * 30 + round,
                    (w + round) % 5 == 0,
                    1_000 + u32::from(w),
                    Some((w % 5) as u8),
                    ((w + round) % 7 + 1) as u8,
                )],
            })
            .collect();
        futures_util::future::join_all(batches.iter().map(|b| apply(&app, org, b))).await;
        let (kept, raw) = order_categories(&app.admin_db, org).await;
        assert!(
            !raw.is_empty(),
            "round {round}: the orders have categorized lines"
        );
        assert_eq!(
            kept, raw,
            "round {round}: the orders' categories equal their lines'"
        );
    }
}

/// A product's change of category and an order written with that product, each left open
/// while the other runs, in both orders: whichever commits second recomputes the order with
/// what the first committed (the category lock of migration 0023), where without the lock the
/// order would keep the category its writer saw before the change.
#[sqlx::test(migrations = false)]
async fn an_order_written_during_a_category_change_gets_the_new_category(
    _: PgPoolOptions,
    admin: PgConnectOptions,
) {
    let app = TestApp::spawn(admin).await;
    let org = organization(&app.admin_db, "category-race").await;
    apply(&app, org, &[Write::Order(0, 0, 0, false, 100, None, 0b001)]).await;
    apply(&app, org, &[Write::Categorize(0, Some(0))]).await;
    let pause = || tokio::time::sleep(std::time::Duration::from_millis(300));

    // The change first, held open while an order with the product is written.
    let change = async {
        let mut tenant = TenantTx::begin(&app.app_db, OrgId(org)).await.unwrap();
        sqlx::query("update products set category = 'Bags' where sku = 'A-1'")
            .execute(tenant.conn())
            .await
            .unwrap();
        pause().await;
        tenant.commit().await.unwrap();
    };
    let order = async {
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        apply(&app, org, &[Write::Order(1, 1, 5, false, 200, None, 0b001)]).await;
    };
    futures_util::future::join(change, order).await;
    let (kept, raw) = order_categories(&app.admin_db, org).await;
    assert!(raw.iter().all(|row| row.1 == "Bags"), "{raw:?}");
    assert_eq!(kept, raw, "an order written during the change");

    // The order first, held open while the product changes category.
    let order = async {
        let record = domain::records::Order::parse(
            &json!({ "external_id": "o2", "customer_external_id": "c2", "ordered_at": base().to_rfc3339(),
                     "status": "paid", "currency": "EUR", "total": "3.00",
                     "lines": [{ "sku": "A-1", "quantity": 3, "unit_price": "1.00" }] }),
            Utc::now(),
        )
        .unwrap();
        let mut tenant = TenantTx::begin(&app.app_db, OrgId(org)).await.unwrap();
        app::backend::ingest::orders::write(&mut tenant, &[record], app::backend::ingest::Lineage::default())
            .await
            .unwrap();
        pause().await;
        tenant.commit().await.unwrap();
    };
    let change = async {
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        apply(&app, org, &[Write::Categorize(0, Some(0))]).await;
    };
    futures_util::future::join(order, change).await;
    let (kept, raw) = order_categories(&app.admin_db, org).await;
    assert_eq!(raw.len(), 3, "{raw:?}");
    assert!(raw.iter().all(|row| row.1 == "Shoes"), "{raw:?}");
    assert_eq!(kept, raw, "a change made while an order was being written");
}

/// A review's score written while its product changes category or the review moves to another
/// product, each left open while the other runs, in both orders: the score counts in the
/// category it ends in (the category lock of migration 0023 and the review's row lock, 0025),
/// where without them whoever recomputed the review second would not see what the first wrote.
#[sqlx::test(migrations = false)]
async fn a_review_scored_during_a_category_change_or_a_move_counts_where_it_ends(
    _: PgPoolOptions,
    admin: PgConnectOptions,
) {
    let app = TestApp::spawn(admin).await;
    let org = organization(&app.admin_db, "review-race").await;
    sqlx::query("insert into ml_models (name, version, kind) values ('rollup-test', '1', 'sentiment')")
        .execute(&app.admin_db)
        .await
        .unwrap();
    apply(&app, org, &[Write::Order(0, 0, 0, false, 100, None, 0b011)]).await;
    apply(
        &app,
        org,
        &[Write::Categorize(0, Some(0)), Write::Categorize(1, Some(1))],
    )
    .await;
    apply(
        &app,
        org,
        &[Write::Review(0, 0, 0, 5, 80), Write::Review(1, 0, 1, 9, 20)],
    )
    .await;
    // `first` held open for a while, `second` started while it is.
    let app = &app;
    let race = |first: &'static str, second: &'static str| async move {
        let held = async {
            let mut tenant = TenantTx::begin(&app.app_db, OrgId(org)).await.unwrap();
            sqlx::query(first).execute(tenant.conn()).await.unwrap();
            tokio::time::sleep(std::time::Duration::from_millis(300)).await;
            tenant.commit().await.unwrap();
        };
        let later = async {
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            let mut tenant = TenantTx::begin(&app.app_db, OrgId(org)).await.unwrap();
            sqlx::query(second).execute(tenant.conn()).await.unwrap();
            tenant.commit().await.unwrap();
        };
        futures_util::future::join(held, later).await;
        categories(&app.admin_db, org).await
    };
    let rescore = "update text_scores set positive = positive / 2, written_at = written_at + interval '1 day'
                   where subject = 'review'";
    for (first, second, what) in [
        ("update products set category = 'Bags' where sku = 'A-1'", rescore, "rescored during a category change"),
        (rescore, "update products set category = 'Shoes' where sku = 'A-1'", "a category change during a rescore"),
        ("update reviews set product_id = (select id from products where sku = 'B-2') where external_id = 'r0'",
         rescore, "rescored during a move"),
        (rescore, "update reviews set product_id = (select id from products where sku = 'A-1') where external_id = 'r0'",
         "a move during a rescore"),
    ] {
        let ((kept_days, raw_days), (kept_gaps, raw_gaps)) = race(first, second).await;
        assert_eq!(kept_days, raw_days, "{what}");
        assert_eq!(kept_gaps, raw_gaps, "{what}");
        assert!(raw_days.iter().any(|d| d.5 > 0), "{what}: reviews are counted: {raw_days:?}");
    }
}

/// The customer days, gaps, logged deltas and the segments' rollups carry no foreign key
/// (migrations 0017, 0018, 0019 and 0021): deleting an organization still takes its rows away, and only its, on the owner
/// role that row-level security binds, and the deleting transaction's scope is left as it was.
#[sqlx::test(migrations = false)]
async fn deleting_an_organization_takes_its_unkeyed_rollup_rows_only(
    _: PgPoolOptions,
    admin: PgConnectOptions,
) {
    let app = TestApp::spawn(admin).await;
    let mut orgs = Vec::new();
    for slug in ["leaving", "staying"] {
        let org = organization(&app.admin_db, slug).await;
        // Rows as the triggers write them; the organization holds nothing else (its raw rows'
        // own keys would otherwise refuse the delete).
        sqlx::query(
            "insert into customer_days (org_id, day, channel, customer_id, events, interactions)
             select $1, date '2026-01-01' + d, c, gen_random_uuid(), 1, 1
             from generate_series(0, 2) d cross join (values ('web'), ('chat')) as v (c)",
        )
        .bind(org)
        .execute(&app.admin_db)
        .await
        .unwrap();
        sqlx::query(
            "with gaps as (
                 insert into active_gaps (org_id, channel, day, previous_day, shard, customers)
                 values ($1, '*', date '2026-01-02', date '2026-01-01', 0, 1)
             ),
             segment_rows as (
                 insert into segment_days (org_id, segment, day, channel, interactions)
                 values ($1, 'champions', date '2026-01-02', 'web', 1)
             ),
             segment_gap_rows as (
                 insert into segment_gaps (org_id, segment, channel, day, previous_day, customers)
                 values ($1, 'champions', '*', date '2026-01-02', date '2026-01-01', 1)
             ),
             moves as (
                 insert into segment_moves (org_id, customer_id, old_segment) values ($1, gen_random_uuid(), null)
             )
             insert into rollup_deltas (org_id, day, channel, customer_id, interactions, orders, revenue, texts,
                                        polarity_sum, polarity_squares, negative_texts, events)
             values ($1, date '2026-01-04', 'web', gen_random_uuid(), 1, 0, 0, 0, 0, 0, 0, 1)",
        )
        .bind(org)
        .execute(&app.admin_db)
        .await
        .unwrap();
        orgs.push(org);
    }
    let days = |org: Uuid| {
        sqlx::query_scalar::<_, i64>(
            "select (select count(*) from customer_days where org_id = $1)
                  + (select count(*) from rollup_deltas where org_id = $1)
                  + (select count(*) from active_gaps where org_id = $1)
                  + (select count(*) from segment_days where org_id = $1)
                  + (select count(*) from segment_gaps where org_id = $1)
                  + (select count(*) from segment_moves where org_id = $1)",
        )
        .bind(org)
        .fetch_one(&app.admin_db)
    };
    assert_eq!(
        (days(orgs[0]).await.unwrap(), days(orgs[1]).await.unwrap()),
        (11, 11)
    );

    let mut tx = app.admin_db.begin().await.unwrap();
    sqlx::query("set local role sightline_owner")
        .execute(&mut *tx)
        .await
        .unwrap();
    sqlx::query("select set_config('app.org_id', $1, true)")
        .bind(orgs[0].to_string())
        .execute(&mut *tx)
        .await
        .unwrap();
    let deleted = sqlx::query("delete from organizations where id = $1")
        .bind(orgs[0])
        .execute(&mut *tx)
        .await
        .unwrap();
    assert_eq!(deleted.rows_affected(), 1);
    let scope: String = sqlx::query_scalar("select current_setting('app.org_id')")
        .fetch_one(&mut *tx)
        .await
        .unwrap();
    assert_eq!(
        scope,
        orgs[0].to_string(),
        "the deleting transaction's scope is put back"
    );
    tx.commit().await.unwrap();

    assert_eq!(
        days(orgs[0]).await.unwrap(),
        0,
        "the deleted organization's rows are gone"
    );
    assert_eq!(days(orgs[1]).await.unwrap(), 11, "the other's are all kept");
}

/// Migration 0019 drops the folder's copy of the counted days and its list of noted customers,
/// so it must first fold what older servers left in them: a customer noted by a 0017 writer
/// (its day already in `customer_days`, not yet in the gaps) and deltas logged by a 0018 one.
#[sqlx::test(migrations = false)]
async fn upgrading_to_0019_folds_what_older_servers_left_unfolded(_: PgPoolOptions, admin: PgConnectOptions) {
    let db = database_at(&admin, 18).await;
    let org = organization(&db, "old").await;
    sqlx::query("select ensure_interactions_partition(timestamptz '2026-03-01')")
        .execute(&db)
        .await
        .unwrap();
    let customer: Uuid =
        sqlx::query_scalar("insert into customers (org_id, external_id) values ($1, 'c') returning id")
            .bind(org)
            .fetch_one(&db)
            .await
            .unwrap();
    let interaction = |day: u32| {
        sqlx::query(
            "insert into interactions (org_id, customer_id, external_id, occurred_at, channel, event_type)
             values ($1, $2, 'i' || $3, timestamptz '2026-03-01' + make_interval(days => $3), 'web', 'message')",
        )
        .bind(org)
        .bind(customer)
        .bind(day as i32)
    };
    // Folded under 0018: days 1 and 9.
    interaction(1).execute(&db).await.unwrap();
    interaction(9).execute(&db).await.unwrap();
    fold_before_0021(&db, org).await;
    // As a 0017 writer left day 5: in the customer days, its customer noted, the gaps not moved.
    let mut tx = db.begin().await.unwrap();
    sqlx::query("set local session_replication_role = replica")
        .execute(&mut *tx)
        .await
        .unwrap();
    interaction(5).execute(&mut *tx).await.unwrap();
    sqlx::query(
        "with added as (
             insert into customer_days (org_id, day, channel, customer_id, events, interactions)
             select $1, date '2026-03-06', c, $2, 1, 1 from (values ('web'), ('*')) as v (c)
         )
         insert into unfolded_customers (org_id, channel, customer_id)
         select $1, c, $2 from (values ('web'), ('*')) as v (c)",
    )
    .bind(org)
    .bind(customer)
    .execute(&mut *tx)
    .await
    .unwrap();
    tx.commit().await.unwrap();
    // As a 0018 writer left day 7: logged, not folded.
    interaction(7).execute(&db).await.unwrap();

    server::database::prepare(&admin, None).await.unwrap();
    let logged: i64 = sqlx::query_scalar("select count(*) from rollup_deltas")
        .fetch_one(&db)
        .await
        .unwrap();
    assert_eq!(logged, 0, "the migration folded the logged deltas");
    let (kept, raw) = activity(&db, org).await;
    assert_eq!(kept, raw);
    assert_eq!(raw.len(), 4, "four days in one channel");
    let (kept, raw) = gaps(&db, org).await;
    assert_eq!(kept, raw);
}

/// Migration 0021 starts the segments' rollups from the scores already stored: every scored
/// customer's folded days and gaps, and the deltas still pending, land in its segment.
#[sqlx::test(migrations = false)]
async fn upgrading_to_0021_counts_every_scored_customer_in_its_segment(
    _: PgPoolOptions,
    admin: PgConnectOptions,
) {
    let db = database_at(&admin, 20).await;
    let org = organization(&db, "scored").await;
    sqlx::query("select ensure_interactions_partition(timestamptz '2026-03-01')")
        .execute(&db)
        .await
        .unwrap();
    sqlx::query(
        "with people as (
             insert into customers (org_id, external_id)
             select $1, 'c' || n from generate_series(0, 2) n returning id, external_id
         ),
         scores as (
             insert into customer_scores (org_id, customer_id, computed_at, model_version, recency_days, frequency,
                 monetary, r_score, f_score, m_score, segment, horizon_days, p_alive, expected_purchases,
                 expected_purchases_low, expected_purchases_high, churn_probability, churn_band, churn_method)
             select $1, id, now(), 'old', 1, 1, 1, 3, 3, 3,
                    case when external_id = 'c0' then 'champions' else 'at_risk' end,
                    90, 0.5, 1, 0, 2, 0.2, 'low', 'p_alive'
             from people where external_id <> 'c2'
         )
         insert into interactions (org_id, customer_id, external_id, occurred_at, channel, event_type)
         select $1, p.id, p.external_id || '-' || d, timestamptz '2026-03-01' + make_interval(days => d),
                (array['web', 'email'])[1 + d % 2], 'message'
         from people p cross join generate_series(0, 9, 3) d",
    )
    .bind(org)
    .execute(&db)
    .await
    .unwrap();
    fold_before_0021(&db, org).await;
    // Logged by a 0020 writer, not folded yet.
    sqlx::query(
        "insert into interactions (org_id, customer_id, external_id, occurred_at, channel, event_type)
         select $1, id, external_id || '-late', timestamptz '2026-03-05', 'chat', 'message'
         from customers where org_id = $1",
    )
    .bind(org)
    .execute(&db)
    .await
    .unwrap();

    server::database::prepare(&admin, None).await.unwrap();
    let ((kept_days, raw_days), (kept_gaps, raw_gaps)) = segments(&db, org).await;
    assert_eq!(kept_days, raw_days);
    assert_eq!(kept_gaps, raw_gaps);
    let in_segments: Vec<String> = raw_days.iter().map(|d| d.0.clone()).collect();
    assert!(
        in_segments.contains(&"champions".to_owned()) && in_segments.contains(&"at_risk".to_owned()),
        "both segments have days: {raw_days:?}"
    );
    assert_eq!(
        raw_days.iter().map(|d| d.3).sum::<i64>(),
        10,
        "the two scored customers' five interactions each; the unscored one is in no segment"
    );
}

/// Migration 0022 counts the scores already stored into their RFM cells, for every
/// organization.
#[sqlx::test(migrations = false)]
async fn upgrading_to_0022_counts_the_stored_scores_in_their_cells(
    _: PgPoolOptions,
    admin: PgConnectOptions,
) {
    let db = database_at(&admin, 21).await;
    let orgs = two_organizations(
        &db,
        "scored",
        "with people as (
             insert into customers (org_id, external_id)
             select $1, 'c' || n from generate_series(1, 20 + $2) n returning id, external_id
         )
         insert into customer_scores (org_id, customer_id, computed_at, model_version, recency_days, frequency,
             monetary, r_score, f_score, m_score, segment, horizon_days, p_alive, expected_purchases,
             expected_purchases_low, expected_purchases_high, churn_probability, churn_band, churn_method)
         select $1, id, now(), 'old', 1, 1, n * 2.5, 1 + n % 5, 1 + n % 3, 3,
                (array['champions', 'at_risk', 'hibernating'])[1 + n % 3], 90, 0.5, 1, 0, 2, 0.2,
                case when n % 4 = 0 then 'high' else 'low' end, 'p_alive'
         from people, lateral (select substr(external_id, 2)::int as n) x",
    )
    .await;

    server::database::prepare(&admin, None).await.unwrap();
    for (index, org) in orgs.iter().enumerate() {
        let (kept, raw) = cells(&db, *org).await;
        assert_eq!(kept, raw, "organization {index}");
        assert_eq!(
            kept.iter().map(|c| c.3).sum::<i64>(),
            20 + index as i64,
            "every stored score is counted once"
        );
    }
}

/// Migration 0023 fills `order_categories` from the orders already stored, for every
/// organization: counted orders only, one row per order and category of its lines.
#[sqlx::test(migrations = false)]
async fn upgrading_to_0023_fills_the_orders_categories(_: PgPoolOptions, admin: PgConnectOptions) {
    let db = database_at(&admin, 22).await;
    // Ten orders (eleven in the second organization) of one customer, every fourth refunded,
    // each with lines of two or three of three products (one without a category).
    let orgs = two_organizations(
        &db,
        "ordered",
        "with people as (
             insert into customers (org_id, external_id) values ($1, 'c1') returning id
         ),
         goods as (
             insert into products (org_id, sku, normalized_sku, name, category)
             values ($1, 'A', 'A', 'a', 'Shoes'), ($1, 'B', 'B', 'b', 'Bags'), ($1, 'C', 'C', 'c', null)
             returning id, sku
         ),
         placed as (
             insert into orders (org_id, external_id, customer_id, ordered_at, status, currency, total, channel)
             select $1, 'o' || n, (select id from people), now() - n * interval '1 day',
                    case when n % 4 = 0 then 'refunded' else 'paid' end, 'EUR', 10, 'web'
             from generate_series(1, 10 + $2) n
             returning id, external_id
         )
         insert into order_lines (org_id, order_id, line_no, product_id, sku, quantity, unit_price)
         select $1, o.id, row_number() over (partition by o.id order by g.sku), g.id, g.sku, 2, 1.5
         from placed o cross join goods g
         where g.sku <> 'C' or substr(o.external_id, 2)::int % 2 = 0",
    )
    .await;

    server::database::prepare(&admin, None).await.unwrap();
    for (index, org) in orgs.iter().enumerate() {
        let (kept, raw) = order_categories(&db, *org).await;
        assert_eq!(kept, raw, "organization {index}");
        let counted = (1..=10 + index).filter(|n| n % 4 != 0).count();
        assert_eq!(
            kept.len(),
            counted * 2,
            "two categories per counted order: {kept:?}"
        );
    }
}

/// Upgrading to 0025 fills each organization's category rollups from the orders and review
/// scores already stored, and counts its scored customers per category.
#[sqlx::test(migrations = false)]
async fn upgrading_to_0025_fills_the_categories_rollups(_: PgPoolOptions, admin: PgConnectOptions) {
    let db = database_at(&admin, 24).await;
    sqlx::query("insert into ml_models (name, version, kind) values ('upgrade-test', '1', 'sentiment')")
        .execute(&db)
        .await
        .unwrap();
    // Per organization: three customers with an order each on days apart (one refunded), of
    // two categorized products, each reviewed and scored; the first two customers scored.
    let orgs = two_organizations(
        &db,
        "categorized",
        "with people as (
             insert into customers (org_id, external_id) select $1, 'c' || n from generate_series(1, 3) n
             returning id, external_id
         ),
         goods as (
             insert into products (org_id, sku, normalized_sku, name, category)
             values ($1, 'A', 'A', 'a', 'Shoes'), ($1, 'B', 'B', 'b', 'Bags')
             returning id, sku
         ),
         placed as (
             insert into orders (org_id, external_id, customer_id, ordered_at, status, currency, total, channel)
             select $1, 'o' || c.external_id, c.id, now() - (substr(c.external_id, 2)::int * 3 + $2) * interval '1 day',
                    case when c.external_id = 'c3' then 'refunded' else 'paid' end, 'EUR', 10, 'web'
             from people c
             returning id
         ),
         lines as (
             insert into order_lines (org_id, order_id, line_no, product_id, sku, quantity, unit_price)
             select $1, o.id, row_number() over (partition by o.id order by g.sku), g.id, g.sku, 1, 2.5
             from placed o cross join goods g
         ),
         reviewed as (
             insert into reviews (org_id, external_id, product_id, sku, customer_id, rating, content, reviewed_at)
             select $1, 'r' || c.external_id || g.sku, g.id, g.sku, c.id, 4, 'fine', now() - interval '2 days'
             from people c cross join goods g
             returning id, customer_id, reviewed_at
         ),
         scored as (
             insert into customer_scores (org_id, customer_id, computed_at, model_version, recency_days, frequency,
                 monetary, r_score, f_score, m_score, segment, horizon_days, p_alive, expected_purchases,
                 expected_purchases_low, expected_purchases_high, churn_probability, churn_band, churn_method)
             select $1, id, now(), 'test', 1, 1, 5, 4, 2, 3, 'champions', 90, 0.5, 1, 0, 2, 0.2, 'low', 'p_alive'
             from people where external_id <> 'c3'
         )
         insert into text_scores (org_id, subject, subject_id, customer_id, written_at, channel, label, positive,
             neutral, negative, confidence, scorer, model_name, model_version)
         select $1, 'review', id, customer_id, reviewed_at, 'review', 'positive', 0.7, 0.2, 0.1, 0.9, 'lexicon',
                'upgrade-test', '1'
         from reviewed",
    )
    .await;

    server::database::prepare(&admin, None).await.unwrap();
    for (index, org) in orgs.iter().enumerate() {
        let ((kept_days, raw_days), (kept_gaps, raw_gaps)) = categories(&db, *org).await;
        assert_eq!(kept_days, raw_days, "organization {index}");
        assert_eq!(kept_gaps, raw_gaps, "organization {index}");
        // Two paid orders and three reviews in each category.
        assert_eq!(
            kept_days
                .iter()
                .map(|d| (d.3, d.5))
                .fold((0, 0), |a, d| (a.0 + d.0, a.1 + d.1)),
            (4, 6),
            "{kept_days:?}"
        );
        let cells: Vec<(String, i64)> = sqlx::query_as(
            "select category, customers from category_score_cells where org_id = $1 order by 1",
        )
        .bind(org)
        .fetch_all(&db)
        .await
        .unwrap();
        assert_eq!(
            cells,
            vec![("Bags".to_owned(), 2), ("Shoes".to_owned(), 2)],
            "the two scored buyers in each category"
        );
    }
}

/// The deltas' table gives its space back only when nothing in it is left to fold: pending
/// deltas of any organization keep it as it is.
#[sqlx::test(migrations = false)]
async fn the_deltas_table_is_emptied_only_when_everything_is_folded(
    _: PgPoolOptions,
    admin: PgConnectOptions,
) {
    let app = TestApp::spawn(admin).await;
    let org = organization(&app.admin_db, "big").await;
    // About 10 MB of pending deltas, as a large load leaves them.
    sqlx::query(
        "insert into rollup_deltas (org_id, day, channel, customer_id, interactions, orders, revenue, texts,
                                    polarity_sum, polarity_squares, negative_texts, events)
         select $1, date '2026-01-01' + g % 300, 'web', gen_random_uuid(), 1, 0, 0, 0, 0, 0, 0, 1
         from generate_series(1, 100000) g",
    )
    .bind(org)
    .execute(&app.admin_db)
    .await
    .unwrap();
    let size =
        || sqlx::query_scalar::<_, i64>("select pg_relation_size('rollup_deltas')").fetch_one(&app.admin_db);
    assert!(size().await.unwrap() > 8 << 20);

    assert!(
        !app::backend::rollups::compact(&app.app_db).await.unwrap(),
        "pending deltas are kept"
    );
    let pending: i64 = sqlx::query_scalar("select count(*) from rollup_deltas")
        .fetch_one(&app.admin_db)
        .await
        .unwrap();
    assert_eq!(pending, 100_000);

    sqlx::query("delete from rollup_deltas")
        .execute(&app.admin_db)
        .await
        .unwrap();
    assert!(size().await.unwrap() > 8 << 20, "deleted rows keep their space");
    assert!(app::backend::rollups::compact(&app.app_db).await.unwrap());
    assert_eq!(size().await.unwrap(), 0);
}

/// Writes one batch in one tenant transaction, through the same write paths the API uses.
async fn apply(app: &TestApp, org: Uuid, batch: &[Write]) {
    let at = |hour: u16| (base() + Duration::hours(i64::from(hour))).to_rfc3339();
    let mut interactions = Vec::new();
    let mut orders = Vec::new();
    for write in batch {
        match write {
            Write::Interaction(e, c, h, ch) => interactions.push(
                domain::records::Interaction::parse(
                    &json!({ "external_id": format!("i{e}"), "customer_external_id": format!("c{c}"),
                             "occurred_at": at(*h), "channel": CHANNELS[usize::from(*ch)], "event_type": "message",
                             "content": "words" }),
                    Utc::now(),
                )
                .unwrap(),
            ),
            Write::Order(e, c, h, refunded, cents, ch, skus) => {
                let mut lines: Vec<Value> = (0..SKUS.len())
                    .filter(|n| skus & (1 << n) != 0)
                    .map(|n| json!({ "sku": SKUS[n], "quantity": n + 1, "unit_price": format!("{}.25", cents % 97) }))
                    .collect();
                if lines.is_empty() {
                    lines.push(json!({ "sku": "Z-9", "quantity": 1, "unit_price": "1.00" }));
                }
                let mut record = json!({ "external_id": format!("o{e}"), "customer_external_id": format!("c{c}"),
                    "ordered_at": at(*h), "status": if *refunded { "refunded" } else { "paid" }, "currency": "EUR",
                    "total": format!("{}.{:02}", cents / 100, cents % 100), "lines": lines });
                if let Some(ch) = ch {
                    record["channel"] = json!(CHANNELS[usize::from(*ch)]);
                }
                orders.push(domain::records::Order::parse(&record, Utc::now()).unwrap());
            }
            Write::Score(..)
            | Write::Forget(_)
            | Write::Segment(..)
            | Write::Categorize(..)
            | Write::Refund(..)
            | Write::Review(..)
            | Write::Unreview(_) => {}
        }
    }
    app::backend::ingest::interactions::prepare_months(
        &app.app_db,
        interactions.iter().map(|r| r.occurred_at),
    )
    .await
    .unwrap();
    let mut tenant = TenantTx::begin(&app.app_db, OrgId(org)).await.unwrap();
    let lineage = app::backend::ingest::Lineage::default;
    app::backend::ingest::interactions::write(&mut tenant, &interactions, lineage())
        .await
        .unwrap();
    app::backend::ingest::orders::write(&mut tenant, &orders, lineage())
        .await
        .unwrap();
    for write in batch {
        match write {
            Write::Score(e, p) => {
                let positive = f32::from(*p) / 100.0;
                let label = if positive < 0.3 { "negative" } else { "positive" };
                sqlx::query(
                    "insert into text_scores (org_id, subject, subject_id, customer_id, written_at, channel, label,
                         positive, neutral, negative, confidence, scorer, model_name, model_version)
                     select org_id, 'interaction', id, customer_id, occurred_at, channel, $3, $4, 0, 1 - $4, 0.9,
                            'lexicon', 'rollup-test', '1'
                     from interactions where org_id = $1 and external_id = $2
                     on conflict (org_id, subject, subject_id) do update set
                         label = excluded.label, positive = excluded.positive, negative = excluded.negative,
                         written_at = excluded.written_at, channel = excluded.channel",
                )
                .bind(org)
                .bind(format!("i{e}"))
                .bind(label)
                .bind(positive)
                .execute(tenant.conn())
                .await
                .unwrap();
            }
            Write::Forget(e) => {
                sqlx::query("delete from interactions where org_id = $1 and external_id = $2")
                    .bind(org)
                    .bind(format!("i{e}"))
                    .execute(tenant.conn())
                    .await
                    .unwrap();
            }
            Write::Segment(c, Some((segment, score))) => {
                sqlx::query(
                    "insert into customer_scores as s (org_id, customer_id, computed_at, model_version, recency_days,
                         frequency, monetary, r_score, f_score, m_score, segment, horizon_days, p_alive,
                         expected_purchases, expected_purchases_low, expected_purchases_high, churn_probability,
                         churn_band, churn_method)
                     select org_id, id, now(), 'test', 1, 1, $4::int * 1.37 + 0.01, 1 + $4::int % 5, 1 + $4::int / 5 % 5,
                            3, $3, 90, 0.5, 1, 0, 2, 0.2, case when $4::int % 3 = 0 then 'high' else 'low' end,
                            'p_alive'
                     from customers where org_id = $1 and external_id = $2
                     on conflict (org_id, customer_id) do update set segment = excluded.segment,
                         computed_at = excluded.computed_at, monetary = excluded.monetary,
                         r_score = excluded.r_score, f_score = excluded.f_score, churn_band = excluded.churn_band",
                )
                .bind(org)
                .bind(format!("c{c}"))
                .bind(SEGMENTS[usize::from(*segment)])
                .bind(i16::from(*score))
                .execute(tenant.conn())
                .await
                .unwrap();
            }
            Write::Categorize(product, category) => {
                sqlx::query("update products set category = $3 where org_id = $1 and sku = $2")
                    .bind(org)
                    .bind(SKUS[usize::from(*product)])
                    .bind(category.map(|c| CATEGORIES[usize::from(c)]))
                    .execute(tenant.conn())
                    .await
                    .unwrap();
            }
            Write::Refund(e, refunded) => {
                sqlx::query("update orders set status = $3 where org_id = $1 and external_id = $2")
                    .bind(org)
                    .bind(format!("o{e}"))
                    .bind(if *refunded { "refunded" } else { "paid" })
                    .execute(tenant.conn())
                    .await
                    .unwrap();
            }
            Write::Review(e, c, product, h, p) => {
                let positive = f32::from(*p) / 100.0;
                sqlx::query(
                    "with written as (
                         insert into reviews (org_id, external_id, product_id, sku, customer_id, rating, content,
                                              reviewed_at)
                         select $1, $2, p.id, p.sku, c.id, 3, 'words', $5
                         from products p left join customers c on c.org_id = $1 and c.external_id = $4
                         where p.org_id = $1 and p.sku = $3
                         on conflict (org_id, external_id) do update set product_id = excluded.product_id,
                             sku = excluded.sku, reviewed_at = excluded.reviewed_at
                         returning id, customer_id, reviewed_at
                     )
                     insert into text_scores (org_id, subject, subject_id, customer_id, written_at, channel, label,
                         positive, neutral, negative, confidence, scorer, model_name, model_version)
                     select $1, 'review', id, customer_id, reviewed_at, 'review', 'positive', $6, 0, 1 - $6, 0.9,
                            'lexicon', 'rollup-test', '1'
                     from written
                     on conflict (org_id, subject, subject_id) do update set positive = excluded.positive,
                         negative = excluded.negative, written_at = excluded.written_at",
                )
                .bind(org)
                .bind(format!("r{e}"))
                .bind(SKUS[usize::from(*product)])
                .bind(format!("c{c}"))
                .bind(base() + Duration::hours(i64::from(*h)))
                .bind(positive)
                .execute(tenant.conn())
                .await
                .unwrap();
            }
            Write::Unreview(e) => {
                sqlx::query("delete from reviews where org_id = $1 and external_id = $2")
                    .bind(org)
                    .bind(format!("r{e}"))
                    .execute(tenant.conn())
                    .await
                    .unwrap();
            }
            Write::Segment(c, None) => {
                sqlx::query(
                    "delete from customer_scores where org_id = $1
                         and customer_id in (select id from customers where org_id = $1 and external_id = $2)",
                )
                .bind(org)
                .bind(format!("c{c}"))
                .execute(tenant.conn())
                .await
                .unwrap();
            }
            _ => {}
        }
    }
    tenant.commit().await.unwrap();
}

/// What the dashboard says, by KPI key.
fn kpi(body: &Value, key: &str) -> Value {
    body["kpis"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["key"] == key)
        .unwrap_or_else(|| panic!("no {key} in {body}"))
        .clone()
}

#[sqlx::test(migrations = false)]
async fn the_dashboard_figures_equal_the_raw_rows_for_the_range_and_channel(
    _: PgPoolOptions,
    admin: PgConnectOptions,
) {
    let app = TestApp::spawn(admin).await;
    let owner = register(&app, "owner@example.com", "Acme").await;
    let token = owner["access_token"].as_str().unwrap();
    let today = Utc::now().date_naive();
    // Noon of the day, or now when today's noon is still ahead: never in the future, never
    // on another day.
    let noon = |days_ago: i64| {
        let at = (today - Duration::days(days_ago))
            .and_hms_opt(12, 0, 0)
            .unwrap()
            .and_utc();
        at.min(Utc::now()).to_rfc3339()
    };
    // Interactions over 60 days (two channels, five customers), orders in both halves.
    let interactions: Vec<Value> = (0..60)
        .map(|n| {
            json!({ "external_id": format!("i{n}"), "customer_external_id": format!("c{}", n % 5),
                         "occurred_at": noon(n), "channel": if n % 3 == 0 { "email" } else { "web" },
                         "event_type": "message", "content": "hello" })
        })
        .collect();
    let orders: Vec<Value> = (0..20)
        .map(|n| {
            json!({ "external_id": format!("o{n}"), "customer_external_id": format!("c{}", n % 4),
                         "ordered_at": noon(n * 3), "status": if n == 4 { "refunded" } else { "paid" },
                         "currency": "EUR", "total": format!("{}.50", 10 + n), "channel": "web",
                         "lines": if n % 2 == 0 {
                             json!([{ "sku": "S-1", "quantity": 1, "unit_price": "10.50" },
                                    { "sku": "S-2", "quantity": 2, "unit_price": "4.00" }])
                         } else {
                             json!([{ "sku": "S-1", "quantity": 1, "unit_price": "10.50" }])
                         } })
        })
        .collect();
    // Two categories: every order has shoes, every other one bags too.
    let products = json!({ "records": [
        { "sku": "S-1", "name": "Runner", "category": "Shoes", "price": "10.50", "currency": "EUR" },
        { "sku": "S-2", "name": "Tote", "category": "Bags", "price": "4.00", "currency": "EUR" },
    ]});
    let (s0, b0) = send(&app, token, "/api/v1/products/batch", products).await;
    assert_eq!(s0, 201, "{b0}");
    let (s1, b1) = send(
        &app,
        token,
        "/api/v1/interactions/batch",
        json!({ "records": interactions }),
    )
    .await;
    let (s2, b2) = send(&app, token, "/api/v1/orders/batch", json!({ "records": orders })).await;
    assert_eq!((s1, s2), (201, 201), "{b1} {b2}");

    let (status, body) = get_as(&app, token, "/api/v1/dashboard?days=30").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["from"], (today - Duration::days(29)).to_string());
    assert_eq!(body["previous_to"], (today - Duration::days(30)).to_string());
    let direct = |sql: &'static str, from: i64, to: i64| {
        let db = app.admin_db.clone();
        async move {
            sqlx::query_scalar::<_, f64>(sql)
                .bind(today - Duration::days(from))
                .bind(today - Duration::days(to))
                .fetch_one(&db)
                .await
                .unwrap()
        }
    };
    let revenue_sql =
        "select coalesce(sum(total), 0)::float8 from orders where status not in ('refunded', 'cancelled')
                       and (ordered_at at time zone 'UTC')::date between $1 and $2";
    let orders_sql = "select count(*)::float8 from orders where status not in ('refunded', 'cancelled')
                      and (ordered_at at time zone 'UTC')::date between $1 and $2";
    let active_sql = "select count(distinct customer_id)::float8 from (
                          select customer_id, occurred_at as at from interactions union all
                          select customer_id, ordered_at from orders) x
                      where (at at time zone 'UTC')::date between $1 and $2";
    assert_eq!(kpi(&body, "revenue")["value"], direct(revenue_sql, 29, 0).await);
    assert_eq!(
        kpi(&body, "revenue")["previous"],
        direct(revenue_sql, 59, 30).await
    );
    assert_eq!(kpi(&body, "orders")["value"], direct(orders_sql, 29, 0).await);
    assert_eq!(
        kpi(&body, "active_customers")["value"],
        direct(active_sql, 29, 0).await
    );
    assert_eq!(
        kpi(&body, "active_customers")["previous"],
        direct(active_sql, 59, 30).await
    );
    assert!(
        kpi(&body, "revenue")["value"].as_f64().unwrap() > 0.0,
        "the fixture has revenue in range"
    );
    assert_eq!(
        kpi(&body, "sentiment")["value"],
        Value::Null,
        "nothing scored yet"
    );
    assert!(kpi(&body, "sentiment")["empty_hint"].is_string());
    let series_interactions: i64 = body["series"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["interactions"].as_i64().unwrap())
        .sum();
    assert_eq!(series_interactions, 30, "one interaction a day over 30 days");

    // The channel filter: email interactions only, and no orders (they are all web).
    let (_, email) = get_as(&app, token, "/api/v1/dashboard?days=30&channel=email").await;
    assert_eq!(email["channel"], "email");
    assert_eq!(kpi(&email, "orders")["value"], 0.0);
    let email_interactions: i64 = email["series"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["interactions"].as_i64().unwrap())
        .sum();
    assert_eq!(email_interactions, 10, "every third day is email");
    let emailers: f64 = sqlx::query_scalar(
        "select count(distinct customer_id)::float8 from interactions
         where channel = 'email' and (occurred_at at time zone 'UTC')::date between $1 and $2",
    )
    .bind(today - Duration::days(29))
    .bind(today)
    .fetch_one(&app.admin_db)
    .await
    .unwrap();
    assert_eq!(kpi(&email, "active_customers")["value"], emailers);

    // The segment filter: customers c0 and c2, put in "champions" by a scoring run, and
    // everything else left out — their revenue, orders, activity and interactions only. The
    // folder has folded every write before the run.
    app::backend::rollups::fold_all(&app.app_db).await.unwrap();
    sqlx::query(
        "insert into customer_scores (org_id, customer_id, computed_at, model_version, recency_days, frequency,
             monetary, r_score, f_score, m_score, segment, horizon_days, p_alive, expected_purchases,
             expected_purchases_low, expected_purchases_high, churn_probability, churn_band, churn_method)
         select org_id, id, now(), 'test', 1, 1, 1, 5, 5, 5,
                case when external_id in ('c0', 'c2') then 'champions' else 'hibernating' end,
                90, 0.5, 1, 0, 2, case when external_id = 'c0' then 0.9 else 0.1 end,
                case when external_id = 'c0' then 'high' else 'low' end, 'p_alive'
         from customers",
    )
    .execute(&app.admin_db)
    .await
    .unwrap();
    // The segment's view follows the scoring run once the background folder has moved its
    // customers: one round here, which finds the organization by its moves alone.
    app::backend::rollups::fold_all(&app.app_db).await.unwrap();
    let pending: i64 = sqlx::query_scalar("select count(*) from segment_moves")
        .fetch_one(&app.admin_db)
        .await
        .unwrap();
    assert_eq!(pending, 0, "one round moved every changed customer");
    let (status, champions) = get_as(&app, token, "/api/v1/dashboard?days=30&segment=champions").await;
    assert_eq!(status, 200, "{champions}");
    assert_eq!(champions["segment"], "champions");
    let of_champions = |sql: &str| {
        format!("{sql} and customer_id in (select id from customers where external_id in ('c0', 'c2'))")
    };
    let scoped = |sql: String, from: i64, to: i64| {
        let db = app.admin_db.clone();
        async move {
            sqlx::query_scalar::<_, f64>(sqlx::AssertSqlSafe(sql))
                .bind(today - Duration::days(from))
                .bind(today - Duration::days(to))
                .fetch_one(&db)
                .await
                .unwrap()
        }
    };
    assert_eq!(
        kpi(&champions, "revenue")["value"],
        scoped(of_champions(revenue_sql), 29, 0).await
    );
    assert_eq!(
        kpi(&champions, "revenue")["previous"],
        scoped(of_champions(revenue_sql), 59, 30).await
    );
    assert_eq!(
        kpi(&champions, "orders")["value"],
        scoped(of_champions(orders_sql), 29, 0).await
    );
    assert_eq!(
        kpi(&champions, "active_customers")["value"],
        scoped(of_champions(active_sql), 29, 0).await
    );
    assert_eq!(kpi(&champions, "high_churn_risk")["value"], 1.0, "c0 only");
    let champion_interactions: i64 = champions["series"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["interactions"].as_i64().unwrap())
        .sum();
    assert_eq!(champion_interactions, 12, "c0 and c2: two of every five days");
    assert!(
        kpi(&champions, "revenue")["value"].as_f64().unwrap()
            < kpi(&body, "revenue")["value"].as_f64().unwrap(),
        "the segment is a part of the whole"
    );
    let (_, champions_by_email) = get_as(
        &app,
        token,
        "/api/v1/dashboard?days=30&segment=champions&channel=email",
    )
    .await;
    let email_champions: i64 = champions_by_email["channels"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["interactions"].as_i64().unwrap())
        .sum();
    let expected: i64 = sqlx::query_scalar(
        "select count(*) from interactions i join customers c on c.id = i.customer_id
         where i.channel = 'email' and c.external_id in ('c0', 'c2')
           and (i.occurred_at at time zone 'UTC')::date between $1 and $2",
    )
    .bind(today - Duration::days(29))
    .bind(today)
    .fetch_one(&app.admin_db)
    .await
    .unwrap();
    assert_eq!(email_champions, expected, "segment and channel together");

    // The category filter: bags' order lines, the orders and buyers that have them, and the
    // sentiment of bag reviews only.
    let reviews: Vec<Value> = (0..6)
        .map(|n| {
            json!({ "external_id": format!("r{n}"), "sku": if n % 2 == 0 { "S-2" } else { "S-1" },
                    "customer_external_id": format!("c{n}"), "rating": 1 + n % 5,
                    "content": if n < 3 { "Lovely, great quality" } else { "Broke after a week, awful" },
                    "reviewed_at": noon(n * 4) })
        })
        .collect();
    let (status, written) = send(
        &app,
        token,
        "/api/v1/reviews/batch",
        json!({ "records": reviews }),
    )
    .await;
    assert_eq!(status, 201, "{written}");
    sqlx::query("insert into ml_models (name, version, kind) values ('dashboard-test', '1', 'sentiment')")
        .execute(&app.admin_db)
        .await
        .unwrap();
    sqlx::query(
        "insert into text_scores (org_id, subject, subject_id, customer_id, written_at, channel, label, positive,
             neutral, negative, confidence, scorer, model_name, model_version)
         select org_id, 'review', id, customer_id, reviewed_at, 'review', 'positive',
                0.1 * (substr(external_id, 2)::int + 1), 0, 0.05, 0.9, 'lexicon', 'dashboard-test', '1'
         from reviews
         on conflict (org_id, subject, subject_id) do nothing",
    )
    .execute(&app.admin_db)
    .await
    .unwrap();
    // As a scoring run does once it has stored its scores.
    sqlx::query("select count_category_score_cells(id) from organizations")
        .execute(&app.admin_db)
        .await
        .unwrap();
    let (status, bags) = get_as(&app, token, "/api/v1/dashboard?days=30&category=Bags").await;
    assert_eq!(status, 200, "{bags}");
    assert_eq!(bags["category"], "Bags");
    assert_eq!(bags["categories"], json!(["Bags", "Shoes"]));
    let in_bags = |what: &str| {
        format!(
            "select {what} from orders o
             join order_lines l on l.order_id = o.id
             join products p on p.id = l.product_id and p.category = 'Bags'
             where o.status not in ('refunded', 'cancelled')
               and (o.ordered_at at time zone 'UTC')::date between $1 and $2"
        )
    };
    let bag_revenue = scoped(
        in_bags("coalesce(sum(l.quantity * l.unit_price), 0)::float8"),
        29,
        0,
    )
    .await;
    assert_eq!(kpi(&bags, "revenue")["value"], bag_revenue);
    assert_eq!(
        kpi(&bags, "revenue")["previous"],
        scoped(
            in_bags("coalesce(sum(l.quantity * l.unit_price), 0)::float8"),
            59,
            30
        )
        .await
    );
    assert_eq!(
        kpi(&bags, "orders")["value"],
        scoped(in_bags("count(distinct o.id)::float8"), 29, 0).await
    );
    assert_eq!(
        kpi(&bags, "active_customers")["value"],
        scoped(in_bags("count(distinct o.customer_id)::float8"), 29, 0).await
    );
    assert!(bag_revenue > 0.0 && bag_revenue < kpi(&body, "revenue")["value"].as_f64().unwrap());
    let bag_sentiment: f64 = sqlx::query_scalar(
        "select avg(t.polarity)::float8 from text_scores t
         join reviews r on r.id = t.subject_id join products p on p.id = r.product_id and p.category = 'Bags'
         where (t.written_at at time zone 'UTC')::date between $1 and $2",
    )
    .bind(today - Duration::days(29))
    .bind(today)
    .fetch_one(&app.admin_db)
    .await
    .unwrap();
    let shown = kpi(&bags, "sentiment")["value"].as_f64().unwrap();
    assert!((shown - bag_sentiment).abs() < 1e-6, "{shown} vs {bag_sentiment}");
    let by_channel: Vec<(String, i64, i64)> = bags["channels"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["channel"].as_str().unwrap().to_owned(),
                c["orders"].as_i64().unwrap(),
                c["texts"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        by_channel,
        vec![
            (
                "web".to_owned(),
                kpi(&bags, "orders")["value"].as_f64().unwrap() as i64,
                0
            ),
            ("review".to_owned(), 0, 3)
        ],
        "bag orders are all web; three of the six reviews are of bags, all in range"
    );
    // The segments and the RFM grid: the scored customers who have bought bags.
    let (bag_scored, bag_high_churn): (i64, i64) = sqlx::query_as(
        "select count(*), count(*) filter (where churn_band = 'high') from customer_scores
         where customer_id in (select o.customer_id from orders o
                               join order_lines l on l.order_id = o.id
                               join products p on p.id = l.product_id and p.category = 'Bags'
                               where o.status not in ('refunded', 'cancelled'))",
    )
    .fetch_one(&app.admin_db)
    .await
    .unwrap();
    let customers_in = |list: &Value| -> i64 {
        list.as_array()
            .unwrap()
            .iter()
            .map(|c| c["customers"].as_i64().unwrap())
            .sum()
    };
    assert!(bag_scored > 0);
    assert_eq!(customers_in(&bags["rfm_grid"]), bag_scored);
    assert_eq!(customers_in(&bags["segments"]), bag_scored);
    assert_eq!(kpi(&bags, "high_churn_risk")["value"], bag_high_churn as f64);
    let (_, unknown) = get_as(&app, token, "/api/v1/dashboard?days=30&category=Hats").await;
    assert_eq!(
        kpi(&unknown, "revenue")["value"],
        0.0,
        "a category without products"
    );
    let (_, bag_champions) = get_as(
        &app,
        token,
        "/api/v1/dashboard?days=30&category=Bags&segment=champions",
    )
    .await;
    assert_eq!(
        kpi(&bag_champions, "revenue")["value"],
        scoped(
            format!(
                "{} and o.customer_id in (select id from customers where external_id in ('c0', 'c2'))",
                in_bags("coalesce(sum(l.quantity * l.unit_price), 0)::float8")
            ),
            29,
            0
        )
        .await,
        "category and segment together"
    );

    // Explicit dates; bad parameters name their field.
    let from = today - Duration::days(6);
    let (_, week) = get_as(&app, token, &format!("/api/v1/dashboard?from={from}&to={today}")).await;
    assert_eq!(
        (week["days"].as_i64(), week["bucket"].as_str()),
        (Some(7), Some("day"))
    );
    for (query, field) in [
        ("days=0", "days"),
        ("channel=fax", "channel"),
        ("from=2026-02-30", "from"),
        ("from=2999-01-01&to=2026-01-01", "from"),
        ("segment=whales", "segment"),
        (&*format!("category={}", "x".repeat(201)), "category"),
    ] {
        let (status, body) = get_as(&app, token, &format!("/api/v1/dashboard?{query}")).await;
        assert_eq!(status, 422, "{query}");
        assert_eq!(
            body["error"]["details"]["fields"][0]["field"], field,
            "{query}: {body}"
        );
    }

    // Another organization sees only its own (empty) figures; no credentials, no figures.
    let stranger = register(&app, "other@example.com", "Other").await;
    let (_, theirs) = get_as(
        &app,
        stranger["access_token"].as_str().unwrap(),
        "/api/v1/dashboard?days=30",
    )
    .await;
    assert_eq!(kpi(&theirs, "revenue")["value"], 0.0);
    assert_eq!(kpi(&theirs, "active_customers")["value"], 0.0);
    assert!(theirs["series"].as_array().unwrap().is_empty());
    let anonymous = app.get("/api/v1/dashboard").await.status().as_u16();
    assert_eq!(anonymous, 401);
}

/// `GET /api/v1/charts/{name}.{svg|png}`: the dashboard's charts drawn by the server from the
/// same figures, for the same range and channel; unknown charts are 404, absurd sizes 422, and
/// nothing is drawn without credentials.
#[sqlx::test(migrations = false)]
async fn chart_images_draw_the_dashboard_figures(_: PgPoolOptions, admin: PgConnectOptions) {
    let app = TestApp::spawn(admin).await;
    let owner = register(&app, "owner@example.com", "Acme").await;
    let token = owner["access_token"].as_str().unwrap();
    let today = Utc::now().date_naive();
    let at = |days_ago: i64| {
        ((today - Duration::days(days_ago))
            .and_hms_opt(12, 0, 0)
            .unwrap()
            .and_utc())
        .min(Utc::now())
        .to_rfc3339()
    };
    let orders: Vec<Value> = (0..6)
        .map(|n| {
            json!({ "external_id": format!("o{n}"), "customer_external_id": "c1", "ordered_at": at(n),
                    "status": "paid", "currency": "EUR", "total": "12.00", "channel": "web",
                    "lines": [{ "sku": "S-1", "quantity": 1, "unit_price": "12.00" }] })
        })
        .collect();
    let (status, body) = send(&app, token, "/api/v1/orders/batch", json!({ "records": orders })).await;
    assert_eq!(status, 201, "{body}");

    let image = |path: String, token: Option<&str>| {
        let mut request = app.client.get(format!("{}{path}", app.address));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        async move {
            let response = request.send().await.unwrap();
            let status = response.status().as_u16();
            let kind = response
                .headers()
                .get("content-type")
                .map(|v| v.to_str().unwrap().to_owned())
                .unwrap_or_default();
            (status, kind, response.bytes().await.unwrap())
        }
    };
    let (status, kind, svg) = image("/api/v1/charts/revenue.svg?days=7".into(), Some(token)).await;
    assert_eq!((status, kind.as_str()), (200, "image/svg+xml"));
    let svg = String::from_utf8(svg.to_vec()).unwrap();
    let from = today - Duration::days(6);
    for text in [
        format!("Revenue and orders, {from} to {today}"),
        "Revenue (EUR)".to_owned(),
        from.to_string(),
    ] {
        assert!(svg.contains(&text), "the SVG shows {text}");
    }
    let (status, kind, png) = image(
        "/api/v1/charts/sentiment.png?days=30&channel=web&width=480&height=240".into(),
        Some(token),
    )
    .await;
    assert_eq!((status, kind.as_str()), (200, "image/png"));
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
    assert_eq!(
        (
            u32::from_be_bytes(png[16..20].try_into().unwrap()),
            u32::from_be_bytes(png[20..24].try_into().unwrap())
        ),
        (480, 240),
        "the asked size"
    );
    let (status, _, _) = image("/api/v1/charts/channels.svg?days=30".into(), Some(token)).await;
    assert_eq!(status, 200);

    for (path, expected) in [
        ("/api/v1/charts/pie.svg", 404),
        ("/api/v1/charts/revenue.gif", 404),
        ("/api/v1/charts/revenue.png?width=10", 422),
        ("/api/v1/charts/revenue.png?channel=fax", 422),
    ] {
        assert_eq!(image(path.into(), Some(token)).await.0, expected, "{path}");
    }
    assert_eq!(image("/api/v1/charts/revenue.svg".into(), None).await.0, 401);
}
