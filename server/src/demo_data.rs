//! `sightline seed-demo --customers N --days D --seed S` (SPEC ING-10): a realistic
//! organization, reproducible from its seed, loaded with `COPY`.
//!
//! What it holds, so later features have something true to find:
//! - customers acquired over the period (more of them lately: the shop grows), each with a
//!   country, a segment, a visit rhythm and a lifetime after which they stop coming (churn);
//! - journeys: visits of page views, product views, add-to-cart and checkout (web or mobile),
//!   e-mail campaign opens, and support chats and calls whose texts carry a known sentiment;
//! - orders from those visits with weekly (weekend) and yearly seasonality, Black Friday and
//!   Cyber Monday peaks and a December high; 1–4 lines of products priced in the catalog;
//!   refunds and cancellations; and a few injected fraud-like orders (a brand-new customer,
//!   several large orders within minutes, shipped to another country, paid by gift card);
//! - reviews whose rating and text agree (positive, neutral, negative) about aspects such as
//!   price, quality, delivery, support, packaging and size;
//! - competitor prices per product that drift and drop during promotions, and daily stock
//!   levels that fall with sales and are restocked.
//!
//! `COPY` cannot run under row-level security, so the generator writes as the database
//! administrator (the `DATABASE_URL` the commands are given), with every row carrying the
//! demo organization's id. Each customer's journey draws from its own random stream (seed ×
//! customer), so the data does not depend on how the work is split over connections.

use std::collections::HashMap;
use std::fmt::Write as _;

use chrono::{DateTime, Datelike, Duration, NaiveDate, TimeZone, Utc, Weekday};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use sqlx::postgres::PgPoolOptions;
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

/// What to generate.
#[derive(Debug, Clone, Copy)]
pub struct Plan {
    pub customers: usize,
    pub days: u32,
    pub seed: u64,
    /// The last day of the period (data runs up to and including it).
    pub until: NaiveDate,
}

/// What was generated.
#[derive(Debug, Default, Clone, Copy)]
pub struct Counts {
    pub customers: u64,
    pub interactions: u64,
    pub orders: u64,
    pub order_lines: u64,
    pub reviews: u64,
    pub products: u64,
    pub competitor_prices: u64,
    pub inventory_levels: u64,
    pub fraud_orders: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum DemoDataError {
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
    #[error("the organization {0:?} does not exist")]
    NoOrganization(String),
    #[error("--customers and --days must be at least 1")]
    EmptyPlan,
}

const CATEGORIES: [(&str, &[&str], f64, f64); 6] = [
    (
        "Apparel",
        &[
            "Linen Shirt",
            "Wool Sweater",
            "Rain Jacket",
            "Chino Trousers",
            "Cotton Tee",
            "Denim Jacket",
        ],
        25.0,
        120.0,
    ),
    (
        "Home",
        &[
            "Ceramic Mug",
            "Throw Blanket",
            "Desk Lamp",
            "Scented Candle",
            "Oak Cutting Board",
            "Linen Napkins",
        ],
        12.0,
        90.0,
    ),
    (
        "Electronics",
        &[
            "Wireless Earbuds",
            "Phone Charger",
            "Bluetooth Speaker",
            "Smart Plug",
            "USB-C Hub",
            "E-Reader Case",
        ],
        15.0,
        180.0,
    ),
    (
        "Beauty",
        &[
            "Face Serum",
            "Hand Cream",
            "Lip Balm",
            "Shampoo Bar",
            "Body Lotion",
            "Clay Mask",
        ],
        8.0,
        60.0,
    ),
    (
        "Outdoor",
        &[
            "Water Bottle",
            "Trail Backpack",
            "Camping Mug",
            "Headlamp",
            "Picnic Blanket",
            "Sun Hat",
        ],
        15.0,
        140.0,
    ),
    (
        "Kitchen",
        &[
            "Chef Knife",
            "Coffee Grinder",
            "Spice Set",
            "Cast Iron Pan",
            "Tea Infuser",
            "Salad Bowl",
        ],
        10.0,
        150.0,
    ),
];

const COUNTRIES: [(&str, &[&str], u32); 8] = [
    ("US", &["CA", "NY", "TX", "WA", "IL"], 34),
    ("GB", &["ENG", "SCT", "WLS"], 14),
    ("DE", &["BE", "BY", "HH", "NW"], 13),
    ("FR", &["IDF", "ARA", "PAC"], 10),
    ("CA", &["ON", "QC", "BC"], 9),
    ("NL", &["NH", "ZH", "UT"], 7),
    ("AU", &["NSW", "VIC", "QLD"], 7),
    ("ES", &["MD", "CT", "AN"], 6),
];

const SEGMENTS: [(&str, u32); 4] = [
    ("consumer", 70),
    ("business", 15),
    ("student", 10),
    ("wholesale", 5),
];
const PAYMENTS: [(&str, u32); 4] = [
    ("card", 70),
    ("paypal", 18),
    ("apple_pay", 9),
    ("bank_transfer", 3),
];
const COMPETITORS: [&str; 3] = ["Northwind", "Contoso Market", "Globex Store"];
const FIRST_NAMES: [&str; 16] = [
    "Ava", "Liam", "Mia", "Noah", "Emma", "Lucas", "Sofia", "Leo", "Chloe", "Omar", "Hana", "Mateo", "Zoe",
    "Ivan", "Nora", "Ravi",
];
const LAST_NAMES: [&str; 16] = [
    "Smith", "Garcia", "Müller", "Martin", "Rossi", "Kim", "Nguyen", "Brown", "Dubois", "Silva", "Jensen",
    "Novak", "Ahmed", "Cohen", "Tanaka", "Walsh",
];

/// An aspect of a review and how people praise it, mention it and complain about it.
type Aspect = (
    &'static str,
    [&'static str; 3],
    [&'static str; 2],
    [&'static str; 3],
);

const ASPECTS: [Aspect; 7] = [
    (
        "price",
        [
            "great value for the price",
            "worth every penny",
            "cheaper than anywhere else",
        ],
        [
            "the price is about what you would expect",
            "priced like similar products",
        ],
        [
            "far too expensive for what it is",
            "overpriced compared to other shops",
            "not worth the money",
        ],
    ),
    (
        "quality",
        [
            "excellent build quality",
            "feels solid and well made",
            "the quality is superb",
        ],
        ["quality is okay", "decent quality, nothing special"],
        [
            "cheap materials that broke within a week",
            "poor quality and it fell apart",
            "the stitching came undone",
        ],
    ),
    (
        "delivery",
        [
            "arrived a day early",
            "super fast delivery",
            "shipping was quick and tracked",
        ],
        [
            "delivery took the usual time",
            "arrived within the estimated window",
        ],
        [
            "the parcel arrived two weeks late",
            "delivery was very slow",
            "the package got lost and came late",
        ],
    ),
    (
        "support",
        [
            "customer service was friendly and helpful",
            "support solved my problem at once",
            "the team replied within minutes",
        ],
        ["support answered after a day", "had to contact support once"],
        [
            "support never answered my emails",
            "customer service was rude",
            "nobody helped me with the refund",
        ],
    ),
    (
        "packaging",
        [
            "lovely packaging, perfect as a gift",
            "packed carefully with no plastic",
            "arrived beautifully wrapped",
        ],
        ["standard packaging", "came in a plain box"],
        [
            "the box was crushed",
            "packaging was damaged and wasteful",
            "arrived badly packed",
        ],
    ),
    (
        "size",
        ["fits perfectly", "true to size", "the size chart was spot on"],
        ["runs slightly large", "size is as described"],
        [
            "way too small, had to return it",
            "the size is completely wrong",
            "sizing is inconsistent",
        ],
    ),
    (
        "usability",
        [
            "really easy to use",
            "set up in two minutes",
            "intuitive and convenient",
        ],
        ["takes a while to get used to", "works as described"],
        [
            "confusing and hard to use",
            "the instructions are useless",
            "stopped working after setup",
        ],
    ),
];

const CHAT_OPENERS: [(&str, i8); 8] = [
    ("Hi, where is my order? It has been ten days.", -1),
    ("The item arrived broken, I want a refund.", -1),
    ("Can you tell me when the blue version is back in stock?", 0),
    ("Do you ship to my country and how much does it cost?", 0),
    ("Thanks so much, the replacement arrived and it is perfect!", 1),
    ("I love the new collection, will you add more colours?", 1),
    ("I was charged twice for the same order, please fix this.", -1),
    ("Could you add an option to pay in instalments?", 0),
];

/// A random stream for one purpose, derived from the plan's seed.
fn stream(seed: u64, purpose: u64, index: u64) -> ChaCha8Rng {
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ purpose.wrapping_mul(0x9E37_79B9_7F4A_7C15));
    rng.set_stream(index);
    rng
}

fn uuid_from(rng: &mut ChaCha8Rng) -> Uuid {
    uuid::Builder::from_random_bytes(rng.random()).into_uuid()
}

fn weighted<'a, T>(rng: &mut ChaCha8Rng, items: &'a [(T, u32)]) -> &'a T {
    let total: u32 = items.iter().map(|(_, w)| w).sum();
    let mut pick = rng.random_range(0..total);
    for (item, weight) in items {
        if pick < *weight {
            return item;
        }
        pick -= weight;
    }
    &items[0].0
}

/// How much more (or less) people buy on `day`: weekends, the December high, Black Friday
/// and Cyber Monday, the January lull.
pub fn seasonality(day: NaiveDate) -> f64 {
    let weekly = match day.weekday() {
        Weekday::Sat => 1.3,
        Weekday::Sun => 1.25,
        Weekday::Mon => 0.9,
        _ => 1.0,
    };
    let yearly = match day.month() {
        1 => 0.8,
        2 => 0.85,
        7 | 8 => 0.9,
        11 => 1.3,
        12 => {
            if day.day() <= 22 {
                1.7
            } else {
                1.1
            }
        }
        _ => 1.0,
    };
    let thanksgiving = {
        let first = NaiveDate::from_ymd_opt(day.year(), 11, 1).expect("November exists");
        let to_thursday =
            (7 + Weekday::Thu.num_days_from_monday() - first.weekday().num_days_from_monday()) % 7;
        first + Duration::days(i64::from(to_thursday) + 21)
    };
    let peak = if day == thanksgiving + Duration::days(1) {
        3.0
    } else if day == thanksgiving + Duration::days(4) {
        2.2
    } else {
        1.0
    };
    weekly * yearly * peak
}

struct Product {
    id: Uuid,
    sku: String,
    category: &'static str,
    price: f64,
    cost: f64,
    /// How good it is: drives review ratings.
    quality: f64,
}

fn products(seed: u64) -> Vec<Product> {
    let mut rng = stream(seed, 1, 0);
    let mut list = Vec::new();
    for (c, (category, names, low, high)) in CATEGORIES.iter().enumerate() {
        for n in 0..names.len() {
            let price = (rng.random_range(*low..*high) * 100.0).round() / 100.0 - 0.01;
            list.push(Product {
                id: uuid_from(&mut rng),
                sku: format!("{}-{:03}", &category[..3].to_uppercase(), c * 10 + n + 1),
                category,
                price,
                cost: (price * rng.random_range(0.35..0.7) * 100.0).round() / 100.0,
                quality: rng.random_range(0.35..0.95),
            });
        }
    }
    list
}

fn product_name(index: usize) -> &'static str {
    CATEGORIES[index / 6].1[index % 6]
}

/// Escapes a value for COPY's text format.
fn copy_text(out: &mut String, value: &str) {
    for ch in value.chars() {
        match ch {
            '\\' => out.push_str("\\\\"),
            '\t' => out.push_str("\\t"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            _ => out.push(ch),
        }
    }
}

fn ts(at: DateTime<Utc>) -> String {
    at.format("%Y-%m-%d %H:%M:%S%.6f+00").to_string()
}

/// Rows of one chunk of customers, as COPY text per table.
#[derive(Default)]
struct Tables {
    customers: String,
    interactions: String,
    keys: String,
    orders: String,
    lines: String,
    reviews: String,
    queue: String,
    counts: Counts,
    /// Units sold per product and day, for stock levels.
    sold: HashMap<(usize, NaiveDate), u32>,
}

struct Batches {
    customers: Uuid,
    interactions: Uuid,
    orders: Uuid,
    reviews: Uuid,
}

/// Generates one customer's life into `t`.
#[allow(clippy::too_many_arguments)]
fn customer(
    plan: &Plan,
    index: usize,
    org: Uuid,
    catalog: &[Product],
    batches: &Batches,
    start: NaiveDate,
    t: &mut Tables,
) {
    let mut rng = stream(plan.seed, 2, index as u64);
    let id = uuid_from(&mut rng);
    let days = plan.days as f64;
    // A third are customers from before the period; the rest arrive more and more often as
    // the shop grows.
    let acquired_day = if rng.random_bool(0.3) {
        days * 0.05 * rng.random::<f64>()
    } else {
        days * rng.random::<f64>().powf(0.8)
    };
    let acquired = start + Duration::days((acquired_day.floor() as i64).min(i64::from(plan.days) - 1));
    let lifetime_days = if rng.random_bool(0.25) {
        i64::MAX / 4
    } else {
        (-rng.random::<f64>().max(1e-9).ln() * 150.0) as i64 + 7
    };
    let (country, regions, _) = COUNTRIES[{
        let weights: Vec<(usize, u32)> = COUNTRIES.iter().enumerate().map(|(i, c)| (i, c.2)).collect();
        *weighted(&mut rng, &weights)
    }];
    let segment = *weighted(&mut rng, &SEGMENTS);
    let visits_per_week: f64 = rng.random_range(0.2..2.5);
    let buy_chance: f64 = rng.random_range(0.05..0.3);
    let mobile = rng.random_bool(0.45);
    let first = FIRST_NAMES[rng.random_range(0..FIRST_NAMES.len())];
    let last = LAST_NAMES[rng.random_range(0..LAST_NAMES.len())];
    let external = format!("cust-{index:07}");
    let _ = writeln!(
        t.customers,
        "{org}\t{id}\t{external}\t{}.{}{index}@example.com\t{first} {last}\t{country}\t{segment}\t{{\"acquired\": \"{acquired}\"}}\t{}",
        first.to_lowercase(),
        last.to_lowercase().replace('ü', "u"),
        batches.customers
    );
    t.counts.customers += 1;

    let end = plan
        .until
        .min(acquired + Duration::days(lifetime_days.min(100_000)));
    let mut day = acquired;
    let mut n = 0u64;
    let interaction = |t: &mut Tables,
                       at: DateTime<Utc>,
                       channel: &str,
                       event: &str,
                       content: Option<&str>,
                       meta: &str,
                       n: &mut u64| {
        let row_id = uuid_from(&mut rng_for(plan.seed, index, *n));
        let ext = format!("ev-{index:07}-{n:05}", n = *n);
        *n += 1;
        let _ = write!(
            t.interactions,
            "{org}\t{row_id}\t{id}\t{ext}\t{}\t{channel}\t{event}\t",
            ts(at)
        );
        match content {
            Some(text) => copy_text(&mut t.interactions, text),
            None => t.interactions.push_str("\\N"),
        }
        let _ = writeln!(t.interactions, "\t{meta}\t{}", batches.interactions);
        let _ = writeln!(t.keys, "{org}\t{ext}\t{row_id}\t{}", ts(at));
        if content.is_some() {
            let _ = writeln!(t.queue, "{org}\tinteraction\t{row_id}\t{}", ts(at));
        }
        t.counts.interactions += 1;
    };
    let mut order_no = 0u32;
    while day <= end {
        let factor = seasonality(day);
        let visit_today = rng.random_bool((visits_per_week / 7.0 * factor).min(0.95));
        // Weekly campaign e-mail, opened now and then.
        if day.weekday() == Weekday::Tue && rng.random_bool(0.35) {
            let at = day
                .and_hms_opt(9, rng.random_range(0..60), rng.random_range(0..60))
                .expect("valid time")
                .and_utc();
            interaction(
                t,
                at,
                "email",
                "email_opened",
                None,
                "{\"campaign\": \"weekly\"}",
                &mut n,
            );
        }
        if visit_today {
            let hour = *weighted(
                &mut rng,
                &[(8u32, 1), (12, 3), (13, 2), (18, 3), (20, 4), (21, 3), (23, 1)],
            );
            let mut at = day
                .and_hms_opt(hour, rng.random_range(0..60), rng.random_range(0..60))
                .expect("valid time")
                .and_utc();
            let channel = if mobile { "mobile" } else { "web" };
            let device = if mobile {
                "{\"device\": \"phone\"}"
            } else {
                "{\"device\": \"desktop\"}"
            };
            interaction(t, at, channel, "page_view", None, device, &mut n);
            let viewed: Vec<usize> = (0..rng.random_range(1..5))
                .map(|_| rng.random_range(0..catalog.len()))
                .collect();
            for &p in &viewed {
                at += Duration::seconds(rng.random_range(10..120));
                let meta = format!("{{\"sku\": \"{}\"}}", catalog[p].sku);
                interaction(t, at, channel, "product_view", None, &meta, &mut n);
            }
            if rng.random_bool((buy_chance * 2.0).min(1.0)) {
                at += Duration::seconds(rng.random_range(20..200));
                interaction(t, at, channel, "add_to_cart", None, device, &mut n);
                if rng.random_bool((buy_chance * factor.min(2.0) * 2.5).min(0.9)) {
                    at += Duration::seconds(rng.random_range(30..300));
                    interaction(t, at, channel, "checkout", None, device, &mut n);
                    order_no += 1;
                    let order_ref = format!("ord-{index:07}-{order_no:04}");
                    let lines: Vec<(usize, u32)> = viewed
                        .iter()
                        .take(rng.random_range(1..=viewed.len().min(4)))
                        .map(|&p| (p, rng.random_range(1..3)))
                        .collect();
                    write_order(
                        t, &mut rng, org, id, &order_ref, at, country, regions, channel, &lines, catalog,
                        batches, None,
                    );
                    // Some buyers write a review a week or two later.
                    let (p, _) = lines[0];
                    let reviewed_at = at + Duration::days(rng.random_range(5..20));
                    if rng.random_bool(0.3) && reviewed_at.date_naive() <= plan.until {
                        write_review(
                            t,
                            &mut rng,
                            org,
                            Some(id),
                            &order_ref,
                            &catalog[p],
                            reviewed_at,
                            batches,
                        );
                    }
                    // And some need help.
                    if rng.random_bool(0.08) {
                        let (text, _) = CHAT_OPENERS[rng.random_range(0..CHAT_OPENERS.len())];
                        let at = at + Duration::days(rng.random_range(2..12));
                        if at.date_naive() <= plan.until {
                            let channel = if rng.random_bool(0.7) { "chat" } else { "phone" };
                            interaction(t, at, channel, "support_message", Some(text), "{}", &mut n);
                        }
                    }
                }
            }
        }
        day += Duration::days(1);
    }
}

fn rng_for(seed: u64, index: usize, n: u64) -> ChaCha8Rng {
    stream(seed, 3, ((index as u64) << 24) | n)
}

#[allow(clippy::too_many_arguments)]
fn write_order(
    t: &mut Tables,
    rng: &mut ChaCha8Rng,
    org: Uuid,
    customer: Uuid,
    external: &str,
    at: DateTime<Utc>,
    country: &str,
    regions: &[&str],
    channel: &str,
    lines: &[(usize, u32)],
    catalog: &[Product],
    batches: &Batches,
    payment: Option<&str>,
) {
    let id = uuid_from(rng);
    let total: f64 = lines.iter().map(|&(p, q)| catalog[p].price * f64::from(q)).sum();
    let status = *weighted(
        rng,
        &[
            ("fulfilled", 80),
            ("paid", 10),
            ("refunded", 6),
            ("cancelled", 3),
            ("pending", 1),
        ],
    );
    let payment = payment.unwrap_or_else(|| *weighted(rng, &PAYMENTS));
    let region = regions[rng.random_range(0..regions.len())];
    let _ = writeln!(
        t.orders,
        "{org}\t{id}\t{external}\t{customer}\t{}\t{status}\tUSD\t{total:.2}\t{payment}\t{country}\t{region}\t{channel}\t{}",
        ts(at),
        batches.orders
    );
    for (no, &(p, q)) in lines.iter().enumerate() {
        let product = &catalog[p];
        let _ = writeln!(
            t.lines,
            "{org}\t{id}\t{}\t{}\t{}\t{q}\t{:.2}",
            no + 1,
            product.id,
            product.sku,
            product.price
        );
        *t.sold.entry((p, at.date_naive())).or_default() += q;
        t.counts.order_lines += 1;
    }
    t.counts.orders += 1;
}

#[allow(clippy::too_many_arguments)]
fn write_review(
    t: &mut Tables,
    rng: &mut ChaCha8Rng,
    org: Uuid,
    customer: Option<Uuid>,
    external: &str,
    product: &Product,
    at: DateTime<Utc>,
    batches: &Batches,
) {
    let id = uuid_from(rng);
    let mood: f64 = product.quality + rng.random_range(-0.35..0.35);
    let rating: u8 = match mood {
        m if m < 0.3 => 1,
        m if m < 0.45 => 2,
        m if m < 0.6 => 3,
        m if m < 0.8 => 4,
        _ => 5,
    };
    let mut sentences = Vec::new();
    for _ in 0..rng.random_range(1..3) {
        let (_, positive, neutral, negative) = &ASPECTS[rng.random_range(0..ASPECTS.len())];
        let phrase = match rating {
            4 | 5 => positive[rng.random_range(0..positive.len())],
            3 => neutral[rng.random_range(0..neutral.len())],
            _ => negative[rng.random_range(0..negative.len())],
        };
        sentences.push(phrase);
    }
    let mut text = String::new();
    for (i, s) in sentences.iter().enumerate() {
        let mut chars = s.chars();
        if let Some(first) = chars.next() {
            text.extend(first.to_uppercase());
            text.push_str(chars.as_str());
        }
        text.push_str(if i + 1 == sentences.len() { "." } else { ", and " });
    }
    let customer = customer.map_or_else(|| "\\N".to_owned(), |c| c.to_string());
    let _ = write!(
        t.reviews,
        "{org}\t{id}\trev-{external}\t{}\t{}\t{customer}\t{rating}\t",
        product.id, product.sku
    );
    copy_text(&mut t.reviews, &text);
    let _ = writeln!(t.reviews, "\t{}\tstorefront\t{}", ts(at), batches.reviews);
    let _ = writeln!(t.queue, "{org}\treview\t{id}\t\\N");
    t.counts.reviews += 1;
}

/// Whether the organization `slug` has any customers yet (the demo is filled only once).
pub async fn has_data(admin: &PgPool, slug: &str) -> Result<bool, DemoDataError> {
    Ok(sqlx::query_scalar(
        "select exists (select 1 from customers c join organizations o on o.id = c.org_id where o.slug = $1)",
    )
    .bind(slug)
    .fetch_one(admin)
    .await?)
}

/// Generates and loads the plan into the organization `slug`, replacing its commerce data.
pub async fn generate(admin: &PgPool, slug: &str, plan: Plan) -> Result<Counts, DemoDataError> {
    if plan.customers == 0 || plan.days == 0 {
        return Err(DemoDataError::EmptyPlan);
    }
    let org: Uuid = sqlx::query_scalar("select id from organizations where slug = $1")
        .bind(slug)
        .fetch_optional(admin)
        .await?
        .ok_or_else(|| DemoDataError::NoOrganization(slug.to_owned()))?;
    let start = plan.until - Duration::days(i64::from(plan.days) - 1);
    clear(admin, org).await?;

    // Month partitions for the whole period.
    let mut month = NaiveDate::from_ymd_opt(start.year(), start.month(), 1).expect("a month");
    while month <= plan.until {
        sqlx::query("select ensure_interactions_partition($1)")
            .bind(Utc.from_utc_datetime(&month.and_hms_opt(0, 0, 0).expect("midnight")))
            .execute(admin)
            .await?;
        month = month
            .checked_add_months(chrono::Months::new(1))
            .expect("next month");
    }
    let batch = |entity: &'static str| {
        let admin = admin.clone();
        async move {
            sqlx::query_scalar::<_, Uuid>(
                "insert into import_batches (org_id, source, entity, status, file_name, finished_at)
                 values ($1, 'seed', $2, 'succeeded', 'sightline seed-demo', now()) returning id",
            )
            .bind(org)
            .bind(entity)
            .fetch_one(&admin)
            .await
        }
    };
    let batches = Batches {
        customers: batch("customers").await?,
        interactions: batch("interactions").await?,
        orders: batch("orders").await?,
        reviews: batch("reviews").await?,
    };
    let catalog_batch = batch("products").await?;
    let prices_batch = batch("competitor_prices").await?;
    let stock_batch = batch("inventory").await?;
    let catalog = products(plan.seed);

    let mut conn = admin.acquire().await?;
    let mut text = String::new();
    for (i, p) in catalog.iter().enumerate() {
        let _ = writeln!(
            text,
            "{org}\t{}\t{}\t{}\t{}\t{}\t{:.2}\t{:.2}\tUSD\tstorefront\t{catalog_batch}",
            p.id,
            p.sku,
            domain::records::normalize_sku(&p.sku),
            product_name(i),
            p.category,
            p.cost,
            p.price
        );
    }
    copy(&mut conn, "products (org_id, id, sku, normalized_sku, name, category, cost, price, currency, marketplace, batch_id)", &text).await?;
    drop(conn);
    let mut counts = Counts {
        products: catalog.len() as u64,
        ..Counts::default()
    };

    // Customers in chunks, loaded over two connections (one per core).
    const CHUNK: usize = 2_000;
    let chunks: Vec<std::ops::Range<usize>> = (0..plan.customers)
        .step_by(CHUNK)
        .map(|from| from..(from + CHUNK).min(plan.customers))
        .collect();
    let catalog = std::sync::Arc::new(catalog);
    let batches = std::sync::Arc::new(batches);
    let mut workers = Vec::new();
    for worker in 0..2 {
        let mine: Vec<_> = chunks.iter().skip(worker).step_by(2).cloned().collect();
        let (admin, catalog, batches) = (admin.clone(), catalog.clone(), batches.clone());
        workers.push(tokio::spawn(async move {
            let mut conn = admin.acquire().await?;
            let mut sold: HashMap<(usize, NaiveDate), u32> = HashMap::new();
            let mut counts = Counts::default();
            for range in mine {
                let mut t = Tables::default();
                for index in range {
                    customer(&plan, index, org, &catalog, &batches, start, &mut t);
                }
                load(&mut conn, &t).await?;
                // The chunk's rollups, as the server's folder would.
                app::backend::rollups::fold_on(&mut *conn, org).await?;
                add(&mut counts, &t.counts);
                for (key, units) in t.sold {
                    *sold.entry(key).or_default() += units;
                }
            }
            Ok::<_, sqlx::Error>((counts, sold))
        }));
    }
    let mut sold: HashMap<(usize, NaiveDate), u32> = HashMap::new();
    for worker in workers {
        let (part, part_sold) = worker.await.map_err(|e| sqlx::Error::Protocol(e.to_string()))??;
        add(&mut counts, &part);
        for (key, units) in part_sold {
            *sold.entry(key).or_default() += units;
        }
    }

    let mut conn = admin.acquire().await?;
    counts.fraud_orders = fraud(&mut conn, &plan, org, &catalog, &batches, start).await?;
    counts.competitor_prices =
        competitor_prices(&mut conn, &plan, org, &catalog, prices_batch, start).await?;
    counts.inventory_levels = stock(&mut conn, &plan, org, &catalog, &sold, stock_batch, start).await?;
    // The fraud orders' rollups too.
    app::backend::rollups::fold_on(&mut *conn, org).await?;
    aggregates(&mut conn, org).await?;
    sqlx::query(
        "update import_batches b set rows_total = n, rows_done = n, rows_accepted = n
         from (values ('customers', $2::bigint), ('interactions', $3), ('orders', $4), ('reviews', $5),
                      ('products', $6), ('competitor_prices', $7), ('inventory', $8)) as v(entity, n)
         where b.org_id = $1 and b.source = 'seed' and b.entity = v.entity",
    )
    .bind(org)
    .bind(counts.customers as i64)
    .bind(counts.interactions as i64)
    .bind(counts.orders as i64)
    .bind(counts.reviews as i64)
    .bind(counts.products as i64)
    .bind(counts.competitor_prices as i64)
    .bind(counts.inventory_levels as i64)
    .execute(&mut *conn)
    .await?;
    sqlx::query("analyze customers, interactions, orders, order_lines, reviews")
        .execute(&mut *conn)
        .await?;
    // The server's worker computes scores, segments and forecasts for the new data.
    sqlx::query("insert into jobs (org_id, kind) values ($1, 'score')")
        .bind(org)
        .execute(&mut *conn)
        .await?;
    Ok(counts)
}

fn add(total: &mut Counts, part: &Counts) {
    total.customers += part.customers;
    total.interactions += part.interactions;
    total.orders += part.orders;
    total.order_lines += part.order_lines;
    total.reviews += part.reviews;
}

async fn copy(conn: &mut PgConnection, target: &str, text: &str) -> Result<(), sqlx::Error> {
    if text.is_empty() {
        return Ok(());
    }
    let mut copy = conn.copy_in_raw(&format!("copy {target} from stdin")).await?;
    copy.send(text.as_bytes()).await?;
    copy.finish().await?;
    Ok(())
}

async fn load(conn: &mut PgConnection, t: &Tables) -> Result<(), sqlx::Error> {
    // Parents before children (foreign keys).
    let tables = [
        ("customers (org_id, id, external_id, email, name, country, segment, metadata, batch_id)", &t.customers),
        (
            "interactions (org_id, id, customer_id, external_id, occurred_at, channel, event_type, content, metadata, batch_id)",
            &t.interactions,
        ),
        ("interaction_keys (org_id, external_id, id, occurred_at)", &t.keys),
        (
            "orders (org_id, id, external_id, customer_id, ordered_at, status, currency, total, payment_method, country, region, channel, batch_id)",
            &t.orders,
        ),
        ("order_lines (org_id, order_id, line_no, product_id, sku, quantity, unit_price)", &t.lines),
        (
            "reviews (org_id, id, external_id, product_id, sku, customer_id, rating, content, reviewed_at, marketplace, batch_id)",
            &t.reviews,
        ),
        ("scoring_queue (org_id, subject, subject_id, subject_at)", &t.queue),
    ];
    for (target, text) in tables {
        copy(conn, target, text).await?;
    }
    Ok(())
}

/// Fraud-like orders: brand-new customers placing several large orders within minutes,
/// shipped abroad and paid by gift card. About one per 500 customers.
async fn fraud(
    conn: &mut PgConnection,
    plan: &Plan,
    org: Uuid,
    catalog: &[Product],
    batches: &Batches,
    start: NaiveDate,
) -> Result<u64, sqlx::Error> {
    let mut rng = stream(plan.seed, 4, 0);
    let mut t = Tables::default();
    let rings = (plan.customers / 500).max(1);
    for ring in 0..rings {
        let id = uuid_from(&mut rng);
        let _ = writeln!(
            t.customers,
            "{org}\t{id}\tcust-x{ring:05}\tbuyer{ring}@mailinator.example\t\\N\tUS\tconsumer\t{{}}\t{}",
            batches.customers
        );
        let day = start + Duration::days(rng.random_range(0..i64::from(plan.days)));
        let mut at = day
            .and_hms_opt(rng.random_range(0..5), rng.random_range(0..60), 0)
            .expect("valid time")
            .and_utc();
        for n in 0..rng.random_range(3..7) {
            let expensive: Vec<(usize, u32)> = (0..rng.random_range(2..4))
                .map(|_| (rng.random_range(12..18), rng.random_range(3..8)))
                .collect();
            let country = ["NG", "RU", "BR", "VN"][rng.random_range(0..4)];
            write_order(
                &mut t,
                &mut rng,
                org,
                id,
                &format!("ord-x{ring:05}-{n}"),
                at,
                country,
                &["-"],
                "web",
                &expensive,
                catalog,
                batches,
                Some("gift_card"),
            );
            at += Duration::minutes(rng.random_range(1..9));
        }
    }
    load(conn, &t).await?;
    Ok(t.counts.orders)
}

/// Three competitors observe each product weekly; prices drift and drop for promotions.
async fn competitor_prices(
    conn: &mut PgConnection,
    plan: &Plan,
    org: Uuid,
    catalog: &[Product],
    batch: Uuid,
    start: NaiveDate,
) -> Result<u64, sqlx::Error> {
    let mut text = String::new();
    let mut rows = 0;
    for (p, product) in catalog.iter().enumerate() {
        for (c, competitor) in COMPETITORS.iter().enumerate() {
            let mut rng = stream(plan.seed, 5, (p * 8 + c) as u64);
            let mut level: f64 = rng.random_range(0.88..1.12);
            let mut day = start;
            while day <= plan.until {
                level = (level + rng.random_range(-0.02..0.02)).clamp(0.75, 1.3);
                let promotion = (seasonality(day) > 2.0
                    || (day.month() == 12 && day.day() <= 22 && rng.random_bool(0.5))
                    || rng.random_bool(0.04))
                .then_some("sale");
                let price = product.price * level * if promotion.is_some() { 0.8 } else { 1.0 };
                let at = day.and_hms_opt(6, 0, 0).expect("valid time").and_utc();
                let _ = writeln!(
                    text,
                    "{org}\t{}\t{}\t{competitor}\t{price:.2}\tUSD\t{}\t{}\t{batch}",
                    product.id,
                    product.sku,
                    promotion.unwrap_or("\\N"),
                    ts(at)
                );
                rows += 1;
                day += Duration::days(7);
            }
        }
    }
    copy(conn, "competitor_prices (org_id, product_id, sku, competitor, price, currency, promotion, observed_at, batch_id)", &text).await?;
    Ok(rows)
}

/// Daily stock per product: sales take it down, a restock arrives when it runs low.
async fn stock(
    conn: &mut PgConnection,
    plan: &Plan,
    org: Uuid,
    catalog: &[Product],
    sold: &HashMap<(usize, NaiveDate), u32>,
    batch: Uuid,
    start: NaiveDate,
) -> Result<u64, sqlx::Error> {
    let mut text = String::new();
    let mut rows = 0;
    for (p, product) in catalog.iter().enumerate() {
        let daily: f64 = (start.iter_days().take_while(|d| *d <= plan.until))
            .map(|d| f64::from(sold.get(&(p, d)).copied().unwrap_or(0)))
            .sum::<f64>()
            / f64::from(plan.days);
        let capacity = (daily * 30.0).ceil().max(20.0) as i64;
        let mut on_hand = capacity;
        for day in start.iter_days().take_while(|d| *d <= plan.until) {
            on_hand = (on_hand - i64::from(sold.get(&(p, day)).copied().unwrap_or(0))).max(0);
            if on_hand < capacity / 5 && day.weekday() == Weekday::Mon {
                on_hand = capacity;
            }
            let at = day.and_hms_opt(23, 59, 0).expect("valid time").and_utc();
            let _ = writeln!(
                text,
                "{org}\t{}\t{}\t{}\t{on_hand}\t{batch}",
                product.id,
                product.sku,
                ts(at)
            );
            rows += 1;
        }
    }
    copy(
        conn,
        "inventory_levels (org_id, product_id, sku, observed_at, on_hand, batch_id)",
        &text,
    )
    .await?;
    Ok(rows)
}

/// Customer aggregates (SPEC ING-8) for the whole organization, from the rows just loaded.
async fn aggregates(conn: &mut PgConnection, org: Uuid) -> Result<(), sqlx::Error> {
    sqlx::query(
        "update customers c set
             interaction_count = coalesce(i.n, 0),
             order_count = coalesce(o.n, 0),
             revenue = coalesce(o.revenue, 0),
             first_seen_at = least(i.first_at, o.first_at),
             last_seen_at = greatest(i.last_at, o.last_at),
             updated_at = now()
         from customers k
         left join (select customer_id, count(*) as n, min(occurred_at) as first_at, max(occurred_at) as last_at
                    from interactions where org_id = $1 group by customer_id) i on i.customer_id = k.id
         left join (select customer_id,
                           count(*) filter (where status not in ('refunded', 'cancelled')) as n,
                           coalesce(sum(total) filter (where status not in ('refunded', 'cancelled')), 0) as revenue,
                           min(ordered_at) as first_at, max(ordered_at) as last_at
                    from orders where org_id = $1 group by customer_id) o on o.customer_id = k.id
         where k.org_id = $1 and c.org_id = $1 and c.id = k.id",
    )
    .bind(org)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Removes the organization's commerce data (not its people, keys or settings).
async fn clear(admin: &PgPool, org: Uuid) -> Result<(), sqlx::Error> {
    let mut tx = admin.begin().await?;
    for table in [
        "customer_scores",
        "text_scores",
        "product_forecasts",
        "analytics_results",
        "scoring_queue",
        "import_errors",
        "import_chunks",
        "jobs",
        "reviews",
        "order_lines",
        "orders",
        "interaction_keys",
        "interactions",
        "competitor_prices",
        "inventory_levels",
        "products",
        "customers",
        "usage_counters",
        // Last: the rollups, and the deltas the deletes above logged.
        "daily_rollups",
        "customer_days",
        "active_gaps",
        "rollup_deltas",
        "segment_days",
        "segment_gaps",
        "segment_moves",
        "category_days",
        "category_gaps",
        "category_deltas",
        "category_score_cells",
    ] {
        // Table names come from the fixed list above, never from input.
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "delete from {table} where org_id = $1"
        )))
        .bind(org)
        .execute(&mut *tx)
        .await?;
    }
    sqlx::query("delete from import_batches where org_id = $1")
        .bind(org)
        .execute(&mut *tx)
        .await?;
    tx.commit().await
}

/// Recomputes the rollups of the organization with `slug`, or of every organization, each in
/// its own transaction (as that organization, so row-level security holds even for an
/// administrative role that is not a superuser). Answers how many were rebuilt.
pub async fn rebuild_rollups(admin: &PgPool, slug: Option<&str>) -> Result<usize, DemoDataError> {
    let orgs: Vec<Uuid> =
        sqlx::query_scalar("select id from organizations where $1::text is null or slug = $1")
            .bind(slug)
            .fetch_all(admin)
            .await?;
    if let (Some(slug), true) = (slug, orgs.is_empty()) {
        return Err(DemoDataError::NoOrganization(slug.to_owned()));
    }
    for org in &orgs {
        let mut tx = admin.begin().await?;
        sqlx::query("select set_config('app.org_id', $1::text, true)")
            .bind(org)
            .execute(&mut *tx)
            .await?;
        sqlx::query("select rebuild_rollups($1)")
            .bind(org)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
    }
    Ok(orgs.len())
}

/// An administrator pool for loading and maintenance (three connections).
pub async fn admin_pool(admin: &sqlx::postgres::PgConnectOptions) -> Result<PgPool, sqlx::Error> {
    PgPoolOptions::new()
        .max_connections(3)
        .connect_with(admin.clone())
        .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn black_friday_and_cyber_monday_are_the_peaks_of_2026() {
        let black_friday = NaiveDate::from_ymd_opt(2026, 11, 27).unwrap();
        let cyber_monday = NaiveDate::from_ymd_opt(2026, 11, 30).unwrap();
        let best = NaiveDate::from_ymd_opt(2026, 1, 1)
            .unwrap()
            .iter_days()
            .take(365)
            .max_by(|a, b| seasonality(*a).total_cmp(&seasonality(*b)))
            .unwrap();
        assert_eq!(best, black_friday);
        assert!(seasonality(cyber_monday) > 2.0);
        assert!(seasonality(NaiveDate::from_ymd_opt(2026, 1, 14).unwrap()) < 1.0);
    }

    #[test]
    fn copy_text_escapes_what_copy_would_misread() {
        let mut out = String::new();
        copy_text(&mut out, "a\tb\\c\nd");
        assert_eq!(out, "a\\tb\\\\c\\nd");
    }
}
